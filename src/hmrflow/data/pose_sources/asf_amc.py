r"""Acclaim ASF/AMC motion capture (the CMU Graphics Lab Motion Capture Database format).

The ASF file holds the skeleton, the AMC file the motion. Conventions implemented:

* Lengths in ASF units; ``:units length L`` means one unit is ``1 / L`` inches, so metres
  are ``value / L * 0.0254`` (CMU: ``L = 0.45``). Angles in degrees unless ``angle rad``.
* World axes as CMU records them: Y up, the subject's rest pose faces +Z, +X is its
  left (the same as SMPL's, so no change of axes is applied by default).
* A bone's ``direction`` and ``length`` are in world axes at rest. Its ``axis ax ay az
  ORDER`` gives the bone's local frame ``C``: the angles belong to the letters of ORDER,
  applied in that order (``XYZ``: ``C = Rz Ry Rx`` on column vectors).
* A frame's DOF values ``M`` are rotations about the local axes, applied in the order
  the ``dof`` line lists them (``rx ry rz``: ``M = Rz Ry Rx``). Translation and length
  DOFs (``tx ty tz l``) are read and ignored. The bone's world rotation is
  ``R = R_parent C M C^-1`` and its end is ``start + R (direction * length)``.
* The root: ``order`` names the AMC columns (``TX TY TZ RX RY RZ``), its rotations are
  applied in the order listed, its frame ``C`` comes from ``orientation`` and ``axis``;
  its position is ``position + (TX, TY, TZ)``.

Points of the posed :class:`~hmrflow.data.pose_sources.retarget.SourceMotion`: ``root``,
each bone's name at the bone's start (with the bone's world rotation as its frame), and
``<bone>_end`` at the end of each bone without children.

Example (with a file of your own)::
    seq = read_acclaim("test.asf", "test.amc", fps=120.0)
    seq.rotmats.shape
    torch.Size([2751, 24, 3, 3])
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from hmrflow.data.pose_sources.retarget import JointMap, SourceMotion, mirror_joint_map, retarget_to_sequence
from hmrflow.data.pose_sources.sequence import PoseSequence
from hmrflow.geometry import angle_to_rotmat

__all__ = ["CMU_ASF_JOINT_MAP", "AcclaimMotion", "AsfBone", "AsfSkeleton", "read_acclaim"]

log = logging.getLogger(__name__)

INCH = 0.0254

#: Our joints -> CMU ASF bones (a bone's name is the point at its start). The neck
#: follows the chord over lowerneck and upperneck; the head, the head bone. The elbow's
#: twist follows ``lwrist`` (CMU's forearm pronation DOF).
CMU_ASF_JOINT_MAP: JointMap = mirror_joint_map(
    {
        "pelvis": ("root", None),
        "left_hip": ("lfemur", "ltibia"),
        "left_knee": ("ltibia", "lfoot"),
        "left_ankle": ("lfoot", "ltoes"),
        "left_foot": ("ltoes", "ltoes_end"),
        "spine1": ("lowerback", "upperback"),
        "spine2": ("upperback", "thorax"),
        "spine3": ("thorax", "lowerneck"),
        "neck": ("lowerneck", "head"),
        "head": ("head", "head_end"),
        "left_collar": ("lclavicle", "lhumerus"),
        "left_shoulder": ("lhumerus", "lradius"),
        "left_elbow": ("lradius", "lhand", "lwrist"),
        "left_wrist": ("lhand", "lfingers"),
        "left_hand": ("lfingers", "lfingers_end"),
    },
    lambda name: "r" + name[1:] if name.startswith("l") else name,
)


def _euler(axes: Sequence[str], angles: Tensor) -> Tensor:
    """Rotations applied in the order of ``axes`` (the first innermost), angles (..., n)."""
    R = torch.eye(3, dtype=angles.dtype).expand(*angles.shape[:-1], 3, 3)
    for i, axis in enumerate(axes):
        R = angle_to_rotmat(angles[..., i], axis) @ R
    return R


@dataclass
class AsfBone:
    r"""One ASF bone: unit ``direction`` (3,), ``length`` in metres, local frame ``axis``
    (3, 3) and DOF names in AMC column order (``rx``, ``ry``, ``rz``, ``tx``, ..., ``l``)."""

    name: str
    direction: Tensor
    length: float
    axis: Tensor
    dofs: tuple[str, ...]


@dataclass
class AsfSkeleton:
    r"""An ASF skeleton.

    Attributes:
        bones: Bones by name.
        children: Child bone names of ``root`` and of each bone.
        root_order: Root channel names in AMC column order (``TX``, ..., ``RZ``).
        root_axis: The root's frame, shape ``(3, 3)``.
        root_position: The root's rest position in metres, shape ``(3,)``.
        length_scale: Metres per ASF length unit.
        degrees: Whether angles are in degrees.
    """

    bones: dict[str, AsfBone]
    children: dict[str, list[str]]
    root_order: tuple[str, ...]
    root_axis: Tensor
    root_position: Tensor
    length_scale: float
    degrees: bool

    @classmethod
    def from_file(cls, path: str | Path) -> AsfSkeleton:
        r"""Read an ``.asf`` file."""
        return cls.from_text(Path(path).read_text(errors="replace"))

    @classmethod
    def from_text(cls, text: str) -> AsfSkeleton:
        r"""Parse ASF text."""
        sections = _asf_sections(text)
        units = {ln[0].lower(): ln[1] for ln in sections.get("units", []) if len(ln) >= 2}
        scale = INCH / float(units.get("length", 1.0))
        degrees = units.get("angle", "deg").lower().startswith("deg")
        root = {ln[0].lower(): ln[1:] for ln in sections.get("root", []) if ln}
        axis_order = root.get("axis", ["XYZ"])[0]
        orientation = _angles([float(v) for v in root.get("orientation", ["0", "0", "0"])], degrees)
        bones = [_parse_bone(block, scale, degrees) for block in _begin_end_blocks(sections.get("bonedata", []))]
        children: dict[str, list[str]] = {}
        for block in _begin_end_blocks(sections.get("hierarchy", [])):
            for line in block:
                children.setdefault(line[0], []).extend(line[1:])
        return cls(
            bones={b.name: b for b in bones},
            children=children,
            root_order=tuple(t.upper() for t in root.get("order", ["TX", "TY", "TZ", "RX", "RY", "RZ"])),
            root_axis=_euler(list(axis_order), orientation),
            root_position=torch.tensor([float(v) for v in root.get("position", ["0", "0", "0"])], dtype=torch.float64)
            * scale,
            length_scale=scale,
            degrees=degrees,
        )

    def topological_order(self) -> list[tuple[str, str]]:
        r"""(bone, parent) pairs, parents first; the parent of a root bone is ``root``."""
        order, stack = [], [("root", c) for c in reversed(self.children.get("root", []))]
        while stack:
            parent, bone = stack.pop()
            order.append((bone, parent))
            stack.extend((bone, c) for c in reversed(self.children.get(bone, [])))
        return order


def _angles(values: Sequence[float], degrees: bool) -> Tensor:
    t = torch.tensor(values, dtype=torch.float64)
    return torch.deg2rad(t) if degrees else t


def _asf_sections(text: str) -> dict[str, list[list[str]]]:
    """Keyword sections (``:units``, ``:root``, ...) as lists of token lines."""
    sections: dict[str, list[list[str]]] = {}
    current: list[list[str]] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(":"):
            keyword, *rest = line[1:].split()
            current = sections.setdefault(keyword.lower(), [])
            if rest:
                current.append(rest)
            continue
        current.append(line.replace("(", " ").replace(")", " ").split())
    return sections


def _begin_end_blocks(lines: list[list[str]]) -> list[list[list[str]]]:
    blocks: list[list[list[str]]] = []
    for line in lines:
        if line[0].lower() == "begin":
            blocks.append([])
        elif line[0].lower() != "end" and blocks:
            blocks[-1].append(line)
    return blocks


def _parse_bone(block: list[list[str]], scale: float, degrees: bool) -> AsfBone:
    fields: dict[str, list[str]] = {}
    for line in block:
        fields.setdefault(line[0].lower(), line[1:])
    ax, ay, az, order = *(float(v) for v in fields["axis"][:3]), (fields["axis"][3:] or ["XYZ"])[0]
    values = dict(zip(order.lower(), (ax, ay, az), strict=True))
    direction = torch.tensor([float(v) for v in fields["direction"][:3]], dtype=torch.float64)
    return AsfBone(
        name=fields["name"][0],
        direction=direction / direction.norm().clamp_min(1e-12),
        length=float(fields["length"][0]) * scale,
        axis=_euler(list(order.lower()), _angles([values[a] for a in order.lower()], degrees)),
        dofs=tuple(d.lower() for d in fields.get("dof", [])),
    )


@dataclass
class AcclaimMotion:
    r"""An ASF skeleton with AMC motion.

    Attributes:
        skeleton: The skeleton.
        values: AMC values per bone (and ``root``), each of shape ``(T, n_dofs)``, as read.
        degrees: Whether the AMC angles are in degrees.
    """

    skeleton: AsfSkeleton
    values: dict[str, Tensor]
    degrees: bool

    @classmethod
    def from_files(cls, asf: str | Path, amc: str | Path) -> AcclaimMotion:
        r"""Read an ``.asf`` skeleton and an ``.amc`` motion."""
        skeleton = AsfSkeleton.from_file(asf)
        return cls.from_text(skeleton, Path(amc).read_text(errors="replace"))

    @classmethod
    def from_text(cls, skeleton: AsfSkeleton, text: str) -> AcclaimMotion:
        r"""Parse AMC text for ``skeleton``."""
        frames: list[dict[str, list[float]]] = []
        degrees = skeleton.degrees
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith(":"):
                degrees = {":DEGREES": True, ":RADIANS": False}.get(line.upper(), degrees)
                continue
            tokens = line.split()
            if len(tokens) == 1 and tokens[0].isdigit():
                frames.append({})
            elif frames:
                frames[-1][tokens[0]] = [float(v) for v in tokens[1:]]
        names = {n for f in frames for n in f}
        values = {}
        for name in names:
            width = len(skeleton.root_order) if name == "root" else len(skeleton.bones[name].dofs)
            values[name] = torch.tensor([f.get(name, [0.0] * width) for f in frames], dtype=torch.float64)
        return cls(skeleton, values, degrees)

    def __len__(self) -> int:
        return next(iter(self.values.values())).shape[0] if self.values else 0

    def _rotation(self, channels: Sequence[str], values: Tensor) -> Tensor:
        """Rotation from the rotational channels (``rx``...) among ``channels``, (T, 3, 3)."""
        picked = [(c[-1], i) for i, c in enumerate(channels) if c.lower() in ("rx", "ry", "rz")]
        angles = values[:, [i for _, i in picked]]
        angles = torch.deg2rad(angles) if self.degrees else angles
        return _euler([a for a, _ in picked], angles)

    def pose(self) -> SourceMotion:
        r"""Forward kinematics: world positions (metres), rest-relative world rotations and
        the rest pose's positions."""
        sk, n = self.skeleton, len(self)
        root_values = self.values.get("root", torch.zeros(n, len(sk.root_order), dtype=torch.float64))
        order = [c.lower() for c in sk.root_order]
        zero = torch.zeros(n, dtype=torch.float64)
        columns = [root_values[:, order.index(t)] if t in order else zero for t in ("tx", "ty", "tz")]
        translation = torch.stack(columns, dim=1)
        C = sk.root_axis
        world = {"root": C @ self._rotation(order, root_values) @ C.T}
        start = {"root": sk.root_position + translation * sk.length_scale}
        end = {"root": start["root"]}
        rest_end = {"root": sk.root_position}
        names, positions, frames, rest = ["root"], [start["root"]], [world["root"]], [sk.root_position]
        for bone_name, parent in sk.topological_order():
            bone = sk.bones[bone_name]
            dof_values = self.values.get(bone_name, torch.zeros(n, len(bone.dofs), dtype=torch.float64))
            local = bone.axis @ self._rotation(bone.dofs, dof_values) @ bone.axis.T
            world[bone_name] = world[parent] @ local
            start[bone_name] = end[parent]
            end[bone_name] = start[bone_name] + world[bone_name] @ (bone.direction * bone.length)
            rest_end[bone_name] = rest_end[parent] + bone.direction * bone.length
            names.append(bone_name)
            positions.append(start[bone_name])
            frames.append(world[bone_name])
            rest.append(rest_end[parent])
            if not sk.children.get(bone_name):
                names.append(bone_name + "_end")
                positions.append(end[bone_name])
                frames.append(world[bone_name])
                rest.append(rest_end[bone_name])
        return SourceMotion(tuple(names), torch.stack(positions, dim=1), torch.stack(frames, dim=1), torch.stack(rest))


def read_acclaim(
    asf: str | Path,
    amc: str | Path,
    fps: float = 120.0,
    rest: Tensor | None = None,
    joint_map: JointMap = CMU_ASF_JOINT_MAP,
    dtype: torch.dtype = torch.float32,
) -> PoseSequence:
    r"""Read an ASF/AMC pair and retarget it onto our 24-joint tree.

    Arguments:
        asf: Skeleton file.
        amc: Motion file (AMC has no frame rate: CMU's is 120 Hz).
        fps: Frame rate of the motion.
        rest: Our rest joint positions, shape ``(J, 3)``; default the built-in layout.
        joint_map: Our joints to ASF bone names (default CMU's naming).
        dtype: dtype of the output.

    Returns:
        A :class:`PoseSequence` with ``T`` frames.
    """
    from hmrflow.data.skeleton import rest_joints

    motion = AcclaimMotion.from_files(asf, amc)
    rest = rest_joints(torch.float64) if rest is None else rest.to(torch.float64)
    log.info("ASF/AMC %s: %d frames, %d bones", Path(amc).name, len(motion), len(motion.skeleton.bones))
    return retarget_to_sequence(motion.pose(), joint_map, rest, fps, f"asf/amc:{Path(amc).name}", dtype)
