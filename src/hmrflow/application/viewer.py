r"""A self-contained HTML viewer of meshes: one file, no network, plain WebGL.

The page (template ``hmrflow/assets/demo/viewer_template.html`` with the WebGL helpers it
shares with the animation player, ``webgl_common.js``, inlined; our own JavaScript, no
library) embeds the meshes as base64: positions quantised to int16 around
their centre (step at most 0.1 mm for a body), one shared triangle list, optional
per-vertex colours. It orbits the scene (drag, wheel, double-click to reset, slow turn
on by default), toggles groups of meshes (fit, mode, samples, spread) and steps through
the samples one by one with their log-likelihoods.

Display frame: the camera frame turned to y up (``(x, -y, -z)``), so the first view is
the photo's. A ``levelling`` rotation (camera frame, :mod:`hmrflow.application.upright_view`)
is applied before that turn: the demo's person viewer levels the scene by the person's
estimated gravity (its ``"upright"`` view; a scene of several people takes one rotation,
from the mean of their ups, :func:`~hmrflow.application.upright_view.scene_up`), so the
first view is a level camera's at the photo's camera position. The scene data carries it
as ``levelling``. Mesh files keep the plain Y-up camera frame.

Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "v.html")
    >>> tri = np.array([[0, 1, 2]])
    >>> mesh = ViewerMesh("one", "mode", np.eye(3, dtype=np.float32) + [0, 0, 3], (0.5, 0.5, 0.9))
    >>> write_viewer(path, "test", [mesh], tri, [ViewerGroup("mode", "mode", (0.5, 0.5, 0.9))])
    >>> "scene-data" in open(path).read()
    True
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hmrflow.render.animation_page import html_template

if TYPE_CHECKING:
    from hmrflow.application.results import PersonResult
    from hmrflow.application.upright_view import View

__all__ = ["ViewerGroup", "ViewerMesh", "person_viewer", "write_viewer"]

_TO_DISPLAY = np.array([1.0, -1.0, -1.0], np.float32)


@dataclass(frozen=True)
class ViewerMesh:
    r"""One mesh: ``vertices (N, 3)`` camera frame, metres; ``colors (N, 3)`` in [0, 1] or None."""

    name: str
    group: str
    vertices: np.ndarray
    color: tuple[float, float, float]
    alpha: float = 1.0
    colors: np.ndarray | None = None
    info: str = ""


@dataclass(frozen=True)
class ViewerGroup:
    """A toggle of the viewer: the meshes whose ``group`` is ``name``."""

    name: str
    label: str
    color: tuple[float, float, float]
    visible: bool = True


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def scene_data(
    title: str,
    meshes: list[ViewerMesh],
    faces: np.ndarray,
    groups: list[ViewerGroup],
    info: str = "",
    levelling: np.ndarray | None = None,
) -> dict:
    """The JSON the page reads (see the template); ``levelling (3, 3)`` turns the camera-frame
    vertices (about the camera's centre) before the display frame's ``(x, -y, -z)``."""
    if not meshes:
        raise ValueError("no meshes to show")
    rotation = np.eye(3, dtype=np.float32) if levelling is None else np.asarray(levelling, np.float32)
    if rotation.shape != (3, 3):
        raise ValueError(f"levelling must be a (3, 3) rotation, not {rotation.shape}")
    display = [(np.asarray(m.vertices, np.float32) @ rotation.T) * _TO_DISPLAY for m in meshes]
    everything = np.concatenate(display)
    offset = (everything.min(0) + everything.max(0)) / 2
    scale = max(float(np.abs(everything - offset).max()) / 32000.0, 1e-7)
    extent = float(np.linalg.norm(everything.max(0) - everything.min(0)))
    faces = np.asarray(faces)
    face_type = "uint16" if faces.max() < 65535 else "uint32"
    entries = []
    for mesh, points in zip(meshes, display):
        q = np.clip(np.round((points - offset) / scale), -32767, 32767).astype("<i2")
        entry = {"name": mesh.name, "group": mesh.group, "alpha": mesh.alpha, "info": mesh.info,
                 "color": [float(c) for c in mesh.color], "positions": _b64(q)}  # fmt: skip
        if mesh.colors is not None:
            entry["colors"] = _b64(np.clip(np.asarray(mesh.colors) * 255 + 0.5, 0, 255).astype(np.uint8))
        entries.append(entry)
    return {
        "title": title,
        "info": info,
        "scale": scale,
        "offset": offset.tolist(),
        "target": ((display[0].min(0) + display[0].max(0)) / 2).tolist(),
        "distance": max(1.2 * extent, 1.0),
        "faceType": face_type,
        "faces": _b64(faces.astype("<u2" if face_type == "uint16" else "<u4").reshape(-1)),
        "meshes": entries,
        "groups": [{"name": g.name, "label": g.label, "color": list(g.color), "visible": g.visible} for g in groups],
        "levelling": np.round(rotation.astype(np.float64), 7).tolist(),
    }


def write_viewer(
    path: str | os.PathLike[str],
    title: str,
    meshes: list[ViewerMesh],
    faces: np.ndarray,
    groups: list[ViewerGroup],
    info: str = "",
    levelling: np.ndarray | None = None,
) -> None:
    """Write the viewer page for ``meshes`` (sharing ``faces (F, 3)``) to ``path``; ``levelling``:
    see :func:`scene_data`."""
    template = html_template("viewer_template.html")  # with the shared WebGL helpers inlined
    payload = json.dumps(scene_data(title, meshes, faces, groups, info, levelling), separators=(",", ":"))
    payload = payload.replace("</", "<\\/")  # never close the script element early
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    page = template.replace("__TITLE__", safe_title).replace("__DATA__", payload)
    Path(path).write_text(page)


def person_viewer(
    person: PersonResult, faces: np.ndarray, title: str, path: str | os.PathLike[str], view: View = "upright"
) -> None:
    """The viewer of one demo person: fit, mode, samples (with log p) and the spread of the samples;
    levelled by the person's estimated gravity in the ``"upright"`` view."""
    from hmrflow.application.style import FIT_COLOR, MODE_COLOR, SAMPLE_COLOR, spread_colors
    from hmrflow.application.upright_view import Levelling, check_view, person_up

    level = Levelling.of_up(person_up(person), np.zeros(3)) if check_view(view) == "upright" else None

    mode_lp = float(person.mode.log_prob[0])
    meshes = []
    groups = []
    if person.fit is not None:
        fit_lp = float(person.fit.log_prob[0])
        meshes.append(ViewerMesh("fit", "fit", person.vertices, FIT_COLOR, info=f"fit: log p {fit_lp:.1f}"))
        groups.append(ViewerGroup("fit", f"fitted body (log p {fit_lp:.1f})", FIT_COLOR))
    meshes.append(ViewerMesh("mode", "mode", person.mode_vertices, MODE_COLOR, info=f"mode: log p {mode_lp:.1f}"))
    groups.append(ViewerGroup("mode", f"mode (log p {mode_lp:.1f})", MODE_COLOR, visible=person.fit is None))
    count = len(person.sample_vertices)
    for s, vertices in enumerate(person.sample_vertices):
        lp = float(person.samples.log_prob[s])
        meshes.append(
            ViewerMesh(
                f"sample{s}",
                "samples",
                vertices,
                SAMPLE_COLOR,
                0.3,
                info=f"sample {s + 1}: log p {lp:.1f} (mode {mode_lp:.1f})",
            )
        )
    if count:
        groups.append(ViewerGroup("samples", f"{count} samples", SAMPLE_COLOR))
        colors, scale = spread_colors(person.spread)
        meshes.append(ViewerMesh("spread", "spread", person.mode_vertices, MODE_COLOR, colors=colors))
        groups.append(
            ViewerGroup(
                "spread", f"pose spread of samples (red {100 * scale:.0f} cm)", (0.85, 0.15, 0.1), visible=False
            )
        )
    info = f"mode log p {mode_lp:.1f}; samples {count}"
    write_viewer(path, title, meshes, faces, groups, info, None if level is None else level.rotation)
