r"""Poses between the Anny-derived body (SMPL's 24 joints) and Anny's own 104-bone rig.

The shipped ``anny`` body model (see :mod:`hmrflow.body.anny_export`) is Anny re-posed
into a T-pose in SMPL's frame. Two differences separate its poses from Anny's:

* the frame: Anny is Z up and faces -Y; SMPL is Y up and faces +Z (+X is the body's left
  in both), so ``x_smpl = C x_anny`` with :data:`ANNY_TO_SMPL_FRAME`;
* the rest pose: Anny rests in an A-pose; our rest pose is Anny's T-pose, given for each
  shape by :func:`tpose_rotations`.

Anny's pose parameters are ``"local-ref"`` deltas ``D`` (``(B, A, 4, 4)``, ``A`` bones):
with ``Q`` the reference bone poses (``[U | q]``), the posed bone poses ``W`` follow
``W_0 = [U_0^T | 0] D_0 [U_0 | 0]`` and
``W_c = W_p (Q_p^{-1} Q_c) [U_c^T | 0] D_c [U_c | 0]`` (``p`` the parent of ``c``).
:func:`encode_local_ref` and :func:`decode_local_ref` convert between ``D`` and ``W``.

Each Anny bone belongs to the segment of one SMPL joint (:func:`bone_segments`). Our
pose moves every bone of segment ``j`` by the same rigid transform ``M_j`` (taken from
the T-pose), so :func:`smpl_to_anny` gives Anny the pose of our skinning; the reverse,
:func:`anny_to_smpl`, reads each joint's rotation from the bone that carries it
(:data:`SMPL_TO_ANNY_BONE`) and is exact for poses in the image of :func:`smpl_to_anny`.

Joint positions are Anny's own bone heads for the given phenotypes (our model regresses
them from the mesh within a few millimetres). The T-pose puts the root bone's head at the
origin, and ``transl`` is the posed root position in SMPL's frame (``W_0``'s
translation), which equals our model's ``transl`` up to its regressed rest root joint
(within 2 mm of the origin).

Example (needs ``pip install 'hmrflow[anny]'``)::

    import anny
    model = anny.Anny()
    rig = AnnyRig.from_anny(model)                         # default phenotype, B = 1
    params = smpl_to_anny(rotmats, rig)                    # (B, 104, 4, 4)
    vertices = model(pose_parameters=params)["vertices"]   # Anny frame
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from hmrflow.body.joints import SMPL_JOINT_NAMES, SMPL_PARENTS
from hmrflow.body.kinematics import forward_kinematics
from hmrflow.geometry.rotations import rotvec_to_rotmat

__all__ = [
    "ANNY_TO_SMPL_FRAME",
    "SMPL_TO_ANNY_BONE",
    "AnnyRig",
    "SmplPose",
    "anny_to_smpl",
    "bone_segments",
    "decode_local_ref",
    "encode_local_ref",
    "smpl_to_anny",
    "tpose_bone_poses",
    "tpose_rotations",
]

#: ``x_smpl = ANNY_TO_SMPL_FRAME @ x_anny``: Anny's Z up becomes Y up, its -Y (the facing
#: direction) becomes +Z, X (the body's left) stays.
ANNY_TO_SMPL_FRAME: Tensor = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

#: SMPL joint -> the Anny bone (default rig) whose head is that joint.
SMPL_TO_ANNY_BONE: dict[str, str] = {
    "pelvis": "root", "left_hip": "upperleg01.L", "right_hip": "upperleg01.R",
    "spine1": "spine04", "left_knee": "lowerleg01.L", "right_knee": "lowerleg01.R",
    "spine2": "spine02", "left_ankle": "foot.L", "right_ankle": "foot.R",
    "spine3": "spine01", "left_foot": "toe3-1.L", "right_foot": "toe3-1.R",
    "neck": "neck01", "left_collar": "clavicle.L", "right_collar": "clavicle.R",
    "head": "head", "left_shoulder": "upperarm01.L", "right_shoulder": "upperarm01.R",
    "left_elbow": "lowerarm01.L", "right_elbow": "lowerarm01.R",
    "left_wrist": "wrist.L", "right_wrist": "wrist.R",
    "left_hand": "finger3-1.L", "right_hand": "finger3-1.R",
}  # fmt: skip

# T-pose: bone -> (bone whose head sets the direction, target direction in Anny's frame).
_SIDES = {"L": 1.0, "R": -1.0}
_ALIGN: dict[str, tuple[str, tuple[float, float, float]]] = {}
for _s, _x in _SIDES.items():
    _ALIGN[f"upperarm01.{_s}"] = (f"lowerarm01.{_s}", (_x, 0.0, 0.0))
    _ALIGN[f"lowerarm01.{_s}"] = (f"wrist.{_s}", (_x, 0.0, 0.0))
    _ALIGN[f"wrist.{_s}"] = (f"finger3-1.{_s}", (_x, 0.0, 0.0))
    _ALIGN[f"upperleg01.{_s}"] = (f"lowerleg01.{_s}", (0.0, 0.0, -1.0))
    _ALIGN[f"lowerleg01.{_s}"] = (f"foot.{_s}", (0.0, 0.0, -1.0))
#: Bones whose T-pose keeps their rest (A-pose) world orientation: the feet stay flat.
_KEEP_WORLD = frozenset({"foot.L", "foot.R"})


@dataclass(frozen=True)
class SmplPose:
    """A pose of the 24-joint body.

    Attributes:
        rotmats: ``(B, J, 3, 3)`` local joint rotations relative to the T-pose, SMPL frame.
        transl: ``(B, 3)`` posed root position (SMPL frame).
    """

    rotmats: Tensor
    transl: Tensor


@dataclass(frozen=True)
class AnnyRig:
    """Anny's skeleton for ``B`` shapes: what the pose conversions need.

    Attributes:
        bone_labels: ``A`` bone names.
        bone_parents: ``A`` parent indices (-1 for the root; parents precede children).
        rest_bone_poses: ``(B, A, 4, 4)`` rest (A-pose) bone poses, Anny frame.
        reference_orientations: ``(A, 3, 3)`` Anny's reference bone orientations ``U``.
    """

    bone_labels: tuple[str, ...]
    bone_parents: tuple[int, ...]
    rest_bone_poses: Tensor
    reference_orientations: Tensor

    @classmethod
    def from_anny(cls, model: Any, phenotypes: Tensor | None = None) -> AnnyRig:
        """The rig of an ``anny.Anny`` model for ``(B, 6)`` phenotypes (default: all 0.5)."""
        with torch.no_grad():
            if phenotypes is None:
                phenotypes = torch.full((1, len(model.phenotype_labels)), 0.5, dtype=model.dtype)
            identity = torch.eye(4, dtype=model.dtype).expand(1, len(model.bone_labels), 4, 4)
            out = model(pose_parameters=identity, phenotype_kwargs=phenotypes.to(model.dtype))
        if model.reference_bone_orientations is None:
            raise ValueError("this Anny rig has no reference orientations; use the default rig")
        return cls(
            tuple(model.bone_labels),
            tuple(int(p) for p in model.bone_parents),
            out["rest_bone_poses"],
            model.reference_bone_orientations,
        )

    @property
    def segments(self) -> tuple[int, ...]:
        """The SMPL joint owning each bone (see :func:`bone_segments`)."""
        return bone_segments(self.bone_labels, self.bone_parents)


def bone_segments(bone_labels: Sequence[str], bone_parents: Sequence[int]) -> tuple[int, ...]:
    """The SMPL joint whose segment each Anny bone belongs to, ``A`` ints.

    Toe bones go to the foot joint and finger bones to the hand joint (as SMPL skins
    them); every other bone to its nearest ancestor (itself included) that is a joint.

    Example:
        >>> bone_segments(["root", "spine05", "spine04"], [-1, 0, 1])
        (0, 0, 3)
    """
    joint_of = {bone: SMPL_JOINT_NAMES.index(joint) for joint, bone in SMPL_TO_ANNY_BONE.items()}
    segments: list[int] = []
    for bone, parent in zip(bone_labels, bone_parents):
        side = bone.rsplit(".", 1)[-1] if "." in bone else ""
        if bone.startswith("toe") and side in _SIDES:
            segments.append(joint_of[f"toe3-1.{side}"])
        elif bone.startswith("finger") and side in _SIDES:
            segments.append(joint_of[f"finger3-1.{side}"])
        elif bone in joint_of:
            segments.append(joint_of[bone])
        elif parent < 0:
            raise ValueError(f"root bone {bone!r} is not a joint")
        else:
            segments.append(segments[parent])
    return tuple(segments)


# ---------------------------------------------------------------------- rigid helpers


def _rigid(rotation: Tensor, translation: Tensor) -> Tensor:
    """``(..., 4, 4)`` from ``(..., 3, 3)`` and ``(..., 3)``."""
    out = torch.zeros(*rotation.shape[:-2], 4, 4, dtype=rotation.dtype, device=rotation.device)
    out[..., :3, :3] = rotation
    out[..., :3, 3] = translation
    out[..., 3, 3] = 1.0
    return out


def _inverse(pose: Tensor) -> Tensor:
    """Inverse of rigid ``(..., 4, 4)`` transforms."""
    rt = pose[..., :3, :3].transpose(-1, -2)
    return _rigid(rt, -(rt @ pose[..., :3, 3:]).squeeze(-1))


def _swing(source: Tensor, target: Tensor) -> Tensor:
    """``(..., 3, 3)``: the smallest rotation taking direction ``source`` to ``target``."""
    a = source / source.norm(dim=-1, keepdim=True)
    b = target / target.norm(dim=-1, keepdim=True)
    axis = torch.linalg.cross(a, b)
    sin, cos = axis.norm(dim=-1), (a * b).sum(-1)
    angle = torch.atan2(sin, cos)
    unit = axis / sin.clamp_min(1e-12).unsqueeze(-1)
    return rotvec_to_rotmat(unit * angle.unsqueeze(-1))


def _frame(like: Tensor) -> Tensor:
    return ANNY_TO_SMPL_FRAME.to(dtype=like.dtype, device=like.device)


# ---------------------------------------------------------------------- T-pose


def tpose_rotations(rest_bone_poses: Tensor, bone_labels: Sequence[str], bone_parents: Sequence[int]) -> Tensor:
    """World rotations ``(B, A, 3, 3)`` taking each bone from the A-pose to the T-pose.

    Arms horizontal along ``+-X`` (upper arm, forearm and hand each aligned by the
    smallest rotation), legs straight down, feet kept in their rest orientation; every
    other bone follows its parent. Anny's frame.
    """
    heads = rest_bone_poses[..., :3, 3]
    index = {bone: i for i, bone in enumerate(bone_labels)}
    eye = torch.eye(3, dtype=heads.dtype, device=heads.device).expand(*heads.shape[:-1], 3, 3)
    rotations: list[Tensor] = []
    for c, (bone, parent) in enumerate(zip(bone_labels, bone_parents)):
        inherited = eye[..., c, :, :] if parent < 0 else rotations[parent]
        if bone in _ALIGN:
            child, direction = _ALIGN[bone]
            current = (inherited @ (heads[..., index[child], :] - heads[..., c, :]).unsqueeze(-1)).squeeze(-1)
            target = heads.new_tensor(direction).expand_as(current)
            rotations.append(_swing(current, target) @ inherited)
        elif bone in _KEEP_WORLD:
            rotations.append(eye[..., c, :, :])
        else:
            rotations.append(inherited)
    return torch.stack(rotations, dim=-3)


def _world_poses(rest_bone_poses: Tensor, rotations: Tensor, bone_parents: Sequence[int], root: Tensor) -> Tensor:
    """Posed bone poses ``(B, A, 4, 4)`` from rest-relative world rotations ``F``.

    ``w_0 = root``, ``w_c = w_p + F_p (h_c - h_p)``, orientation ``F_c R_c``.
    """
    heads = rest_bone_poses[..., :3, 3]
    positions: list[Tensor] = []
    for c, parent in enumerate(bone_parents):
        if parent < 0:
            positions.append(root.expand_as(heads[..., c, :]))
        else:
            offset = (rotations[..., parent, :, :] @ (heads[..., c, :] - heads[..., parent, :]).unsqueeze(-1))
            positions.append(positions[parent] + offset.squeeze(-1))
    return _rigid(rotations @ rest_bone_poses[..., :3, :3], torch.stack(positions, dim=-2))


def tpose_bone_poses(rig: AnnyRig) -> Tensor:
    """T-pose bone poses ``(B, A, 4, 4)`` in Anny's frame, root head at the origin."""
    rotations = tpose_rotations(rig.rest_bone_poses, rig.bone_labels, rig.bone_parents)
    origin = rig.rest_bone_poses.new_zeros(3)
    return _world_poses(rig.rest_bone_poses, rotations, rig.bone_parents, origin)


# ---------------------------------------------------------------------- local-ref


def _reference_poses(rig: AnnyRig) -> Tensor:
    """Anny's reference bone poses ``Q`` ``(B, A, 4, 4)``: orientations ``U``, heads
    ``q_c = q_p + U_p R_p^T (h_c - h_p)`` (``q_0 = h_0``)."""
    rest = rig.rest_bone_poses
    heads, rest_rot = rest[..., :3, 3], rest[..., :3, :3]
    u = rig.reference_orientations.to(rest.dtype).expand_as(rest_rot)
    positions: list[Tensor] = []
    for c, parent in enumerate(rig.bone_parents):
        if parent < 0:
            positions.append(heads[..., c, :])
            continue
        offset = heads[..., c, :] - heads[..., parent, :]
        if rig.bone_parents[parent] >= 0:
            offset = (u[..., parent, :, :] @ rest_rot[..., parent, :, :].transpose(-1, -2)
                      @ offset.unsqueeze(-1)).squeeze(-1)  # fmt: skip
        positions.append(positions[parent] + offset)
    return _rigid(u, torch.stack(positions, dim=-2))


def encode_local_ref(world_poses: Tensor, rig: AnnyRig) -> Tensor:
    """Anny ``"local-ref"`` pose parameters ``(B, A, 4, 4)`` giving posed bone poses
    ``world_poses`` ``(B, A, 4, 4)`` (Anny frame)."""
    reference = _reference_poses(rig)
    u = _rigid(reference[..., :3, :3], torch.zeros_like(reference[..., :3, 3]))
    parents = torch.tensor([max(p, 0) for p in rig.bone_parents], device=world_poses.device)
    ref_relative = _inverse(reference[..., parents, :, :]) @ reference
    relative = _inverse(world_poses[..., parents, :, :]) @ world_poses
    local = _inverse(ref_relative) @ relative
    local[..., 0, :, :] = world_poses[..., 0, :, :]
    return u @ local @ _inverse(u)


def decode_local_ref(pose_parameters: Tensor, rig: AnnyRig) -> Tensor:
    """Posed bone poses ``(B, A, 4, 4)`` (Anny frame) of ``"local-ref"`` pose parameters."""
    reference = _reference_poses(rig)
    u = _rigid(reference[..., :3, :3], torch.zeros_like(reference[..., :3, 3]))
    local = _inverse(u) @ pose_parameters @ u
    poses: list[Tensor] = []
    for c, parent in enumerate(rig.bone_parents):
        if parent < 0:
            poses.append(local[..., c, :, :])
        else:
            step = _inverse(reference[..., parent, :, :]) @ reference[..., c, :, :] @ local[..., c, :, :]
            poses.append(poses[parent] @ step)
    return torch.stack(poses, dim=-3)


# ---------------------------------------------------------------------- conversions


def _smpl_rest_joints(tpose: Tensor, bone_labels: Sequence[str]) -> Tensor:
    """``(B, J, 3)`` T-pose joints in SMPL's frame: the heads of the mapped bones."""
    index = [bone_labels.index(SMPL_TO_ANNY_BONE[name]) for name in SMPL_JOINT_NAMES]
    return tpose[..., index, :3, 3] @ _frame(tpose).T


def smpl_to_anny(rotmats: Tensor, rig: AnnyRig, transl: Tensor | None = None) -> Tensor:
    """Anny ``"local-ref"`` pose parameters ``(B, A, 4, 4)`` for our pose.

    Arguments:
        rotmats: ``(B, J, 3, 3)`` local rotations relative to the T-pose, SMPL frame.
        rig: Anny's rig for ``B`` (or 1) shapes.
        transl: ``(B, 3)`` posed root position in SMPL's frame (default: the origin).
    """
    tpose = tpose_bone_poses(rig)
    frame = _frame(rotmats)
    rest_joints = _smpl_rest_joints(tpose, rig.bone_labels).expand(rotmats.shape[0], -1, -1)
    kinematics = forward_kinematics(rotmats, rest_joints)
    rotations, positions = kinematics.world_rotmats, kinematics.positions
    if transl is not None:
        positions = positions + (transl - rest_joints[:, 0]).unsqueeze(-2)
    # Segment transforms x -> G_j (x - J_j) + t_j, taken to Anny's frame: C^T [.] C.
    moves = _rigid(frame.T @ rotations @ frame,
                   ((positions - (rotations @ rest_joints.unsqueeze(-1)).squeeze(-1)) @ frame))  # fmt: skip
    world = moves[:, list(rig.segments)] @ tpose
    return encode_local_ref(world, rig)


def anny_to_smpl(pose_parameters: Tensor, rig: AnnyRig) -> SmplPose:
    """Our pose (local rotations relative to the T-pose, SMPL frame) from Anny's
    ``"local-ref"`` pose parameters ``(B, A, 4, 4)``; each joint takes the rotation of its
    bone in :data:`SMPL_TO_ANNY_BONE`."""
    world = decode_local_ref(pose_parameters, rig)
    tpose = tpose_bone_poses(rig)
    index = [rig.bone_labels.index(SMPL_TO_ANNY_BONE[name]) for name in SMPL_JOINT_NAMES]
    frame = _frame(world)
    moved = world[:, index, :3, :3] @ tpose[..., index, :3, :3].transpose(-1, -2)
    global_rot = frame @ moved @ frame.T
    parents = torch.tensor(SMPL_PARENTS[1:], device=world.device)
    local = torch.cat([global_rot[:, :1], global_rot[:, parents].transpose(-1, -2) @ global_rot[:, 1:]], dim=1)
    return SmplPose(rotmats=local, transl=world[:, 0, :3, 3] @ frame.T)
