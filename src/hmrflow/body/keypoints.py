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
left/right swap used by horizontal-flip augmentation.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from hmrflow.body.joints import SMPL_JOINT_NAMES, mirror_index

if TYPE_CHECKING:
    from hmrflow.body.model import BodyModel

__all__ = [
    "BODY_25",
    "COCO_17",
    "DEFAULT_RECIPES",
    "EVAL_14",
    "H36M_17",
    "JOINTS_SOURCE",
    "KEYPOINT_NAMES",
    "DerivedKeypointSet",
    "KeypointSet",
    "derive_keypoint_set",
    "flip_permutation",
    "joint_keypoint_set",
]

logger = logging.getLogger(__name__)

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

#: Source name under which :func:`derive_keypoint_set` finds the body's joints.
JOINTS_SOURCE = "joints"

#: A recipe: ``{(source, point): weight}``; the weighted sum of those points.
Recipe = Mapping[tuple[str, str], float]

_MID_SHOULDERS: Recipe = {("coco", "left_shoulder"): 0.5, ("coco", "right_shoulder"): 0.5}
_MID_HIPS: Recipe = {("coco", "left_hip"): 0.5, ("coco", "right_hip"): 0.5}

#: Points that are not found under their own name, tried before any same-named point.
#: Approximations, stated: OpenPose/LSP/H36M neck = midpoint of the shoulders (else the
#: SMPL neck joint); OpenPose mid-hip = the pelvis joint (as ProHMR/SPIN), else the hip
#: midpoint; H36M spine = midpoint of pelvis and shoulder midpoint. H36M ``jaw`` and
#: ``head_top`` have no recipe: they come only from a source set that has them.
DEFAULT_RECIPES: dict[str, tuple[Recipe, ...]] = {
    "neck": (_MID_SHOULDERS,),
    "mid_hip": ({(JOINTS_SOURCE, "pelvis"): 1.0}, _MID_HIPS),
    "spine": (
        {(JOINTS_SOURCE, "pelvis"): 0.5, **{k: 0.25 for k in _MID_SHOULDERS}},
    ),
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


@dataclass(frozen=True)
class DerivedKeypointSet:
    """A derived set and how each point was obtained.

    Attributes:
        keypoint_set: all target names in order; missing points have all-zero rows.
        missing: target names that could not be defined.
        sources: per defined name, a readable formula, e.g. ``"0.5 coco.left_hip + ..."``.
    """

    keypoint_set: KeypointSet
    missing: tuple[str, ...]
    sources: dict[str, str]


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


def _source_rows(body: BodyModel) -> dict[str, dict[str, tuple[Tensor, Tensor]]]:
    """``source -> point -> (vertex row (N,), joint row (J,))`` on the CPU in float64."""
    rows: dict[str, dict[str, tuple[Tensor, Tensor]]] = {}
    for set_name, ks in body.keypoint_sets.items():
        vw, jw = ks.vertex_weights.double().cpu(), ks.joint_weights.double().cpu()
        rows[set_name] = {name: (vw[k], jw[k]) for k, name in enumerate(ks.names)}
    if body.num_joints == len(SMPL_JOINT_NAMES):
        joints = joint_keypoint_set(body.num_vertices)
        rows[JOINTS_SOURCE] = {
            name: (joints.vertex_weights[k].double(), joints.joint_weights[k].double())
            for k, name in enumerate(joints.names)
        }
    return rows


def _apply_recipe(
    recipe: Recipe, rows: Mapping[str, Mapping[str, tuple[Tensor, Tensor]]]
) -> tuple[Tensor, Tensor, str] | None:
    """Weighted sum of the recipe's points, or None if one of them is unavailable."""
    terms = [rows.get(src, {}).get(point) for src, point in recipe]
    if any(term is None or not (term[0].any() or term[1].any()) for term in terms):
        return None
    vertex = sum(w * t[0] for w, t in zip(recipe.values(), terms))  # type: ignore[index]
    joint = sum(w * t[1] for w, t in zip(recipe.values(), terms))  # type: ignore[index]
    text = " + ".join(f"{w:g} {src}.{point}" for (src, point), w in recipe.items())
    return vertex, joint, text  # type: ignore[return-value]


def derive_keypoint_set(
    body: BodyModel,
    target_names: Sequence[str],
    sources: Sequence[str] = ("coco", "feet", "h36m", "extra", JOINTS_SOURCE),
    recipes: Mapping[str, Sequence[Recipe]] = DEFAULT_RECIPES,
) -> DerivedKeypointSet:
    """Build a keypoint set in a target order from the body's sets and joints.

    Each target point is taken from the first that works of: its recipes (in order),
    then a point of the same name in ``sources`` (in order; ``"joints"`` means the 24
    SMPL joints). Sources the body lacks are skipped. Points that nothing defines keep
    an all-zero row and are listed in ``missing`` (and logged).

    Arguments:
        body: the body model whose ``keypoint_sets`` (e.g. ``"coco"``, ``"feet"``) to use.
        target_names: ``K`` names in output order, e.g. :data:`BODY_25`.
        sources: source set names to search for same-named points, in priority order.
        recipes: per target name, alternative weighted combinations of source points.

    Example (a body with a ``"coco"`` set and no ``"feet"`` set)::

        derived = derive_keypoint_set(body, BODY_25)
        derived.missing  # the six foot points
        body = body.with_keypoint_sets({"body25": derived.keypoint_set})
    """
    rows = _source_rows(body)
    n, j = body.num_vertices, body.num_joints
    vertex_weights = torch.zeros(len(target_names), n, dtype=torch.float64)
    joint_weights = torch.zeros(len(target_names), j, dtype=torch.float64)
    missing: list[str] = []
    formulas: dict[str, str] = {}
    for k, name in enumerate(target_names):
        candidates = [*recipes.get(name, ()), *({(src, name): 1.0} for src in sources)]
        for recipe in candidates:
            found = _apply_recipe(recipe, rows)
            if found is not None:
                vertex_weights[k], joint_weights[k], formulas[name] = found
                break
        else:
            missing.append(name)
    if missing:
        logger.info("keypoints not definable from %s: %s", sorted(rows), missing)
    keypoint_set = KeypointSet(tuple(target_names), vertex_weights.float(), joint_weights.float())
    return DerivedKeypointSet(keypoint_set, tuple(missing), formulas)
