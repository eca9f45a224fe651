r"""Evaluation of the fitters on real people: ``real-multiview-v1`` (``hmrflow fit --evaluate
--data real-multiview-v1``).

The keypoints are the detector's (mediapipe BlazePose) in each of the 4 calibrated views;
the ground truth the joints triangulated from all views
(:mod:`hmrflow.data.real_multiview`). Errors over the 12 limb joints
(:data:`~hmrflow.data.real_multiview.LIMB_JOINTS`, the model's ``coco`` keypoints), in mm:
MPJPE after aligning the hips' midpoint, PA-MPJPE after a similarity Procrustes.

Single view: every example of :func:`~hmrflow.evaluation.real_sets.view_examples` (a view
of a person at a frame), fitted with the view's known intrinsics (f_x, f_y, principal
point). Rows: the regression (the model's mode), fitting with the
learned prior, the baseline, from the same start with the same data term.

Multi-view: the instants (person, frame) seen in every view, fitted with the first 1, 2
and 4 views: ProHMR's uncalibrated energy, the default uncalibrated fitter and the
calibrated fitter (the set's cameras). Uncalibrated bodies are compared in the first
view's camera frame, calibrated ones in the world.

Caveat: the ground truth was triangulated from the same detections the fitters see, so
fitting all four views with known cameras is measured against a near copy of its own
input: the calibrated 4-view figure is a floor set by the body model's fit to the
detector's points, not an independent accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from hmrflow.data.real_multiview import LIMB_JOINTS, RealMultiview
from hmrflow.evaluation.metrics import mpjpe, pa_mpjpe
from hmrflow.evaluation.real_sets import view_examples
from hmrflow.evaluation.runner import JointPredictor
from hmrflow.fitting.baseline import fit_baseline
from hmrflow.fitting.evaluate import METHODS, MULTIVIEW_METHODS, Errors, EvaluationConfig, model_device
from hmrflow.fitting.keypoint_fit import fit_keypoints, frozen, regress
from hmrflow.fitting.lbfgs import StopRules
from hmrflow.fitting.multiview import Cameras, MultiViewConfig, MultiViewFit, fit_multiview, fit_multiview_calibrated
from hmrflow.fitting.people import People
from hmrflow.models import ProbabilisticHMR

__all__ = ["RealFittingTables", "evaluate_real_fitting", "format_real_tables", "real_instants", "spread"]

_HIPS = (LIMB_JOINTS.index("left_hip"), LIMB_JOINTS.index("right_hip"))


@dataclass(frozen=True)
class RealFittingTables:
    """``single[method]`` and ``multiview[method][views]`` on a real set, with their sizes."""

    name: str
    single: dict[str, Errors]
    multiview: dict[str, dict[int, Errors]]
    size: int
    multiview_size: int
    steps: int


def spread(count: int, size: int | None) -> np.ndarray:
    """``size`` indices spread evenly over ``range(count)`` (all of them when None or larger)."""
    if size is None or size >= count:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, size).round().astype(np.int64))


def real_instants(data: RealMultiview, joints: Sequence[str] = LIMB_JOINTS) -> np.ndarray:
    """``(B, 2)`` the (person, frame) seen in every view with ``joints`` triangulated."""
    index = [data.keypoint_names.index(n) for n in joints]
    return np.argwhere(data.detected.all(-1) & data.joints_valid[..., index].all(-1))


def _people(data: RealMultiview, person: np.ndarray, frame: np.ndarray, view: np.ndarray,
            device: torch.device) -> People:  # fmt: skip
    r"""The detections of (person, frame, view) ``(B,)`` each as :class:`People` seen by the
    view's camera (f_x, f_y and principal point)."""
    dtype = torch.get_default_dtype()
    keypoints = torch.from_numpy(data.keypoints_with_depth()[person, frame, view]).to(device, dtype)
    return People.from_camera(keypoints, data.intrinsics(view).to(device, dtype))


def _cameras(data: RealMultiview, views: list[int], count: int, device: torch.device) -> Cameras:
    """The set's cameras ``views`` for ``count`` instants, :class:`Cameras` ``(B, V, ...)``."""
    dtype = torch.get_default_dtype()

    def tensor(array: np.ndarray) -> Tensor:
        value = torch.from_numpy(np.ascontiguousarray(array[views])).to(dtype)
        return value.to(device).expand(count, *value.shape).clone()

    return Cameras(tensor(data.focal_length), tensor(data.principal_point), tensor(data.image_size),
                   tensor(data.rotation), tensor(data.translation))  # fmt: skip


def _errors(joints: Tensor, target: Tensor, reprojection: Tensor | None = None) -> Errors:
    repro = math.nan if reprojection is None else float(reprojection.nanmean())
    pa = float(pa_mpjpe(joints, target).mean())
    return Errors(pa, float(mpjpe(joints, target, pelvis=_HIPS).mean()), repro)


def evaluate_real_single_view(
    model: ProbabilisticHMR,
    data: RealMultiview,
    config: EvaluationConfig,
    size: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, Errors], int]:
    """Regression vs learned prior vs baseline on ``size`` examples (None: all); and the count."""
    device = model_device(model)
    examples = view_examples(data)
    examples = examples[spread(len(examples), size)]
    predictor = JointPredictor(model.body, LIMB_JOINTS, _HIPS)
    index = [data.keypoint_names.index(n) for n in LIMB_JOINTS]
    target = torch.from_numpy(data.camera_joints()[tuple(examples.T)][:, index]).to(torch.get_default_dtype())
    fit_config = replace(config.fit, rules=StopRules(max_steps=config.steps))
    joints: dict[str, list[Tensor]] = {m: [] for m in METHODS}
    repro: dict[str, list[Tensor]] = {m: [] for m in METHODS}
    for start_row in range(0, len(examples), config.chunk):
        rows = examples[start_row : start_row + config.chunk]
        people = _people(data, *rows.T, device)
        start = regress(model, people)
        with torch.no_grad(), frozen(model):
            joints["regression"].append(predictor(start.rotmats[:, None], start.betas)[:, 0].cpu())
        for method, fitter in (("learned prior", fit_keypoints), ("baseline", fit_baseline)):
            fit = fitter(model, people, fit_config, start=start)
            with torch.no_grad():
                joints[method].append(predictor(fit.rotmats[:, None], fit.betas)[:, 0].cpu())
            repro[method].append(fit.reprojection_error.cpu())
        if progress:
            progress(len(rows))
    table = {m: _errors(torch.cat(joints[m]), target, torch.cat(repro[m]) if repro[m] else None) for m in METHODS}
    return table, len(examples)


def evaluate_real_multiview(
    model: ProbabilisticHMR,
    data: RealMultiview,
    config: EvaluationConfig,
    size: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, dict[int, Errors]], int]:
    """The multi-view fitters with the first V views, V in ``config.views``; and the count."""
    device = model_device(model)
    instants = real_instants(data)
    instants = instants[spread(len(instants), size)]
    predictor = JointPredictor(model.body, LIMB_JOINTS, _HIPS)
    index = [data.keypoint_names.index(n) for n in LIMB_JOINTS]
    world = torch.from_numpy(data.joints_3d[tuple(instants.T)][:, index]).to(torch.get_default_dtype())
    camera = torch.from_numpy(data.camera_joints()[instants[:, 0], instants[:, 1], 0][:, index]).to(world.dtype)
    rules = StopRules(max_steps=config.steps)
    table: dict[str, dict[int, Errors]] = {m: {} for m in MULTIVIEW_METHODS}
    for V in [v for v in config.views if v <= data.detected.shape[2]]:
        results: dict[str, list[Tensor]] = {m: [] for m in MULTIVIEW_METHODS}
        for start_row in range(0, len(instants), config.chunk):
            rows = instants[start_row : start_row + config.chunk]
            for method in MULTIVIEW_METHODS:
                fit = _fit_views(model, data, rows, V, method, rules, device)
                with torch.no_grad():
                    results[method].append(predictor(fit.consensus[:, None], fit.betas)[:, 0].cpu())
            if progress:
                progress(len(rows))
        for method in MULTIVIEW_METHODS:
            table[method][V] = _errors(torch.cat(results[method]), world if method == "calibrated" else camera)
    return table, len(instants)


def _fit_views(model: ProbabilisticHMR, data: RealMultiview, rows: np.ndarray, V: int, method: str,
               rules: StopRules, device: torch.device) -> MultiViewFit:  # fmt: skip
    """One multi-view fitter on instants ``rows`` ``(B, 2)`` with the first ``V`` views."""
    calibrated = method == "calibrated"
    person, frame = rows.T
    views = [_people(data, person, frame, np.full(len(rows), v), device) for v in range(V)]
    config = MultiViewConfig(rules=rules, reprojection=method != MULTIVIEW_METHODS[0])
    if calibrated:
        return fit_multiview_calibrated(model, views, _cameras(data, list(range(V)), len(rows), device), config)
    return fit_multiview(model, views, config)


def evaluate_real_fitting(
    model: ProbabilisticHMR,
    config: EvaluationConfig | None = None,
    data: RealMultiview | None = None,
    size: int | None = None,
    multiview_size: int | None = None,
    progress: bool = False,
) -> RealFittingTables:
    """Both tables on ``data`` (default: the shipped ``real-multiview-v1``); ``size`` and
    ``multiview_size`` take that many examples and instants spread over the set (None: all)."""
    config = config or EvaluationConfig()
    data = RealMultiview.load() if data is None else data
    singles = len(spread(len(view_examples(data)), size))
    views = [v for v in config.views if v <= data.detected.shape[2]]
    total = singles + len(views) * len(spread(len(real_instants(data)), multiview_size))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc=f"fitting evaluation on {data.name}", unit="person")
    update = bar.update if bar is not None else None
    single, count = evaluate_real_single_view(model, data, config, size, update)
    multiview, instants = evaluate_real_multiview(model, data, config, multiview_size, update)
    if bar is not None:
        bar.close()
    return RealFittingTables(data.name, single, multiview, count, instants, config.steps)


def format_real_tables(tables: RealFittingTables) -> str:
    """The tables as text."""
    lines = [
        f"Single view on {tables.name}: {tables.size} views of real people (detector keypoints), "
        f"{tables.steps} L-BFGS steps. PA-MPJPE / MPJPE in mm (12 limb joints, pelvis = hips' midpoint), "
        "final 2D error in px.",
        "".join(f"{m:>28}" for m in METHODS),
    ]
    cells = []
    for method in METHODS:
        e = tables.single[method]
        repro = "" if math.isnan(e.reprojection) else f" ({e.reprojection:.1f}px)"
        cells.append(f"{e.pa_mpjpe:7.1f} / {e.mpjpe:6.1f}{repro}")
    lines += ["".join(f"{c:>28}" for c in cells), ""]
    views = sorted(next(iter(tables.multiview.values())))
    lines.append(f"Multi-view on {tables.name}: {tables.multiview_size} instants seen by every camera, the first "
                 f"V views, {tables.steps} L-BFGS steps. PA-MPJPE / MPJPE in mm of the consensus body.")  # fmt: skip
    lines.append(f"{'method':<29}" + "".join(f"{f'{v} view' + ('s' if v > 1 else ''):>18}" for v in views))
    for method, row in tables.multiview.items():
        lines.append(f"{method:<29}" + "".join(f"{f'{row[v].pa_mpjpe:.1f} / {row[v].mpjpe:.1f}':>18}" for v in views))
    lines.append("(ground truth triangulated from the same detections: the calibrated rows with many views "
                 "measure against a near copy of their input)")  # fmt: skip
    return "\n".join(lines)
