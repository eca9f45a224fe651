r"""Fidelity of the Anny-derived body model against Anny itself, and pictures of it.

:func:`fidelity_report` measures, on held-out adult phenotypes (not those of the PCA):

* ``shape``: vertices of our linear shape space (betas projected by least squares)
  against Anny's T-posed mesh;
* ``joints``: our regressed rest joints against Anny's bone heads (T-pose);
* ``posed``: our LBS against Anny's own forward under the same poses
  (:func:`~hmrflow.body.anny_pose.smpl_to_anny`); ``posed_skinning`` isolates the skinning
  part (our merged weights on Anny's exact T-posed mesh and joints);
* ``lowpoly_joints`` / ``lowpoly_keypoints``: the low-poly against the full model.

:func:`render_pictures` writes a PNG of front and side views of the rest pose and a few
poses for a few shapes (needs ``pip install 'hmrflow[plot]'``).

Example (needs ``pip install 'hmrflow[anny,plot]'``)::

    from hmrflow.body import BodyModel
    from hmrflow.body.anny_report import fidelity_report, render_pictures
    report = fidelity_report(BodyModel.from_name("anny"), BodyModel.from_name("anny_lowpoly"))
    print(report.format())
    render_pictures(BodyModel.from_name("anny"), "anny.png")
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from hmrflow.body.anny_export import AnnyShapes, load_anny, project_betas, sample_adult_phenotypes, tposed_shapes
from hmrflow.body.anny_pose import ANNY_TO_SMPL_FRAME, AnnyRig, smpl_to_anny
from hmrflow.body.joints import SMPL_JOINT_NAMES
from hmrflow.body.kinematics import forward_kinematics
from hmrflow.body.model import BodyModel
from hmrflow.geometry.rotations import rotvec_to_rotmat

__all__ = ["ErrorStats", "FidelityReport", "demo_poses", "fidelity_report", "render_pictures"]


@dataclass(frozen=True)
class ErrorStats:
    """Euclidean point errors in millimetres."""

    mean_mm: float
    max_mm: float
    rmse_mm: float

    @classmethod
    def of(cls, predicted: Tensor, target: Tensor) -> ErrorStats:
        """Statistics of ``|predicted - target|`` over all points ``(..., 3)``."""
        err = (predicted.double() - target.double()).norm(dim=-1) * 1000
        return cls(err.mean().item(), err.max().item(), err.square().mean().sqrt().item())


@dataclass(frozen=True)
class FidelityReport:
    """See the module docstring; ``None`` where not measured."""

    num_shapes: int
    num_poses: int
    shape: ErrorStats
    joints: ErrorStats
    posed: ErrorStats
    posed_skinning: ErrorStats
    lowpoly_joints: ErrorStats | None = None
    lowpoly_keypoints: ErrorStats | None = None

    def format(self) -> str:
        """A readable table."""
        lines = [f"Anny fidelity: {self.num_shapes} held-out adult shapes, {self.num_poses} poses"]
        lines.append(f"{'':>20} {'mean mm':>9} {'max mm':>9} {'RMSE mm':>9}")
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, ErrorStats):
                lines.append(f"{item.name:>20} {value.mean_mm:9.2f} {value.max_mm:9.2f} {value.rmse_mm:9.2f}")
        return "\n".join(lines)


def demo_poses(dtype: torch.dtype = torch.float32) -> dict[str, Tensor]:
    """Named poses ``(J, 3, 3)`` (local rotations, SMPL frame) for reports and pictures."""
    j = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}

    def pose(**rotvecs: tuple[float, float, float]) -> Tensor:
        vec = torch.zeros(len(SMPL_JOINT_NAMES), 3, dtype=torch.float64)
        for name, value in rotvecs.items():
            vec[j[name]] = torch.tensor(value, dtype=torch.float64)
        return rotvec_to_rotmat(vec).to(dtype)

    return {
        "rest": pose(),
        "arms_down": pose(left_shoulder=(0, 0, -1.2), right_shoulder=(0, 0, 1.2)),
        "walk": pose(left_hip=(-0.5, 0, 0), left_knee=(0.3, 0, 0), right_hip=(0.4, 0, 0), right_knee=(0.6, 0, 0),
                     left_shoulder=(0.4, 0, -1.2), right_shoulder=(-0.4, 0, 1.2), left_elbow=(0, -0.5, 0),
                     right_elbow=(0, 0.5, 0)),  # fmt: skip
        "sit": pose(left_hip=(-1.5, 0, 0), right_hip=(-1.5, 0, 0), left_knee=(1.5, 0, 0), right_knee=(1.5, 0, 0),
                    left_shoulder=(0, -0.8, -0.6), right_shoulder=(0, 0.8, 0.6), left_elbow=(0, -1.4, 0),
                    right_elbow=(0, 1.4, 0)),  # fmt: skip
        "reach": pose(pelvis=(0, 0.6, 0), spine1=(0.2, 0, 0.1), spine2=(0.2, 0, 0.1), spine3=(0.1, 0, 0),
                      neck=(0.2, 0.3, 0), head=(0.2, 0.2, 0), left_shoulder=(0, 0, 0.8), left_collar=(0, 0, 0.3),
                      right_wrist=(0, 0, 0.8), left_wrist=(0.6, 0, 0), left_ankle=(0.4, 0, 0)),  # fmt: skip
    }


def _random_poses(count: int, generator: torch.Generator, scale: float = 0.3) -> Tensor:
    rotvec = torch.randn(count, len(SMPL_JOINT_NAMES), 3, generator=generator, dtype=torch.float64) * scale
    return rotvec_to_rotmat(rotvec)


def _skin(vertices: Tensor, weights: Tensor, rest_joints: Tensor, rotmats: Tensor, parents: Sequence[int]) -> Tensor:
    """Plain LBS ``(B, N, 3)`` (no blend shapes) of ``vertices (B, N, 3)`` about ``rest_joints (B, J, 3)``."""
    kinematics = forward_kinematics(rotmats, rest_joints, parents=parents)
    rot, pos = kinematics.world_rotmats, kinematics.positions
    trans = pos - (rot @ rest_joints.unsqueeze(-1)).squeeze(-1)
    blended_r = torch.einsum("nj,bjkl->bnkl", weights, rot)
    blended_t = torch.einsum("nj,bjk->bnk", weights, trans)
    return (blended_r @ vertices.unsqueeze(-1)).squeeze(-1) + blended_t


def fidelity_report(
    body: BodyModel,
    lowpoly: BodyModel | None = None,
    *,
    num_shapes: int = 40,
    seed: int = 12345,
    model: Any = None,
    cache_dir: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] | None = print,
) -> FidelityReport:
    """Measure ``body`` (and ``lowpoly``) against Anny on ``num_shapes`` held-out adults.

    Each shape is posed in every pose of :func:`demo_poses` and 4 random poses.
    ``model`` is an ``anny.Anny`` (default: :func:`~hmrflow.body.anny_export.load_anny`);
    ``log`` receives the formatted table (None: silent). The models are not modified.
    """
    model = model if model is not None else load_anny(cache_dir)
    phenotypes = sample_adult_phenotypes(model, num_shapes, seed)
    shapes = tposed_shapes(model, phenotypes)
    body = copy.deepcopy(body).double()
    betas = project_betas(body.template, body.shapedirs, shapes.vertices.double())
    rest = body(torch.eye(3, dtype=torch.float64).expand(num_shapes, 24, 3, 3), betas)
    generator = torch.Generator().manual_seed(seed)
    poses = torch.cat([torch.stack(list(demo_poses(torch.float64).values())), _random_poses(4, generator)])
    posed, skinning = _posed_errors(body, model, shapes, betas, poses)
    low = _lowpoly_stats(body, copy.deepcopy(lowpoly).double(), betas, poses) if lowpoly is not None else {}
    report = FidelityReport(
        num_shapes=num_shapes,
        num_poses=len(poses),
        shape=ErrorStats.of(rest.vertices, shapes.vertices),
        joints=ErrorStats.of(rest.rest_joints, shapes.joints),
        posed=posed,
        posed_skinning=skinning,
        **low,
    )
    if log is not None:
        log(report.format())
    return report


def _posed_errors(
    body: BodyModel, model: Any, shapes: AnnyShapes, betas: Tensor, poses: Tensor
) -> tuple[ErrorStats, ErrorStats]:
    """Our forward and our skinning alone (Anny's exact T-posed mesh and joints) against
    Anny's forward, every shape in every pose ``(P, J, 3, 3)``; roots aligned."""
    frame = ANNY_TO_SMPL_FRAME.double()
    ours, theirs, skinning = [], [], []
    count = len(poses)
    for s in range(len(betas)):
        rig = AnnyRig.from_anny(model, shapes.phenotypes[s : s + 1])
        out = body(poses, betas[s].expand(count, -1))
        root = out.joints[:, 0]
        params = smpl_to_anny(poses, rig, transl=root)
        anny = model(pose_parameters=params, phenotype_kwargs=shapes.phenotypes[s : s + 1])["vertices"] @ frame.T
        vertices = shapes.vertices[s].double().expand(count, -1, -1)
        joints = shapes.joints[s].double().expand(count, -1, -1)
        exact = _skin(vertices, body.weights, joints, poses, body.parents) + (root - joints[:, 0]).unsqueeze(1)
        ours.append(out.vertices)
        theirs.append(anny)
        skinning.append(exact)
    target = torch.cat(theirs)
    return ErrorStats.of(torch.cat(ours), target), ErrorStats.of(torch.cat(skinning), target)


def _lowpoly_stats(body: BodyModel, lowpoly: BodyModel, betas: Tensor, poses: Tensor) -> dict[str, ErrorStats]:
    """Low-poly against full: joints and keypoints, every shape in every pose."""
    rot = poses[:, None].expand(-1, len(betas), -1, -1, -1).reshape(-1, 24, 3, 3)
    bet = betas[None].expand(len(poses), -1, -1).reshape(-1, betas.shape[-1])
    names = sorted(set(body.keypoint_sets) & set(lowpoly.keypoint_sets))
    full = body(rot, bet, keypoints=names, vertices=False)
    low = lowpoly(rot, bet, keypoints=names, vertices=False)
    full_kp = torch.cat([full.keypoints[n] for n in names], dim=1)
    low_kp = torch.cat([low.keypoints[n] for n in names], dim=1)
    return {
        "lowpoly_joints": ErrorStats.of(low.joints, full.joints),
        "lowpoly_keypoints": ErrorStats.of(low_kp, full_kp),
    }


# ---------------------------------------------------------------------- pictures


def _draw(ax: Any, vertices: Tensor, faces: Tensor, view: str, colour: tuple[float, float, float]) -> None:
    """Orthographic flat-shaded mesh on a matplotlib axis (painter's algorithm)."""
    from matplotlib.collections import PolyCollection

    v = vertices.detach().double()
    if view == "side":  # looking at the body's left side: screen x = -Z (the body faces left)
        v = torch.stack([-v[:, 2], v[:, 1], v[:, 0]], dim=1)
    tri = v[faces]
    normal = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal = normal / normal.norm(dim=1, keepdim=True).clamp_min(1e-12)
    light = torch.tensor([0.3, 0.4, 1.0], dtype=torch.float64)
    shade = (normal @ (light / light.norm())).abs().clamp(0, 1) * 0.75 + 0.25
    order = tri[:, :, 2].mean(1).argsort()  # far (small z) first
    colours = [(colour[0] * s, colour[1] * s, colour[2] * s) for s in shade[order].tolist()]
    ax.add_collection(PolyCollection(tri[order, :, :2].numpy(), facecolors=colours, edgecolors="none"))
    ax.set_xlim(v[:, 0].min().item() - 0.05, v[:, 0].max().item() + 0.05)
    ax.set_ylim(v[:, 1].min().item() - 0.05, v[:, 1].max().item() + 0.05)
    ax.set_aspect("equal")
    ax.axis("off")


def render_pictures(
    body: BodyModel,
    path: str | os.PathLike[str],
    *,
    betas: Tensor | None = None,
    poses: dict[str, Tensor] | None = None,
    joints: bool = True,
) -> Path:
    """Write a PNG: one row per shape, front and side views of each pose.

    Arguments:
        body: the model to draw.
        path: the PNG file.
        betas: ``(R, S)`` shapes, one row each (default: mean, +-2 along the first component).
        poses: name -> ``(J, 3, 3)`` (default: rest, arms_down and walk of :func:`demo_poses`).
        joints: draw the joints (red) and keypoints (blue) of the front views too.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("render_pictures needs matplotlib: pip install 'hmrflow[plot]'") from error
    body = copy.deepcopy(body).double()
    if betas is None:
        betas = torch.zeros(3, body.num_betas, dtype=torch.float64)
        betas[1, 0], betas[2, 0] = 2.0, -2.0
    if poses is None:
        all_poses = demo_poses(torch.float64)
        poses = {name: all_poses[name] for name in ("rest", "arms_down", "walk")}
    rows, cols = len(betas), 2 * len(poses)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 3.2 * rows), squeeze=False)
    colour = (0.78, 0.72, 0.62)
    sets = list(body.keypoint_sets)
    for r, beta in enumerate(betas.double()):
        for c, (name, rot) in enumerate(poses.items()):
            out = body(rot.double()[None], beta[None], keypoints=sets)
            for k, view in enumerate(("front", "side")):
                ax = axes[r][2 * c + k]
                _draw(ax, out.vertices[0], body.faces, view, colour)
                if joints and view == "front":
                    pts = out.joints[0]
                    ax.plot(pts[:, 0], pts[:, 1], "r.", markersize=3)
                    for key in sets:
                        kp = out.keypoints[key][0]
                        ax.plot(kp[:, 0], kp[:, 1], "b.", markersize=3)
                if r == 0:
                    ax.set_title(f"{name} ({view})", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _main() -> None:  # pragma: no cover - manual use: python -m hmrflow.body.anny_report OUT_DIR
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    body, low = BodyModel.from_name("anny"), BodyModel.from_name("anny_lowpoly")
    fidelity_report(body, low)
    for model in (body, low):
        print(render_pictures(model, out / f"{model.name}.png"))


if __name__ == "__main__":  # pragma: no cover
    _main()

