r"""DeepMimic motion files (the humanoid's reference clips, e.g. those inside PyPI ``pybullet``).

A DeepMimic motion file is JSON: ``{"Loop": ..., "Frames": [[...], ...]}`` with one row of
44 numbers per frame for the 13-joint ``humanoid3d`` character. Conventions implemented:

* A row is ``duration, root position (3), root rotation (4)``, then per joint, in this
  order, ``chest, neck, right_hip, right_knee, right_ankle, right_shoulder, right_elbow,
  left_hip, left_knee, left_ankle, left_shoulder, left_elbow``: a quaternion ``w, x, y, z``
  (4 numbers) for the ball joints, one angle in radians about the segment's +Z for the
  knees and elbows (a bent knee is negative, a bent elbow positive).
* Rotations are local to the parent segment and the identity is the rest pose: standing,
  legs straight, arms hanging down. Positions in metres.
* Axes: Y up, the character faces +X, its right is +Z. :func:`read_deepmimic` turns them
  into ours (Y up, facing +Z, left +X).
* The skeleton is not in the file: :data:`HUMANOID3D` holds the character's rest offsets
  (DeepMimic's ``humanoid3d`` at a quarter of the size of pybullet's ``humanoid.urdf``).

What the 13 joints cannot say: the spine is one joint (its rotation is shared equally by
our spine1, spine2 and spine3), the head is rigid on the neck (the neck's rotation is shared
by our neck and head), and collars, wrists, hands and toes have no source (kept at their
parent's frame).

Example (with a file of your own)::
    seq = read_deepmimic("humanoid3d_walk.txt")
    seq.rotmats.shape
    torch.Size([39, 24, 3, 3])
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import roma
import torch
from torch import Tensor

from hmrflow.body.joints import SMPL_JOINT_NAMES
from hmrflow.data.pose_sources.retarget import (
    JointMap,
    SourceMotion,
    calibrate_hinges,
    mirror_joint_map,
    retarget,
    rules_from_map,
)
from hmrflow.data.pose_sources.sequence import PoseSequence
from hmrflow.geometry import angle_to_rotmat

__all__ = ["DEEPMIMIC_JOINT_MAP", "HUMANOID3D", "DeepMimicMotion", "read_deepmimic"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Humanoid3dJoint:
    r"""One point of the ``humanoid3d`` skeleton.

    Attributes:
        name: The point's name.
        parent: Index of the parent point, -1 for the root.
        offset: Rest offset from the parent in metres, DeepMimic's axes.
        dofs: Numbers per frame: 7 (root position and rotation), 4 (quaternion), 1 (hinge
            about +Z) or 0 (an end point that does not move on its own).
    """

    name: str
    parent: int
    offset: tuple[float, float, float]
    dofs: int


def _humanoid3d() -> tuple[Humanoid3dJoint, ...]:
    joints = [
        Humanoid3dJoint("root", -1, (0.0, 0.0, 0.0), 7),
        Humanoid3dJoint("chest", 0, (0.0, 0.236151, 0.0), 4),
        Humanoid3dJoint("neck", 1, (0.0, 0.223894, 0.0), 4),
    ]
    for side, z in (("right", 1.0), ("left", -1.0)):
        hip, shoulder = len(joints), len(joints) + 3
        joints += [
            Humanoid3dJoint(f"{side}_hip", 0, (0.0, 0.0, 0.084887 * z), 4),
            Humanoid3dJoint(f"{side}_knee", hip, (0.0, -0.421546, 0.0), 1),
            Humanoid3dJoint(f"{side}_ankle", hip + 1, (0.0, -0.40987, 0.0), 4),
            Humanoid3dJoint(f"{side}_shoulder", 1, (-0.02405, 0.2435, 0.18311 * z), 4),
            Humanoid3dJoint(f"{side}_elbow", shoulder, (0.0, -0.274788, 0.0), 1),
        ]
    names = [j.name for j in joints]
    ends = [("head_top", "neck", (0.0, 0.25, 0.0))]
    for side in ("right", "left"):
        # toe base: 10 cm ahead of the ankle and 4.8 cm below (our rest foot's 25.6 degree slope)
        ends += [(f"{side}_toe", f"{side}_ankle", (0.10, -0.048, 0.0))]
        ends += [(f"{side}_wrist", f"{side}_elbow", (0.0, -0.258947, 0.0))]
    return tuple(joints) + tuple(Humanoid3dJoint(n, names.index(p), o, 0) for n, p, o in ends)


#: The ``humanoid3d`` character: points in the order of a frame's numbers, then the end points.
HUMANOID3D: tuple[Humanoid3dJoint, ...] = _humanoid3d()

#: Numbers per frame: the duration and the joints' degrees of freedom.
FRAME_WIDTH = 1 + sum(j.dofs for j in HUMANOID3D)

#: DeepMimic's axes (Y up, facing +X, right +Z) -> ours (Y up, facing +Z, left +X).
DEEPMIMIC_TO_OURS = torch.tensor([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float64)

#: Our joints -> ``humanoid3d`` points. spine1, spine2, head, collars, wrists, hands and
#: toes have no source (see the module docs for how spine and head are filled in).
DEEPMIMIC_JOINT_MAP: JointMap = mirror_joint_map(
    {
        "pelvis": ("root", None),
        "left_hip": ("left_hip", "left_knee"),
        "left_knee": ("left_knee", "left_ankle"),
        "left_ankle": ("left_ankle", "left_toe"),
        "spine3": ("chest", "neck"),
        "neck": ("neck", "head_top"),
        "left_shoulder": ("left_shoulder", "left_elbow"),
        "left_elbow": ("left_elbow", "left_wrist"),
    },
    lambda name: name.replace("left", "right"),
)

#: Our joint chains that share one source rotation equally: (receiving joints, the
#: joint the retargeting put the whole rotation on).
SHARED_ROTATIONS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("spine1", "spine2", "spine3"), "spine3"),
    (("neck", "head"), "neck"),
)


@dataclass
class DeepMimicMotion:
    r"""The frames of one DeepMimic motion file.

    Attributes:
        values: The numbers of each frame after its duration, shape ``(T, 43)``.
        frame_time: Seconds per frame (the first frame's duration).
        loop: The file's ``Loop`` entry (``"wrap"`` or ``"none"``).
    """

    values: Tensor
    frame_time: float
    loop: str

    @classmethod
    def from_file(cls, path: str | Path) -> DeepMimicMotion:
        r"""Read a DeepMimic motion file.

        Raises:
            ValueError: The file is not DeepMimic motion JSON or a frame is not 44 numbers wide.
        """
        try:
            data = json.loads(Path(path).read_text())
            frames = data["Frames"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(f"{path}: not a DeepMimic motion file (JSON with 'Frames'): {error}") from error
        widths = sorted({len(frame) for frame in frames})
        if not frames or widths != [FRAME_WIDTH]:
            raise ValueError(
                f"{path}: DeepMimic humanoid3d frames have {FRAME_WIDTH} numbers; found widths {widths or 'no frames'}"
            )
        values = torch.tensor(frames, dtype=torch.float64)
        return cls(values[:, 1:], float(values[0, 0]), str(data.get("Loop", "none")))

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    def pose(self) -> SourceMotion:
        r"""Forward kinematics in DeepMimic's axes: positions, world rotations (identity at rest)
        and the rest positions, for every point of :data:`HUMANOID3D`."""
        world: list[Tensor] = []
        positions: list[Tensor] = []
        rest: list[Tensor] = []
        column = 0
        for joint in HUMANOID3D:
            numbers = self.values[:, column : column + joint.dofs]
            column += joint.dofs
            local = _local_rotation(numbers, joint.dofs)
            offset = torch.tensor(joint.offset, dtype=torch.float64)
            if joint.parent < 0:
                world.append(local)
                positions.append(numbers[:, :3])
                rest.append(offset)
            else:
                world.append(world[joint.parent] @ local)
                positions.append(positions[joint.parent] + world[joint.parent] @ offset)
                rest.append(rest[joint.parent] + offset)
        names = tuple(j.name for j in HUMANOID3D)
        return SourceMotion(names, torch.stack(positions, 1), torch.stack(world, 1), torch.stack(rest))


def _local_rotation(numbers: Tensor, dofs: int) -> Tensor:
    """A joint's rotations ``(T, 3, 3)`` from its ``(T, dofs)`` numbers (see :class:`Humanoid3dJoint`)."""
    if dofs in (7, 4):
        wxyz = numbers[:, -4:]  # the root's quaternion follows its position
        return roma.unitquat_to_rotmat(roma.quat_normalize(roma.quat_wxyz_to_xyzw(wxyz)))
    if dofs == 1:
        return angle_to_rotmat(numbers[:, 0], "z")
    return torch.eye(3, dtype=numbers.dtype).expand(len(numbers), 3, 3)


def share_rotations(rotmats: Tensor) -> Tensor:
    r"""Spread each whole source rotation over its chain (:data:`SHARED_ROTATIONS`).

    The chain's joints get the same rotation, the matching root of the whole one, so the
    chain's end keeps its world frame: ``R = exp(log(R) / k) ** k``.

    Arguments:
        rotmats: Local rotations, shape ``(..., 24, 3, 3)``, the chains' other joints the identity.
    """
    out = rotmats.clone()
    for chain, whole in SHARED_ROTATIONS:
        part = roma.rotvec_to_rotmat(
            roma.rotmat_to_rotvec(rotmats[..., SMPL_JOINT_NAMES.index(whole), :, :]) / len(chain)
        )
        for name in chain:
            out[..., SMPL_JOINT_NAMES.index(name), :, :] = part
    return out


def read_deepmimic(
    path: str | Path,
    rest: Tensor | None = None,
    dtype: torch.dtype = torch.float32,
) -> PoseSequence:
    r"""Read a DeepMimic ``humanoid3d`` motion file and retarget it onto our 24-joint tree.

    Arguments:
        path: The motion file (JSON).
        rest: Our rest joint positions, shape ``(J, 3)``; default the built-in layout.
        dtype: dtype of the output.

    Returns:
        A :class:`PoseSequence` at the file's frame rate (its first frame's duration).

    Raises:
        ValueError: The file is not a DeepMimic humanoid3d motion file.
    """
    from hmrflow.data.skeleton import rest_joints

    motion = DeepMimicMotion.from_file(path)
    source = motion.pose().rotated(DEEPMIMIC_TO_OURS)
    rest = rest_joints(torch.float64) if rest is None else rest.to(torch.float64)
    log.info("DeepMimic %s: %d frames at %.1f fps", Path(path).name, len(motion.values), motion.fps)
    rotmats = share_rotations(retarget(source, calibrate_hinges(source, rules_from_map(DEEPMIMIC_JOINT_MAP)), rest))
    transl = source.position("root") - rest[0]
    return PoseSequence(rotmats.to(dtype), transl.to(dtype), motion.fps, f"deepmimic:{Path(path).name}")
