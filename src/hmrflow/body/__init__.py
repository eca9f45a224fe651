"""hmrflow.body: SMPL-format body model, its files, joint and keypoint sets."""

from hmrflow.body.derived_keypoints import DerivedKeypointSet, derive_keypoint_set
from hmrflow.body.io import BodyModelArrays, BodyModelFileError, read_body_file, write_body_file
from hmrflow.body.joints import NUM_JOINTS, SMPL_JOINT_NAMES, SMPL_PARENTS, mirror_index
from hmrflow.body.keypoints import (
    BODY_25,
    COCO_17,
    EVAL_14,
    H36M_17,
    KEYPOINT_NAMES,
    KeypointSet,
    flip_permutation,
    joint_keypoint_set,
)
from hmrflow.body.model import BodyModel, BodyOutput

__all__ = [
    "BODY_25",
    "COCO_17",
    "EVAL_14",
    "H36M_17",
    "KEYPOINT_NAMES",
    "NUM_JOINTS",
    "SMPL_JOINT_NAMES",
    "SMPL_PARENTS",
    "BodyModel",
    "BodyModelArrays",
    "BodyModelFileError",
    "BodyOutput",
    "DerivedKeypointSet",
    "KeypointSet",
    "derive_keypoint_set",
    "flip_permutation",
    "joint_keypoint_set",
    "mirror_index",
    "read_body_file",
    "write_body_file",
]
