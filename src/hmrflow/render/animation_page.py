r"""A self-contained HTML player of an animated GLB: one file, no network, plain WebGL.

The page (template ``hmrflow/assets/demo/animation_template.html`` with the WebGL helpers
it shares with the mesh viewer, ``webgl_common.js``, inlined by :func:`html_template`; our
own JavaScript, no library) embeds the ``.glb`` written by :mod:`hmrflow.body.gltf_animation` as base64,
parses it, skins the mesh on the GPU (4 joints per vertex) and plays the animation at its
frame rate: play/pause (button or space), a frame slider (arrow keys step), orbit (drag,
wheel, double-click to reset). The first view is the camera's (from +z, looking along -z,
the Y-up frame of mesh files).

For scripts and tests: ``page.html?frame=N`` opens paused on frame ``N``;
``window.hmrflowShowFrame(n)`` shows frame ``n`` (paused) and returns it,
``window.hmrflowFrameCount`` is the number of frames and ``window.hmrflowReady`` turns true
once the first frame is drawn.

Example:
    >>> import os, tempfile, torch
    >>> from hmrflow.body import BodyModel
    >>> from hmrflow.body.gltf_animation import animated_glb_bytes
    >>> body = BodyModel.from_name("anny_lowpoly")
    >>> glb = animated_glb_bytes(body, torch.zeros(10), torch.eye(3).expand(2, 24, 3, 3), torch.zeros(2, 3), 30.0)
    >>> path = os.path.join(tempfile.mkdtemp(), "animation.html")
    >>> write_animation_page(path, glb, "two frames")
    >>> "animation-data" in open(path).read()
    True
"""

from __future__ import annotations

import base64
import json
import os
from importlib import resources
from pathlib import Path

__all__ = ["WEBGL_COMMON_MARKER", "animation_page_html", "html_template", "write_animation_page"]

WEBGL_COMMON_MARKER = "/*__WEBGL_COMMON__*/"
"""Where a page template takes the shared WebGL helpers (``assets/demo/webgl_common.js``)."""


def html_template(name: str) -> str:
    r"""The page template ``hmrflow/assets/demo/<name>`` with the shared WebGL helpers of
    ``webgl_common.js`` inlined at its :data:`WEBGL_COMMON_MARKER` (one copy), so the page
    written from it is one file that needs nothing else.

    Example:
        >>> page = html_template("animation_template.html")
        >>> WEBGL_COMMON_MARKER in page, page.count("function orbitView(")
        (False, 1)
    """
    folder = resources.files("hmrflow") / "assets" / "demo"
    template = (folder / name).read_text()
    if template.count(WEBGL_COMMON_MARKER) != 1:
        raise ValueError(f"the page template {name} must hold the marker {WEBGL_COMMON_MARKER} once")
    return template.replace(WEBGL_COMMON_MARKER, (folder / "webgl_common.js").read_text())


def animation_page_html(glb: bytes, title: str) -> str:
    r"""The player page's HTML for the ``.glb`` bytes ``glb``."""
    if glb[:4] != b"glTF":
        raise ValueError("the animation player needs glTF binary (.glb) bytes")
    template = html_template("animation_template.html")
    payload = json.dumps({"title": title, "glb": base64.b64encode(glb).decode("ascii")}, separators=(",", ":"))
    payload = payload.replace("</", "<\\/")  # never close the script element early
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return template.replace("__TITLE__", safe_title).replace("__DATA__", payload)


def write_animation_page(path: str | os.PathLike[str], glb: bytes, title: str) -> None:
    r"""Write the player page of the animated ``.glb`` bytes ``glb`` to ``path``."""
    Path(path).write_text(animation_page_html(glb, title))
