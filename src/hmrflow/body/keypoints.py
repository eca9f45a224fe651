r"""Keypoint sets: the named point sets of the field and how to build them for a body.

A :class:`KeypointSet` defines ``K`` named keypoints, each a fixed linear combination of
the POSED vertices and the POSED joints of a :class:`~hmrflow.body.BodyModel`::

    keypoints = vertex_weights @ vertices + joint_weights @ joints      # (..., K, 3)

A row whose weights are all zero is *undefined* (see :attr:`KeypointSet.defined`): sets
derived for a body that lacks the evidence for some point keep the standard order and
mark the missing points this way, so their confidences can be masked.

Name tuples (standard orders):

* :data:`COCO_17` (COCO keypoints), :data:`BODY_25` (OpenPose),
* :data:`H36M_17` (Human3.6M 17 joints in the order SPIN and ProHMR use: pelvis, LEFT leg,
  RIGHT leg, spine, neck, jaw, head top, left arm, right arm; SPIN's ``H36M_TO_J14`` =
  ``[6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]`` picks :data:`EVAL_14` from it),
* :data:`EVAL_14` (LSP order, the 14-joint evaluation set),
* :data:`~hmrflow.body.joints.SMPL_JOINT_NAMES` (the 24 joints).

Every name uses ``left_``/``right_`` prefixes, so :func:`flip_permutation` gives the
left/right swap used by horizontal-flip augmentation. Sets in a standard order for a given
body: :func:`hmrflow.body.derived_keypoints.derive_keypoint_set`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from hmrflow.body.joints import SMPL_JOINT_NAMES, mirror_index

__all__ = [
    "BODY_25",
    "COCO_17",
    "EVAL_14",
    "H36M_17",
    "KEYPOINT_NAMES",
    "KeypointSet",
    "flip_permutation",
    "joint_keypoint_set",
]

COCO_17: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

BODY_25: tuple[str, ...] = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist", "mid_hip",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
    "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
)  # fmt: skip

H36M_17: tuple[str, ...] = (
    "pelvis", "left_hip", "left_knee", "left_ankle", "right_hip", "right_knee", "right_ankle",
    "spine", "neck", "jaw", "head_top",
    "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
)  # fmt: skip

EVAL_14: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
    "left_wrist", "neck", "head_top",
)  # fmt: skip

#: The standard name tuples by short name.
KEYPOINT_NAMES: dict[str, tuple[str, ...]] = {
    "coco17": COCO_17,
    "body25": BODY_25,
    "h36m17": H36M_17,
    "eval14": EVAL_14,
    "smpl24": SMPL_JOINT_NAMES,
}

@dataclass(frozen=True)
class KeypointSet:
    r"""``K`` named keypoints, each a linear combination of posed vertices and joints.

    Attributes:
        names: ``K`` names (``left_``/``right_`` prefixes for sided points).
        vertex_weights: ``(K, N)``, mostly zeros.
        joint_weights: ``(K, J)``.

    Example:
        >>> ks = KeypointSet(("a",), torch.tensor([[0.5, 0.5]]), torch.zeros(1, 3))
        >>> ks.defined
        tensor([True])
    """

    names: tuple[str, ...]
    vertex_weights: Tensor
    joint_weights: Tensor

    def __post_init__(self) -> None:
        k = len(self.names)
        if len(set(self.names)) != k:
            raise ValueError(f"keypoint names are not unique: {self.names}")
        vw, jw = self.vertex_weights, self.joint_weights
        if vw.ndim != 2 or jw.ndim != 2 or vw.shape[0] != k or jw.shape[0] != k:
            raise ValueError(
                f"keypoint set with {k} names needs vertex_weights (K, N) and "
                f"joint_weights (K, J) with K = {k}, got {tuple(vw.shape)} and {tuple(jw.shape)}"
            )

    @property
    def defined(self) -> Tensor:
        """``(K,)`` bool: the rows with any nonzero weight."""
        return (self.vertex_weights != 0).any(dim=1) | (self.joint_weights != 0).any(dim=1)

    @property
    def flip_index(self) -> list[int]:
        """Permutation that swaps ``left_*`` and ``right_*`` keypoints."""
        return flip_permutation(self.names)


def flip_permutation(names: Sequence[str]) -> list[int]:
    """Index ``p`` such that ``points[..., p, :]`` swaps left and right.

    Example:
        >>> flip_permutation(("nose", "left_eye", "right_eye"))
        [0, 2, 1]
    """
    return mirror_index(tuple(names))


def joint_keypoint_set(
    num_vertices: int,
    joint_names: Sequence[str] = SMPL_JOINT_NAMES,
    select: Sequence[str] | None = None,
) -> KeypointSet:
    """A set whose keypoints are joints themselves (one-hot ``joint_weights``).

    Arguments:
        num_vertices: ``N`` of the body.
        joint_names: the body's ``J`` joint names, in joint order.
        select: the joints to keep, in output order (all by default).

    Example:
        >>> joint_keypoint_set(10, select=("pelvis", "neck")).joint_weights.nonzero().tolist()
        [[0, 0], [1, 12]]
    """
    names = tuple(joint_names if select is None else select)
    position = {name: j for j, name in enumerate(joint_names)}
    unknown = [name for name in names if name not in position]
    if unknown:
        raise KeyError(f"unknown joints {unknown}; joints are {tuple(joint_names)}")
    joint_weights = torch.zeros(len(names), len(joint_names))
    joint_weights[torch.arange(len(names)), torch.tensor([position[n] for n in names])] = 1.0
    return KeypointSet(names, torch.zeros(len(names), num_vertices), joint_weights)
