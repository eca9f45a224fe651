r"""How much BlazePose's landmark depth says: its ``z`` against the true relative depth.

BlazePose gives every landmark a ``z`` beside x and y: the depth relative to the hips'
midpoint, positive away from the camera, in x's unit. The keypoint models can read it as
a fourth evidence column (:mod:`hmrflow.models.keypoint_encoder`); the synthetic training
data simulates it (:class:`~hmrflow.data.synthetic.CorruptionConfig`'s ``depth_*``). This
prints the numbers those defaults rest on, per limb keypoint, in box sides (the person box,
1.2 x the keypoints' extent, the unit of the evidence):

* on renders of the synthetic body (:class:`~hmrflow.data.synthetic_images.SyntheticImages`,
  the CMU trial's poses): the true depth is the body's keypoint depth minus the pelvis's,
  turned into box sides with the camera's focal length and the pelvis's depth;
* with ``--real``, on ``real-multiview-v1`` (the triangulated joints seen from each view's
  camera, depth minus the hips' midpoint's), as a check that the renders' figures hold on
  real people -- not to tune on.

Columns: the true depths' spread (std), the correlation of BlazePose's z with them, its
scale (the slope of z on the true depth), its error after the scale (std of ``z - scale x
true``, in true-depth units: ``/ scale``), and, of the bones whose end lies more than
0.1 box sides deeper or shallower than their start, the fraction where z says which.

Needs the detector environment (``scripts/setup_detector.sh``) and the render extra.
Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/keypoint_depth.py [--count 400] [--real]``.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from hmrflow.application.detector import MediaPipeDetector, blazepose_depth, blazepose_to_evidence
from hmrflow.body.model import BodyModel
from hmrflow.data.keypoint_files import EVIDENCE_NAMES
from hmrflow.data.pose_sources import load_cmu_demo
from hmrflow.data.real_multiview import LIMB_JOINTS, RealMultiview
from hmrflow.data.synthetic_images import SyntheticImageConfig, SyntheticImages
from hmrflow.evaluation.real_sets import BOX_SCALE
from hmrflow.geometry.boxes import keypoint_box

BONES = (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))


def renders(count: int, seed: int, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(N, K)`` true relative depths and BlazePose's (box sides; NaN: none) and ``(N, K)``
    bool: visible in the render and detected, of ``count`` renders with a person found."""
    body = BodyModel.from_name("anny_lowpoly")
    generator = torch.Generator().manual_seed(seed)
    true, found, seen = [], [], []
    with SyntheticImages(body, load_cmu_demo().rotmats, SyntheticImageConfig(resolution=resolution)) as images, \
            MediaPipeDetector() as detector:  # fmt: skip
        while len(true) < count:
            for example in images.sample(20, generator):
                detection = detector.detect(example.image)
                if detection.landmarks is None:
                    continue
                labels = example.labels
                box = float(labels["box_size"])  # stored px; the source's box is box / crop_scale
                pelvis = labels["joints_3d"][0, 2]
                scale = labels["source_focal_length"] / pelvis / (box / labels["crop_scale"])
                true.append((labels["keypoints_3d"][:, 2] - pelvis) * scale)
                evidence = blazepose_to_evidence(detection.landmarks, (resolution, resolution))
                found.append(blazepose_depth(detection.landmarks, evidence) / box)
                seen.append((labels["clean_2d"][:, 2] > 0) & (evidence[:, 2] > 0))
            print(f"{len(true)} renders with a detection", flush=True)
    return np.array(true[:count]), np.array(found[:count]), np.array(seen[:count])


def real() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same three arrays for every detected view of ``real-multiview-v1``."""
    data = RealMultiview.load()
    joints = data.camera_joints()  # (P, F, V, K, 3)
    hips = [EVIDENCE_NAMES.index("left_hip"), EVIDENCE_NAMES.index("right_hip")]
    centre = joints[..., hips, 2].mean(-1, keepdims=True)
    keypoints = torch.from_numpy(data.keypoints_2d)
    box = BOX_SCALE * keypoint_box(keypoints[..., :2], keypoints[..., 2] > 0)[1].numpy()[..., None]  # the evidence's
    true = (joints[..., 2] - centre) * data.focal_length[None, None, :, :1] / centre / box
    found = data.keypoints_depth / box
    seen = data.detected[..., None] & np.isfinite(true) & np.isfinite(found)
    K = len(EVIDENCE_NAMES)
    return true.reshape(-1, K), found.reshape(-1, K), seen.reshape(-1, K)


def report(true: np.ndarray, found: np.ndarray, seen: np.ndarray, title: str) -> None:
    """Print the table of the module docstring."""
    print(f"\n{title}: {int(seen.any(-1).sum())} detections")
    print("keypoint        points  true std  corr  scale  error (true units)")
    scales, errors = [], []
    for name in LIMB_JOINTS:
        k = EVIDENCE_NAMES.index(name)
        rows = seen[:, k]
        t, z = true[rows, k], found[rows, k]
        scale = float(np.polyfit(t, z, 1)[0])
        error = float(np.std(z - scale * t)) / scale
        scales.append(scale)
        errors.append(error)
        corr = np.corrcoef(t, z)[0, 1]
        print(f"{name:14s} {int(rows.sum()):7d}  {t.std():8.3f} {corr:5.2f} {scale:6.2f}  {error:8.3f}")
    print(f"median scale {np.median(scales):.2f}, median error {np.median(errors):.3f} box sides")
    for start, end in BONES:
        agree, count = 0, 0
        for side in ("left", "right"):
            a, b = EVIDENCE_NAMES.index(f"{side}_{start}"), EVIDENCE_NAMES.index(f"{side}_{end}")
            rows = seen[:, a] & seen[:, b] & (np.abs(true[:, b] - true[:, a]) > 0.1)
            agree += int((np.sign(true[rows, b] - true[rows, a]) == np.sign(found[rows, b] - found[rows, a])).sum())
            count += int(rows.sum())
        print(f"{start} -> {end}: z tells which end is deeper in {agree / max(count, 1):.2f} of {count} bones")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=400, help="renders with a detection")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--resolution", type=int, default=256, help="render side, px")
    parser.add_argument("--real", action="store_true", help="also real-multiview-v1 (a check, not for tuning)")
    args = parser.parse_args()
    report(*renders(args.count, args.seed, args.resolution), "renders of the synthetic body")
    if args.real:
        report(*real(), "real-multiview-v1")


if __name__ == "__main__":
    main()
