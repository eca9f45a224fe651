r"""The multi-view demo: V photos of one instant -> per-view bodies, refinement, calibrated check.

1. **Per view**: the single-view demo (:class:`~hmrflow.application.pipeline.DemoPipeline`) on
   each photo, with its usual outputs.
2. **Uncalibrated refinement** (ProHMR's, :func:`hmrflow.fitting.multiview.fit_multiview`):
   one latent per view, pulled to a common body pose by the consistency term; the
   cameras stay unknown (each view keeps its own global orientation and translation).
   By default each view's keypoint term is added, so that each view's body stays on its
   photo (ProHMR's refinement has none: ``reprojection=False``).
3. **Calibrated fit** (:func:`hmrflow.fitting.multiview.fit_multiview_calibrated`): one
   body in the world, projected into every view with the known cameras. It is the check:
   the detections triangulated with the same calibration (DLT) are the reference, and
   the three results are compared with it after a similarity alignment (PA, mm, on the
   keypoints seen in at least two views).

A view that fails (an unreadable photo, nobody in it, a size other than its camera's) is
left out and listed with its error; the others go on, and with fewer than two views left
there is no multi-view fit (only the views' outputs and index.html).

Calibration files: :mod:`hmrflow.application.calibration`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from hmrflow.application.calibration import Calibration
from hmrflow.application.pipeline import DemoConfig, DemoPipeline
from hmrflow.application.results import MultiViewResult
from hmrflow.geometry.triangulation import triangulate
from hmrflow.models import ProbabilisticHMR

__all__ = ["bundled_multiview", "run_multiview"]

log = logging.getLogger(__name__)


def bundled_multiview() -> tuple[list[Path], Path]:
    """The bundled instant: four photos and their calibration."""
    from importlib import resources

    folder = Path(str(resources.files("hmrflow") / "assets" / "demo" / "multiview"))
    return sorted(folder.glob("cam*.jpg")), folder / "calibration.json"


def _pa_error(points: Tensor, target: Tensor, mask: Tensor) -> float:
    from hmrflow.evaluation.metrics import pa_mpjpe

    return float(pa_mpjpe(points[..., mask, :], target[..., mask, :]).mean())


def _keypoints(model: ProbabilisticHMR, rotmats: Tensor, betas: Tensor, translation: Tensor | None = None) -> Tensor:
    sets = tuple(model.config.encoder.keypoint_sets)
    with torch.no_grad():
        out = model.body(rotmats, betas, translation, keypoints=sets, vertices=False)
    return torch.cat([out.keypoints[name] for name in sets], dim=-2)


def _disagreement(points: Tensor, mask: Tensor) -> float:
    r"""Mean PA distance (mm) over pairs of views' keypoints ``(V, K, 3)``."""
    V = points.shape[0]
    pairs = [(a, b) for a in range(V) for b in range(a + 1, V)]
    return float(np.mean([_pa_error(points[a], points[b], mask) for a, b in pairs]))


def run_multiview(
    model: ProbabilisticHMR,
    images: list[Path],
    calibration: Calibration,
    out_dir: Path,
    config: DemoConfig | None = None,
    steps: int = 30,
    reprojection: bool = True,
    progress: bool = True,
) -> MultiViewResult:
    """Run the multi-view demo on ``images`` (one instant; view names = file stems).

    Arguments:
        steps: L-BFGS steps of the two multi-view fits.
        reprojection: Give the uncalibrated refinement each view's keypoint term (so each
            view's body stays on its photo); False is ProHMR's refinement, which has none.

    Raises:
        DemoInputError: A photo has no camera in ``calibration`` (before any work).
    """
    from hmrflow.application.multiview_outputs import write_views_index

    config = config or DemoConfig()
    calibration.select([p.stem for p in images])
    result = MultiViewResult([], [])
    clock = time.perf_counter()
    with DemoPipeline(model, config) as pipeline:
        _run_views(pipeline, images, calibration, out_dir, result, progress)
        result.timings["views"] = time.perf_counter() - clock
        if len(result.views) < 2:
            result.files["index"] = write_views_index(result, out_dir, "fewer than two views worked: no multi-view fit")
            return result
        _fit_views(model, pipeline, result, calibration.select(result.names), out_dir, steps, reprojection)
    return result


def _run_views(
    pipeline: DemoPipeline,
    images: list[Path],
    calibration: Calibration,
    out_dir: Path,
    result: MultiViewResult,
    progress: bool,
) -> None:
    """The single-view demo on every view; failed views go to ``result.failed``."""
    for i, path in enumerate(images):
        view = pipeline.run_image(path, None, out_dir, f"view{i}_{path.stem}")
        expected = tuple(int(v) for v in calibration.select([path.stem]).image_size[0])
        if view.ok and view.image_size != expected:
            size = "x".join(map(str, view.image_size or ()))
            view.error = f"{path}: the photo is {size}, its camera in the calibration is {expected[0]}x{expected[1]}"
        if view.ok:
            result.views.append(view)
            result.names.append(path.stem)
        else:
            result.failed.append(view)
        if progress:
            print(f"  view {i + 1}/{len(images)} {path.name}: {view.describe()}")


def _fit_views(
    model: ProbabilisticHMR,
    pipeline: DemoPipeline,
    result: MultiViewResult,
    calibration: Calibration,
    out_dir: Path,
    steps: int,
    reprojection: bool,
) -> None:
    """The uncalibrated refinement, the calibrated fit, the check and the files."""
    from hmrflow.application.multiview_outputs import write_multiview
    from hmrflow.fitting.lbfgs import StopRules
    from hmrflow.fitting.multiview import MultiViewConfig, fit_multiview, fit_multiview_calibrated
    from hmrflow.fitting.people import People

    device = next(model.parameters()).device
    count = len(result.views)
    keypoints = np.stack([v.people[0].keypoints for v in result.views])  # (V, K, 3)
    size = torch.as_tensor(calibration.image_size, dtype=torch.float32, device=device)
    kp = torch.as_tensor(keypoints, dtype=torch.float32, device=device)
    uncalibrated = [People.from_keypoints(kp[v : v + 1], size[v]) for v in range(count)]
    focal = torch.as_tensor(calibration.focal_length, dtype=torch.float32, device=device)  # (V, 2)
    calibrated = [People.from_keypoints(kp[v : v + 1], size[v], focal[v : v + 1]) for v in range(count)]
    mv_config = MultiViewConfig(rules=StopRules(max_steps=steps), drop_hips=pipeline.config.drop_hips)
    clock = time.perf_counter()
    refined = fit_multiview(model, uncalibrated, replace(mv_config, reprojection=reprojection))
    result.timings["refinement"] = time.perf_counter() - clock
    clock = time.perf_counter()
    world = fit_multiview_calibrated(model, calibrated, calibration.cameras(device=device), mv_config)
    result.timings["calibrated fit"] = time.perf_counter() - clock
    clock = time.perf_counter()
    _check(model, result, keypoints, calibration, refined, world)
    result.fitted = True
    result.files = write_multiview(pipeline.writer, result, calibration, _on_cpu(refined), _on_cpu(world), out_dir)
    result.timings["outputs"] = time.perf_counter() - clock


def _on_cpu(fit: Any) -> Any:
    """A copy of the dataclass ``fit`` with its tensors on the CPU (the files are written from it)."""
    moved = {f.name: getattr(fit, f.name).cpu() for f in fields(fit) if isinstance(getattr(fit, f.name), Tensor)}
    return replace(fit, **moved)


def _check(model, result: MultiViewResult, keypoints: np.ndarray, calibration: Calibration, refined, world) -> None:  # noqa: ANN001
    """Errors against the triangulated detections, disagreement between views, reprojection."""
    device = next(model.parameters()).device

    def tensor(array: np.ndarray, dtype: torch.dtype | None = None) -> Tensor:
        return torch.as_tensor(array, dtype=dtype, device=device)

    seen = tensor(keypoints[..., 2] > 0.5).T  # (K, V): confident detections
    projections = calibration.cameras(torch.float64, device)[0].projection_matrix()
    triangulated = triangulate(tensor(keypoints[..., :2], torch.float64).transpose(0, 1), seen.double(), projections)
    mask = ~triangulated.isnan().any(-1)
    target = torch.nan_to_num(triangulated).float()
    views = result.views
    per_view = torch.stack([tensor(v.people[0].mode.rotmats[0]) for v in views])
    betas = torch.stack([tensor(v.people[0].regressed_betas) for v in views])
    fitted = torch.stack([tensor(v.people[0].final.rotmats[0]) for v in views])
    fit_betas = torch.stack([tensor(v.people[0].betas) for v in views])
    points = {
        "per-view modes": _keypoints(model, per_view, betas),
        "uncalibrated refinement": _keypoints(model, refined.rotmats[0], refined.betas.expand(len(views), -1)),
    }
    if views[0].people[0].fit is not None:
        points = {"per-view modes": points["per-view modes"], "per-view fits": _keypoints(model, fitted, fit_betas),
                  "uncalibrated refinement": points["uncalibrated refinement"]}  # fmt: skip
    for name, p in points.items():
        result.errors[name] = float(np.mean([_pa_error(p[v], target, mask) for v in range(len(views))]))
        result.disagreement[name] = _disagreement(p, mask)
    world_points = _keypoints(model, world.consensus, world.betas, world.translation)[0]  # (K, 3) world
    result.errors["calibrated fit"] = _pa_error(world_points, target, mask)
    projected = calibration.cameras(device=device)[0].project(world_points[None])  # (V, K, 2)
    detected = tensor(keypoints, torch.float32)
    confident = detected[..., 2] > 0
    distance = (projected - detected[..., :2]).norm(dim=-1)
    result.reprojection = [float(distance[v][confident[v]].mean()) for v in range(len(views))]
