r"""Drawing poses from the families: keys, gestures, noise, grounding, mirroring, heading,
the joint limits and the capsule test."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

import torch
from torch import Tensor

from hmrflow.body.joints import NUM_JOINTS
from hmrflow.data.joint_limits import clamp_to_limits, joint_limits
from hmrflow.data.pose_families.angles import (
    CHANNEL_INDEX,
    CHANNELS,
    MIXED_CHANNELS,
    SIDE_CHANNELS,
    Key,
    Value,
    anatomical_to_rotmats,
    mirror_angles,
)
from hmrflow.data.pose_families.table import FAMILIES, GESTURES, Family, family_names
from hmrflow.data.self_contact import self_intersections
from hmrflow.geometry import angle_to_rotmat

__all__ = ["FamilySample", "sample_families"]

#: Noise scale per channel kind (times a family's ``noise_deg``).
_NOISE_SCALE = {
    "root_pitch": 0.7, "root_roll": 0.7, "lift": 0.0, "spine": 0.7, "neck": 1.0,
    "hip": 1.0, "knee": 1.0, "ankle": 0.8, "toe": 0.5, "collar": 0.5, "arm": 1.5,
    "elbow": 1.5, "forearm": 2.0, "wrist": 2.0, "finger": 2.0,
}  # fmt: skip


@dataclass(frozen=True)
class _Table:
    """A family's keys as tensors: ``low``, ``high`` ``(K, C)`` and ``given`` ``(K, C)`` bool."""

    low: Tensor
    high: Tensor
    given: Tensor


@cache
def _key_lists(keys: tuple[tuple[tuple[str, Value], ...], ...]) -> tuple[list, list, list]:
    low = [[0.0] * len(CHANNELS) for _ in keys]
    high = [[0.0] * len(CHANNELS) for _ in keys]
    given = [[False] * len(CHANNELS) for _ in keys]
    for k, pose in enumerate(keys):
        for name, value in pose:
            lo, hi = value if isinstance(value, tuple) else (value, value)
            c = CHANNEL_INDEX[name]
            low[k][c], high[k][c], given[k][c] = float(lo), float(hi), True
    return low, high, given


def _table(keys: Sequence[Key], like: Tensor) -> _Table:
    """Keys as tensors on ``like``'s device and dtype."""
    low, high, given = _key_lists(tuple(tuple(sorted(pose.items())) for pose in keys))
    return _Table(like.new_tensor(low), like.new_tensor(high), torch.tensor(given, device=like.device))


def _noise_scale(like: Tensor) -> Tensor:
    """``(C,)`` noise scale per channel (by its kind)."""
    scales = []
    for name in CHANNELS:
        base = name[2:] if name[:2] in ("l_", "r_") else name
        kind = base if base in _NOISE_SCALE else base.split("_")[0]
        scales.append(_NOISE_SCALE.get(kind, 1.0))
    return like.new_tensor(scales)




def _interpolate(values: Tensor, position: Tensor, cyclic: bool) -> Tensor:
    r"""Piecewise-linear interpolation of per-sample keys ``(m, K, C)`` at ``position`` ``(m,)``
    in key units (``[0, K - 1]``, or ``[0, K)`` around a cycle)."""
    K = values.shape[1]
    low = position.floor().long().clamp(0, K - 1)
    high = torch.remainder(low + 1, K) if cyclic else (low + 1).clamp(max=K - 1)
    t = (position - low)[:, None]
    rows = torch.arange(len(position), device=position.device)
    return values[rows, low] * (1 - t) + values[rows, high] * t


def _ground_pitch(angles: Tensor, family: Family) -> Tensor:
    r"""Pelvis pitch ``(m,)`` in degrees that lays the grounded segments flat, 0 without.

    Pitches about X add along the leg (hip flexion counts negative, knee flexion positive,
    dorsiflexion negative): the foot's pitch ``p - hip + knee - dorsi`` is ``lift`` (heels
    up), the thigh's ``p - hip`` is ``-90 - lift`` (level, knees up), the shin's
    ``p - hip + knee`` is ``90 + lift`` (flat behind the knee).
    """

    def side(prefix: str) -> Tensor:
        hip, knee = angles[:, CHANNEL_INDEX[f"{prefix}_hip_flex"]], angles[:, CHANNEL_INDEX[f"{prefix}_knee_flex"]]
        lift = angles[:, CHANNEL_INDEX["lift"]]
        if family.ground == "thighs":
            return hip - 90.0 - lift
        if family.ground == "shins":
            return 90.0 + hip - knee + lift
        return hip - knee + angles[:, CHANNEL_INDEX[f"{prefix}_ankle_dorsi"]] + lift

    if family.ground == "none":
        return torch.zeros_like(angles[:, 0])
    return family.support * side("l") + (1.0 - family.support) * side("r")


def _family_angles(family: Family, m: int, generator: torch.Generator, dtype: torch.dtype,
                   canonical: bool = False) -> Tensor:
    r"""Anatomical angles ``(m, C)`` of ``m`` draws from ``family`` (``canonical``: its
    central pose: mid-range values, the first key, gesture and phase, no noise, no mirror)."""
    device = generator.device
    like = torch.empty(0, dtype=dtype, device=device)
    table = _table(family.keys, like)
    K, C = table.low.shape
    draw = {"generator": generator, "dtype": dtype, "device": device}

    def uniform(*shape: int) -> Tensor:
        return torch.full(shape, 0.5, dtype=dtype, device=device) if canonical else torch.rand(*shape, **draw)

    u = uniform(m, C)
    values = table.low + u[:, None] * (table.high - table.low)  # (m, K, C)
    if family.mode == "choice":
        pick = torch.zeros(m, dtype=torch.long, device=device) if canonical else torch.randint(
            K, (m,), generator=generator, device=device)
        rows = torch.arange(m, device=device)
        angles, given = values[rows, pick], table.given[pick]
    elif family.mode == "path":
        position = torch.zeros(m, dtype=dtype, device=device) if canonical else uniform(m) * (K - 1)
        angles, given = _interpolate(values, position, cyclic=False), torch.zeros_like(table.given[0]).expand(m, C)
    else:
        phase = torch.zeros(m, dtype=dtype, device=device) if canonical else uniform(m) * K
        angles = _interpolate(values, phase, cyclic=True)
        later = _interpolate(values, torch.remainder(phase + K / 2, K), cyclic=True)
        right_side = [CHANNEL_INDEX["r_" + n] for n in SIDE_CHANNELS]
        angles[:, right_side] = later[:, [CHANNEL_INDEX["l_" + n] for n in SIDE_CHANNELS]]
        given = torch.zeros_like(table.given[0]).expand(m, C)
    low, high = family.scale
    angles = angles * (low + (high - low) * uniform(m))[:, None]
    angles = _apply_gesture(angles, given, family, m, generator, uniform, canonical)
    if not canonical:
        angles = angles + torch.randn(m, C, **draw) * family.noise_deg * _noise_scale(like)
    pitch = angles[:, CHANNEL_INDEX["root_pitch"]] + _ground_pitch(angles, family)  # before mirroring
    angles = torch.cat([pitch[:, None], angles[:, 1:]], dim=1)
    if not canonical and family.mirror:
        flip = torch.rand(m, **draw) < 0.5
        angles = torch.where(flip[:, None], mirror_angles(angles), angles)
    return angles


def _apply_gesture(angles: Tensor, given: Tensor, family: Family, m: int, generator: torch.Generator,
                   uniform, canonical: bool) -> Tensor:
    r"""The arm channels of a gesture drawn from ``family.arms`` (``"keys"``: none), except
    those ``given`` ``(m, C)`` by the sample's key (choices; paths and cycles give none)."""
    device = angles.device
    pick = torch.zeros(m, dtype=torch.long, device=device) if canonical else torch.randint(
        len(family.arms), (m,), generator=generator, device=device)
    for name in dict.fromkeys(family.arms):  # each distinct gesture once, in order
        if name == "keys":
            continue
        table = _table([GESTURES[name]], angles)
        values = table.low[0] + uniform(m, len(CHANNELS)) * (table.high[0] - table.low[0])
        chosen = torch.tensor([n == name for n in family.arms], dtype=torch.bool, device=device)[pick]
        replace = chosen[:, None] & table.given[0] & ~given
        angles = torch.where(replace, values, angles)
    return angles


@dataclass(frozen=True)
class FamilySample:
    r"""Poses drawn by :func:`sample_families`.

    Attributes:
        rotmats: Local rotations ``(n, J, 3, 3)``, joint 0 the global orientation (Y up).
        family: Index into ``names`` of each pose's family, shape ``(n,)``.
        names: The families drawn from.
        rejected: Whether the pose's first draw interpenetrated, shape ``(n,)``.
        fallback: Whether every draw did (the family's canonical pose was used), ``(n,)``.
    """

    rotmats: Tensor
    family: Tensor
    names: tuple[str, ...] = field(default=())
    rejected: Tensor | None = None
    fallback: Tensor | None = None


def _heading(rotmats: Tensor, yaw: Tensor) -> Tensor:
    """``rotmats`` ``(m, J, 3, 3)`` with the root turned by ``yaw`` ``(m,)`` radians about Y."""
    root = angle_to_rotmat(yaw, "y") @ rotmats[:, 0]
    return torch.cat([root[:, None], rotmats[:, 1:]], dim=1)


def sample_families(
    n: int,
    generator: torch.Generator,
    families: Mapping[str, float] | Sequence[str] | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    candidates: int = 4,
    tolerance: float = 0.03,
    heading: bool = True,
    mix_probability: float = 0.0,
    margin_deg: float = 0.0,
) -> FamilySample:
    r"""Draw ``n`` coordinated poses from the pose families, intersection-free.

    Arguments:
        n: Number of poses.
        generator: Random source; everything is made on its device.
        families: Family or group names (:data:`FAMILIES`, :data:`FAMILY_GROUPS`), with
            weights (a mapping) or equally weighted (a sequence); None: all, equally.
        dtype: Floating type of the rotations.
        candidates: Draws per pose; the first free of self-intersection is kept.
        tolerance: Allowed capsule penetration in metres
            (:func:`~hmrflow.data.self_contact.self_intersections`).
        heading: Turn each body to a random heading about the vertical (False: every body
            faces +Z, for figures; the random draws are the same).
        mix_probability: Chance that a pose's arms and its trunk's side bend and twist
            (:data:`MIXED_CHANNELS`) come from another draw, mostly of another family (a
            lunge with a reach overhead, a squat with a wave): combinations no family
            lists. 0: none, and no extra random draws.
        margin_deg: Project into the "rom" limits narrowed by this margin
            (:meth:`~hmrflow.data.joint_limits.JointLimits.narrowed`): no pose on their edges.

    Returns:
        :class:`FamilySample`; the rotations lie within the "rom" limits.
    """
    names, weights = family_names(families)
    device = generator.device
    like = torch.empty(0, dtype=dtype, device=device)
    family = torch.multinomial(like.new_tensor(weights), n, replacement=True, generator=generator)
    m = candidates * n
    per_draw = family.repeat(candidates)  # (candidates * n,), candidate-major
    angles = torch.zeros(m, len(CHANNELS), dtype=dtype, device=device)
    for index, name in enumerate(names):
        drawn = _family_angles(FAMILIES[name], m, generator, dtype)
        angles = torch.where((per_draw == index)[:, None], drawn, angles)
    if mix_probability > 0:  # drawn only when asked: the default stream stays
        mixed = torch.rand(m, generator=generator, dtype=dtype, device=device) < mix_probability
        columns = torch.tensor([name in MIXED_CHANNELS for name in CHANNELS], device=device)
        angles = torch.where(mixed[:, None] & columns, angles.roll(1, 0), angles)  # the previous draw's
    yaw = (2.0 * torch.rand(m, generator=generator, dtype=dtype, device=device) - 1.0) * math.pi * float(heading)
    limits = joint_limits("rom").narrowed(margin_deg)
    rotmats = clamp_to_limits(_heading(anatomical_to_rotmats(angles), yaw), limits)
    bad = self_intersections(rotmats, tolerance=tolerance).view(candidates, n)
    first = (~bad).to(torch.uint8).argmax(dim=0)  # the first clean draw (0 when none is)
    chosen = rotmats.view(candidates, n, NUM_JOINTS, 3, 3)[first, torch.arange(n, device=device)]
    central = torch.stack([_family_angles(FAMILIES[name], 1, generator, dtype, canonical=True)[0] for name in names])
    fallback_poses = clamp_to_limits(_heading(anatomical_to_rotmats(central[family]), yaw[:n]), limits)
    clean = (~bad).any(dim=0)
    rotmats = torch.where(clean[:, None, None, None], chosen, fallback_poses)
    return FamilySample(rotmats, family, names, bad[0], ~clean)
