r"""Which way is up: gravity estimated from a fitted body, to draw it upright.

A body fitted to one photo lives in the camera's frame (OpenCV: x right, y down, +z
forward). A camera that looks down on a man walking on a treadmill sees him tilted in
that frame, and a figure drawn in it shows him lying diagonally. To draw him upright we
need gravity in the camera frame. One photo of one person does not give it exactly; two
assumptions give a good estimate:

* the photo is level (no camera roll), so up lies in the camera's y-z plane:
  ``up = (0, -cos(pitch), -sin(pitch))`` with ``pitch`` the camera's downward tilt;
* the torso of a standing, walking, sitting or crouching person points roughly up, so
  the pitch is read from the torso direction (pelvis -> neck) projected onto that plane.

Where the torso says little about the pitch (it points along the image's x axis: a
person lying across the picture) the estimate falls back to the camera's own up,
weighted by how far the torso leaves the y-z plane: ``up ~ p + (1 - |p|) (0, -1, 0)``
with ``p`` the torso's unit direction projected onto that plane. A pitch outside the
cameras of everyday photos (:data:`PITCH_RANGE_DEG`, the training cameras' elevations)
is more likely a person who is not upright than a camera looking straight down: it is
clamped to the range and faded towards a level camera over :data:`PITCH_FADE_DEG`
beyond it.

Measured on the pose families (300 poses each, random headings, cameras pitched -10 to
60 degrees; angle between the estimated and the true up, median / 90th percentile, the
camera frame's own up in brackets): stand 4 / 10 (28 / 53), gait 3 / 7, sit 6 / 19,
sport 6 / 20, kneel 10 / 38, crouch 15 / 37 (the torso leans forward), lie 28 / 56
(26 / 52: no better than the camera's frame).

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

__all__ = ["PITCH_FADE_DEG", "PITCH_RANGE_DEG", "gravity_up", "upright_rotation"]

#: The camera pitches of everyday photos, degrees (positive looks down).
PITCH_RANGE_DEG = (-20.0, 60.0)
#: How far beyond that range the torso's pitch fades to a level camera, degrees.
PITCH_FADE_DEG = 30.0

_PELVIS = SMPL_JOINT_NAMES.index("pelvis")
_NECK = SMPL_JOINT_NAMES.index("neck")


def gravity_up(joints: Tensor) -> Tensor:
    r"""Up (against gravity) in the camera frame, from the body's joints.

    Arguments:
        joints: ``(..., 24, 3)`` the SMPL joints in the camera frame (any units).

    Returns:
        ``(..., 3)`` unit vectors with ``x = 0`` (a level camera).
    """
    torso = joints[..., _NECK, :] - joints[..., _PELVIS, :]
    torso = torso / torso.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    in_plane = torso.clone()
    in_plane[..., 0] = 0.0
    weight = in_plane.norm(dim=-1, keepdim=True)
    camera_up = torch.zeros_like(torso)
    camera_up[..., 1] = -1.0
    blended = in_plane + (1.0 - weight) * camera_up
    pitch = torch.atan2(-blended[..., 2], -blended[..., 1])
    low, high = (math.radians(d) for d in PITCH_RANGE_DEG)
    beyond = (pitch - high).clamp_min(0.0) + (low - pitch).clamp_min(0.0)
    trust = (1.0 - beyond / math.radians(PITCH_FADE_DEG)).clamp(0.0, 1.0)
    pitch = pitch.clamp(low, high) * trust
    return torch.stack([torch.zeros_like(pitch), -pitch.cos(), -pitch.sin()], dim=-1)


def upright_rotation(up: Tensor) -> Tensor:
    r"""The rotation ``(..., 3, 3)`` about the camera's x axis that turns ``up`` ``(..., 3)``
    (unit, ``x = 0``, as from :func:`gravity_up`) into the camera's up ``(0, -1, 0)``.

    Applied to camera-frame points (``R @ p``) it levels the view: the body stands as a
    level camera at the same place would see it; left and right stay where they were.
    """
    pitch = torch.atan2(-up[..., 2], -up[..., 1])
    c, s = pitch.cos(), pitch.sin()
    one, zero = torch.ones_like(c), torch.zeros_like(c)
    rows = [
        torch.stack([one, zero, zero], dim=-1),
        torch.stack([zero, c, s], dim=-1),
        torch.stack([zero, -s, c], dim=-1),
    ]
    return torch.stack(rows, dim=-2)
