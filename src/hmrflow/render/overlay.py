r"""Overlays on photos: meshes seen by the camera of a fit, keypoints and skeletons.

A fit's camera is :meth:`hmrflow.render.camera.Camera.from_pinhole` of its
:class:`~hmrflow.geometry.PinholeCamera`.

* :func:`pose_meshes` makes the meshes of a result: the mode opaque, the samples
  translucent;
* :func:`overlay_meshes` draws meshes over a photo;
* :func:`draw_keypoints` draws 2D keypoints and the skeleton between them (Pillow).

Example:
    >>> image = np.zeros((64, 64, 3), np.uint8)
    >>> out = draw_keypoints(image, np.array([[10.0, 10.0, 1.0], [50.0, 50.0, 0.0]]))
    >>> out[10, 10].tolist() != [0, 0, 0], out[50, 50].tolist()
    (True, [0, 0, 0])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hmrflow.render.camera import Camera
from hmrflow.render.mesh import Mesh
from hmrflow.render.renderer import Light, Renderer

__all__ = [
    "SKELETON",
    "draw_keypoints",
    "overlay_meshes",
    "pose_meshes",
    "skeleton_edges",
]

#: Skeleton drawn between named keypoints (COCO-17, OpenPose feet, SMPL joints).
SKELETON: tuple[tuple[str, str], ...] = (
    ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"), ("right_eye", "right_ear"),
    ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"), ("left_hip", "right_hip"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("left_ankle", "left_heel"), ("left_ankle", "left_big_toe"), ("left_big_toe", "left_small_toe"),
    ("right_ankle", "right_heel"), ("right_ankle", "right_big_toe"), ("right_big_toe", "right_small_toe"),
    ("neck", "nose"), ("neck", "left_shoulder"), ("neck", "right_shoulder"), ("neck", "mid_hip"),
    ("mid_hip", "left_hip"), ("mid_hip", "right_hip"),
)  # fmt: skip

_LEFT, _RIGHT, _MIDDLE = (60, 140, 255), (255, 90, 60), (80, 220, 120)


def skeleton_edges(names: Sequence[str]) -> list[tuple[int, int]]:
    """Index pairs of :data:`SKELETON` edges whose two names are both in ``names``."""
    index = {name: i for i, name in enumerate(names)}
    return [(index[a], index[b]) for a, b in SKELETON if a in index and b in index]


def _side_color(name: str | None) -> tuple[int, int, int]:
    if name is None:
        return _MIDDLE
    return _LEFT if name.startswith("left_") else _RIGHT if name.startswith("right_") else _MIDDLE


def draw_keypoints(
    image: np.ndarray,
    keypoints: Any,
    names: Sequence[str] | None = None,
    radius: float = 2.5,
    width: int = 2,
    threshold: float = 0.0,
    color: tuple[int, int, int] | None = None,
) -> np.ndarray:
    r"""Draw keypoints ``(K, 2)`` or ``(K, 3)`` (px, confidence) on a copy of ``image`` ``(H, W, 3)`` uint8.

    Points whose confidence is not above ``threshold`` are skipped. With ``names`` the
    skeleton between them is drawn too; left parts are blue, right parts red, the middle
    green (unless ``color`` is given).
    """
    from PIL import Image, ImageDraw

    points = np.asarray(keypoints, dtype=np.float64)
    if points.shape[-1] == 2:
        points = np.concatenate([points, np.ones((len(points), 1))], axis=1)
    canvas = Image.fromarray(np.ascontiguousarray(image[..., :3]))
    draw = ImageDraw.Draw(canvas)
    ok = points[:, 2] > threshold
    if names is not None:
        for a, b in skeleton_edges(names):
            if ok[a] and ok[b]:
                fill = color or (_side_color(names[a]) if _side_color(names[a]) == _side_color(names[b]) else _MIDDLE)
                draw.line([tuple(points[a, :2]), tuple(points[b, :2])], fill=fill, width=width)
    for k in np.nonzero(ok)[0]:
        x, y = points[k, :2]
        fill = color or _side_color(names[k] if names is not None else None)
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=fill, outline=(255, 255, 255))
    return np.asarray(canvas)


def pose_meshes(
    vertices: Any,
    faces: Any,
    samples: Any = None,
    color: tuple[float, float, float] = (0.65, 0.74, 0.86),
    sample_color: tuple[float, float, float] = (0.95, 0.65, 0.35),
    sample_alpha: float = 0.25,
    colors: Any = None,
) -> list[Mesh]:
    r"""Meshes of one result: the mode ``vertices (N, 3)`` opaque, ``samples (S, N, 3)`` translucent.

    Arguments:
        colors: optional ``(N, 3)`` per-vertex colours of the mode mesh.
    """
    meshes = [Mesh(vertices, faces, colors=colors, color=color)]
    if samples is not None:
        meshes += [Mesh(v, faces, color=sample_color, alpha=sample_alpha) for v in samples]
    return meshes


def overlay_meshes(
    image: np.ndarray,
    meshes: Mesh | Sequence[Mesh],
    camera: Camera,
    renderer: Renderer | None = None,
    light: Light | None = None,
) -> np.ndarray:
    r"""Draw ``meshes`` (camera frame) over ``image`` ``(H, W, 3)`` uint8 as ``camera`` sees them.

    A ``renderer`` is made (and released) when none is given; pass one to draw many frames.
    """
    if (image.shape[1], image.shape[0]) != tuple(camera.image_size):
        raise ValueError(f"image is {image.shape[1]}x{image.shape[0]} px but the camera {camera.image_size}")
    if renderer is not None:
        return renderer.render(meshes, camera, light=light, background=image).color
    with Renderer() as own:
        return own.render(meshes, camera, light=light, background=image).color
