r"""The bundled detector (BlazePose) on renders of the synthetic body: where it puts the
keypoints against the body's own (``coco`` + ``feet``, the model's evidence).

The keypoint model trains on the body's keypoints and meets BlazePose's on real photos; a
systematic difference between the two is a gap between training and use. Renders of
:class:`~hmrflow.data.synthetic_images.SyntheticImages` (the training data's poses,
shapes and cameras) go through :class:`~hmrflow.application.detector.MediaPipeDetector`;
per keypoint the residual (detector minus body) in torso lengths (shoulders' midpoint to
hips' midpoint, 2D), its median component along the body's own axis at that keypoint
(hips and shoulders: the torso's up; knees: hip to knee; ankles: knee to ankle; elbows:
shoulder to elbow; wrists: elbow to wrist), its median length, and the detector's segment
lengths over the body's. Detections that swap left and right are left out.

Needs the detector environment (``scripts/setup_detector.sh``) and the render extra.
Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/detector_on_renders.py [--count 300]``.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from hmrflow.application.detector import MediaPipeDetector
from hmrflow.body.model import BodyModel
from hmrflow.data.keypoint_files import EVIDENCE_NAMES
from hmrflow.data.pose_sources import load_cmu_demo
from hmrflow.data.synthetic_images import SyntheticImageConfig, SyntheticImages

AXES = {
    "hip": ("torso", None), "shoulder": ("torso", None), "knee": ("hip", "knee"),
    "ankle": ("knee", "ankle"), "elbow": ("shoulder", "elbow"), "wrist": ("elbow", "wrist"),
}  # fmt: skip
SEGMENTS = (("hip", "knee"), ("knee", "ankle"), ("shoulder", "elbow"), ("elbow", "wrist"))


def detect_renders(count: int, seed: int, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """``(N, K, 3)`` detections and the body's visible keypoints of ``count`` renders with a person found."""
    body = BodyModel.from_name("anny_lowpoly")
    generator = torch.Generator().manual_seed(seed)
    found, truth = [], []
    config = SyntheticImageConfig(resolution=resolution)
    with SyntheticImages(body, load_cmu_demo().rotmats, config) as images, MediaPipeDetector() as detector:
        while len(found) < count:
            for example in images.sample(20, generator):
                detection = detector.detect(example.image)
                if detection.keypoints is not None:
                    found.append(detection.keypoints)
                    truth.append(example.labels["clean_2d"])
            print(f"{len(found)} renders with a detection", flush=True)
    return np.array(found[:count]), np.array(truth[:count])


def report(detected: np.ndarray, truth: np.ndarray) -> None:
    """Print the residual table of the module docstring."""
    index = {name: k for k, name in enumerate(EVIDENCE_NAMES)}

    def point(x: np.ndarray, name: str) -> np.ndarray:
        return x[:, index[name], :2]

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    seen = (detected[..., 2] > 0.5) & (truth[..., 2] > 0)
    shoulders = (point(truth, "left_shoulder") + point(truth, "right_shoulder")) / 2
    hips = (point(truth, "left_hip") + point(truth, "right_hip")) / 2
    torso = np.linalg.norm(shoulders - hips, axis=-1)
    same_side = np.linalg.norm(point(detected, "left_hip") - point(truth, "left_hip"), axis=-1) < np.linalg.norm(
        point(detected, "left_hip") - point(truth, "right_hip"), axis=-1
    )
    torso_seen = seen[:, [index[f"{s}_{p}"] for s in ("left", "right") for p in ("hip", "shoulder")]].all(-1)
    usable = same_side & torso_seen & (torso > 30)
    print(f"{len(detected)} renders, {int(usable.sum())} used (torso seen, left and right not swapped)")
    residual = (detected[..., :2] - truth[..., :2]) / torso[:, None, None]
    print("keypoint          axis                along (torso lengths)   |residual|")
    for side in ("left", "right"):
        for part, (start, end) in AXES.items():
            name = f"{side}_{part}"
            axis = unit(shoulders - hips) if start == "torso" else unit(
                point(truth, f"{side}_{end}") - point(truth, f"{side}_{start}"))  # fmt: skip
            rows = usable & seen[:, index[name]]
            along = (residual[rows, index[name]] * axis[rows]).sum(-1)
            length = np.linalg.norm(residual[rows, index[name]], axis=-1)
            label = "torso up" if start == "torso" else f"{start} -> {end}"
            print(f"{name:17s} {label:19s} {np.median(along):+.3f}                  {np.median(length):.3f}")
    for start, end in SEGMENTS:
        a, b = f"left_{start}", f"left_{end}"
        rows = usable & seen[:, index[a]] & seen[:, index[b]]
        ratio = np.linalg.norm(point(detected, a) - point(detected, b), axis=-1) / np.linalg.norm(
            point(truth, a) - point(truth, b), axis=-1
        )
        print(f"{a} - {b}: detector / body length {np.median(ratio[rows]):.3f}")
    report_confidences(detected, truth)
    width = np.linalg.norm(point(truth, "left_hip") - point(truth, "right_hip"), axis=-1)
    frontal = usable & (width / torso > 0.3)
    detected_width = np.linalg.norm(point(detected, "left_hip") - point(detected, "right_hip"), axis=-1)
    print(f"hip width, detector / body (views that show it): {np.median(detected_width[frontal] / width[frontal]):.3f}")


def report_confidences(detected: np.ndarray, truth: np.ndarray) -> None:
    """Print, by the detector's confidence, how often its point strays (farther than a tenth
    of the person's height from the body's) and its median distance (heights), over every
    detection (left/right swaps included)."""
    visible = truth[..., 2] > 0
    height = np.array([np.ptp(t[v, 1]) if v.sum() > 1 else np.nan for t, v in zip(truth, visible)])
    distance = np.linalg.norm(detected[..., :2] - truth[..., :2], axis=-1) / height[:, None]
    rows = visible & (detected[..., 2] > 0) & np.isfinite(distance)
    confidence, distance = detected[..., 2][rows], distance[rows]
    print("confidence    points   stray (> 0.1 height)   median distance (heights)")
    for low, high in ((0.0, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 0.97), (0.97, 1.01)):
        band = (confidence >= low) & (confidence < high)
        if band.any():
            print(f"{low:.2f}-{min(high, 1.0):.2f}  {int(band.sum()):8d}   {np.mean(distance[band] > 0.1):20.3f}"
                  f"   {np.median(distance[band]):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=300, help="renders with a detection")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--resolution", type=int, default=448, help="render side, px")
    args = parser.parse_args()
    detected, truth = detect_renders(args.count, args.seed, args.resolution)
    report(detected, truth)


if __name__ == "__main__":
    main()
