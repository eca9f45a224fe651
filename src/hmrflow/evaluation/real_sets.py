r"""Real people as evaluation sets: ``real-multiview-v1`` seen one view at a time.

Each view of each person and frame of :mod:`hmrflow.data.real_multiview` is one example
(up to 2 x 100 x 4 = 800): the evidence is that view's detected keypoints (normalised in
the square box 1.2 times their extent, as in training), the ground truth the triangulated
joints moved into that view's camera frame. Examples are kept where the person was
detected in the view and every evaluated joint was triangulated.

Evaluated joints: the 12 limb joints :data:`~hmrflow.data.real_multiview.LIMB_JOINTS`
(COCO shoulders, elbows, wrists, hips, knees, ankles): the detector finds them and the
triangulation recovers them best, and the model's ``coco`` keypoints define them (the
face and feet points are left out). MPJPE after aligning the midpoint of the hips;
PA-MPJPE after a similarity Procrustes. No ground-truth pose: no NLL.

Orientation (:func:`orientation_figures`): the torso frame of a skeleton -- up from the
hips' midpoint to the shoulders' midpoint, left along the left-minus-right hip and shoulder
vectors (made orthogonal to up), forward their cross product -- of the ground truth against

* the mode's joints (``torso_orientation``: the body's facing, like for like), and
* the mode's global orientation applied to the torso frame of the model's body at rest
  (``root_orientation``: the root joint alone, blind to the spine's bend);

angles in degrees (median and 90th percentile over examples), and the fraction of
examples whose torso faces more than 90 degrees away (``torso_flip_rate``).

Stray detections (:func:`stray_examples`, given to :func:`real_figures`): views where the
detector put a limb keypoint on something else -- farther than
:data:`~hmrflow.data.real_multiview.STRAY_FRACTION` of the person's height from the joint
triangulated from all views, typically on the other person where they overlap. The mode's
PA-MPJPE is reported apart on them and on the other views (``pa_mpjpe_stray_views``,
``pa_mpjpe_clean_views``, ``stray_view_rate``): what the model does with good evidence and
what the detector's mistakes cost.

Example:
    >>> from hmrflow.data.keypoint_files import EVIDENCE_NAMES
    >>> data = real_multiview_set(EVIDENCE_NAMES)
    >>> data.evidence.shape[1:], data.joints_3d.shape[1:], data.info.pelvis
    (torch.Size([23, 4]), torch.Size([12, 3]), (6, 7))
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from hmrflow.data.real_multiview import LIMB_JOINTS, RealMultiview
from hmrflow.evaluation.sets import EvaluationSet, SetInfo
from hmrflow.geometry import box_to_camera_rotation
from hmrflow.geometry.boxes import keypoint_box, normalize_keypoints

__all__ = ["BOX_SCALE", "REAL_SETS", "real_figures", "real_multiview_set", "real_set", "stray_examples", "torso_frames",
           "view_examples"]

#: Person box side over the keypoints' extent (the training data's).
BOX_SCALE = 1.2
_TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")


def view_examples(data: RealMultiview, joints: Sequence[str] = LIMB_JOINTS) -> np.ndarray:
    r"""``(B, 3)`` the (person, frame, view) of every example: detected there, ``joints`` triangulated."""
    index = [data.keypoint_names.index(n) for n in joints]
    complete = data.joints_valid[..., index].all(-1)  # (P, F)
    return np.argwhere(data.detected & complete[..., None])


def _select(points: Tensor, names: Sequence[str], wanted: Sequence[str]) -> Tensor:
    """``(B, K, 3)`` named points -> ``(B, len(wanted), 3)``, zeros where ``names`` lacks one."""
    out = points.new_zeros(points.shape[0], len(wanted), points.shape[-1])
    for k, name in enumerate(wanted):
        if name in names:
            out[:, k] = points[:, names.index(name)]
    return out


def real_multiview_set(
    evidence_names: Sequence[str], data: RealMultiview | None = None, joints: Sequence[str] = LIMB_JOINTS
) -> EvaluationSet:
    r"""``real-multiview-v1`` as single-view examples (the module docstring says which).

    Arguments:
        evidence_names: The model's K_e evidence keypoint names, in its order (points the
            set lacks get confidence 0).
        data: The set (default: the shipped file).
        joints: The evaluated joints (names of the set's keypoints; they must include both
            hips, whose midpoint is the pelvis).

    Returns:
        An :class:`EvaluationSet` (CPU float32, fingerprint filled in): evidence
        ``(B, K_e, 4)`` (x, y, confidence and BlazePose's relative depth, NaN: none), joints
        ``(B, len(joints), 3)`` metres in each view's camera frame.
    """
    data = RealMultiview.load() if data is None else data
    examples = view_examples(data, joints)
    person, frame, view = examples.T
    keypoints = torch.from_numpy(data.keypoints_with_depth()[person, frame, view].astype(np.float32))
    centre, extent = keypoint_box(keypoints[..., :2], keypoints[..., 2] > 0)
    evidence = normalize_keypoints(keypoints, centre, extent * BOX_SCALE)
    evidence = _select(evidence, list(data.keypoint_names), evidence_names)
    index = [data.keypoint_names.index(n) for n in joints]
    target = data.camera_joints()[person, frame, view][:, index]
    camera = data.intrinsics(view)
    rays = box_to_camera_rotation(centre, camera.focal_length, camera.principal_point)
    joints = tuple(joints)
    info = SetInfo(
        name=data.name,
        description=f"real people: {len(examples)} single views of 2 people in 4 calibrated cameras, "
        f"{len(joints)} triangulated joints",
        joint_names=joints,
        pelvis=(joints.index("left_hip"), joints.index("right_hip")),
        details=_details(data, examples),
    )
    target = torch.from_numpy(target.astype(np.float32))
    return EvaluationSet(info, evidence, target, box_rotation=rays).with_fingerprint()


def _details(data: RealMultiview, examples: np.ndarray) -> dict:
    P, F, V = data.detected.shape
    return {
        "size": len(examples),
        "file_fingerprint": data.fingerprint,
        "source": data.source,
        "detector": data.detector,
        "people": {name: int((examples[:, 0] == p).sum()) for p, name in enumerate(data.person_names)},
        "views": {name: int((examples[:, 2] == v).sum()) for v, name in enumerate(data.camera_names)},
        "left_out": {"not_detected": int((~data.detected).sum()),
                     "joints_not_triangulated": int(data.detected.sum()) - len(examples)},  # fmt: skip
        "ground_truth": f"joints triangulated from the {V} views (robust DLT, threshold "
        f"{data.threshold_px:g} px), moved into each view's camera frame",
        "pelvis": "midpoint of the hips",
        "reprojection_error_px": data.error_summary(),
        "examples": "(person, frame, view) in order: person-major, then frame, then view",
    }


def torso_frames(points: Tensor, names: Sequence[str]) -> Tensor:
    r"""Torso frames ``(..., 3, 3)`` (columns: left, up, forward) of joints ``(..., K, 3)``
    named ``names`` (which include both shoulders and both hips)."""
    left_shoulder, right_shoulder, left_hip, right_hip = (points[..., names.index(n), :] for n in _TORSO)
    up = (left_shoulder + right_shoulder - left_hip - right_hip) / 2
    up = up / torch.linalg.vector_norm(up, dim=-1, keepdim=True)
    left = (left_shoulder - right_shoulder) + (left_hip - right_hip)
    left = left - (left * up).sum(-1, keepdim=True) * up
    left = left / torch.linalg.vector_norm(left, dim=-1, keepdim=True)
    return torch.stack([left, up, torch.linalg.cross(left, up)], dim=-1)


def rotation_angle_deg(first: Tensor, second: Tensor) -> Tensor:
    r"""The angle ``(...)`` in degrees of ``first^T second`` for rotations ``(..., 3, 3)``."""
    trace = (first * second).sum((-1, -2))
    return torch.rad2deg(torch.acos(((trace - 1) / 2).clamp(-1.0, 1.0)))


def stray_examples(data: RealMultiview | None = None, joints: Sequence[str] = LIMB_JOINTS) -> Tensor:
    r"""``(B,)`` bool, in the order of :func:`real_multiview_set`'s examples: the view's
    detection strays (:meth:`~hmrflow.data.real_multiview.RealMultiview.stray_views`)."""
    data = RealMultiview.load() if data is None else data
    person, frame, view = view_examples(data, joints).T
    return torch.from_numpy(data.stray_views(tuple(joints))[person, frame, view])


@torch.no_grad()
def real_figures(
    model: torch.nn.Module,
    data: EvaluationSet,
    strays: Tensor | None = None,
    batch_size: int = 128,
    flip_test: bool = False,
) -> tuple[dict[str, float], Tensor, Tensor]:
    r"""The figures only the real sets have: the mode's orientation errors on ``data`` (a
    set from :func:`real_multiview_set`) and, given ``strays``, its PA-MPJPE apart on the
    views with and without stray detections (the module docstring says which).

    Arguments:
        model: A keypoint :class:`~hmrflow.models.ProbabilisticHMR`, on the device to run on.
        data: The set; its joints must include the shoulders and hips.
        strays: ``(B,)`` bool, the examples whose detection strays (:func:`stray_examples`).
        batch_size: Examples per forward pass.
        flip_test: Of the flip-tested mode (:meth:`~hmrflow.models.ProbabilisticHMR.flip_tested`).

    Returns:
        The figures (``torso_orientation_median_deg``, ``torso_orientation_p90_deg``,
        ``torso_flip_rate``, ``root_orientation_median_deg``, ``root_orientation_p90_deg``;
        with ``strays`` also ``stray_view_rate``, ``pa_mpjpe_clean_views``,
        ``pa_mpjpe_stray_views``), and the per-example torso and root errors ``(B,)`` in
        degrees (CPU).
    """
    from hmrflow.evaluation.metrics import pa_mpjpe
    from hmrflow.evaluation.runner import JointPredictor

    device = next(model.parameters()).device
    model.eval()
    names = list(data.info.joint_names)
    predictor = JointPredictor(model.body, names, data.info.pelvis)
    torso, root, errors = [], [], []
    for batch in data.batches(batch_size):
        batch = batch.to(device)
        out = model(batch.evidence, flip_test=flip_test)
        rotmats = batch.pose_to_camera(out.mode.rotmats, out.frame)  # (B, 1, J, 3, 3)
        truth = torso_frames(batch.joints_3d, names)
        joints = predictor(rotmats, out.betas)[:, 0]
        predicted = torso_frames(joints, list(predictor.names))
        errors.append(pa_mpjpe(joints, batch.joints_3d[:, predictor.kept]).cpu())
        rest = torso_frames(predictor(_rest(rotmats), out.betas)[:, 0], list(predictor.names))
        torso.append(rotation_angle_deg(truth, predicted).cpu())
        root.append(rotation_angle_deg(truth, rotmats[:, 0, 0] @ rest).cpu())
    torso_errors, root_errors = torch.cat(torso).double(), torch.cat(root).double()
    figures = {
        "torso_orientation_median_deg": torso_errors.median().item(),
        "torso_orientation_p90_deg": torso_errors.quantile(0.9).item(),
        "torso_flip_rate": (torso_errors > 90).double().mean().item(),
        "root_orientation_median_deg": root_errors.median().item(),
        "root_orientation_p90_deg": root_errors.quantile(0.9).item(),
    }
    if strays is not None:
        if strays.shape != torso_errors.shape:
            raise ValueError(f"strays has shape {tuple(strays.shape)}, the set {len(data)} examples")
        pa, strays = torch.cat(errors).double(), strays.cpu()
        figures["stray_view_rate"] = strays.double().mean().item()
        figures["pa_mpjpe_clean_views"] = pa[~strays].mean().item() if bool((~strays).any()) else math.nan
        figures["pa_mpjpe_stray_views"] = pa[strays].mean().item() if bool(strays.any()) else math.nan
    return figures, torso_errors, root_errors


def _rest(rotmats: Tensor) -> Tensor:
    """Identity rotations shaped like ``rotmats`` ``(..., 3, 3)``."""
    return torch.eye(3, dtype=rotmats.dtype, device=rotmats.device).expand(rotmats.shape).clone()


# --------------------------------------------------------------------- real sets

#: The named sets of real people: name -> one line for people. Their annotations ship with
#: hmrflow (no pixels); :func:`real_set` makes them evaluation sets.
REAL_SETS: dict[str, str] = {
    "real-multiview-v1": "real people (pose2sim demo, 2 people x 100 frames x 4 calibrated views), "
    "detector keypoints (with its depth), triangulated 3D; each view one example",
}


def real_set(name: str, evidence_names: Sequence[str]) -> EvaluationSet:
    r"""A named set of real people (a key of :data:`REAL_SETS`) for a keypoint model whose
    evidence keypoints are ``evidence_names``, in its order."""
    if name not in REAL_SETS:
        raise KeyError(f"no real set {name!r}; known: {', '.join(REAL_SETS)}")
    return real_multiview_set(evidence_names)
