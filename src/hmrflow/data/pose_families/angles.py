r"""Anatomical angles: the channels a family's poses are written in, and their local
rotations on the SMPL tree (the conventions are the package docstring's)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

from hmrflow.body.joints import SMPL_JOINT_NAMES
from hmrflow.geometry import angle_to_rotmat

__all__ = ["CHANNELS", "CHANNEL_INDEX", "MIXED_CHANNELS", "SIDE_CHANNELS", "anatomical_to_rotmats", "both", "key",
           "left", "mirror_angles", "right"]  # fmt: skip

#: A channel's value in a key pose: degrees, or a (low, high) range drawn once per sample.
Value = float | tuple[float, float]
#: A key pose: channel -> value (missing channels are 0).
Key = Mapping[str, Value]

_CENTRE = (
    "root_pitch", "root_roll", "lift", "spine_flex", "spine_lat", "spine_rot",
    "neck_flex", "neck_lat", "neck_rot",
)  # fmt: skip
#: The channels each side has (``l_`` and ``r_`` prefixed in :data:`CHANNELS`).
SIDE_CHANNELS: tuple[str, ...] = (
    "hip_flex", "hip_abd", "hip_rot", "knee_flex", "ankle_dorsi", "ankle_inv", "toe_ext",
    "collar_elev", "collar_prot", "arm_flex", "arm_abd", "arm_rot", "elbow_flex",
    "forearm_pron", "wrist_ext", "wrist_dev", "finger_flex",
)  # fmt: skip

#: Anatomical angle channels (degrees): the trunk's, then the left side's, then the right's.
CHANNELS: tuple[str, ...] = _CENTRE + tuple(f"{side}_{c}" for side in "lr" for c in SIDE_CHANNELS)
_ARM = ("collar_elev", "collar_prot", "arm_flex", "arm_abd", "arm_rot", "elbow_flex", "forearm_pron",
        "wrist_ext", "wrist_dev", "finger_flex")
#: Channels :func:`sample_families` may take from another draw (``mix_probability``): both
#: arms, the trunk's side bend and twist (the legs, the pelvis and the forward bend, which
#: the grounding and the family's balance depend on, stay).
MIXED_CHANNELS: tuple[str, ...] = ("spine_lat", "spine_rot") + tuple(f"{p}_{c}" for p in "lr" for c in _ARM)
#: Each channel's position in :data:`CHANNELS`.
CHANNEL_INDEX: dict[str, int] = {name: i for i, name in enumerate(CHANNELS)}

# Shares of the trunk angles per joint: spine1, spine2, spine3 (lumbar-heavy flexion,
# thoracic-heavy rotation) and neck, head: as in the "rom" limits' splits.
_SPINE_SHARE = {"flex": (0.45, 0.3, 0.25), "lat": (0.34, 0.34, 0.32), "rot": (0.2, 0.35, 0.45)}
_NECK_SHARE = {"flex": (0.6, 0.4), "lat": (0.8, 0.2), "rot": (0.5, 0.5)}
#: Clavicle elevation per degree of arm elevation above 30 degrees (the shoulder girdle
#: follows the arm; about 20 degrees at full elevation, Ludewig et al. 2009).
_COLLAR_SHARE = 0.15


def key(**angles: Value) -> dict[str, Value]:
    """Channels of a key pose as given: ``key(spine_flex=(10, 20), root_pitch=-90)``."""
    return angles


def both(**angles: Value) -> dict[str, Value]:
    """The same angles for the left and right side: ``both(knee_flex=90)``."""
    return {f"{p}_{k}": v for k, v in angles.items() for p in ("l", "r")}


def left(**angles: Value) -> dict[str, Value]:
    """Angles of the left side."""
    return {f"l_{k}": v for k, v in angles.items()}


def right(**angles: Value) -> dict[str, Value]:
    """Angles of the right side."""
    return {f"r_{k}": v for k, v in angles.items()}


def mirror_angles(angles: Tensor) -> Tensor:
    """Left-right mirror image of angles ``(..., C)``: sides swapped, sideways angles negated."""
    order = [CHANNEL_INDEX[("r_" + n[2:]) if n.startswith("l_") else ("l_" + n[2:]) if n.startswith("r_") else n]
             for n in CHANNELS]  # fmt: skip
    sign = angles.new_tensor([-1.0 if n in ("root_roll", "spine_lat", "spine_rot", "neck_lat", "neck_rot") else 1.0
                              for n in CHANNELS])  # fmt: skip
    return angles[..., order] * sign


def _rx(angle: Tensor) -> Tensor:
    return angle_to_rotmat(angle, "x")


def _ry(angle: Tensor) -> Tensor:
    return angle_to_rotmat(angle, "y")


def _rz(angle: Tensor) -> Tensor:
    return angle_to_rotmat(angle, "z")


def _swing_from_down(direction: Tensor) -> Tensor:
    r"""Shortest rotations ``(..., 3, 3)`` taking ``-Y`` (a hanging limb) to unit
    ``direction`` ``(..., 3)`` (Rodrigues: ``I + K + K^2 / (1 + c)``, ``K`` the cross-product
    matrix of ``-Y x d``, ``c = -d_y``; not for ``d`` straight up)."""
    dx, dy, dz = direction.unbind(-1)
    zero = torch.zeros_like(dx)
    K = torch.stack([torch.stack(row, dim=-1) for row in ((zero, -dx, zero), (dx, zero, dz), (zero, -dz, zero))], dim=-2)
    eye = torch.eye(3, dtype=direction.dtype, device=direction.device)
    return eye + K + K @ K / (1.0 - dy).clamp_min(1e-6)[..., None, None]


def _limb_direction(flexion: Tensor, abduction: Tensor) -> Tensor:
    """Unit direction ``(..., 3)`` of a limb hanging down, abducted then flexed (left side)."""
    return torch.stack(
        [torch.sin(abduction), -torch.cos(abduction) * torch.cos(flexion), torch.cos(abduction) * torch.sin(flexion)],
        dim=-1,
    )


def _limb(a: Tensor, side: str) -> dict[str, Tensor]:
    """Local rotations ``(m, 3, 3)`` of one side's joints, in the left side's convention."""

    def g(name: str) -> Tensor:
        return a[..., CHANNEL_INDEX[f"{side}_{name}"]]

    arm = _rx(-g("arm_flex")) @ _rz(g("arm_abd")) @ _ry(g("arm_rot")) @ _rz(torch.full_like(g("arm_flex"), -math.pi / 2))
    elevation = torch.acos((torch.cos(g("arm_abd")) * torch.cos(g("arm_flex"))).clamp(-1.0, 1.0))
    shrug = g("collar_elev") + _COLLAR_SHARE * (elevation - math.radians(30.0)).clamp_min(0.0)
    collar = _ry(-g("collar_prot")) @ _rz(shrug)
    half_pronation = g("forearm_pron") / 2
    return {
        "hip": _swing_from_down(_limb_direction(g("hip_flex"), g("hip_abd"))) @ _ry(g("hip_rot")),
        "knee": _rx(g("knee_flex")),
        "ankle": _rx(-g("ankle_dorsi")) @ _rz(-g("ankle_inv")),
        "foot": _rx(-g("toe_ext")),
        "collar": collar,
        "shoulder": collar.transpose(-1, -2) @ arm,
        "elbow": _ry(-g("elbow_flex")) @ _rx(half_pronation),
        "wrist": _rz(g("wrist_ext")) @ _ry(g("wrist_dev")) @ _rx(half_pronation),
        "hand": _rz(-g("finger_flex")),
    }


def _trunk(a: Tensor, prefix: str, shares: dict[str, tuple[float, ...]]) -> list[Tensor]:
    """Local rotations ``(m, 3, 3)`` of the joints sharing a trunk angle set (spine or neck)."""
    flex, lat, rot = (a[..., CHANNEL_INDEX[f"{prefix}_{k}"]] for k in ("flex", "lat", "rot"))
    return [
        _rx(flex * f) @ _rz(-lat * s) @ _ry(rot * r)
        for f, s, r in zip(shares["flex"], shares["lat"], shares["rot"])
    ]


def anatomical_to_rotmats(angles: Tensor) -> Tensor:
    r"""Anatomical angles ``(..., C)`` in degrees (:data:`CHANNELS`) -> local rotations
    ``(..., J, 3, 3)`` on the SMPL tree; joint 0 pitched and rolled (no heading)."""
    a = torch.deg2rad(angles)
    joints: dict[str, Tensor] = {
        "pelvis": _rx(a[..., CHANNEL_INDEX["root_pitch"]]) @ _rz(a[..., CHANNEL_INDEX["root_roll"]])
    }
    joints.update(zip(("spine1", "spine2", "spine3"), _trunk(a, "spine", _SPINE_SHARE)))
    joints.update(zip(("neck", "head"), _trunk(a, "neck", _NECK_SHARE)))
    mirror = a.new_tensor([[1.0, -1.0, -1.0], [-1.0, 1.0, 1.0], [-1.0, 1.0, 1.0]])  # M R M, M = diag(-1, 1, 1)
    for side, prefix in (("left", "l"), ("right", "r")):
        for name, R in _limb(a, prefix).items():
            joints[f"{side}_{name}"] = R if side == "left" else R * mirror
    return torch.stack([joints[name] for name in SMPL_JOINT_NAMES], dim=-3)
