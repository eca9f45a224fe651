r"""Biovision BVH motion files, with joint maps for CMU-style and Mixamo-style names.

Conventions implemented:

* A joint's rotation channels, in the order listed, compose on column vectors as
  ``R = R_1 R_2 R_3`` (``Zrotation Xrotation Yrotation``: ``R = Rz Rx Ry``). Angles in
  degrees. Every joint's frame is aligned with the world axes at rest, so a joint's
  world rotation ``G = G_parent R`` is relative to the rest pose.
* A joint sits at ``parent + G_parent t`` where ``t`` is its ``OFFSET``, or its position
  channels where it has them (a root's position channels are its absolute position).
  ``End Site`` blocks become points named ``<joint>_end``.
* Lengths are multiplied by ``scale`` (metres per file unit); by default the scale is
  chosen among metres, centimetres, millimetres, inches and CMU's ASF unit as the one
  that makes the rest skeleton closest to 1.7 m tall. World axes are taken as Y up and
  the rest pose facing +Z (``world_rotation`` changes that).
* Joint names are matched without a namespace prefix (``mixamorig:Hips`` -> ``Hips``).

Example (with a file of your own)::
    seq = read_bvh("walk.bvh")
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from hmrflow.data.pose_sources.retarget import JointMap, SourceMotion, mirror_joint_map, retarget_to_sequence
from hmrflow.data.pose_sources.sequence import PoseSequence
from hmrflow.geometry import angle_to_rotmat

__all__ = ["CMU_BVH_JOINT_MAP", "MIXAMO_JOINT_MAP", "BvhMotion", "read_bvh"]

log = logging.getLogger(__name__)

#: Our joints -> joints of CMU data converted to BVH (31 joints: Hips, LHipJoint,
#: LeftUpLeg, ..., LowerBack, Spine, Spine1, Neck, Neck1, Head, LeftShoulder, LeftArm,
#: LeftForeArm, LeftHand, LeftFingerBase, LeftHandIndex1, LThumb, ...).
CMU_BVH_JOINT_MAP: JointMap = mirror_joint_map(
    {
        "pelvis": ("Hips", None),
        "left_hip": ("LeftUpLeg", "LeftLeg"),
        "left_knee": ("LeftLeg", "LeftFoot"),
        "left_ankle": ("LeftFoot", "LeftToeBase"),
        "left_foot": ("LeftToeBase", "LeftToeBase_end"),
        "spine1": ("LowerBack", "Spine"),
        "spine2": ("Spine", "Spine1"),
        "spine3": ("Spine1", "Neck"),
        "neck": ("Neck", "Head", "Neck"),
        "head": ("Head", "Head_end"),
        "left_collar": ("LeftShoulder", "LeftArm"),
        "left_shoulder": ("LeftArm", "LeftForeArm"),
        "left_elbow": ("LeftForeArm", "LeftFingerBase", "LeftHand"),
        "left_wrist": ("LeftFingerBase", "LeftHandIndex1"),
        "left_hand": ("LeftHandIndex1", "LeftHandIndex1_end"),
    },
    lambda name: name.replace("Left", "Right"),
)

#: Our joints -> Mixamo joints (Hips, Spine, Spine1, Spine2, Neck, Head, HeadTop_End,
#: LeftShoulder, LeftArm, LeftForeArm, LeftHand, LeftHandMiddle1, ..., LeftUpLeg,
#: LeftLeg, LeftFoot, LeftToeBase, LeftToe_End).
MIXAMO_JOINT_MAP: JointMap = mirror_joint_map(
    {
        "pelvis": ("Hips", None),
        "left_hip": ("LeftUpLeg", "LeftLeg"),
        "left_knee": ("LeftLeg", "LeftFoot"),
        "left_ankle": ("LeftFoot", "LeftToeBase"),
        "left_foot": ("LeftToeBase", "LeftToe_End|LeftToeBase_end"),
        "spine1": ("Spine", "Spine1"),
        "spine2": ("Spine1", "Spine2"),
        "spine3": ("Spine2", "Neck"),
        "neck": ("Neck", "Head"),
        "head": ("Head", "HeadTop_End|Head_end"),
        "left_collar": ("LeftShoulder", "LeftArm"),
        "left_shoulder": ("LeftArm", "LeftForeArm"),
        "left_elbow": ("LeftForeArm", "LeftHand"),
        "left_wrist": ("LeftHand", "LeftHandMiddle1"),
        "left_hand": ("LeftHandMiddle1", "LeftHandMiddle2|LeftHandMiddle1_end"),
    },
    lambda name: name.replace("Left", "Right"),
)

_UNITS = (1.0, 0.01, 0.001, 0.0254, 0.0254 / 0.45)


@dataclass
class BvhMotion:
    r"""A BVH hierarchy and its motion.

    Attributes:
        names: Joint names (``End Site`` points as ``<joint>_end``), parents first.
        parents: Parent index of each joint, -1 for the root.
        offsets: Rest offsets from the parent in file units, shape ``(P, 3)``.
        channels: Channel names of each joint (empty for end sites).
        values: Channel values per frame, shape ``(T, total channels)``.
        frame_time: Seconds per frame.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: Tensor
    channels: tuple[tuple[str, ...], ...]
    values: Tensor
    frame_time: float

    @classmethod
    def from_file(cls, path: str | Path) -> BvhMotion:
        r"""Read a ``.bvh`` file."""
        return cls.from_text(Path(path).read_text(errors="replace"))

    @classmethod
    def from_text(cls, text: str) -> BvhMotion:
        r"""Parse BVH text."""
        head, _, motion = text.partition("MOTION")
        names, parents, offsets, channels = _parse_hierarchy(head.split())
        tokens = motion.split()
        n_frames = int(tokens[tokens.index("Frames:") + 1])
        frame_time = float(tokens[tokens.index("Time:") + 1])
        width = sum(len(c) for c in channels)
        numbers = [float(v) for v in tokens[tokens.index("Time:") + 2 :]]
        if len(numbers) < n_frames * width:
            log.warning("BVH: %d values for %d frames of %d channels", len(numbers), n_frames, width)
            n_frames = len(numbers) // width
        values = torch.tensor(numbers[: n_frames * width], dtype=torch.float64).reshape(n_frames, width)
        return cls(names, parents, torch.tensor(offsets, dtype=torch.float64), channels, values, frame_time)

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    def rest_positions(self) -> Tensor:
        r"""Joint positions of the rest pose (all channels zero, offsets) in file units, ``(P, 3)``."""
        positions: list[Tensor] = []
        for j, p in enumerate(self.parents):
            positions.append(self.offsets[j] if p < 0 else positions[p] + self.offsets[j])
        return torch.stack(positions)

    def rest_height(self) -> float:
        r"""Vertical (Y) extent of the rest skeleton in file units."""
        y = self.rest_positions()[:, 1]
        return float(y.max() - y.min())

    def guess_scale(self) -> float:
        r"""Metres per file unit that make the rest skeleton closest to 1.7 m tall."""
        height = max(self.rest_height(), 1e-9)
        return min(_UNITS, key=lambda s: abs(math.log(height * s / 1.7)))

    def pose(self, scale: float | None = None) -> SourceMotion:
        r"""Forward kinematics: world positions (metres), rest-relative world rotations and
        the rest pose's positions."""
        scale = self.guess_scale() if scale is None else scale
        n = self.values.shape[0]
        eye = torch.eye(3, dtype=torch.float64).expand(n, 3, 3)
        world: list[Tensor] = []
        positions: list[Tensor] = []
        column = 0
        for j, p in enumerate(self.parents):
            local_rotation, translation = eye, self.offsets[j].expand(n, 3)
            names = self.channels[j]
            values = self.values[:, column : column + len(names)]
            column += len(names)
            position_channels = {c[0].lower(): i for i, c in enumerate(names) if c.lower().endswith("position")}
            if position_channels:
                columns = [position_channels.get(a) for a in "xyz"]
                translation = torch.stack(
                    [translation[:, k] if c is None else values[:, c] for k, c in enumerate(columns)], dim=-1
                )
            for i, c in enumerate(names):
                if c.lower().endswith("rotation"):
                    local_rotation = local_rotation @ angle_to_rotmat(torch.deg2rad(values[:, i]), c[0])
            if p < 0:
                world.append(local_rotation)
                positions.append(translation * scale)
            else:
                world.append(world[p] @ local_rotation)
                positions.append(positions[p] + (world[p] @ translation.unsqueeze(-1)).squeeze(-1) * scale)
        return SourceMotion(
            self.names, torch.stack(positions, dim=1), torch.stack(world, dim=1), self.rest_positions() * scale
        )


def _parse_hierarchy(
    tokens: list[str],
) -> tuple[tuple[str, ...], tuple[int, ...], list[list[float]], tuple[tuple[str, ...], ...]]:
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    stack: list[int] = []
    pending: int | None = None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in ("ROOT", "JOINT") or (token == "End" and tokens[i + 1] == "Site"):
            name = tokens[i + 1].split(":")[-1] if token != "End" else names[stack[-1]] + "_end"
            names.append(name)
            parents.append(stack[-1] if stack else -1)
            offsets.append([0.0, 0.0, 0.0])
            channels.append(())
            pending = len(names) - 1
            i += 2
        elif token == "{":
            assert pending is not None, "BVH: '{' without a joint"
            stack.append(pending)
            i += 1
        elif token == "}":
            stack.pop()
            i += 1
        elif token == "OFFSET":
            offsets[stack[-1]] = [float(v) for v in tokens[i + 1 : i + 4]]
            i += 4
        elif token == "CHANNELS":
            count = int(tokens[i + 1])
            channels[stack[-1]] = tuple(tokens[i + 2 : i + 2 + count])
            i += 2 + count
        else:
            i += 1
    return tuple(names), tuple(parents), offsets, tuple(channels)


def _best_map(names: tuple[str, ...]) -> JointMap:
    """The built-in joint map whose names the file matches best."""

    def hits(joint_map: JointMap) -> int:
        wanted = {m for entry in joint_map.values() for n in entry if n for m in n.split("|")}
        return len(wanted & set(names))

    return max((CMU_BVH_JOINT_MAP, MIXAMO_JOINT_MAP), key=hits)


def read_bvh(
    path: str | Path,
    rest: Tensor | None = None,
    joint_map: JointMap | None = None,
    scale: float | None = None,
    world_rotation: Tensor | None = None,
    dtype: torch.dtype = torch.float32,
) -> PoseSequence:
    r"""Read a BVH file and retarget it onto our 24-joint tree.

    Arguments:
        path: The ``.bvh`` file.
        rest: Our rest joint positions, shape ``(J, 3)``; default the built-in layout.
        joint_map: Our joints to BVH joint names; default the better matching of
            :data:`CMU_BVH_JOINT_MAP` and :data:`MIXAMO_JOINT_MAP`.
        scale: Metres per file unit; default guessed from the skeleton's height.
        world_rotation: Rotation ``(3, 3)`` from the file's axes to ours (Y up, facing +Z).
        dtype: dtype of the output.

    Returns:
        A :class:`PoseSequence` at the file's frame rate.
    """
    from hmrflow.data.skeleton import rest_joints

    motion = BvhMotion.from_file(path)
    source = motion.pose(scale)
    if world_rotation is not None:
        source = source.rotated(world_rotation.to(torch.float64))
    rest = rest_joints(torch.float64) if rest is None else rest.to(torch.float64)
    joint_map = _best_map(motion.names) if joint_map is None else joint_map
    log.info("BVH %s: %d frames at %.1f fps", Path(path).name, motion.values.shape[0], motion.fps)
    return retarget_to_sequence(source, joint_map, rest, motion.fps, f"bvh:{Path(path).name}", dtype)
