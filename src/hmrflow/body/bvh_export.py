r"""Write a fitted body's motion as a Biovision BVH file (Blender: File > Import > BVH).

The file holds the body's 24-joint tree under SMPL's joint names, with the fitted shape's
rest joints as bone offsets, in the Y-up world frame of :mod:`hmrflow.body.animation`
(the camera frame turned to ``(x, -y, -z)``), in **metres** (Blender's importer keeps them
at scale 1). The rest pose (all channels zero) is the body's T-pose, facing +Z.

Channels, stated once:

* the root (``pelvis``, ``OFFSET 0 0 0``): ``Xposition Yposition Zposition Zrotation
  Xrotation Yrotation``; the position channels are the pelvis's absolute position;
* every other joint: ``Zrotation Xrotation Yrotation``;
* the rotation channels, in the order listed, compose on column vectors as
  ``R = Rz(z) Rx(x) Ry(y)`` (intrinsic Z, X, Y), angles in degrees; each joint's world
  rotation is ``G = G_parent R`` and a joint sits at ``parent + G_parent OFFSET``.
* Leaf joints (feet, head, hands) end in an ``End Site`` half their bone's length beyond
  them.

Angles are unwrapped over time (consecutive frames differ by less than 180 degrees per
channel), so keyframe interpolation in animation tools does not spin the long way round.

:func:`read_bvh_joints` is the inverse check: joint names and positions ``(T, J, 3)`` of a
written file, by forward kinematics.

Example:
    >>> import tempfile, os, torch
    >>> from hmrflow.body import BodyModel
    >>> body = BodyModel.from_name("anny_lowpoly")
    >>> path = os.path.join(tempfile.mkdtemp(), "walk.bvh")
    >>> write_bvh(path, body, torch.zeros(10), torch.eye(3).expand(3, 24, 3, 3), torch.zeros(3, 3), 30.0)
    >>> read_bvh_joints(path).positions.shape
    torch.Size([3, 24, 3])
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from hmrflow.body.animation import BodyAnimation, body_animation
from hmrflow.body.model import BodyModel
from hmrflow.geometry import angle_to_rotmat

__all__ = [
    "ROOT_CHANNELS",
    "JOINT_CHANNELS",
    "BvhJoints",
    "euler_zxy",
    "read_bvh_joints",
    "write_bvh",
    "write_bvh_animation",
]

ROOT_CHANNELS = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
JOINT_CHANNELS = ("Zrotation", "Xrotation", "Yrotation")

#: Where ``cos(x)`` is below this, ``R = Rz Rx Ry`` is taken as gimbal-locked (y set to 0);
#: the rotation is then off by at most about this many radians.
_GIMBAL = 1e-7


def euler_zxy(rotations: Tensor) -> Tensor:
    r"""Angles ``(..., 3)`` ``(z, x, y)`` in radians with ``R = Rz(z) Rx(x) Ry(y)`` for ``R (..., 3, 3)``.

    ``x`` is in ``[-pi/2, pi/2]``; at gimbal lock (``x = +-pi/2``) ``y`` is 0. Pass
    float64 rotations, orthonormal to rounding, for angles exact to about ``1e-7``.

    Example:
        >>> import roma
        >>> R = roma.euler_to_rotmat("ZXY", [0.3, -0.2, 1.1])
        >>> euler_zxy(R.double()).tolist()  # doctest: +ELLIPSIS
        [0.3..., -0.2..., 1.1...]
    """
    R = rotations
    cos_x = torch.hypot(R[..., 2, 0], R[..., 2, 2])  # |cos x|, x in [-pi/2, pi/2]
    x = torch.atan2(R[..., 2, 1], cos_x)
    locked = cos_x < _GIMBAL
    z = torch.where(locked, torch.atan2(R[..., 1, 0], R[..., 0, 0]), torch.atan2(-R[..., 0, 1], R[..., 1, 1]))
    y = torch.where(locked, torch.zeros_like(x), torch.atan2(-R[..., 2, 0], R[..., 2, 2]))
    return torch.stack([z, x, y], dim=-1)


def _channel_values(animation: BodyAnimation) -> np.ndarray:
    """``(T, 3 + 3 J)`` values in file order: root position, then each joint's Z, X, Y degrees."""
    degrees = torch.rad2deg(euler_zxy(animation.rotations)).numpy()  # (T, J, 3)
    degrees = np.unwrap(degrees, period=360.0, axis=0)
    return np.concatenate([animation.root_positions.numpy(), degrees.reshape(animation.num_frames, -1)], axis=1)


def _hierarchy(animation: BodyAnimation) -> list[str]:
    """The HIERARCHY section's lines (joints depth first, children in index order)."""
    offsets = animation.offsets().numpy()
    children: dict[int, list[int]] = {j: [] for j in range(len(animation.parents))}
    for j, p in enumerate(animation.parents):
        if p >= 0:
            children[p].append(j)
    lines = ["HIERARCHY"]

    def joint(j: int, depth: int) -> None:
        pad = "\t" * depth
        if animation.parents[j] < 0:
            lines.append(f"ROOT {animation.names[j]}")
            offset, channels = np.zeros(3), ROOT_CHANNELS
        else:
            lines.append(f"{pad}JOINT {animation.names[j]}")
            offset, channels = offsets[j], JOINT_CHANNELS
        lines.append(f"{pad}{{")
        lines.append(f"{pad}\tOFFSET {_numbers(offset)}")
        lines.append(f"{pad}\tCHANNELS {len(channels)} {' '.join(channels)}")
        for child in children[j]:
            joint(child, depth + 1)
        if not children[j]:
            end = _numbers(0.5 * offsets[j])
            lines.extend([f"{pad}\tEnd Site", f"{pad}\t{{", f"{pad}\t\tOFFSET {end}", f"{pad}\t}}"])
        lines.append(f"{pad}}}")

    joint(animation.parents.index(-1), 0)
    return lines


def _numbers(values: np.ndarray) -> str:
    return " ".join(f"{v:.6f}" for v in np.asarray(values, dtype=np.float64))


def _file_order(animation: BodyAnimation) -> list[int]:
    """Joints in the order the hierarchy lists them (depth first)."""
    order: list[int] = []

    def visit(j: int) -> None:
        order.append(j)
        for child, p in enumerate(animation.parents):
            if p == j:
                visit(child)

    visit(animation.parents.index(-1))
    return order


def write_bvh_animation(path: str | os.PathLike[str], animation: BodyAnimation) -> None:
    r"""Write a :class:`~hmrflow.body.animation.BodyAnimation` as BVH (see the module docstring)."""
    values = _channel_values(animation)
    J = len(animation.parents)
    columns: list[int] = []
    for j in _file_order(animation):  # the MOTION rows follow the hierarchy's order
        columns += ([0, 1, 2] if animation.parents[j] < 0 else []) + [3 + 3 * j, 4 + 3 * j, 5 + 3 * j]
    assert len(columns) == 3 + 3 * J
    lines = _hierarchy(animation)
    lines += ["MOTION", f"Frames: {animation.num_frames}", f"Frame Time: {1.0 / animation.fps:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in values[:, columns]]
    Path(path).write_text("\n".join(lines) + "\n")


def write_bvh(
    path: str | os.PathLike[str], body: BodyModel, betas: Tensor, rotmats: Tensor, transl: Tensor, fps: float
) -> None:
    r"""Write saved parameters of one person over ``T`` frames as a BVH file.

    Arguments:
        path: the ``.bvh`` file to write.
        body: the body model of the parameters.
        betas: ``(S,)`` the person's shape (sets the bone offsets).
        rotmats: ``(T, J, 3, 3)`` local joint rotations, camera frame (``global_orient`` and
            ``body_pose`` as matrices).
        transl: ``(T, 3)`` camera-frame translations, metres.
        fps: frames per second (the file's ``Frame Time`` is ``1 / fps``).

    Raises:
        AnimationInputError: inputs of the wrong shape, non-finite, or a bad frame rate.
    """
    write_bvh_animation(path, body_animation(body, betas, rotmats, transl, fps))


@dataclass(frozen=True)
class BvhJoints:
    r"""Joint positions of a BVH file: ``names`` (``P``, the file's order), ``positions (T, P, 3)``."""

    names: tuple[str, ...]
    positions: Tensor


def read_bvh_joints(path: str | os.PathLike[str]) -> BvhJoints:
    r"""Joint positions (file units, float64) of a BVH file, in the file's joint order.

    The inverse check of :func:`write_bvh`, with the conventions of the module docstring.
    The project's retargeting reader (:mod:`hmrflow.data.pose_sources.bvh`) lives in a floor
    above this one, so this small parser stands alone; ``End Site`` points are left out.
    """
    tokens = Path(path).read_text().split()
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    stack: list[int] = []
    i, site = 0, False
    while tokens[i] != "MOTION":
        token = tokens[i]
        if token in ("ROOT", "JOINT"):
            names.append(tokens[i + 1])
            parents.append(stack[-1] if stack else -1)
            offsets.append([0.0, 0.0, 0.0])
            channels.append([])
            stack.append(len(parents) - 1)
            i += 3  # name and "{"
        elif token == "End":
            site, i = True, i + 3  # "Site {"
        elif token == "OFFSET":
            if not site:
                offsets[stack[-1]] = [float(v) for v in tokens[i + 1 : i + 4]]
            i += 4
        elif token == "CHANNELS":
            count = int(tokens[i + 1])
            channels[stack[-1]] = tokens[i + 2 : i + 2 + count]
            i += 2 + count
        elif token == "}":
            if site:
                site = False
            else:
                stack.pop()
            i += 1
        else:
            i += 1
    frames = int(tokens[tokens.index("Frames:") + 1])
    numbers = [float(v) for v in tokens[tokens.index("Time:") + 2 :]]
    width = sum(len(c) for c in channels)
    if len(numbers) != frames * width:
        raise ValueError(f"{path}: {len(numbers)} motion values for {frames} frames of {width} channels")
    values = torch.tensor(numbers, dtype=torch.float64).view(frames, width)
    world: list[Tensor] = []
    positions: list[Tensor] = []
    column = 0
    for j, p in enumerate(parents):
        local = torch.eye(3, dtype=torch.float64).expand(frames, 3, 3)
        position = torch.tensor(offsets[j], dtype=torch.float64).expand(frames, 3).clone()
        for name in channels[j]:
            if name.endswith("position"):
                position[:, "XYZ".index(name[0])] = values[:, column]
            else:
                local = local @ angle_to_rotmat(torch.deg2rad(values[:, column]), name[0])
            column += 1
        if p < 0:
            world.append(local)
            positions.append(position)
        else:
            world.append(world[p] @ local)
            positions.append(positions[p] + (world[p] @ position.unsqueeze(-1)).squeeze(-1))
    return BvhJoints(tuple(names), torch.stack(positions, dim=1))
