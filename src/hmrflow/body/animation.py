r"""A fitted body's motion as a skeleton animation in the Y-up world frame of mesh files.

Saved parameters live in the camera frame (OpenCV axes, y down, :mod:`hmrflow.body.parameters`);
``body(rotmats, betas, transl)`` gives the camera-frame joints and vertices. Animation files
(BVH, animated GLB) are written in **the one Y-up world frame of mesh files**: the camera
frame turned half a turn about x, ``p -> F p`` with ``F = diag(1, -1, -1)``
(:data:`~hmrflow.body.parameters.CAMERA_TO_Y_UP`), metres. Both exporters use this module,
so a BVH and a GLB of the same parameters agree with each other and with ``mesh.glb``.

The skeleton is the body's joint tree with the fitted shape's rest joints (``J_rest`` of the
shape blend) as bone offsets, in the body's own rest frame (Y up, facing +Z, T-pose). Since
``F`` is itself a rotation, the turn goes into the root alone:

* root rotation ``F R_0``, every other joint's local rotation ``R_j`` unchanged;
* root position ``F (J_rest_0 + transl)`` (SMPL's rotations pivot about the rest pelvis).

Forward kinematics of this skeleton then gives ``F (joints + transl)`` exactly.

Example:
    >>> import torch
    >>> from hmrflow.body import BodyModel
    >>> body = BodyModel.from_name("anny_lowpoly")
    >>> motion = body_animation(body, torch.zeros(10), torch.eye(3).expand(2, 24, 3, 3), torch.zeros(2, 3), 30.0)
    >>> motion.world_joints().shape
    torch.Size([2, 24, 3])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import roma
import torch
from torch import Tensor

from hmrflow.body.joints import SMPL_JOINT_NAMES
from hmrflow.body.model import BodyModel
from hmrflow.body.parameters import CAMERA_TO_Y_UP
from hmrflow.errors import InputError

__all__ = ["AnimationInputError", "BodyAnimation", "body_animation"]


class AnimationInputError(InputError):
    """Parameters that cannot be animated (shapes, frame rate, non-finite values); names the problem."""


@dataclass(frozen=True)
class BodyAnimation:
    r"""A skeleton and its motion in the Y-up world frame (metres), float64 on the CPU.

    Attributes:
        names: ``J`` joint names.
        parents: ``J`` parent indices, ``-1`` for the root (joint 0).
        rest_joints: ``(J, 3)`` rest joints of the fitted shape (body frame: Y up, facing +Z).
        rotations: ``(T, J, 3, 3)`` local joint rotations (orthonormalised in float64); the
            root's includes the turn ``F``.
        root_positions: ``(T, 3)`` world position of joint 0.
        fps: frames per second.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    rest_joints: Tensor
    rotations: Tensor
    root_positions: Tensor
    fps: float

    @property
    def num_frames(self) -> int:
        """``T``."""
        return self.rotations.shape[0]

    def offsets(self) -> Tensor:
        r"""``(J, 3)`` rest offset of each joint from its parent (the root's: its rest position)."""
        parents = torch.tensor([max(p, 0) for p in self.parents])
        offsets = self.rest_joints - self.rest_joints[parents]
        offsets[0] = self.rest_joints[0]
        return offsets

    def world_transforms(self) -> tuple[Tensor, Tensor]:
        r"""Forward kinematics: world rotations ``(T, J, 3, 3)`` and positions ``(T, J, 3)``."""
        offsets = self.offsets()
        rotations: list[Tensor] = []
        positions: list[Tensor] = []
        for j, p in enumerate(self.parents):
            if p < 0:
                rotations.append(self.rotations[:, j])
                positions.append(self.root_positions)
            else:
                rotations.append(rotations[p] @ self.rotations[:, j])
                positions.append(positions[p] + rotations[p] @ offsets[j])
        return torch.stack(rotations, dim=1), torch.stack(positions, dim=1)

    def world_joints(self) -> Tensor:
        r"""``(T, J, 3)`` joint positions in the world frame (``F (body joints + transl)``)."""
        return self.world_transforms()[1]


def _check(body: BodyModel, betas: Tensor, rotmats: Tensor, transl: Tensor, fps: float) -> None:
    J = body.num_joints
    if rotmats.ndim != 4 or rotmats.shape[1:] != (J, 3, 3):
        raise AnimationInputError(f"rotmats must have shape (T, {J}, 3, 3), got {tuple(rotmats.shape)}")
    if rotmats.shape[0] < 1:
        raise AnimationInputError("no frames to animate (rotmats has T = 0)")
    if betas.ndim != 1 or betas.shape[0] > body.num_betas:
        raise AnimationInputError(f"betas must have shape (S,) with S <= {body.num_betas}, got {tuple(betas.shape)}")
    if transl.shape != (rotmats.shape[0], 3):
        raise AnimationInputError(f"transl must have shape ({rotmats.shape[0]}, 3), got {tuple(transl.shape)}")
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise AnimationInputError(f"fps must be a positive number, got {fps!r}")
    for name, value in (("rotmats", rotmats), ("betas", betas), ("transl", transl)):
        if not torch.isfinite(value).all():
            raise AnimationInputError(f"{name} holds non-finite values")
    eye = torch.eye(3, dtype=torch.float64)
    error = (rotmats.double().transpose(-1, -2) @ rotmats.double() - eye).abs().amax()
    if error > 1e-3 or (torch.linalg.det(rotmats.double()) <= 0).any():
        raise AnimationInputError(f"rotmats are not rotation matrices (|R^T R - I| up to {float(error):.2g})")


def body_animation(body: BodyModel, betas: Tensor, rotmats: Tensor, transl: Tensor, fps: float) -> BodyAnimation:
    r"""The skeleton animation of saved parameters, in the Y-up world frame.

    Arguments:
        body: the body model the parameters belong to.
        betas: ``(S,)`` one shape for the whole sequence.
        rotmats: ``(T, J, 3, 3)`` local joint rotations, camera frame (joint 0 the global orientation).
        transl: ``(T, 3)`` camera-frame translations (metres).
        fps: frames per second.

    Raises:
        AnimationInputError: misshaped or non-finite inputs, rotations that are not rotations,
            a frame rate that is not positive.
    """
    _check(body, betas, rotmats, transl, fps)
    with torch.no_grad():
        eye = torch.eye(3, dtype=body.template.dtype, device=body.template.device)
        shaped = body(eye.expand(1, body.num_joints, 3, 3), betas.to(body.template).unsqueeze(0), vertices=False)
    rest = shaped.rest_joints[0].detach().to("cpu", torch.float64)  # (J, 3)
    turn = torch.as_tensor(CAMERA_TO_Y_UP, dtype=torch.float64)
    rotations = roma.special_procrustes(rotmats.detach().to("cpu", torch.float64))  # orthonormal in float64
    rotations[:, 0] = turn @ rotations[:, 0]
    root = (rest[0] + transl.detach().to("cpu", torch.float64)) @ turn.T
    smpl = body.num_joints == len(SMPL_JOINT_NAMES)
    names = SMPL_JOINT_NAMES if smpl else tuple(f"joint{j}" for j in range(body.num_joints))
    return BodyAnimation(names, body.parents, rest, rotations, root, float(fps))
