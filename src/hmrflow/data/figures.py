r"""Pose sheets: grids of posed bodies drawn as skeletons and shaded meshes (matplotlib).

Front view of the body frame (Y up, the body faces +Z, +X its left): the viewer stands in
front of the person, so screen x is body X (the person's left appears on the right) and
screen y is body Y; nearer is +Z. Needs matplotlib (``pip install 'hmrflow[plot]'``).

Example::

    from hmrflow.body import BodyModel
    from hmrflow.data.pose_sources import load_cmu_demo
    frames = load_cmu_demo().rotmats[::43][:16]
    pose_sheet([("CMU clip", frames)], BodyModel.from_name("anny_lowpoly"), "cmu.png")
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from torch import Tensor

from hmrflow.body.joints import SMPL_JOINT_NAMES, SMPL_PARENTS
from hmrflow.data.skeleton import forward_kinematics, rest_joints

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from hmrflow.body.model import BodyModel

__all__ = ["PosedBodies", "draw_mesh", "draw_skeleton", "pose_bodies", "pose_sheet"]

Style = Literal["mesh", "skeleton", "both"]

_LEFT, _RIGHT, _CENTRE = "#1f5fbf", "#d0402b", "#333333"
_LIGHT = np.array([0.35, 0.45, 1.0]) / np.linalg.norm([0.35, 0.45, 1.0])


@dataclass(frozen=True)
class PosedBodies:
    r"""Posed bodies to draw: joints ``(B, J, 3)``, optional vertices ``(B, N, 3)`` and faces ``(F, 3)``."""

    joints: np.ndarray
    vertices: np.ndarray | None
    faces: np.ndarray | None


def pose_bodies(rotmats: Tensor, body: BodyModel | None, canonical: bool = True) -> PosedBodies:
    r"""Pose ``(B, J, 3, 3)`` rotations with the body model (or the built-in skeleton if None).

    With ``canonical`` the global orientation is replaced by the identity (upright,
    facing the viewer). Shapes are the mean shape.
    """
    rotmats = rotmats.detach().float().cpu()
    if canonical:
        rotmats = torch.cat([torch.eye(3).expand(len(rotmats), 1, 3, 3), rotmats[:, 1:]], dim=1)
    if body is None:
        return PosedBodies(forward_kinematics(rotmats, rest_joints()).positions.numpy(), None, None)
    with torch.no_grad():
        out = body(rotmats, torch.zeros(len(rotmats), body.num_betas), vertices=True)
    return PosedBodies(out.joints.numpy(), out.vertices.numpy(), body.faces.cpu().numpy())


def draw_mesh(ax: Axes, vertices: np.ndarray, faces: np.ndarray, color: Sequence[float] = (0.75, 0.8, 0.9)) -> None:
    r"""Front view of a mesh ``(N, 3)``/``(F, 3)``: triangles painted far to near, Lambert-shaded."""
    from matplotlib.collections import PolyCollection

    tri = vertices[faces]  # (F, 3, 3)
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True).clip(1e-12)
    shade = 0.3 + 0.7 * np.abs(normal @ _LIGHT)
    order = np.argsort(tri[:, :, 2].mean(-1))  # far (small z) first
    colors = np.clip(shade[order, None] * np.asarray(color)[None], 0, 1)
    polygons = PolyCollection(tri[order][:, :, :2], facecolors=colors, edgecolors=colors, linewidths=0.2)
    ax.add_collection(polygons)


def draw_skeleton(
    ax: Axes,
    joints: np.ndarray,
    parents: Sequence[int] = SMPL_PARENTS,
    names: Sequence[str] = SMPL_JOINT_NAMES,
    linewidth: float = 1.6,
    head: bool = True,
) -> None:
    r"""Front view of joints ``(J, 3)``: bones to the parents, the person's left blue, right red."""
    for j, p in enumerate(parents):
        if p < 0:
            continue
        name = names[j]
        color = _LEFT if name.startswith("left_") else _RIGHT if name.startswith("right_") else _CENTRE
        ax.plot(joints[[p, j], 0], joints[[p, j], 1], color=color, linewidth=linewidth, solid_capstyle="round")
    ax.scatter(joints[:, 0], joints[:, 1], s=4, color="black", zorder=3)
    if head and "head" in names:  # a head circle so that a bare skeleton reads as a person
        ax.add_patch(_circle(joints[names.index("head")][:2] + np.array([0.0, 0.06]), 0.1, _CENTRE))


def _circle(center: np.ndarray, radius: float, color: str):
    from matplotlib.patches import Circle

    return Circle(tuple(center), radius, fill=False, color=color, linewidth=1.2)


def pose_sheet(
    groups: Sequence[tuple[str, Tensor]],
    body: BodyModel | None,
    path: str | os.PathLike[str],
    columns: int = 8,
    style: Style = "both",
    canonical: bool = True,
    panel_size: float = 1.4,
    aspect: float = 1.8,
    dpi: int = 110,
) -> Path:
    r"""Write a sheet: one titled block per group of poses ``(n, J, 3, 3)``, ``columns`` per row.

    Arguments:
        groups: (title, rotations) pairs.
        body: Body model for meshes (None: the built-in skeleton, no mesh).
        path: Image file to write (format from the suffix, e.g. ``.png``).
        style: ``"mesh"``, ``"skeleton"`` or ``"both"`` (the skeleton drawn over the mesh).
        canonical: Draw every pose upright and facing the viewer (global orientation removed).
        panel_size: Panel width in inches; aspect: panel height / width. Each panel is
            fitted to its body (the scale differs between panels).
    """
    from matplotlib.figure import Figure

    posed = [pose_bodies(rotmats, body, canonical) for _, rotmats in groups]
    rows = [math.ceil(len(p.joints) / columns) for p in posed]
    panel = np.array([panel_size, panel_size * aspect])
    fig = Figure(figsize=(columns * panel[0], sum(rows) * panel[1] + 0.4 * len(groups)))
    subfigs = np.atleast_1d(fig.subfigures(len(groups), 1, height_ratios=[r * panel[1] + 0.4 for r in rows]))
    for subfig, (title, _), bodies, n_rows in zip(subfigs, groups, posed, rows):
        subfig.suptitle(title, fontsize=12)
        axes = subfig.subplots(n_rows, columns, squeeze=False).ravel()
        top = 1 - 0.4 / (n_rows * panel[1] + 0.4)
        subfig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=top, wspace=0.05, hspace=0.05)
        for i, ax in enumerate(axes):
            ax.set_axis_off()
            if i < len(bodies.joints):
                _draw_panel(ax, bodies, i, style, aspect)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def _fit(ax: Axes, points: np.ndarray, aspect: float) -> None:
    """Axis limits showing ``points`` ``(M, 2+)`` whole, in a panel ``aspect`` times taller than wide."""
    low, high = points[:, :2].min(0), points[:, :2].max(0)
    center = (low + high) / 2
    half_width = max((high[0] - low[0]) / 2, (high[1] - low[1]) / 2 / aspect) * 1.06 + 0.02
    ax.set_aspect("equal")
    ax.set_xlim(center[0] - half_width, center[0] + half_width)
    ax.set_ylim(center[1] - half_width * aspect, center[1] + half_width * aspect)


def _draw_panel(ax: Axes, bodies: PosedBodies, i: int, style: Style, aspect: float) -> None:
    joints = bodies.joints[i]
    if bodies.vertices is None:  # room for the head circle
        points = np.concatenate([joints, joints[15:16] + [0.0, 0.17, 0.0], joints[15:16] + [0.0, -0.05, 0.0]])
    else:
        points = np.concatenate([joints, bodies.vertices[i]])
    _fit(ax, points, aspect)
    has_mesh = bodies.vertices is not None and bodies.faces is not None
    mesh = style in ("mesh", "both") and has_mesh
    if mesh:
        color = (0.78, 0.82, 0.9) if style == "both" else (0.8, 0.72, 0.62)
        draw_mesh(ax, bodies.vertices[i], bodies.faces, color=color)
    if style in ("skeleton", "both") or not has_mesh:
        draw_skeleton(ax, bodies.joints[i], linewidth=1.2 if mesh else 1.8, head=not mesh)
