"""Forward kinematics on a joint tree (SMPL's by default), stated once for the package.

:class:`~hmrflow.body.BodyModel` keeps its own depth-batched version on its hot path;
this plain one serves retargeting, figures, pose conversion and tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from hmrflow.body.joints import SMPL_PARENTS

__all__ = ["Kinematics", "forward_kinematics"]


@dataclass
class Kinematics:
    r"""World joint positions and rotations of a posed skeleton.

    Attributes:
        positions: World joint positions, shape ``(..., J, 3)``.
        world_rotmats: World rotation of each joint's frame, shape ``(..., J, 3, 3)``.
    """

    positions: Tensor
    world_rotmats: Tensor


def forward_kinematics(
    rotmats: Tensor,
    rest: Tensor,
    transl: Tensor | None = None,
    parents: Sequence[int] = SMPL_PARENTS,
) -> Kinematics:
    r"""Pose a skeleton: local rotations and rest joints to world joints.

    Arguments:
        rotmats: Local rotations, shape ``(..., J, 3, 3)``; joint 0 is the global orientation.
        rest: Rest joint positions, shape ``(J, 3)`` or ``(..., J, 3)``.
        transl: Optional root translation, shape ``(..., 3)``: the root lands at
            ``rest[0] + transl``.
        parents: Parent index of each joint (-1 for the root), parents before children.

    Returns:
        :class:`Kinematics` with positions ``(..., J, 3)`` and world rotations ``(..., J, 3, 3)``.
    """
    rest = rest.to(rotmats)
    offsets = [rest[..., j, :] - rest[..., p, :] if p >= 0 else rest[..., j, :] for j, p in enumerate(parents)]
    world: list[Tensor] = []
    positions: list[Tensor] = []
    for j, p in enumerate(parents):
        if p < 0:
            world.append(rotmats[..., j, :, :])
            root = offsets[j].expand(*rotmats.shape[:-3], 3)
            positions.append(root + transl.to(rotmats) if transl is not None else root)
            continue
        world.append(world[p] @ rotmats[..., j, :, :])
        positions.append(positions[p] + (world[p] @ offsets[j].unsqueeze(-1)).squeeze(-1))
    return Kinematics(torch.stack(positions, dim=-2), torch.stack(world, dim=-3))
