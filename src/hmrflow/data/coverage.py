r"""How well a set of generated poses covers real motion: joint-angle histograms, the
hip-knee flexion plane, and nearest-neighbour distances from real frames.

Poses are local rotations ``(N, J, 3, 3)`` on the SMPL tree; the global orientation
(joint 0) is ignored throughout: coverage is about the body's articulation. Two distances
between poses, each a mean over the 23 body joints:

- ``position``: joint positions of the built-in skeleton
  (:func:`~hmrflow.data.skeleton.rest_joints`) posed with the root fixed, in millimetres
  (an MPJPE after aligning the root's position and orientation);
- ``angle``: geodesic angle between the joints' local rotations, in degrees.

A real frame's nearest-neighbour distance to a generated set says how close the set
comes to that real pose; a set that covers real motion has small distances for all
frames, not just on average.

Example:
    >>> import torch
    >>> from hmrflow.data.pose_sampler import PoseSampler
    >>> poses = PoseSampler(None).sample(64, torch.Generator().manual_seed(0))
    >>> nearest_neighbour(poses[:4], poses).max().item() < 1e-3
    True
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from hmrflow.body.joints import SMPL_JOINT_NAMES, mirror_poses
from hmrflow.data.joint_limits import JointLimits, joint_limits, limit_excess, swing_twist
from hmrflow.data.self_contact import self_intersections
from hmrflow.data.skeleton import forward_kinematics, rest_joints

__all__ = [
    "ANGLE_JOINTS",
    "CoverageSummary",
    "angle_components",
    "angle_histogram_figure",
    "format_coverage",
    "hip_knee_figure",
    "hip_knee_flexion",
    "nearest_neighbour",
    "nearest_neighbour_figure",
    "nearest_position_index",
    "root_aligned_positions",
    "summarize_coverage",
]

#: Joints shown in the angle histograms (left side and centre; right frames are mirrored in).
ANGLE_JOINTS: tuple[str, ...] = (
    "left_hip", "left_knee", "left_ankle", "left_foot", "spine1", "spine2", "spine3", "neck", "head",
    "left_collar", "left_shoulder", "left_elbow", "left_wrist",
)  # fmt: skip


def root_aligned_positions(rotmats: Tensor) -> Tensor:
    r"""Joint positions ``(N, J, 3)`` in metres of poses ``(N, J, 3, 3)`` on the built-in
    skeleton, root at the origin with the identity orientation."""
    rotmats = torch.cat([torch.eye(3, dtype=rotmats.dtype, device=rotmats.device).expand_as(rotmats[:, :1]),
                         rotmats[:, 1:]], dim=1)  # fmt: skip
    rest = rest_joints(dtype=rotmats.dtype, device=rotmats.device)
    return forward_kinematics(rotmats, rest).positions - rest[0]


def nearest_neighbour(query: Tensor, reference: Tensor, metric: str = "position", chunk: int = 32) -> Tensor:
    r"""Distance from each query pose to its nearest reference pose (see the module docstring).

    Arguments:
        query: Poses ``(Q, J, 3, 3)``.
        reference: Poses ``(G, J, 3, 3)``.
        metric: ``"position"`` (millimetres) or ``"angle"`` (degrees).
        chunk: Query poses per step (memory ``chunk * G * J``).

    Returns:
        Distances ``(Q,)``.
    """
    if metric == "position":
        q, r = root_aligned_positions(query)[:, 1:], root_aligned_positions(reference)[:, 1:]
        nearest = r[nearest_position_index(q, r, chunk)]
        return (q - nearest).norm(dim=-1).mean(-1) * 1000.0
    if metric == "angle":
        q, r = query[:, 1:].flatten(-2), reference[:, 1:].flatten(-2)  # (., J-1, 9): trace(A^T B) = <A, B>

        def step(part: Tensor) -> Tensor:
            cosine = ((torch.einsum("qjk,gjk->qgj", part, r) - 1.0) / 2.0).clamp(-1.0, 1.0)
            return torch.rad2deg(torch.acos(cosine).mean(-1).amin(-1))

        return torch.cat([step(q[start : start + chunk]) for start in range(0, len(q), chunk)])
    raise ValueError(f"metric must be 'position' or 'angle', not {metric!r}")


def nearest_position_index(query: Tensor, reference: Tensor, chunk: int = 32) -> Tensor:
    r"""Index ``(Q,)`` of each query's nearest reference by mean joint distance.

    Arguments:
        query: Joint positions ``(Q, K, 3)`` (e.g. :func:`root_aligned_positions`).
        reference: Joint positions ``(G, K, 3)``.
        chunk: Query poses per step (memory ``chunk * G * K``).
    """
    distance = lambda part: (part[:, None] - reference[None]).norm(dim=-1).mean(-1)  # noqa: E731
    return torch.cat([distance(query[start : start + chunk]).argmin(-1) for start in range(0, len(query), chunk)])


def angle_components(rotmats: Tensor, limits: JointLimits | None = None) -> Tensor:
    r"""Rotation-vector components in degrees ``(N, J, 3)``, as the limit tables state them:
    the two swing components and, at the twist axis, the twist angle."""
    limits = (limits or joint_limits("rom")).to(rotmats)
    st = swing_twist(rotmats, limits)
    axes = torch.nn.functional.one_hot(limits.twist_axis, 3).to(rotmats)
    return torch.rad2deg(st.swing + axes * st.twist[..., None])


def _pooled(rotmats: Tensor) -> Tensor:
    """Poses and their mirror images ``(2N, J, 3, 3)``: right joints' angles show as left ones."""
    return torch.cat([rotmats, mirror_poses(rotmats)])


def hip_knee_flexion(rotmats: Tensor) -> tuple[Tensor, Tensor]:
    r"""Hip and knee flexion in degrees, left and right pooled, each ``(2N,)``: the hip's
    swing about -x (thigh forward) and the knee's swing about +x (heel back)."""
    angles = angle_components(_pooled(rotmats))
    return -angles[:, SMPL_JOINT_NAMES.index("left_hip"), 0], angles[:, SMPL_JOINT_NAMES.index("left_knee"), 0]


@dataclass(frozen=True)
class CoverageSummary:
    r"""Coverage of one generated set.

    Attributes:
        name: Set name.
        size: Poses in the set.
        position_mm: Nearest-neighbour distance of each real frame, ``(Q,)`` millimetres.
        angle_deg: The same in mean joint angle, ``(Q,)`` degrees.
        within_rom: Share of the set within the "rom" limits (2 degrees tolerance).
        intersecting: Share of the set that interpenetrates itself (capsule test).
    """

    name: str
    size: int
    position_mm: Tensor
    angle_deg: Tensor
    within_rom: float
    intersecting: float


def summarize_coverage(name: str, poses: Tensor, real: Tensor) -> CoverageSummary:
    r"""Coverage of ``poses`` ``(N, J, 3, 3)`` for the real frames ``real`` ``(Q, J, 3, 3)``."""
    excess = limit_excess(poses, joint_limits("rom"))
    return CoverageSummary(
        name=name,
        size=len(poses),
        position_mm=nearest_neighbour(real, poses, "position"),
        angle_deg=nearest_neighbour(real, poses, "angle"),
        within_rom=float((excess <= math.radians(2.0)).all(-1).float().mean()),
        intersecting=float(self_intersections(poses).float().mean()),
    )


def format_coverage(summaries: list[CoverageSummary], real_name: str) -> str:
    """A table: per set, the real frames' nearest-neighbour distances and the set's checks."""

    def q(x: Tensor, p: float) -> float:
        return float(torch.quantile(x.double(), p))

    lines = [
        (f"nearest-neighbour distance from each frame of {real_name} to each set "
         "(mean over 23 joints; position mm after root alignment | joint angle deg)"),
        (f"{'set':<34} {'size':>6}  {'median':>7} {'p90':>6} {'max':>6} | {'median':>6} {'p90':>6} {'max':>6}"
         f"  {'in rom':>6} {'intersect':>9}"),
    ]
    for s in summaries:
        p, a = s.position_mm, s.angle_deg
        lines.append(
            f"{s.name:<34} {s.size:>6}  {q(p, .5):>7.1f} {q(p, .9):>6.1f} {p.max():>6.1f} | "
            f"{q(a, .5):>6.1f} {q(a, .9):>6.1f} {a.max():>6.1f}  {s.within_rom:>6.3f} {s.intersecting:>9.3f}"
        )
    return "\n".join(lines)


def _save(fig, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def _ranges(limits: JointLimits, j: int, c: int) -> tuple[float, float]:
    """The table range of joint ``j``'s component ``c`` in degrees."""
    return math.degrees(float(limits.lower[j, c])), math.degrees(float(limits.upper[j, c]))


def angle_histogram_figure(sets: Mapping[str, Tensor], path: str | os.PathLike[str], bins: int = 60) -> Path:
    r"""Per joint of :data:`ANGLE_JOINTS` and rotation-vector component, histograms of each
    set ``(N, J, 3, 3)`` (right joints mirrored in), with the "rom" ranges (solid) and the
    v1 ranges (dotted). Components named as the limit tables state them; ``tw`` marks the
    twist."""
    from matplotlib.figure import Figure

    rom, v1 = joint_limits("rom"), joint_limits("v1")
    angles = {name: angle_components(_pooled(poses.double())).float() for name, poses in sets.items()}
    fig = Figure(figsize=(12, 2.0 * len(ANGLE_JOINTS)))
    axes = fig.subplots(len(ANGLE_JOINTS), 3, squeeze=False)
    for row, joint in enumerate(ANGLE_JOINTS):
        j = SMPL_JOINT_NAMES.index(joint)
        for c in range(3):
            ax = axes[row, c]
            low, high = _ranges(rom, j, c)
            span = (min(low, -30.0) - 20.0, max(high, 30.0) + 20.0)
            for name, values in angles.items():
                ax.hist(values[:, j, c].clamp(*span).numpy(), bins=bins, range=span, density=True,
                        histtype="step", label=name)  # fmt: skip
            for bound in (low, high):
                ax.axvline(bound, color="black", linewidth=1.0)
            for bound in _ranges(v1, j, c):
                ax.axvline(bound, color="grey", linewidth=1.0, linestyle=":")
            twist = " (tw)" if int(rom.twist_axis[j]) == c else ""
            ax.set_title(f"{joint} {'xyz'[c]}{twist}", fontsize=9)
            ax.tick_params(labelsize=7)
            ax.set_yticks([])
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle("joint angles (deg, rotation-vector components); black: rom range, dotted: v1", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.99))
    return _save(fig, path)


def hip_knee_figure(sets: Mapping[str, Tensor], real: Tensor, real_name: str, path: str | os.PathLike[str]) -> Path:
    r"""Hip flexion x knee flexion 2D histograms, one panel per set ``(N, J, 3, 3)``, the real
    frames ``(Q, J, 3, 3)`` as dots, the "rom" hip flexion and knee flexion bounds as lines."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * len(sets), 4.2))
    axes = fig.subplots(1, len(sets), squeeze=False)[0]
    real_hip, real_knee = hip_knee_flexion(real.double())
    rom = joint_limits("rom")
    hip_max = -_ranges(rom, SMPL_JOINT_NAMES.index("left_hip"), 0)[0]
    knee_max = _ranges(rom, SMPL_JOINT_NAMES.index("left_knee"), 0)[1]
    for ax, (name, poses) in zip(axes, sets.items()):
        hip, knee = hip_knee_flexion(poses.double())
        ax.hist2d(hip.numpy(), knee.numpy(), bins=60, range=((-60, 160), (-30, 170)), cmap="Blues", cmin=1)
        ax.scatter(real_hip.numpy(), real_knee.numpy(), s=2, color="tab:red", label=real_name)
        ax.axvline(hip_max, color="black", linewidth=1.0)
        ax.axhline(knee_max, color="black", linewidth=1.0)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("hip flexion (deg)")
    axes[0].set_ylabel("knee flexion (deg)")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return _save(fig, path)


def nearest_neighbour_figure(summaries: list[CoverageSummary], real_name: str, path: str | os.PathLike[str]) -> Path:
    """Cumulative distributions of the real frames' nearest-neighbour distances, per set."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    left, right = fig.subplots(1, 2)
    for s in summaries:
        for ax, values in ((left, s.position_mm), (right, s.angle_deg)):
            ordered = values.sort().values.numpy()
            ax.plot(ordered, (torch.arange(len(ordered)) + 1).numpy() / len(ordered), label=s.name)
    left.set_xlabel("nearest-neighbour distance, mean joint position (mm)")
    right.set_xlabel("nearest-neighbour distance, mean joint angle (deg)")
    left.set_ylabel(f"share of {real_name} frames")
    left.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)
