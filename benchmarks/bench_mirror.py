r"""The left/right labelling check (``hmrflow.fitting.mirror``) on real people.

On ``real-multiview-v1`` (single views, each fitted with its view's focal length, 30
L-BFGS steps, the shipped model), errors over the 12 limb joints against the triangulated
ground truth:

1. Mirrored views: a view is mirrored when its keypoints, with left and right swapped,
   lie on the projection of the triangulated joints far better than as labelled (median
   limb error under half, and under 30 px). The set keeps only detections that lie on the
   projected skeleton, so BlazePose's mirror errors were left out of it when it was built
   (the man, person 1, in cam02 around frames 42-68 is "not detected" there). With the
   detector environment and the fetched videos (``scripts/fetch_data.sh``,
   ``scripts/setup_detector.sh``) the script detects those frames again, as the set's
   builder does (a crop around the projected skeleton, the other person greyed out),
   and caches them in ``.cache/bench_mirror/``; without them it says so and goes on.
   Printed: the mirrored frames found, PA-MPJPE fitting the labels as given against
   after the check.
2. Every stored single view (all correctly labelled): how often the check swaps
   (false swaps), the PA-MPJPE before and after, and the time of the check (both
   labellings as one batch) against the plain fit, measured in this run.
3. Constructed: every stored view with its labels swapped on purpose: how many the check
   puts back, and the PA-MPJPE before and after.
4. The margin: outcomes of 2 and 3 (and of 1 when found) for other margins, from the same
   energies.

    OMP_NUM_THREADS=1 python benchmarks/bench_mirror.py [--margin 150] [--chunk 64]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from hmrflow import load_model
from hmrflow.body.keypoints import flip_permutation
from hmrflow.data.real_multiview import LIMB_JOINTS, RealMultiview
from hmrflow.evaluation.metrics import pa_mpjpe
from hmrflow.evaluation.real_sets import view_examples
from hmrflow.evaluation.runner import JointPredictor
from hmrflow.fitting.keypoint_fit import BodyFit, FitConfig, fit_keypoints
from hmrflow.fitting.lbfgs import StopRules
from hmrflow.fitting.mirror import DEFAULT_MARGIN, LabellingCheck, MirrorConfig, check_labelling, mirror_people
from hmrflow.fitting.people import People
from hmrflow.models import ProbabilisticHMR

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "bench_mirror"
MAN, CAM02 = 1, 1
MARGINS = (0.0, 50.0, 100.0, 150.0, 200.0, 300.0)


def limb_errors(data: RealMultiview, keypoints: np.ndarray, projected: np.ndarray) -> np.ndarray:
    r"""Median px distance ``(...)`` of the limb keypoints ``(..., K, 3)`` from the projected joints ``(..., K, 2)``."""
    index = [data.keypoint_names.index(n) for n in LIMB_JOINTS]
    distance = np.linalg.norm(keypoints[..., index, :2] - projected[..., index, :], axis=-1)
    distance = np.where(keypoints[..., index, 2] > 0, distance, np.nan)
    with np.errstate(all="ignore"):
        return np.nanmedian(distance, -1)


def mirrored(data: RealMultiview, keypoints: np.ndarray, projected: np.ndarray) -> np.ndarray:
    """``(...)`` bool: labelled mirrored (the rule of the module docstring)."""
    given = limb_errors(data, keypoints, projected)
    swapped = limb_errors(data, keypoints[..., flip_permutation(data.keypoint_names), :], projected)
    return (swapped < 0.5 * given) & (swapped < 30.0)


def redetect(data: RealMultiview) -> tuple[np.ndarray, np.ndarray] | None:
    """The man's cam02 detections where the set has none: frames ``(N,)``, keypoints ``(N, K, 3)`` px."""
    cache = CACHE / "man_cam02.npz"
    if cache.exists():
        with np.load(cache) as file:
            return file["frames"], file["keypoints"]
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_real_multiview as builder

    from hmrflow.application.detector import DetectorUnavailable, MediaPipeDetector, blazepose_to_evidence

    video = builder.SOURCE / "videos" / f"{data.camera_names[CAM02]}.mp4"
    wanted = set(np.flatnonzero(~data.detected[MAN, :, CAM02]).tolist())
    if not video.exists() or not wanted:
        print(f"(no re-detection: {video} missing or nothing to detect)")
        return None
    size = tuple(int(v) for v in data.image_size[CAM02])
    projected = data.projected()
    frames, keypoints = [], []
    try:
        with MediaPipeDetector() as detector:
            for f, image in enumerate(builder.decode_frames(video, size)):
                if f not in wanted or not np.isfinite(projected[MAN, f, CAM02]).any():
                    continue
                guide, other = projected[MAN, f, CAM02], projected[1 - MAN, f, CAM02]
                x0, y0, side = builder.crop_window(guide)
                shift = np.array([x0, y0], dtype=np.float64)
                others = np.asarray(builder.person_mask((side, side), other - shift)) > 0
                own = np.asarray(builder.person_mask((side, side), guide - shift)) > 0
                pixels = builder.crop(image, (x0, y0, side))
                pixels[others & ~own] = builder.GREY
                found = detector.detect(pixels)
                if found.landmarks is not None:
                    landmarks = found.landmarks.copy()
                    landmarks[:, :2] += shift
                    frames.append(f)
                    keypoints.append(blazepose_to_evidence(landmarks, size, builder.MIN_VISIBILITY))
    except DetectorUnavailable as error:
        print(f"(no re-detection: {error})")
        return None
    if not frames:
        print("(no re-detection: the detector found nobody)")
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(cache, frames=np.array(frames), keypoints=np.stack(keypoints).astype(np.float32))
    return np.array(frames), np.stack(keypoints).astype(np.float32)


def people_of(data: RealMultiview, keypoints: np.ndarray, view: np.ndarray) -> People:
    r"""Keypoints ``(B, K, 3)`` px of views ``(B,)`` seen by those views' cameras."""
    return People.from_camera(torch.from_numpy(keypoints).float(), data.intrinsics(view))


class Scorer:
    """PA-MPJPE (mm, 12 limb joints) of fits against camera-frame joints."""

    def __init__(self, model: ProbabilisticHMR, data: RealMultiview):
        self.predict = JointPredictor(model.body, LIMB_JOINTS, (6, 7))
        self.index = [data.keypoint_names.index(n) for n in LIMB_JOINTS]
        self.camera_joints = data.camera_joints()

    def __call__(self, fit: BodyFit, rows: np.ndarray) -> Tensor:
        target = torch.from_numpy(self.camera_joints[tuple(rows.T)][:, self.index]).float()
        with torch.no_grad():
            return pa_mpjpe(self.predict(fit.rotmats[:, None], fit.betas)[:, 0], target)


def run_checks(model: ProbabilisticHMR, groups: list[People], config: MirrorConfig) -> tuple[list[LabellingCheck], float]:
    start = time.perf_counter()
    checks = [check_labelling(model, people, config) for people in groups]
    return checks, time.perf_counter() - start


def summary(checks: list[LabellingCheck], score: Scorer, rows: np.ndarray) -> dict[str, Tensor]:
    cat = torch.cat
    return {
        "swapped": cat([c.swapped for c in checks]),
        "gain": cat([c.gain for c in checks]),
        "given": cat([score(c.given_fit, r) for c, r in zip(checks, rows)]),
        "mirrored": cat([score(c.mirrored_fit, r) for c, r in zip(checks, rows)]),
    }


def after(result: dict[str, Tensor], margin: float) -> Tensor:
    return torch.where(result["gain"] > margin, result["mirrored"], result["given"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN)
    parser.add_argument("--chunk", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--model", default=None, help="model file (default: the shipped one)")
    args = parser.parse_args()
    torch.manual_seed(0)
    model, data = load_model(args.model), RealMultiview.load()
    fit_config = FitConfig(rules=StopRules(max_steps=args.steps))
    config = MirrorConfig(fit=fit_config, margin=args.margin)
    score = Scorer(model, data)
    projected = data.projected()
    print(f"{data.name}: margin {args.margin:g}, {args.steps} L-BFGS steps, chunks of {args.chunk}, "
          f"threads {torch.get_num_threads()}")  # fmt: skip

    # 1. mirrored views
    examples = view_examples(data)
    stored = mirrored(data, data.keypoints_2d[tuple(examples.T)], projected[tuple(examples.T)])
    print(f"\n1. Mirrored views among the set's {len(examples)} stored views: {int(stored.sum())}")
    found = redetect(data)
    mirror_result = None
    if found is not None:
        frames, keypoints = found
        valid = data.joints_valid[MAN, frames][:, score.index].all(-1)
        flags = mirrored(data, keypoints, projected[MAN, frames, CAM02]) & valid
        print(f"   re-detected man in cam02 (frames the set left out): {len(frames)}; mirrored, with ground truth: "
              f"{int(flags.sum())}, frames {frames[flags].tolist()}")  # fmt: skip
        if flags.any():
            rows = np.stack([np.full(flags.sum(), MAN), frames[flags], np.full(flags.sum(), CAM02)], 1)
            people = people_of(data, keypoints[flags], rows[:, 2])
            checks, _ = run_checks(model, [people], config)
            mirror_result = summary(checks, score, [rows])
            r = mirror_result
            print(f"   PA-MPJPE as labelled {r['given'].mean():.1f} mm -> after the check {after(r, args.margin).mean():.1f}"
                  f" mm (labels put back by hand: {r['mirrored'].mean():.1f} mm); swapped "
                  f"{int(r['swapped'].sum())} of {len(rows)}")  # fmt: skip

    # 2. every stored view, correctly labelled; 3. the same with labels swapped on purpose
    chunks = [examples[i : i + args.chunk] for i in range(0, len(examples), args.chunk)]
    groups = [people_of(data, data.keypoints_2d[tuple(rows.T)], rows[:, 2]) for rows in chunks]
    start = time.perf_counter()
    for people in groups:
        fit_keypoints(model, people, fit_config)
    plain = time.perf_counter() - start
    checks, checked = run_checks(model, groups, config)
    correct = summary(checks, score, chunks)
    swapped_checks, _ = run_checks(model, [mirror_people(p) for p in groups], config)
    constructed = summary(swapped_checks, score, chunks)
    n = len(examples)
    c = correct
    print(f"\n2. Correctly labelled stored views: {n}; false swaps {int(c['swapped'].sum())} "
          f"({100 * c['swapped'].float().mean():.1f} %); PA-MPJPE {c['given'].mean():.1f} mm -> "
          f"{after(c, args.margin).mean():.1f} mm")  # fmt: skip
    print(f"   time: plain fit {plain:.1f} s, check (both labellings) {checked:.1f} s: x{checked / plain:.2f} "
          f"({1000 * plain / n:.0f} -> {1000 * checked / n:.0f} ms per view)")  # fmt: skip
    s = constructed
    print(f"\n3. Constructed (the same views, labels swapped on purpose): recovered {int(s['swapped'].sum())} of {n} "
          f"({100 * s['swapped'].float().mean():.1f} %); PA-MPJPE {s['given'].mean():.1f} mm -> "
          f"{after(s, args.margin).mean():.1f} mm")  # fmt: skip

    print("\n4. Margins (same energies): false swaps / recovered swapped-on-purpose / recovered real mirrors")
    for margin in MARGINS:
        real = "" if mirror_result is None else (
            f"{int((mirror_result['gain'] > margin).sum())} of {len(mirror_result['gain'])}, "
            f"PA {after(mirror_result, margin).mean():.1f} mm")  # fmt: skip
        print(f"   margin {margin:5.0f}: {int((c['gain'] > margin).sum()):4d} of {n} (PA {after(c, margin).mean():.1f} mm)"
              f" / {int((s['gain'] > margin).sum()):4d} of {n} / {real}")  # fmt: skip


if __name__ == "__main__":
    main()
