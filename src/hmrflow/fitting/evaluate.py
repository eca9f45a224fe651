r"""Evaluation of the fitters on synthetic sets with ground truth, printed as tables.

``hmrflow fit --evaluate`` runs :func:`evaluate_fitting` and prints :func:`format_tables`.

Single view: a fixed synthetic set (:func:`~hmrflow.data.synthetic.make_evaluation_set`),
under three conditions built from its clean projections -- *clean* (the visible points,
confidence 1), *noisy* (Gaussian jitter of 3 % of the person box per coordinate, the top
of the training corruption) and *30 % missing* (each visible point dropped with
probability 0.3). Per condition: the regression (the model's mode), fitting with the
learned prior, and the baseline fitter, from the same start with the same data term.

Multi-view: V = 1, 2, 4 cameras around each body (yaw spread evenly around the body with
a random start, elevation, distance, focal and image position drawn like the synthetic
data), with the noisy corruption; rows for ProHMR's uncalibrated energy (no keypoint
term), the default uncalibrated fitter (with each view's keypoint term) and the
calibrated fitter (known cameras).

Errors are over the 24 body joints, in mm: MPJPE after aligning the pelvis (joint 0)
and PA-MPJPE after a similarity Procrustes. People are fitted ``chunk`` at a time as one
L-BFGS problem (the fitters' default); the three fitters of a table see the same data
and start from the same regression. The sets are made on the CPU (identical on every
device); the fitting runs on the model's device.

The same tables on real people (``real-multiview-v1``): :mod:`hmrflow.fitting.evaluate_real`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from hmrflow.data.synthetic import SyntheticKeypoints, camera_from_world, make_evaluation_set
from hmrflow.evaluation.metrics import mpjpe, pa_mpjpe
from hmrflow.fitting.baseline import fit_baseline
from hmrflow.fitting.keypoint_fit import FitConfig, fit_keypoints, frozen, regress
from hmrflow.fitting.lbfgs import StopRules
from hmrflow.fitting.multiview import Cameras, MultiViewConfig, fit_multiview, fit_multiview_calibrated
from hmrflow.fitting.people import People
from hmrflow.geometry import angle_to_rotmat, perspective_projection
from hmrflow.models import ProbabilisticHMR

__all__ = [
    "EvaluationConfig",
    "Errors",
    "FittingTables",
    "corrupt",
    "synthesize_views",
    "evaluate_fitting",
    "format_tables",
    "model_device",
]

CONDITIONS = ("clean", "noisy", "30% missing")
METHODS = ("regression", "learned prior", "baseline")
#: The multi-view rows: ProHMR's uncalibrated energy (keypoints through the contexts only),
#: the default uncalibrated fitter (with each view's keypoint term), known cameras.
MULTIVIEW_METHODS = ("uncalibrated, ProHMR energy", "uncalibrated", "calibrated")


@dataclass(frozen=True)
class EvaluationConfig:
    """Sizes and settings of :func:`evaluate_fitting`.

    Attributes:
        size: People in the single-view set; multiview_size: bodies per view count.
        views: The view counts of the multi-view table.
        steps: L-BFGS outer steps (30 for evaluation).
        noise: Keypoint jitter std as a fraction of the person box (noisy condition).
        missing: Fraction of keypoints dropped (missing condition).
        chunk: People fitted together in one L-BFGS problem.
        seed: Seed of the sets and corruptions.
    """

    size: int = 256
    multiview_size: int = 128
    views: tuple[int, ...] = (1, 2, 4)
    steps: int = 30
    noise: float = 0.03
    missing: float = 0.3
    chunk: int = 64
    seed: int = 1234
    fit: FitConfig = field(default_factory=FitConfig)


@dataclass(frozen=True)
class Errors:
    """Mean errors in mm (and the mean final 2D error in px, NaN for the regression)."""

    pa_mpjpe: float
    mpjpe: float
    reprojection: float = math.nan


@dataclass(frozen=True)
class FittingTables:
    """``single[condition][method]`` and ``multiview[method][views]``."""

    single: dict[str, dict[str, Errors]]
    multiview: dict[str, dict[int, Errors]]
    size: int
    multiview_size: int
    steps: int


def corrupt(
    clean_2d: Tensor, noise: float, missing: float, box_size: Tensor, generator: torch.Generator
) -> Tensor:
    r"""Detections from clean projections ``(..., K, 3)`` (px, visibility).

    Jitter of std ``noise * box_size`` ``(...)`` px per coordinate, then each visible point
    dropped with probability ``missing``; kept points get confidence 1.
    """
    xy = clean_2d[..., :2] + torch.randn(clean_2d[..., :2].shape, generator=generator) * (
        noise * box_size[..., None, None]
    )
    keep = (clean_2d[..., 2] > 0) & (torch.rand(clean_2d[..., 2].shape, generator=generator) >= missing)
    return torch.cat([xy * keep[..., None], keep[..., None].to(xy.dtype)], dim=-1)


def _extent(clean_2d: Tensor) -> Tensor:
    """``(..., K, 3)`` -> ``(...)`` the larger side of the visible points' bounding box."""
    visible = clean_2d[..., 2:] > 0
    big = torch.finfo(clean_2d.dtype).max
    low = torch.where(visible, clean_2d[..., :2], big).amin(-2)
    high = torch.where(visible, clean_2d[..., :2], -big).amax(-2)
    return (high - low).amax(-1).clamp_min(1.0)


@dataclass(frozen=True)
class ViewSet:
    r"""B bodies seen by V cameras.

    Attributes:
        joints: ``(B, J, 3)`` world frame; clean_2d: ``(B, V, K, 3)`` px + visibility;
        cameras: :class:`Cameras` ``(B, V, ...)``; image_size: ``(B, V, 2)``.
    """

    joints: Tensor
    clean_2d: Tensor
    cameras: Cameras
    image_size: Tensor


def synthesize_views(generator: SyntheticKeypoints, size: int, num_views: int, seed: int) -> ViewSet:
    r"""``size`` bodies (poses and betas as the synthetic data draws them), each seen by
    ``num_views`` cameras spread around it (yaw ``2 pi v / V`` plus a common random
    offset), each camera drawn like the synthetic data's (elevation, distance, focal,
    image position)."""
    rng = torch.Generator().manual_seed(seed)
    cfg = generator.config
    cam = cfg.camera
    B, V = size, num_views
    rotmats = generator.sampler.sample(B, rng)
    betas = torch.randn(B, cfg.num_betas, generator=rng) * cfg.betas_std
    out = generator.body(rotmats, betas, keypoints=cfg.evidence_sets, vertices=False)
    points = torch.cat([out.keypoints[name] for name in cfg.evidence_sets], dim=1)  # (B, K, 3)

    def uniform(bounds: tuple[float, float]) -> Tensor:
        return bounds[0] + (bounds[1] - bounds[0]) * torch.rand(B, V, generator=rng)

    yaw = 2 * math.pi * (torch.arange(V) / V + torch.rand(B, 1, generator=rng))
    turn = angle_to_rotmat(yaw, "y")
    rotation = camera_from_world(torch.deg2rad(uniform(cam.elevation_deg)).flatten()).unflatten(0, (B, V)) @ turn
    focal, depth = uniform(cam.focal_length), uniform(cam.distance)
    image = torch.tensor(cam.image_size, dtype=torch.float32)
    offset = (torch.rand(B, V, 2, generator=rng) - 0.5) * cam.center_spread * image
    pelvis_camera = torch.cat([offset * (depth / focal)[..., None], depth[..., None]], -1)
    pelvis_world = out.joints[:, None, 0]  # (B, 1, 3)
    translation = pelvis_camera - (rotation @ pelvis_world[..., None])[..., 0]
    principal = (image / 2).expand(B, V, 2)
    uv = perspective_projection(points[:, None], translation, focal, principal, rotation)
    depth_points = ((rotation @ points[:, None].transpose(-1, -2)).transpose(-1, -2) + translation[:, :, None])[..., 2]
    inside = ((uv >= 0) & (uv <= image)).all(-1) & (depth_points > 0.1)
    clean = torch.cat([uv, inside[..., None].float()], -1)
    sizes = image.expand(B, V, 2).clone()
    cameras = Cameras(focal[..., None].expand(B, V, 2).clone(), principal.clone(), sizes, rotation, translation)
    return ViewSet(out.joints, clean, cameras, sizes)


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's parameters."""
    return next(model.parameters()).device


def _errors(joints: Tensor, target: Tensor, reprojection: Tensor | None = None) -> Errors:
    repro = math.nan if reprojection is None else float(reprojection.nanmean())
    return Errors(float(pa_mpjpe(joints, target).mean()), float(mpjpe(joints, target, pelvis=0).mean()), repro)


def _chunks(n: int, chunk: int) -> list[slice]:
    return [slice(i, min(i + chunk, n)) for i in range(0, n, chunk)]


def evaluate_single_view(
    model: ProbabilisticHMR, config: EvaluationConfig, progress: Callable[[int], None] | None = None
) -> dict[str, dict[str, Errors]]:
    """Regression vs learned-prior fitting vs baseline under the three conditions."""
    device = model_device(model)
    generator = SyntheticKeypoints(model.body, _real_poses())
    data = make_evaluation_set(generator, config.size, config.seed)  # on the CPU
    rng = torch.Generator().manual_seed(config.seed + 1)
    box = _extent(data.clean_2d)
    fit_config = replace(config.fit, rules=StopRules(max_steps=config.steps))
    table: dict[str, dict[str, Errors]] = {}
    for condition in CONDITIONS:
        noise = config.noise if condition == "noisy" else 0.0
        missing = config.missing if condition == "30% missing" else 0.0
        keypoints = corrupt(data.clean_2d, noise, missing, box, rng)
        people = People.from_keypoints(
            keypoints.to(device), data.image_size.to(device), data.focal_length.to(device), fit_config.box_scale
        )
        joints: dict[str, list[Tensor]] = {m: [] for m in METHODS}
        repro: dict[str, list[Tensor]] = {m: [] for m in METHODS}
        for part in _chunks(len(people), config.chunk):
            batch = people[part]
            start = regress(model, batch)
            with torch.no_grad(), frozen(model):
                joints["regression"].append(model.body(start.rotmats, start.betas, vertices=False).joints.cpu())
            for method, fitter in (("learned prior", fit_keypoints), ("baseline", fit_baseline)):
                fit = fitter(model, batch, fit_config, start=start)
                joints[method].append(fit.joints.cpu())
                repro[method].append(fit.reprojection_error.cpu())
            if progress:
                progress(part.stop - part.start)
        table[condition] = {
            m: _errors(torch.cat(joints[m]), data.joints_3d, torch.cat(repro[m]) if repro[m] else None)
            for m in METHODS
        }
    return table


def evaluate_multiview(
    model: ProbabilisticHMR, config: EvaluationConfig, progress: Callable[[int], None] | None = None
) -> dict[str, dict[int, Errors]]:
    """The multi-view fitters for each view count, on noisy keypoints."""
    device = model_device(model)
    generator = SyntheticKeypoints(model.body, _real_poses()).on("cpu")  # the views are made on the CPU
    rules = StopRules(max_steps=config.steps)
    table: dict[str, dict[int, Errors]] = {m: {} for m in MULTIVIEW_METHODS}
    for V in config.views:
        views = synthesize_views(generator, config.multiview_size, V, config.seed + V)
        rng = torch.Generator().manual_seed(config.seed + 100 + V)
        keypoints = corrupt(views.clean_2d, config.noise, 0.0, _extent(views.clean_2d), rng)
        results: dict[str, list[Tensor]] = {m: [] for m in MULTIVIEW_METHODS}
        for part in _chunks(config.multiview_size, config.chunk):
            focal = views.cameras.focal_length.to(device)
            sizes = views.image_size[part].to(device)
            points = keypoints[part].to(device)
            per_view = [People.from_keypoints(points[:, v], sizes[:, v], focal[part, v]) for v in range(V)]
            cameras = views.cameras[part].to(device)
            for method in MULTIVIEW_METHODS:
                mv_config = MultiViewConfig(rules=rules, reprojection=method != MULTIVIEW_METHODS[0])
                if method == "calibrated":
                    fit = fit_multiview_calibrated(model, per_view, cameras, mv_config)
                else:
                    fit = fit_multiview(model, per_view, mv_config)
                with torch.no_grad():
                    results[method].append(model.body(fit.consensus, fit.betas, vertices=False).joints.cpu())
            if progress:
                progress(part.stop - part.start)
        # Uncalibrated bodies are in view 0's camera frame, calibrated ones in the world.
        camera0 = views.cameras.rotation[:, 0, None] @ views.joints[..., None]
        for method in MULTIVIEW_METHODS:
            target = views.joints if method == "calibrated" else camera0[..., 0]
            table[method][V] = _errors(torch.cat(results[method]), target)
    return table


def evaluate_fitting(
    model: ProbabilisticHMR, config: EvaluationConfig | None = None, progress: bool = False
) -> FittingTables:
    """Both tables; ``progress`` shows a tqdm bar."""
    config = config or EvaluationConfig()
    total = len(CONDITIONS) * config.size + len(config.views) * config.multiview_size
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="fitting evaluation", unit="person")
    update = bar.update if bar is not None else None
    single = evaluate_single_view(model, config, update)
    multiview = evaluate_multiview(model, config, update)
    if bar is not None:
        bar.close()
    return FittingTables(single, multiview, config.size, config.multiview_size, config.steps)


def _real_poses() -> Tensor:
    from hmrflow.data.pose_sources import load_cmu_demo

    return load_cmu_demo().rotmats


def format_tables(tables: FittingTables) -> str:
    """The tables as text, with the targets of DESIGN.md 8 checked."""
    lines = [
        f"Single view: {tables.size} synthetic people, {tables.steps} L-BFGS steps. "
        "PA-MPJPE / MPJPE in mm (24 joints), final 2D error in px.",
        f"{'keypoints':<13}" + "".join(f"{m:>28}" for m in METHODS),
    ]
    for condition, row in tables.single.items():
        cells = []
        for method in METHODS:
            e = row[method]
            repro = "" if math.isnan(e.reprojection) else f" ({e.reprojection:.1f}px)"
            cells.append(f"{e.pa_mpjpe:7.1f} / {e.mpjpe:6.1f}{repro}")
        lines.append(f"{condition:<13}" + "".join(f"{c:>28}" for c in cells))
    clean, missing = tables.single["clean"], tables.single["30% missing"]
    gain = -100 * (clean["learned prior"].pa_mpjpe - clean["regression"].pa_mpjpe) / clean["regression"].pa_mpjpe
    lines += [
        "",
        f"target: fitting lowers PA-MPJPE vs regression by >= 10 % (clean): {gain:.1f} % "
        f"[{'met' if gain >= 10 else 'NOT met'}]",
        f"target: learned prior beats the baseline with 30 % missing: "
        f"{missing['learned prior'].pa_mpjpe:.1f} vs {missing['baseline'].pa_mpjpe:.1f} mm "
        f"[{'met' if missing['learned prior'].pa_mpjpe < missing['baseline'].pa_mpjpe else 'NOT met'}]",
        "",
        f"Multi-view: {tables.multiview_size} bodies, noisy keypoints, {tables.steps} L-BFGS steps. "
        "PA-MPJPE / MPJPE in mm of the consensus body.",
    ]
    views = sorted(next(iter(tables.multiview.values())))
    lines.append(f"{'method':<29}" + "".join(f"{f'{v} view' + ('s' if v > 1 else ''):>18}" for v in views))
    for method, row in tables.multiview.items():
        lines.append(f"{method:<29}" + "".join(f"{f'{row[v].pa_mpjpe:.1f} / {row[v].mpjpe:.1f}':>18}" for v in views))
    if 1 in views and max(views) > 1:
        for method, row in tables.multiview.items():
            most = max(views)
            gain = -100 * (row[most].pa_mpjpe - row[1].pa_mpjpe) / row[1].pa_mpjpe
            lines.append(
                f"target: {most} views lower PA-MPJPE vs 1 view by >= 15 % ({method}): {gain:.1f} % "
                f"[{'met' if gain >= 15 else 'NOT met'}]"
            )
    return "\n".join(lines)
