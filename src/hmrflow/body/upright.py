r"""Which way is up: gravity estimated from a fitted body, to draw it upright.

A body fitted to one photo lives in the camera's frame (OpenCV: x right, y down, +z
forward). A camera that looks down on a man walking on a treadmill sees him tilted in
that frame, and a figure drawn in it shows him lying diagonally. To draw him upright we
need gravity in the camera frame. One photo of one person does not give it exactly; two
assumptions give a good estimate:

* the camera's pitch (its downward tilt) shows in the torso of a standing, walking,
  sitting or crouching person, which points roughly up: ``up = (0, -cos(pitch),
  -sin(pitch))`` with the pitch read from the torso direction (pelvis -> neck) projected
  onto the camera's y-z plane;
* a photo is level or nearly so: the camera's roll (a tilted picture) is read from the
  torso's sideways lean in the picture, but only what exceeds :data:`ROLL_DEAD_ZONE_DEG`
  (a person's own sway stays theirs), up to :data:`ROLL_RANGE_DEG` and faded to nothing
  over :data:`ROLL_FADE_DEG` beyond it (a person lying across the picture is not a
  camera turned on its side).

Where the torso says little about the pitch (it points along the image's x axis: a
person lying across the picture) the estimate falls back to the camera's own up,
weighted by how far the torso leaves the y-z plane: ``up ~ p + (1 - |p|) (0, -1, 0)``
with ``p`` the torso's unit direction projected onto that plane. A pitch outside the
cameras of everyday photos (:data:`PITCH_RANGE_DEG`, the training cameras' elevations)
is more likely a person who is not upright than a camera looking straight down: it is
clamped to the range and faded towards a level camera over :data:`PITCH_FADE_DEG`
beyond it.

Measured on the pose families (300 poses each, random headings, cameras pitched -10 to
60 degrees, rolled uniformly within +-R; angle between the estimated and the true up,
median / 90th percentile):

=========  =================  =================  ==================  ===============
R          stand              sit                crouch              lie
=========  =================  =================  ==================  ===============
0          4.2 / 11 (4.0)     10 / 23 (7.5)      20 / 35 (14)        28 / 55 (28)
15         6.9 / 12 (8.2)     11 / 22 (10)       21 / 39 (16)        25 / 58 (25)
25         7.9 / 15 (12)      11 / 24 (14)       21 / 36 (20)        34 / 59 (34)
=========  =================  =================  ==================  ===============

(in brackets: the same without the roll, ``roll=False``; the camera frame's own up is
off by a median 26-28 degrees at R = 0). Walking is as standing (2.8 at R = 0); crouching
suffers (the torso leans forward, and sideways in the picture when seen from the side);
lying people are no better than the camera's frame.

Example (a torso tilted away from a camera that looks 30 degrees down):
    >>> import math
    >>> joints = torch.zeros(24, 3)
    >>> joints[12] = torch.tensor([0.0, -math.cos(math.radians(30)), -math.sin(math.radians(30))])
    >>> up = gravity_up(joints)
    >>> [round(v, 3) for v in up.tolist()]
    [0.0, -0.866, -0.5]
    >>> (upright_rotation(up) @ up).round(decimals=6).tolist()
    [0.0, -1.0, 0.0]
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from hmrflow.body.joints import SMPL_JOINT_NAMES

__all__ = [
    "PITCH_FADE_DEG",
    "PITCH_RANGE_DEG",
    "ROLL_DEAD_ZONE_DEG",
    "ROLL_FADE_DEG",
    "ROLL_RANGE_DEG",
    "gravity_up",
    "upright_rotation",
]

#: The camera pitches of everyday photos, degrees (positive looks down).
PITCH_RANGE_DEG = (-20.0, 60.0)
#: How far beyond that range the torso's pitch fades to a level camera, degrees.
PITCH_FADE_DEG = 30.0
#: The torso's sideways lean in the picture up to this is the person's, not the camera's roll.
ROLL_DEAD_ZONE_DEG = 8.0
#: The largest camera roll read from the torso, degrees.
ROLL_RANGE_DEG = 30.0
#: How far beyond that range the torso's lean fades to no roll, degrees.
ROLL_FADE_DEG = 20.0

_PELVIS = SMPL_JOINT_NAMES.index("pelvis")
_NECK = SMPL_JOINT_NAMES.index("neck")


def gravity_up(joints: Tensor, roll: bool = True) -> Tensor:
    r"""Up (against gravity) in the camera frame, from the body's joints.

    Arguments:
        joints: ``(..., 24, 3)`` the SMPL joints in the camera frame (any units).
        roll: Read the camera's roll from the torso too (else: a level camera, ``x = 0``).

    Returns:
        ``(..., 3)`` unit vectors.
    """
    torso = _unit(joints[..., _NECK, :] - joints[..., _PELVIS, :])
    in_plane = torso.clone()
    in_plane[..., 0] = 0.0
    weight = in_plane.norm(dim=-1, keepdim=True)
    camera_up = torch.zeros_like(torso)
    camera_up[..., 1] = -1.0
    blended = in_plane + (1.0 - weight) * camera_up
    pitch = torch.atan2(-blended[..., 2], -blended[..., 1])
    low, high = (math.radians(d) for d in PITCH_RANGE_DEG)
    pitch = pitch.clamp(low, high) * _fade(_beyond(pitch, low, high), PITCH_FADE_DEG)
    level = torch.stack([torch.zeros_like(pitch), -pitch.cos(), -pitch.sin()], dim=-1)
    if not roll:
        return level
    lean = torch.atan2(torso[..., 0], (torso * level).sum(-1))  # sideways, in the plane of level and x
    dead, most = math.radians(ROLL_DEAD_ZONE_DEG), math.radians(ROLL_RANGE_DEG)
    angle = lean.sign() * (lean.abs() - dead).clamp(0.0, most - dead)
    angle = angle * _fade((lean.abs() - most).clamp_min(0.0), ROLL_FADE_DEG)
    x_axis = torch.zeros_like(level)
    x_axis[..., 0] = 1.0
    return angle.cos()[..., None] * level + angle.sin()[..., None] * x_axis


def upright_rotation(up: Tensor) -> Tensor:
    r"""The smallest rotation ``(..., 3, 3)`` that turns ``up`` ``(..., 3)`` (unit, as from
    :func:`gravity_up`) into the camera's up ``(0, -1, 0)``.

    Applied to camera-frame points (``R @ p``) it levels the view: the body stands as a
    level camera at the same place would see it. For a level camera (``up`` with ``x = 0``)
    it turns about the camera's x axis only, so left and right stay where they were.
    """
    # Rodrigues with the axis unnormalised, R = I + K + K^2 / (1 + cos), is exact for
    # cos >= 0; an up pointing down is first turned half a turn about x (H), so that
    # 1 + cos never nears 0: R = R' H.
    half_turn = torch.diag(up.new_tensor([1.0, -1.0, -1.0]))
    down = up[..., 1:2] > 0  # cos < 0 with the target (0, -1, 0)
    turned = torch.where(down, up @ half_turn, up)
    target = torch.zeros_like(up)
    target[..., 1] = -1.0
    k = _skew(torch.linalg.cross(turned, target, dim=-1))
    cos = (turned * target).sum(-1)[..., None, None]
    eye = torch.eye(3, dtype=up.dtype, device=up.device)
    rotation = eye + k + k @ k / (1.0 + cos)
    return torch.where(down[..., None], rotation @ half_turn, rotation)


def _unit(v: Tensor) -> Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-9)


def _beyond(angle: Tensor, low: float, high: float) -> Tensor:
    """How far ``angle`` lies outside ``[low, high]`` (radians; 0 inside)."""
    return (angle - high).clamp_min(0.0) + (low - angle).clamp_min(0.0)


def _fade(beyond: Tensor, degrees: float) -> Tensor:
    """1 at 0, falling linearly to 0 at ``degrees`` (radians in, factor out)."""
    return (1.0 - beyond / math.radians(degrees)).clamp(0.0, 1.0)


def _skew(v: Tensor) -> Tensor:
    """``(..., 3)`` -> the cross-product matrices ``(..., 3, 3)``."""
    zero = torch.zeros_like(v[..., 0])
    x, y, z = v.unbind(-1)
    rows = [torch.stack([zero, -z, y], -1), torch.stack([z, zero, -x], -1), torch.stack([-y, x, zero], -1)]
    return torch.stack(rows, dim=-2)
