"""The self-contained HTML viewer: its embedded scene decodes to the meshes given."""

from __future__ import annotations

import base64
import json
import re

import numpy as np

from hmrflow.application.viewer import ViewerGroup, ViewerMesh, write_viewer


def test_the_page_embeds_the_meshes_and_needs_no_network(tmp_path):
    rng = np.random.default_rng(0)
    vertices = rng.normal(size=(50, 3)).astype(np.float32) * 0.5 + [0.1, -0.2, 3.0]
    faces = rng.integers(0, 50, size=(80, 3))
    meshes = [
        ViewerMesh("a", "mode", vertices, (0.5, 0.6, 0.9)),
        ViewerMesh("b", "samples", vertices + 0.05, (1.0, 0.6, 0.3), 0.3, colors=np.full((50, 3), 0.5)),
    ]
    path = tmp_path / "v.html"
    write_viewer(path, "a <test>", meshes, faces, [ViewerGroup("mode", "mode", (0.5, 0.6, 0.9))])
    page = path.read_text()
    assert "<title>a &lt;test&gt;</title>" in page
    assert not re.search(r"(src|href)=\"?https?:", page) and "http://" not in page.split("<script id")[0]
    data = json.loads(re.search(r'<script id="scene-data" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert data["faceType"] == "uint16"
    decoded_faces = np.frombuffer(base64.b64decode(data["faces"]), "<u2").reshape(-1, 3)
    assert np.array_equal(decoded_faces, faces)
    for mesh, entry in zip(meshes, data["meshes"]):
        q = np.frombuffer(base64.b64decode(entry["positions"]), "<i2").reshape(-1, 3).astype(np.float64)
        display = q * data["scale"] + data["offset"]
        assert np.abs(display - mesh.vertices * [1, -1, -1]).max() <= data["scale"]  # y up, facing the viewer
    assert "colors" in data["meshes"][1] and "colors" not in data["meshes"][0]
