r"""Is the mode's global orientation the camera's or the person box's?

The keypoint model sees the keypoints in the person box only (normalised to it), not where
the box lies in the photo. A person off the optical axis is seen along another ray, so the
same body in the same camera-frame orientation gives other keypoints; a model that cannot
tell predicts the orientation as if the box were centred (relative to its viewing ray).
Printed, for the mode's torso orientation (shoulders and hips) against the truth:

1. Synthetic people (``synthetic-keypoints-v1``'s poses and corruption, placed over most
   of the 1280 x 960 picture): the error by how far the pelvis lies off the optical axis,
   and the slopes of the yaw and pitch errors against the horizontal and vertical
   off-axis angles (-1 / +1: the orientation is the box ray's; 0: the camera's).
2. The same error with the mode turned by the rotation that takes the optical axis onto
   the ray through the box centre (:func:`~hmrflow.geometry.box_to_camera_rotation`: what a
   box-relative prediction needs, and what hmrflow does for a model with
   ``orientation_frame="box"``), on the synthetic people and on ``real-multiview-v1`` per camera.

The model's poses are read as they come out of it (as camera-frame poses), whatever its
``orientation_frame``: a box-frame model should show slopes near -1 in 1 and the gain in 2.

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_orientation_ray.py [--model FILE]``
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import roma
import torch
from torch import Tensor

from hmrflow import load_model
from hmrflow.body.joints import SMPL_JOINT_NAMES
from hmrflow.data.keypoint_files import EVIDENCE_NAMES
from hmrflow.data.pose_sources import load_cmu_demo
from hmrflow.data.real_multiview import LIMB_JOINTS, RealMultiview
from hmrflow.data.synthetic import SyntheticKeypoints
from hmrflow.evaluation.real_sets import real_multiview_set, rotation_angle_deg, torso_frames, view_examples
from hmrflow.evaluation.runner import JointPredictor
from hmrflow.evaluation.sets import SYNTHETIC_SETS
from hmrflow.geometry import box_to_camera_rotation

BANDS = ((0, 5), (5, 10), (10, 15), (15, 30))


def median_p90(errors: Tensor) -> str:
    return f"{errors.median():4.1f} / {errors.quantile(0.9):4.1f}"


@torch.no_grad()
def synthetic(model: torch.nn.Module, count: int) -> None:
    base = SYNTHETIC_SETS["synthetic-keypoints-v1"].synthetic_config(model.config.encoder.keypoint_sets)
    config = replace(base, camera=replace(base.camera, center_spread=0.8))
    generator = SyntheticKeypoints(model.body, load_cmu_demo().rotmats, config)
    stream, names = torch.Generator().manual_seed(0), list(SMPL_JOINT_NAMES)
    size = torch.tensor(config.camera.image_size, dtype=torch.float32)
    errors, corrected, off_axis, relative = [], [], [], []
    for start in range(0, count, 256):
        batch = generator.sample(min(256, count - start), stream)
        out = model(batch.evidence)
        joints = model.body(out.mode.rotmats, out.betas[:, None], vertices=False).joints[:, 0]
        truth, mode = torso_frames(batch.joints_3d, names), torso_frames(joints, names)
        turn = box_to_camera_rotation(batch.box_center, batch.focal_length, size / 2)
        errors.append(rotation_angle_deg(truth, mode))
        corrected.append(rotation_angle_deg(truth, turn @ mode))
        pelvis = batch.joints_3d[:, 0]
        off_axis.append(torch.rad2deg(torch.atan2(pelvis[:, :2], pelvis[:, 2:])))  # (horizontal, vertical)
        relative.append(roma.rotmat_to_euler("YXZ", (mode @ truth.transpose(-1, -2)).double(), degrees=True).float())
    errors, corrected, off_axis, relative = (torch.cat(x) for x in (errors, corrected, off_axis, relative))
    angle = torch.linalg.vector_norm(off_axis, dim=-1)
    print(f"1. synthetic, {count} people; torso orientation error median / p90 (deg) by the pelvis's off-axis angle")
    for low, high in BANDS:
        inside = (angle >= low) & (angle < high)
        print(f"   {low:2d}-{high:2d} deg ({int(inside.sum()):4d}): {median_p90(errors[inside])}")
    yaw = float((relative[:, 0] * off_axis[:, 0]).sum() / off_axis[:, 0].square().sum())
    pitch = float((relative[:, 1] * off_axis[:, 1]).sum() / off_axis[:, 1].square().sum())
    print(f"   slope of the yaw error on the horizontal angle {yaw:+.2f}, "
          f"of the pitch error on the vertical {pitch:+.2f}")
    print(f"2. turned onto the box ray: synthetic {median_p90(errors)} -> {median_p90(corrected)}")


@torch.no_grad()
def real(model: torch.nn.Module) -> None:
    data = RealMultiview.load()
    dataset = real_multiview_set(EVIDENCE_NAMES, data)
    view = view_examples(data, LIMB_JOINTS)[:, 2]
    names = list(dataset.info.joint_names)
    predictor = JointPredictor(model.body, names, dataset.info.pelvis)
    out = model(dataset.evidence)
    mode = torso_frames(predictor(out.mode.rotmats, out.betas)[:, 0], list(predictor.names))
    truth = torso_frames(dataset.joints_3d, names)
    errors, corrected = rotation_angle_deg(truth, mode), rotation_angle_deg(truth, dataset.box_rotation @ mode)
    print(f"   real-multiview-v1 (boxes {torch.rad2deg(torch.acos(dataset.box_rotation[:, 2, 2])).median():.1f} deg "
          f"off axis, median): {median_p90(errors)} -> {median_p90(corrected)}")
    for v, camera in enumerate(data.camera_names):
        inside = torch.from_numpy(view == v)
        print(f"     {camera}: {median_p90(errors[inside])} -> {median_p90(corrected[inside])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="model file (default: the shipped one)")
    parser.add_argument("--count", type=int, default=2048, help="synthetic people")
    args = parser.parse_args()
    model = load_model(args.model).eval()
    print(f"model: {args.model or 'shipped'}; its poses read as camera-frame poses (its orientation_frame: "
          f"{model.config.orientation_frame})")
    synthetic(model, args.count)
    real(model)


if __name__ == "__main__":
    main()
