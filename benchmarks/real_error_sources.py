r"""Where a keypoint model's error on real people comes from (``real-multiview-v1``).

Prints, for one model (default: the shipped one), the mode's PA-MPJPE (mm, 12 limb joints)

* with the detector's keypoints (what ``hmrflow eval`` reports) and with the limb
  keypoints replaced by the triangulated joints' projections (detector noise removed);
* per camera and per person;
* the floor of the body model: the pose (and the betas) fitted to the triangulated joints
  themselves, from the mode, once with the mode's betas and once with free betas;
* the same poses given as the body model's own keypoints (the kind the model trains on):
  the body fitted within the ranges of motion to the triangulated joints, its keypoints
  projected with the real cameras; what stays of the error then comes from the poses (and
  the cameras), not from the detector's idea of a keypoint;
* the mode's pose with the betas fitted to the triangulated joints (what the body's
  proportions cost) and with the stray detections dropped (their confidence set to zero
  where a keypoint lies farther than the set's stray threshold from its triangulated joint:
  what they cost, knowing which they are);
* how far each person's poses (the body fitted within the ranges of motion, above; one view
  per instant) lie from the poses the model was trained on (the training configuration's
  pose sampler, 20000 poses; :func:`~hmrflow.data.coverage.nearest_position_index`, mean distance
  of the root-aligned joints, median over the instants), and which joints stand out (the
  hands and feet are not fitted: only the 12 limb joints are triangulated);
* the bend of elbows, knees and hips (the angle at the joint, degrees; 180 = straight),
  truth against the mode, over the examples whose truth bends the joint below 140 deg, and
  per person (10th / 50th / 90th percentiles).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/real_error_sources.py [--model FILE]``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from importlib import resources

import numpy as np
import torch
from torch import Tensor

from hmrflow import load_model
from hmrflow.body.joints import SMPL_JOINT_NAMES
from hmrflow.data.coverage import nearest_position_index, root_aligned_positions
from hmrflow.data.joint_limits import joint_limits
from hmrflow.data.keypoint_files import EVIDENCE_NAMES
from hmrflow.data.pose_sampler import PoseSampler
from hmrflow.data.pose_sources import load_real_motion
from hmrflow.data.real_multiview import LIMB_JOINTS, RealMultiview
from hmrflow.evaluation.metrics import pa_mpjpe
from hmrflow.evaluation.real_sets import real_multiview_set, stray_examples, view_examples
from hmrflow.evaluation.runner import JointPredictor
from hmrflow.geometry.rotations import rotmat_to_rotvec, rotvec_to_rotmat
from hmrflow.models.checkpoint import DEFAULT_MODEL
from hmrflow.training.checkpoint import read_checkpoint
from hmrflow.training.losses import range_of_motion_loss

BENDS = {
    "elbows": [("left_shoulder", "left_elbow", "left_wrist"), ("right_shoulder", "right_elbow", "right_wrist")],
    "knees": [("left_hip", "left_knee", "left_ankle"), ("right_hip", "right_knee", "right_ankle")],
    "hips": [("left_shoulder", "left_hip", "left_knee"), ("right_shoulder", "right_hip", "right_knee")],
}


@torch.no_grad()
def mode_joints(model, predictor: JointPredictor, inputs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The mode's joints ``(B, 12, 3)``, rotations ``(B, J, 3, 3)`` and betas of ``inputs``."""
    joints, rotmats, betas = [], [], []
    for start in range(0, len(inputs), 128):
        out = model(inputs[start : start + 128])
        joints.append(predictor(out.mode.rotmats, out.betas)[:, 0])
        rotmats.append(out.mode.rotmats[:, 0])
        betas.append(out.betas)
    return torch.cat(joints), torch.cat(rotmats), torch.cat(betas)


def fit_to_joints(
    predictor: JointPredictor, rotmats: Tensor, betas: Tensor, target: Tensor, free_betas: bool, rom_weight: float = 0.0
) -> tuple[Tensor, Tensor, Tensor]:
    """The body fitted (Adam, 300 steps) to the 3D joints ``target`` ``(B, 12, 3)`` from the mode:
    its rotations ``(B, J, 3, 3)``, betas and joints ``(B, 12, 3)`` (pelvis at the target's).

    ``rom_weight`` > 0 adds :func:`~hmrflow.training.losses.range_of_motion_loss` (the "rom"
    limits): the 12 joints leave knee and hip twists free, and without it the fit bends
    knees sideways where people bend them forward.
    """
    rotvecs = rotmat_to_rotvec(rotmats).clone().requires_grad_(True)
    betas = betas.clone().requires_grad_(free_betas)
    optimiser = torch.optim.Adam([rotvecs] + ([betas] if free_betas else []), lr=0.02)
    pelvis = target[:, 6:8].mean(1, keepdim=True)
    limits = joint_limits("rom")
    for _ in range(300):
        posed = rotvec_to_rotmat(rotvecs)
        joints = predictor(posed[:, None], betas)[:, 0]
        joints = joints - joints[:, 6:8].mean(1, keepdim=True)
        loss = (joints - (target - pelvis)).square().sum(-1).mean() + 1e-4 * betas.square().mean()
        if rom_weight > 0:
            loss = loss + rom_weight * range_of_motion_loss(posed, limits)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return rotvec_to_rotmat(rotvecs).detach(), betas.detach(), joints.detach() + pelvis


def resynthesised_keypoints(model, data: RealMultiview, examples, rotmats: Tensor, betas: Tensor,
                            joints: Tensor) -> np.ndarray:
    """The set's keypoints replaced by those of fitted bodies (``rotmats``, ``betas``, their
    evaluated ``joints`` in the camera frame) projected with each view's camera; the
    detector's visible/missing pattern kept, confidence 1."""
    everything = JointPredictor(model.body, EVIDENCE_NAMES, (EVIDENCE_NAMES.index("left_hip"),
                                                            EVIDENCE_NAMES.index("right_hip")))  # fmt: skip
    person, frame, view = examples.T
    with torch.no_grad():
        keypoints = everything(rotmats[:, None], betas)[:, 0]
        hips = keypoints[:, list(everything.pelvis)].mean(1, keepdim=True)
        keypoints = keypoints - hips + joints[:, 6:8].mean(1, keepdim=True)  # onto the fitted joints' hips
    focal = torch.from_numpy(data.focal_length[view]).float()
    centre = torch.from_numpy(data.principal_point[view]).float()
    pixels = keypoints[..., :2] / keypoints[..., 2:] * focal[:, None] + centre[:, None]
    out = data.keypoints_2d.copy()
    seen = out[person, frame, view][..., 2:] > 0
    out[person, frame, view] = np.concatenate([pixels.numpy(), seen.astype(out.dtype)], -1)
    return out


def without_strays(data: RealMultiview) -> RealMultiview:
    """``data`` with the stray limb keypoints (:meth:`RealMultiview.stray_keypoints`) given confidence zero."""
    index = [data.keypoint_names.index(name) for name in LIMB_JOINTS]
    keypoints = data.keypoints_2d.copy()
    limbs = keypoints[..., index, :]
    limbs[..., 2] = np.where(data.stray_keypoints(LIMB_JOINTS), 0.0, limbs[..., 2])
    keypoints[..., index, :] = limbs
    return replace(data, keypoints_2d=keypoints)


def bend(points: Tensor, names: list[str], triple: tuple[str, str, str]) -> Tensor:
    """The angle ``(B,)`` in degrees at the middle joint of ``triple``."""
    a, b, c = (points[:, names.index(n)] for n in triple)
    u, w = a - b, c - b
    cosine = (u * w).sum(-1) / (u.norm(dim=-1) * w.norm(dim=-1))
    return torch.rad2deg(torch.acos(cosine.clamp(-1, 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="model file (default: the shipped one)")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = load_model(args.model).eval()
    data = RealMultiview.load()
    examples = view_examples(data, LIMB_JOINTS)
    person, frame, view = examples.T
    dataset = real_multiview_set(EVIDENCE_NAMES, data)
    predictor = JointPredictor(model.body, dataset.info.joint_names, dataset.info.pelvis)
    truth = dataset.joints_3d

    joints, rotmats, betas = mode_joints(model, predictor, dataset.evidence)
    detected = pa_mpjpe(joints, truth)
    reprojected = data.keypoints_2d.copy()
    limbs = [data.keypoint_names.index(name) for name in LIMB_JOINTS]
    reprojected[..., limbs, :2] = data.projected()[..., limbs, :].astype(reprojected.dtype)
    clean_set = real_multiview_set(EVIDENCE_NAMES, replace(data, keypoints_2d=reprojected))
    clean = pa_mpjpe(mode_joints(model, predictor, clean_set.evidence)[0], truth)

    print(f"real-multiview-v1, {len(examples)} views; model: {args.model or 'shipped'}; mode PA-MPJPE mm")
    print(f"  detector keypoints {detected.mean():.1f}   limb keypoints from the triangulation {clean.mean():.1f}")
    for v, camera in enumerate(data.camera_names):
        mask = torch.from_numpy(view == v)
        print(f"  {camera}: {detected[mask].mean():.1f} / {clean[mask].mean():.1f}")
    for p, name in enumerate(data.person_names):
        mask = torch.from_numpy(person == p)
        print(f"  {name}: {detected[mask].mean():.1f} / {clean[mask].mean():.1f}")
    strays = stray_examples(data)
    dropped = pa_mpjpe(mode_joints(model, predictor, real_multiview_set(EVIDENCE_NAMES, without_strays(data)).evidence)[0],
                       truth)  # fmt: skip
    print(f"  stray views ({int(strays.sum())}): {detected[strays].mean():.1f}, their stray keypoints dropped "
          f"{dropped[strays].mean():.1f}; all views {dropped.mean():.1f}")  # fmt: skip
    own = pa_mpjpe(fit_to_joints(predictor, rotmats, betas, truth, free_betas=False)[2], truth)
    free = pa_mpjpe(fit_to_joints(predictor, rotmats, betas, truth, free_betas=True)[2], truth)
    print(f"body fitted to the triangulated joints: the mode's betas {own.mean():.1f}, free betas {free.mean():.1f}")
    fitted_rotmats, fitted_betas, fitted = fit_to_joints(predictor, rotmats, betas, truth, True, rom_weight=1.0)
    with torch.no_grad():
        proportions = pa_mpjpe(predictor(rotmats[:, None], fitted_betas)[:, 0], truth)
    print(f"the mode's pose with the betas fitted to the triangulated joints: {proportions.mean():.1f}")
    own_kind = real_multiview_set(EVIDENCE_NAMES, replace(data, keypoints_2d=resynthesised_keypoints(
        model, data, examples, fitted_rotmats, fitted_betas, fitted)))  # fmt: skip
    resynthesised = mode_joints(model, predictor, own_kind.evidence)[0]
    against_truth, against_fit = pa_mpjpe(resynthesised, truth), pa_mpjpe(resynthesised, fitted)
    print("the same poses as the body model's own keypoints (the body fitted within the ranges of motion, "
          f"{pa_mpjpe(fitted, truth).mean():.1f} mm from the truth, projected with the real cameras): mode "
          f"{against_truth.mean():.1f} against the truth, {against_fit.mean():.1f} against the fitted body")
    for p, name in enumerate(data.person_names):
        mask = torch.from_numpy(person == p)
        print(f"  {name}: {against_truth[mask].mean():.1f} / {against_fit[mask].mean():.1f}")
    coverage(args.model, fitted_rotmats, examples, data.person_names)
    names = list(dataset.info.joint_names)
    print("bends below 140 deg in the truth: mean angle truth / mode (deg), count")
    for part, triples in BENDS.items():
        true_angles = torch.cat([bend(truth, names, t) for t in triples])
        mode_angles = torch.cat([bend(joints, names, t) for t in triples])
        bent = true_angles < 140
        print(f"  {part}: {true_angles[bent].mean():.0f} / {mode_angles[bent].mean():.0f}, {int(bent.sum())}")
    print("bends per person, percentiles 10 / 50 / 90 (deg): truth; mode")
    for p, name in enumerate(data.person_names):
        mask = torch.from_numpy(person == p)
        for part, triples in BENDS.items():
            true_angles = torch.cat([bend(truth[mask], names, t) for t in triples]).numpy()
            mode_angles = torch.cat([bend(joints[mask], names, t) for t in triples]).numpy()
            print(f"  {name} {part}: {_percentiles(true_angles)}; {_percentiles(mode_angles)}")


def coverage(path: str | None, rotmats: Tensor, examples: np.ndarray, person_names: tuple[str, ...],
             count: int = 20000) -> None:  # fmt: skip
    """Print how far the poses ``rotmats`` ``(B, J, 3, 3)`` of ``examples`` lie from ``count``
    poses of the training sampler of the model file ``path`` (None: the shipped one), per
    person (see the module docstring)."""
    if path is None:
        path = str(resources.files("hmrflow") / "assets" / "models" / DEFAULT_MODEL)
    config, _ = read_checkpoint(path)
    sampler = PoseSampler(load_real_motion(config.data.synthetic.poses.real_motion), config=config.data.synthetic.poses)
    generated = torch.cat([sampler.sample(2000, torch.Generator().manual_seed(s)) for s in range(count // 2000)])
    first = np.sort(np.unique(examples[:, :2], axis=0, return_index=True)[1])  # one view per instant
    query, person = rotmats[first], examples[first, 0]
    positions, reference = root_aligned_positions(query)[:, 1:], root_aligned_positions(generated)[:, 1:]
    offsets = (positions - reference[nearest_position_index(positions, reference)]).norm(dim=-1) * 1000.0  # (Q, J-1) mm
    print(f"nearest of {len(generated)} training poses to the fitted poses (root-aligned joints, mm, median):")
    for p in np.unique(person):
        mask = torch.from_numpy(person == p)
        worst = offsets[mask].mean(0).argsort(descending=True)[:4]
        joints = ", ".join(f"{SMPL_JOINT_NAMES[int(j) + 1]} {offsets[mask].mean(0)[j]:.0f}" for j in worst)
        print(f"  {person_names[p]}: {offsets[mask].mean(-1).median():.0f} (farthest: {joints})")


def _percentiles(angles: np.ndarray) -> str:
    return " / ".join(f"{v:.0f}" for v in np.percentile(angles, [10, 50, 90]))


if __name__ == "__main__":
    main()
