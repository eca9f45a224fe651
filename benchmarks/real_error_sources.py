r"""Where a keypoint model's error on real people comes from (``real-multiview-v1``).

Prints, for one model (default: the shipped one), the mode's PA-MPJPE (mm, 12 limb joints)

* with the detector's keypoints (what ``hmrflow eval`` reports) and with the limb
  keypoints replaced by the triangulated joints' projections (detector noise removed);
* per camera and per person;
* the floor of the body model: the pose (and the betas) fitted to the triangulated joints
  themselves, from the mode, once with the mode's betas and once with free betas;
* the bend of elbows, knees and hips (the angle at the joint, degrees; 180 = straight),
  truth against the mode, over the examples whose truth bends the joint below 140 deg.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/real_error_sources.py [--model FILE]``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import torch
from torch import Tensor

from hmrflow import load_model
from hmrflow.data.keypoint_files import EVIDENCE_NAMES
from hmrflow.data.real_multiview import LIMB_JOINTS, RealMultiview
from hmrflow.evaluation.metrics import pa_mpjpe
from hmrflow.evaluation.real_sets import real_multiview_set, view_examples
from hmrflow.evaluation.runner import JointPredictor
from hmrflow.geometry.rotations import rotmat_to_rotvec, rotvec_to_rotmat

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


def fitted_floor(predictor: JointPredictor, rotmats: Tensor, betas: Tensor, target: Tensor, free_betas: bool) -> float:
    """PA-MPJPE of the body fitted (Adam, 300 steps) to the 3D joints ``target`` from the mode."""
    rotvecs = rotmat_to_rotvec(rotmats).clone().requires_grad_(True)
    betas = betas.clone().requires_grad_(free_betas)
    optimiser = torch.optim.Adam([rotvecs] + ([betas] if free_betas else []), lr=0.02)
    target = target - target[:, 6:8].mean(1, keepdim=True)
    for _ in range(300):
        joints = predictor(rotvec_to_rotmat(rotvecs)[:, None], betas)[:, 0]
        joints = joints - joints[:, 6:8].mean(1, keepdim=True)
        loss = (joints - target).square().sum(-1).mean() + 1e-4 * betas.square().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return float(pa_mpjpe(joints.detach(), target).mean())


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
    own = fitted_floor(predictor, rotmats, betas, truth, free_betas=False)
    free = fitted_floor(predictor, rotmats, betas, truth, free_betas=True)
    print(f"body fitted to the triangulated joints: the mode's betas {own:.1f}, free betas {free:.1f}")
    names = list(dataset.info.joint_names)
    print("bends below 140 deg in the truth: mean angle truth / mode (deg), count")
    for part, triples in BENDS.items():
        true_angles = torch.cat([bend(truth, names, t) for t in triples])
        mode_angles = torch.cat([bend(joints, names, t) for t in triples])
        bent = true_angles < 140
        print(f"  {part}: {true_angles[bent].mean():.0f} / {mode_angles[bent].mean():.0f}, {int(bent.sum())}")


if __name__ == "__main__":
    main()
