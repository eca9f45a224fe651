"""The WebGL helpers shared by the mesh viewer and the animation player: written once, inlined once into each page."""

from __future__ import annotations

import re
from importlib import resources

import numpy as np
import torch

from hmrflow.application.viewer import ViewerGroup, ViewerMesh, write_viewer
from hmrflow.body import BodyModel
from hmrflow.body.gltf_animation import animated_glb_bytes
from hmrflow.render.animation_page import WEBGL_COMMON_MARKER, animation_page_html, html_template

DEMO = resources.files("hmrflow") / "assets" / "demo"
TEMPLATES = ("viewer_template.html", "animation_template.html")


def common_functions() -> list[str]:
    """The names of the functions (and the GLSL string) that webgl_common.js defines."""
    common = (DEMO / "webgl_common.js").read_text()
    names = re.findall(r"^function (\w+)\(", common, re.M) + re.findall(r"^var (\w+) =", common, re.M)
    assert len(names) >= 8
    return names


def assert_holds_the_common_code_once(page: str) -> None:
    common = (DEMO / "webgl_common.js").read_text()
    assert page.count(common) == 1
    assert WEBGL_COMMON_MARKER not in page and "__WEBGL_COMMON__" not in page
    for name in common_functions():
        assert len(re.findall(rf"(function|var) {name}\b", page)) == 1, name


def test_each_template_has_one_marker_and_none_of_the_common_code():
    for name in TEMPLATES:
        template = (DEMO / name).read_text()
        assert template.count(WEBGL_COMMON_MARKER) == 1
        for function in common_functions():
            assert not re.search(rf"(function|var) {function}\b", template), (name, function)
        assert_holds_the_common_code_once(html_template(name))


def test_the_viewer_page_inlines_the_common_code(tmp_path):
    vertices = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32) + [0, 0, 3]
    faces = np.random.default_rng(1).integers(0, 20, size=(30, 3))
    path = tmp_path / "v.html"
    write_viewer(path, "t", [ViewerMesh("a", "mode", vertices, (0.5, 0.6, 0.9))], faces,
                 [ViewerGroup("mode", "mode", (0.5, 0.6, 0.9))])
    assert_holds_the_common_code_once(path.read_text())


def test_the_animation_page_inlines_the_common_code():
    body = BodyModel.from_name("anny_lowpoly")
    glb = animated_glb_bytes(body, torch.zeros(10), torch.eye(3).expand(2, 24, 3, 3), torch.zeros(2, 3), 30.0)
    assert_holds_the_common_code_once(animation_page_html(glb, "t"))
