"""The SMPL 24-joint tree, stated once for the whole package."""

from __future__ import annotations

import torch
from torch import Tensor

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee",
    "spine2", "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot",
    "neck", "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip

#: Parent of each SMPL joint; -1 for the root (pelvis).
SMPL_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)  # fmt: skip

NUM_JOINTS = len(SMPL_JOINT_NAMES)


def mirror_index(names: tuple[str, ...]) -> list[int]:
    """Index that swaps every ``left_*`` name with its ``right_*`` twin (others stay)."""
    position = {name: i for i, name in enumerate(names)}

    def twin(name: str) -> str:
        if name.startswith("left_"):
            return "right_" + name[5:]
        if name.startswith("right_"):
            return "left_" + name[6:]
        return name

    return [position[twin(name)] for name in names]


def mirror_poses(rotmats: Tensor) -> Tensor:
    r"""Mirror poses on the SMPL tree ``(..., 24, 3, 3)`` left-right: reflect x (the body's
    left-right axis, and the camera's when joint 0 is in the camera frame) and swap the
    left and right joints. An involution.

    Example:
        >>> turn = torch.eye(3).expand(24, 3, 3).clone()
        >>> turn[1] = torch.tensor([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # left hip
        >>> torch.equal(mirror_poses(turn)[2], turn[1]), torch.equal(mirror_poses(mirror_poses(turn)), turn)
        (True, True)
    """
    M = torch.diag(rotmats.new_tensor([-1.0, 1.0, 1.0]))
    return (M @ rotmats @ M)[..., mirror_index(SMPL_JOINT_NAMES), :, :]


def rotate_global_orientation(rotmats: Tensor, rotation: Tensor | None, inverse: bool = False) -> Tensor:
    r"""Poses ``(B, ..., J, 3, 3)`` of bodies whose frames turn by ``rotation`` ``(B, 3, 3)``
    (one per row, shared by the dimensions ``...``): joint 0's rotation (the global
    orientation) becomes ``rotation @ R_0`` (``inverse``: ``rotation^T @ R_0``); the other
    joints' local rotations stay. ``None``: the poses unchanged.

    Example:
        >>> half_turn = torch.diag(torch.tensor([1.0, -1.0, -1.0])).expand(2, 3, 3)
        >>> poses = torch.eye(3).expand(2, 5, 24, 3, 3)  # 5 poses for each of 2 rows
        >>> turned = rotate_global_orientation(poses, half_turn)
        >>> torch.equal(turned[:, :, 0], half_turn[:, None].expand(2, 5, 3, 3))
        True
        >>> torch.equal(turned[:, :, 1:], poses[:, :, 1:])
        True
        >>> torch.equal(rotate_global_orientation(turned, half_turn, inverse=True), poses)
        True
    """
    if rotation is None:
        return rotmats
    if inverse:
        rotation = rotation.mT
    rotation = rotation.reshape(rotation.shape[:1] + (1,) * (rotmats.dim() - 4) + (3, 3))
    return torch.cat([(rotation @ rotmats[..., 0, :, :]).unsqueeze(-3), rotmats[..., 1:, :, :]], dim=-3)
