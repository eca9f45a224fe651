r"""Keypoint sets in a standard order, derived from a body model's own sets and joints.

A target point is a recipe (a weighted sum of named source points, e.g. the OpenPose neck
as the midpoint of the COCO shoulders) or a point of the same name in one of the body's
sets; points nothing defines keep an all-zero row (undefined, see
:attr:`~hmrflow.body.keypoints.KeypointSet.defined`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from hmrflow.body.joints import SMPL_JOINT_NAMES
from hmrflow.body.keypoints import KeypointSet, joint_keypoint_set
from hmrflow.body.model import BodyModel

__all__ = ["DEFAULT_RECIPES", "JOINTS_SOURCE", "DerivedKeypointSet", "Recipe", "derive_keypoint_set"]

logger = logging.getLogger(__name__)

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
