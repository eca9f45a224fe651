r"""Forward kinematics on the 24-joint SMPL tree, without a body model.

Only joint positions are computed: rest joint positions ``(J, 3)`` and local rotations
``(..., J, 3, 3)`` give world joint positions and world rotations. Conventions as in
SMPL: joint 0 carries the global orientation, a joint's local rotation acts in its
parent's frame and moves its children, and the root stays at its rest position plus
``transl`` (rotations are about the pelvis joint).

Example:
    >>> import torch
    >>> rest = rest_joints()
    >>> pose = forward_kinematics(torch.eye(3).expand(24, 3, 3), rest)
    >>> torch.allclose(pose.positions, rest)
    True
"""

from __future__ import annotations

import torch
from torch import Tensor

from hmrflow.body.kinematics import Kinematics, forward_kinematics  # noqa: F401 (re-exported)

__all__ = ["SMPL_LIKE_REST_JOINTS", "Kinematics", "forward_kinematics", "rest_joints"]

#: A plausible adult T-pose joint layout on the SMPL tree, in metres, written for this
#: package (not taken from any body model file): Y up, the body faces +Z, +X is the
#: body's left, pelvis at y = -0.22 as in SMPL-format templates. Stature about 1.78 m
#: (soles near y = -1.19, top of the head near y = 0.59); left and right are mirror
#: images. Replace with the rest joints of the shipped open body model where it exists.
SMPL_LIKE_REST_JOINTS: tuple[tuple[float, float, float], ...] = (
    (0.000, -0.220, 0.020),  # 0 pelvis
    (0.070, -0.310, 0.010),  # 1 left_hip
    (-0.070, -0.310, 0.010),  # 2 right_hip
    (0.000, -0.110, 0.000),  # 3 spine1
    (0.095, -0.700, 0.015),  # 4 left_knee
    (-0.095, -0.700, 0.015),  # 5 right_knee
    (0.000, 0.025, 0.010),  # 6 spine2
    (0.085, -1.115, -0.030),  # 7 left_ankle
    (-0.085, -1.115, -0.030),  # 8 right_ankle
    (0.000, 0.080, 0.030),  # 9 spine3
    (0.110, -1.175, 0.095),  # 10 left_foot
    (-0.110, -1.175, 0.095),  # 11 right_foot
    (0.000, 0.290, -0.010),  # 12 neck
    (0.070, 0.190, 0.000),  # 13 left_collar
    (-0.070, 0.190, 0.000),  # 14 right_collar
    (0.000, 0.375, 0.045),  # 15 head
    (0.180, 0.235, -0.015),  # 16 left_shoulder
    (-0.180, 0.235, -0.015),  # 17 right_shoulder
    (0.450, 0.220, -0.030),  # 18 left_elbow
    (-0.450, 0.220, -0.030),  # 19 right_elbow
    (0.705, 0.220, -0.030),  # 20 left_wrist
    (-0.705, 0.220, -0.030),  # 21 right_wrist
    (0.790, 0.210, -0.040),  # 22 left_hand
    (-0.790, 0.210, -0.040),  # 23 right_hand
)


def rest_joints(dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> Tensor:
    r"""The built-in T-pose joint layout :data:`SMPL_LIKE_REST_JOINTS`, shape ``(J, 3)``."""
    return torch.tensor(SMPL_LIKE_REST_JOINTS, dtype=dtype, device=device)
