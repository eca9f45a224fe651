r"""Body parameters under the field's names, and the frame meshes are written in.

Saved parameters use SMPL's names everywhere (``smplx`` and most tools read them):
``global_orient`` ``(..., 1, 3)`` and ``body_pose`` ``(..., 23, 3)`` axis-angle,
``betas`` ``(..., S)``, ``transl`` ``(..., 3)`` metres, so that
``vertices = body(global_orient, body_pose, betas, transl)``; the rotations pivot about the
rest pelvis and ``transl`` is added after posing (SMPL's convention, and hmrflow's).

Meshes are written in one world frame, **Y up**: the camera frame (OpenCV: x right,
y down, +z forward) turned half a turn about x, ``(x, y, z) -> (x, -y, -z)``; a body
seen upright by the camera stands upright in Y-up tools (Blender, glTF viewers), and the
camera sits at the origin looking along -z (glTF's camera convention).

Example:
    >>> import torch
    >>> p = parameter_arrays(torch.eye(3).expand(2, 24, 3, 3), torch.zeros(2, 10), torch.ones(2, 3))
    >>> {k: v.shape for k, v in p.items()}
    {'global_orient': (2, 1, 3), 'body_pose': (2, 23, 3), 'betas': (2, 10), 'transl': (2, 3)}
    >>> camera_to_y_up(torch.tensor([[1.0, 2.0, 3.0]])).tolist()
    [[1.0, -2.0, -3.0]]
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from hmrflow.geometry.rotations import rotmat_to_rotvec

__all__ = ["CAMERA_TO_Y_UP", "camera_to_y_up", "parameter_arrays"]

#: The turn from the camera frame (y down, +z forward) to the Y-up world frame of meshes.
CAMERA_TO_Y_UP = np.diag([1.0, -1.0, -1.0])


def parameter_arrays(rotmats: Tensor, betas: Tensor, transl: Tensor) -> dict[str, np.ndarray]:
    r"""Poses ``(..., 24, 3, 3)``, betas ``(..., S)``, translations ``(..., 3)`` under SMPL's names.

    Returns float32 arrays ``global_orient (..., 1, 3)``, ``body_pose (..., 23, 3)``,
    ``betas``, ``transl``.
    """
    rotvecs = rotmat_to_rotvec(rotmats.detach().double()).float().cpu().numpy()
    return {
        "global_orient": rotvecs[..., :1, :],
        "body_pose": rotvecs[..., 1:, :],
        "betas": betas.detach().float().cpu().numpy(),
        "transl": transl.detach().float().cpu().numpy(),
    }


def camera_to_y_up(points: Tensor | np.ndarray) -> Tensor | np.ndarray:
    r"""Camera-frame points ``(..., 3)`` in the Y-up world frame of meshes: ``(x, -y, -z)``."""
    sign = [1.0, -1.0, -1.0]
    if isinstance(points, Tensor):
        return points * torch.tensor(sign, dtype=points.dtype, device=points.device)
    points = np.asarray(points)
    return points * np.asarray(sign, dtype=points.dtype)
