r"""A cheap self-intersection test: body segments as capsules on forward-kinematics joints.

Each capsule is a segment between two points of the posed skeleton (joints, or points
fixed in a joint's frame: the top of the head, fingertips, toes) with a radius. Two
capsules intersect when their segments come closer than the sum of their radii less a
tolerance (touching is allowed: hands on knees, thighs on calves). Only pairs that
cannot touch through a shared joint are tested (a forearm against the torso, one leg
against the other, a hand against the head); segments that start inside the torso
(upper arms, thighs) are trimmed at their start so that their roots do not count.

Conventions: the SMPL tree and frame (:mod:`hmrflow.body.joints`; +X is the body's left),
metres; rest joints default to the built-in skeleton (:func:`~hmrflow.data.skeleton.rest_joints`,
stature about 1.78 m). Radii are those of a slim adult, so that the test flags gross
interpenetration, not contact.

Example:
    >>> import torch
    >>> rest = torch.eye(3).expand(1, 24, 3, 3)
    >>> bool(self_intersections(rest).any())
    False
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from hmrflow.body.joints import SMPL_JOINT_NAMES
from hmrflow.data.skeleton import forward_kinematics, rest_joints

__all__ = [
    "CAPSULES",
    "CAPSULE_PAIRS",
    "Capsule",
    "capsule_penetration",
    "segment_distance",
    "self_intersections",
]


@dataclass(frozen=True)
class Capsule:
    r"""A body segment: from joint ``start`` to joint ``end`` (or to ``end`` plus ``offset``
    metres in the end joint's frame when ``offset`` is given), radius in metres, the first
    ``trim`` fraction of the segment left out."""

    name: str
    start: str
    end: str
    radius: float
    offset: tuple[float, float, float] | None = None
    trim: float = 0.0


def _limb(side: str) -> tuple[Capsule, ...]:
    """The arm and leg capsules of one side (``"left"`` or ``"right"``)."""
    s = 1.0 if side == "left" else -1.0
    return (
        Capsule(f"{side}_upper_arm", f"{side}_shoulder", f"{side}_elbow", 0.05, trim=0.3),
        Capsule(f"{side}_forearm", f"{side}_elbow", f"{side}_wrist", 0.04),
        Capsule(f"{side}_hand", f"{side}_wrist", f"{side}_hand", 0.035, offset=(s * 0.07, 0.0, 0.0)),
        Capsule(f"{side}_thigh", f"{side}_hip", f"{side}_knee", 0.07, trim=0.35),
        Capsule(f"{side}_shin", f"{side}_knee", f"{side}_ankle", 0.05),
        Capsule(f"{side}_foot", f"{side}_ankle", f"{side}_foot", 0.04, offset=(0.0, 0.0, 0.05)),
    )


#: The capsules: torso (pelvis across the hips, abdomen, chest), head, and the limbs.
CAPSULES: tuple[Capsule, ...] = (
    Capsule("pelvis", "left_hip", "right_hip", 0.085),
    Capsule("abdomen", "spine1", "spine3", 0.095),
    Capsule("chest", "spine3", "neck", 0.11),
    Capsule("head", "head", "head", 0.09, offset=(0.0, 0.1, 0.02)),
    *_limb("left"),
    *_limb("right"),
)

_TORSO = ("pelvis", "abdomen", "chest")
_SIDES = ("left", "right")
_ARMS = tuple(tuple(f"{side}_{part}" for part in ("upper_arm", "forearm", "hand")) for side in _SIDES)
_LEGS = tuple(tuple(f"{side}_{part}" for part in ("thigh", "shin", "foot")) for side in _SIDES)


def _pairs() -> tuple[tuple[str, str], ...]:
    """Capsule pairs that can only meet by interpenetration (no shared joint between them)."""
    pairs: list[tuple[str, str]] = []
    for side, arm, leg in zip(_SIDES, _ARMS, _LEGS):
        pairs += [(a, t) for a in arm for t in _TORSO if (a, t) != (f"{side}_upper_arm", "chest")]
        pairs += [(a, "head") for a in arm if a != f"{side}_upper_arm"]
        pairs += [(a, b) for a in arm for b in (*_LEGS[0], *_LEGS[1])]
        pairs += [(part, t) for part in leg for t in _TORSO if (part, t) != (f"{side}_thigh", "pelvis")]
        pairs += [(part, "head") for part in leg]
    pairs += [(a, b) for a in _ARMS[0] for b in _ARMS[1]]
    pairs += [(a, b) for a in _LEGS[0] for b in _LEGS[1]]
    return tuple(pairs)


#: Pairs of capsule names tested by :func:`self_intersections`.
CAPSULE_PAIRS: tuple[tuple[str, str], ...] = _pairs()


def segment_distance(p0: Tensor, p1: Tensor, q0: Tensor, q1: Tensor) -> Tensor:
    r"""Shortest distance between segments ``p0 p1`` and ``q0 q1``, points ``(..., 3)`` -> ``(...)``.

    The closest points ``p0 + s (p1 - p0)`` and ``q0 + t (q1 - q0)``: ``s`` minimises the
    distance of the infinite lines, clipped to ``[0, 1]``; ``t`` then follows from ``s``
    and is clipped, and ``s`` is recomputed from the clipped ``t``.
    """
    d1, d2, r = p1 - p0, q1 - q0, p0 - q0
    a = (d1 * d1).sum(-1).clamp_min(1e-12)
    e = (d2 * d2).sum(-1).clamp_min(1e-12)
    b, c, f = (d1 * d2).sum(-1), (d1 * r).sum(-1), (d2 * r).sum(-1)
    denom = a * e - b * b
    s = torch.where(denom > 1e-12, ((b * f - c * e) / denom.clamp_min(1e-12)).clamp(0.0, 1.0), torch.zeros_like(a))
    t = ((b * s + f) / e).clamp(0.0, 1.0)
    s = ((b * t - c) / a).clamp(0.0, 1.0)
    return ((p0 + d1 * s[..., None]) - (q0 + d2 * t[..., None])).norm(dim=-1)


def _endpoints(rotmats: Tensor, rest: Tensor) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Start and end points ``(B, 3)`` of every capsule, root at the origin."""
    posed = forward_kinematics(rotmats, rest)
    position = {name: posed.positions[..., j, :] for j, name in enumerate(SMPL_JOINT_NAMES)}
    frame = {name: posed.world_rotmats[..., j, :, :] for j, name in enumerate(SMPL_JOINT_NAMES)}
    starts, ends = {}, {}
    for cap in CAPSULES:
        end = position[cap.end]
        if cap.offset is not None:
            offset = torch.tensor(cap.offset, dtype=rotmats.dtype, device=rotmats.device)
            end = end + (frame[cap.end] @ offset[:, None])[..., 0]
        start = position[cap.start]
        starts[cap.name] = start + cap.trim * (end - start)
        ends[cap.name] = end
    return starts, ends


def capsule_penetration(rotmats: Tensor, rest: Tensor | None = None) -> Tensor:
    r"""Penetration depth of every tested capsule pair, in metres (negative: apart).

    Arguments:
        rotmats: Local rotations, shape ``(B, J, 3, 3)`` (joint 0 does not matter).
        rest: Rest joints ``(J, 3)``; default the built-in skeleton.

    Returns:
        ``radius_a + radius_b - distance`` per pair of :data:`CAPSULE_PAIRS`, shape ``(B, P)``.
    """
    rest = rest_joints(dtype=rotmats.dtype, device=rotmats.device) if rest is None else rest.to(rotmats)
    starts, ends = _endpoints(rotmats, rest)
    radius = {cap.name: cap.radius for cap in CAPSULES}
    first, second = zip(*CAPSULE_PAIRS)
    p0 = torch.stack([starts[n] for n in first], dim=-2)
    p1 = torch.stack([ends[n] for n in first], dim=-2)
    q0 = torch.stack([starts[n] for n in second], dim=-2)
    q1 = torch.stack([ends[n] for n in second], dim=-2)
    radii = torch.tensor([radius[a] + radius[b] for a, b in CAPSULE_PAIRS], dtype=rotmats.dtype, device=rotmats.device)
    return radii - segment_distance(p0, p1, q0, q1)


def self_intersections(rotmats: Tensor, rest: Tensor | None = None, tolerance: float = 0.03) -> Tensor:
    r"""Whether each pose interpenetrates itself: some pair deeper than ``tolerance`` metres.

    Arguments:
        rotmats: Local rotations, shape ``(B, J, 3, 3)``.
        rest: Rest joints ``(J, 3)``; default the built-in skeleton.
        tolerance: Allowed penetration (soft tissue gives way; radii are approximate).

    Returns:
        Boolean tensor, shape ``(B,)``.
    """
    return (capsule_penetration(rotmats, rest) > tolerance).any(dim=-1)
