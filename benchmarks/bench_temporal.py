r"""Temporal fitting on real clips: per-frame fits against one fit per track with the temporal terms.

Data: ``real-multiview-v1`` (pose2sim's Demo_MultiPerson, 2 people x 100 frames at 60 fps
x 4 calibrated views, mediapipe keypoints, joints triangulated from all views). Every
(person, view) is one clip: its frames in order, the detections of that view as the
track's keypoints (a frame the person was not detected in is missing: bridged by the
temporal fit, skipped by the per-frame one), fitted with the view's focal length.

Rows, on the same clips, the shipped model by default:

* ``per frame`` -- today's fit (:func:`~hmrflow.fitting.keypoint_fit.fit_keypoints`, the
  clip's detected frames as one batch), the baseline measured in the same run;
* ``temporal ...`` -- :func:`~hmrflow.fitting.temporal.fit_sequence` with the default
  :class:`~hmrflow.fitting.temporal.TemporalConfig` and with the weights given by
  ``--pose-weights`` x ``--translation-weights``.

Columns (medians over frames, all clips pooled; 12 limb joints):
PA-MPJPE (mm); ``accel`` the acceleration error of the joints, mm/frame²
(``|Δ² pred - Δ² truth|`` per joint after aligning the hips' midpoints, averaged over the
joints; at frames whose neighbours are detected and triangulated too, as VIBE and
ScoreHMR report it); ``vs smooth`` the same against the truth smoothed by a centred
moving average of 5 frames (the triangulation's own jitter mostly removed); ``acc pred`` the predicted joints' own acceleration; ``root accel``
the acceleration error of the hips' midpoint in the camera frame (the translation's
jitter, mostly depth); time per frame (s, the fit's wall time over the clip's frames).
The triangulated truth is noisy too: its own acceleration (``truth accel`` in the header)
is the floor under which an acceleration error cannot be read.

    OMP_NUM_THREADS=1 python benchmarks/bench_temporal.py --frames 100 --views 0,1
    OMP_NUM_THREADS=1 python benchmarks/bench_temporal.py --pose-weights 0.2,0.5,1 --translation-weights 0.5,2
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from hmrflow.data.real_multiview import LIMB_JOINTS, RealMultiview
from hmrflow.evaluation.metrics import pa_mpjpe
from hmrflow.evaluation.runner import JointPredictor
from hmrflow.fitting.keypoint_fit import FitConfig, fit_keypoints
from hmrflow.fitting.lbfgs import StopRules
from hmrflow.fitting.people import People
from hmrflow.fitting.temporal import TemporalConfig, acceleration, fit_sequence
from hmrflow.geometry.pinhole import PinholeCamera
from hmrflow.models import ProbabilisticHMR

#: Frames of the moving average that gives the smoothed truth (1/12 s at 60 fps).
SMOOTHING = 5
HIPS = (LIMB_JOINTS.index("left_hip"), LIMB_JOINTS.index("right_hip"))


@dataclass(frozen=True)
class Clip:
    """One person seen by one view over F frames."""

    keypoints: Tensor  # (F, K, 3) px; 0 where not detected
    camera: PinholeCamera  # the view's intrinsics, batch shape ()
    truth: Tensor  # (F, 12, 3) camera frame, metres (NaN where not triangulated)
    valid: Tensor  # (F,) detected and every limb joint triangulated


@dataclass(frozen=True)
class Fitted:
    """Joints ``(F, 12, 3)`` without and ``(F, 12, 3)`` with the translation; NaN where not fitted."""

    joints: Tensor
    camera: Tensor
    seconds: float


def clips(data: RealMultiview, people: list[int], views: list[int], frames: int) -> list[Clip]:
    """The (person, view) clips of the first ``frames`` frames."""
    index = [data.keypoint_names.index(n) for n in LIMB_JOINTS]
    camera = data.camera_joints()
    out = []
    for p in people:
        for v in views:
            keypoints = torch.from_numpy(data.keypoints_2d[p, :frames, v]).float()
            detected = torch.from_numpy(data.detected[p, :frames, v])
            keypoints = keypoints * detected[:, None, None]
            truth = torch.from_numpy(camera[p, :frames, v][:, index]).float()
            valid = detected & torch.from_numpy(data.joints_valid[p, :frames][:, index].all(-1))
            out.append(Clip(keypoints, data.intrinsics(v), truth, valid))
    return out


def per_frame(model: ProbabilisticHMR, clip: Clip, predictor: JointPredictor, config: FitConfig) -> Fitted:
    """Today's fit of every detected frame of ``clip``."""
    begin = time.perf_counter()
    seen = (clip.keypoints[..., 2] > 0).sum(-1) >= 4
    people = People.from_camera(clip.keypoints[seen], clip.camera.expand(int(seen.sum())))
    fit = fit_keypoints(model, people, config)
    seconds = time.perf_counter() - begin
    joints = torch.full_like(clip.truth, float("nan"))
    with torch.no_grad():
        joints[seen] = predictor(fit.rotmats[:, None], fit.betas)[:, 0]
    camera = joints.clone()
    camera[seen] += fit.translation[:, None]
    return Fitted(joints, camera, seconds)


def temporal(model: ProbabilisticHMR, clip: Clip, predictor: JointPredictor, config: TemporalConfig) -> Fitted:
    """The temporal fit of ``clip``."""
    begin = time.perf_counter()
    fit = fit_sequence(model, clip.keypoints, config=config, camera=clip.camera)
    seconds = time.perf_counter() - begin
    joints = torch.full_like(clip.truth, float("nan"))
    with torch.no_grad():
        shape = fit.betas.expand(int(fit.fitted.sum()), -1)
        joints[fit.fitted] = predictor(fit.rotmats[fit.fitted][:, None], shape)[:, 0]
    return Fitted(joints, joints + fit.translation[:, None], seconds)


def centred(joints: Tensor) -> Tensor:
    """``(F, 12, 3)`` with the hips' midpoint at the origin."""
    return joints - joints[:, list(HIPS)].mean(1, keepdim=True)


def smoothed(joints: Tensor, width: int = SMOOTHING) -> Tensor:
    """``(F, ...)`` centred moving average over ``width`` frames (odd); NaN where the window leaves
    the clip or holds a NaN."""
    half = width // 2
    out = torch.full_like(joints, float("nan"))
    if len(joints) > 2 * half:
        windows = joints.unfold(0, width, 1)  # (F - 2 half, ..., width)
        out[half : len(joints) - half] = windows.mean(-1)
    return out


def figures(fitted: Fitted, clip: Clip) -> dict[str, list[float]]:
    """Per-frame PA-MPJPE, acceleration errors and accelerations (mm, mm/frame²) of one clip."""
    ok = clip.valid & torch.isfinite(fitted.joints).all((-1, -2))
    pa = pa_mpjpe(fitted.joints[ok], clip.truth[ok]).tolist()
    triple = ok[2:] & ok[1:-1] & ok[:-2]  # frames 1 .. F-2 with both neighbours usable
    pred, truth = acceleration(centred(fitted.joints)), acceleration(centred(clip.truth))
    error = 1000 * torch.linalg.vector_norm(pred - truth, dim=-1).mean(-1)
    own = 1000 * torch.linalg.vector_norm(pred, dim=-1).mean(-1)
    truth_own = 1000 * torch.linalg.vector_norm(truth, dim=-1).mean(-1)
    smooth = acceleration(smoothed(centred(clip.truth)))  # NaN where the window lacks a frame
    smooth_error = 1000 * torch.linalg.vector_norm(pred - smooth, dim=-1).mean(-1)
    near = triple & torch.isfinite(smooth_error)
    root = lambda x: x[:, list(HIPS)].mean(1)  # noqa: E731
    root_error = 1000 * torch.linalg.vector_norm(acceleration(root(fitted.camera)) - acceleration(root(clip.truth)), dim=-1)
    return {"pa": pa, "accel": error[triple].tolist(), "own": own[triple].tolist(),
            "truth": truth_own[triple].tolist(), "root": root_error[triple].tolist(),
            "smooth": smooth_error[near].tolist()}  # fmt: skip


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run(label: str, fit, model, all_clips: list[Clip], predictor: JointPredictor) -> tuple[str, dict[str, float]]:
    """One row: fit every clip, pool the per-frame figures."""
    pooled: dict[str, list[float]] = {}
    seconds, frames = 0.0, 0
    for clip in all_clips:
        fitted = fit(model, clip, predictor)
        seconds, frames = seconds + fitted.seconds, frames + len(clip.keypoints)
        for key, values in figures(fitted, clip).items():
            pooled.setdefault(key, []).extend(values)
    row = {key: median(values) for key, values in pooled.items()}
    row["mean_accel"] = float(np.mean(pooled["accel"])) if pooled["accel"] else float("nan")
    row["seconds"] = seconds / max(frames, 1)
    return label, row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model file (default: the shipped one)")
    parser.add_argument("--frames", type=int, default=100, help="first frames of every clip")
    parser.add_argument("--views", default="0,1,2,3")
    parser.add_argument("--people", default="0,1")
    parser.add_argument("--steps", type=int, default=30, help="L-BFGS outer steps at most (per window)")
    parser.add_argument("--pose-weights", default="", help="extra rows: comma-separated pose weights")
    parser.add_argument("--translation-weights", default="", help="with --pose-weights: translation weights")
    parser.add_argument("--latent-weight", type=float, default=0.0, help="latent weight of the extra rows")
    parser.add_argument("--window", type=int, default=None, help="frames per window (default: the config's)")
    args = parser.parse_args()
    from hmrflow.models.checkpoint import DEFAULT_MODEL, load_model

    model = load_model(args.model).eval()
    data = RealMultiview.load()
    parse = lambda text: [int(x) for x in text.split(",") if x]  # noqa: E731
    all_clips = clips(data, parse(args.people), parse(args.views), args.frames)
    predictor = JointPredictor(model.body, LIMB_JOINTS, HIPS)
    fit_config = FitConfig(rules=StopRules(max_steps=args.steps))
    default = TemporalConfig(fit=fit_config)
    if args.window:
        default = replace(default, window=args.window)
    rows = [("per frame", lambda m, c, p: per_frame(m, c, p, fit_config)),
            (f"temporal default (pose {default.pose_weight:g}, transl {default.translation_weight:g})",
             lambda m, c, p: temporal(m, c, p, default))]  # fmt: skip
    pose_weights = [float(x) for x in args.pose_weights.split(",") if x]
    translation_weights = [float(x) for x in args.translation_weights.split(",") if x] or [default.translation_weight]
    for w_p in pose_weights:
        for w_t in translation_weights:
            config = replace(default, pose_weight=w_p, translation_weight=w_t, latent_weight=args.latent_weight)
            label = f"temporal pose {w_p:g}, transl {w_t:g}" + (f", latent {args.latent_weight:g}" if args.latent_weight else "")
            rows.append((label, lambda m, c, p, config=config: temporal(m, c, p, config)))
    results = [run(label, fit, model, all_clips, predictor) for label, fit in rows]
    truth = results[0][1]["truth"]
    print(f"{data.name}: people {args.people}, views {args.views}, first {args.frames} frames ({data.fps:g} fps), "
          f"{len(all_clips)} clips; model {args.model or DEFAULT_MODEL}; {args.steps} L-BFGS steps at most; "
          f"threads {torch.get_num_threads()}")  # fmt: skip
    print(f"truth accel (the triangulated joints' own acceleration, median): {truth:.1f} mm/frame²; "
          f"'vs smooth': the acceleration error against the truth averaged over {SMOOTHING} frames")
    print(f"{'method':<44}{'PA-MPJPE':>9}{'accel':>8}{'(mean)':>8}{'vs smooth':>10}{'acc pred':>9}{'root accel':>11}"
          f"{'s/frame':>9}")  # fmt: skip
    for label, row in results:
        print(f"{label:<44}{row['pa']:>9.1f}{row['accel']:>8.1f}{row['mean_accel']:>8.1f}{row['smooth']:>10.1f}{row['own']:>9.1f}"
              f"{row['root']:>11.1f}{row['seconds']:>9.3f}")


if __name__ == "__main__":
    main()
