r"""The multi-view demo: V photos of one instant -> per-view bodies, refinement, calibrated check.

1. **Per view**: the single-view demo (:class:`~hmrflow.demo.pipeline.DemoPipeline`) on
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

Calibration files (JSON, ``Calibration.from_file``): ``{"cameras": {"<view name>":
{"image_size": [W, H], "focal_length": [fx, fy], "principal_point": [cx, cy],
"rotation": 3x3, "translation": [3]}}}``, world -> camera ``X_c = R X_w + t`` in metres,
OpenCV axes; the view name is the photo's file stem. The bundled one is the pose2sim demo's Qualisys
calibration, converted by ``scripts/make_demo_assets.py``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from hmrflow.demo.inputs import DemoInputError
from hmrflow.demo.pipeline import DemoConfig, DemoPipeline, ImageResult
from hmrflow.models import ProbabilisticHMR

__all__ = ["Calibration", "MultiViewResult", "bundled_multiview", "run_multiview", "triangulate"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Calibration:
    r"""Known pinhole cameras, by view name.

    Attributes:
        names: V view names; rotation: ``(V, 3, 3)``; translation: ``(V, 3)`` metres;
        focal_length: ``(V, 2)`` px; principal_point: ``(V, 2)`` px;
        image_size: ``(V, 2)`` (W, H) px.
    """

    names: tuple[str, ...]
    rotation: np.ndarray
    translation: np.ndarray
    focal_length: np.ndarray
    principal_point: np.ndarray
    image_size: np.ndarray

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Calibration:
        """Read a calibration JSON file (see the module docstring)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            cams = data["cameras"]
            names = tuple(cams)
            return cls(
                names,
                np.array([cams[n]["rotation"] for n in names], np.float64).reshape(-1, 3, 3),
                np.array([cams[n]["translation"] for n in names], np.float64).reshape(-1, 3),
                np.array([cams[n]["focal_length"] for n in names], np.float64).reshape(-1, 2),
                np.array([cams[n]["principal_point"] for n in names], np.float64).reshape(-1, 2),
                np.array([cams[n]["image_size"] for n in names], np.int64).reshape(-1, 2),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DemoInputError(f"{path}: not a calibration file ({type(error).__name__}: {error})") from None

    def select(self, names: list[str]) -> Calibration:
        """The cameras of ``names``, in that order."""
        missing = [n for n in names if n not in self.names]
        if missing:
            raise DemoInputError(f"the calibration has no camera named {missing} (it has {list(self.names)})")
        index = [self.names.index(n) for n in names]
        return Calibration(tuple(names), self.rotation[index], self.translation[index],
                           self.focal_length[index], self.principal_point[index], self.image_size[index])  # fmt: skip

    def projections(self) -> np.ndarray:
        """``(V, 3, 4)`` projection matrices ``K [R | t]``."""
        k = np.zeros((len(self.names), 3, 3))
        k[:, 0, 0], k[:, 1, 1] = self.focal_length[:, 0], self.focal_length[:, 1]
        k[:, :2, 2], k[:, 2, 2] = self.principal_point, 1.0
        return k @ np.concatenate([self.rotation, self.translation[..., None]], axis=-1)

    def cameras(self, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"):  # noqa: ANN201
        """The :class:`~hmrflow.fitting.multiview.Cameras` of one instant (B = 1)."""
        from hmrflow.fitting.multiview import Cameras

        def t(a: np.ndarray) -> Tensor:
            return torch.as_tensor(a, dtype=dtype, device=device)[None]

        return Cameras(t(self.rotation), t(self.translation), t(self.focal_length.mean(-1)), t(self.principal_point))


def bundled_multiview() -> tuple[list[Path], Path]:
    """The bundled instant: four photos and their calibration."""
    from importlib import resources

    folder = Path(str(resources.files("hmrflow") / "assets" / "demo" / "multiview"))
    return sorted(folder.glob("cam*.jpg")), folder / "calibration.json"


def triangulate(
    keypoints: np.ndarray, projections: np.ndarray, min_views: int = 2, min_confidence: float = 0.5
) -> np.ndarray:
    r"""DLT triangulation of ``keypoints (V, K, 3)`` (px, confidence) with ``projections (V, 3, 4)``.

    Returns ``(K, 4)``: world points and 1 where seen by ``min_views`` views, else 0.
    """
    out = np.zeros((keypoints.shape[1], 4))
    for k in range(keypoints.shape[1]):
        seen = np.nonzero(keypoints[:, k, 2] > min_confidence)[0]
        if len(seen) < min_views:
            continue
        rows = []
        for v in seen:
            x, y = keypoints[v, k, :2]
            rows += [x * projections[v, 2] - projections[v, 0], y * projections[v, 2] - projections[v, 1]]
        point = np.linalg.svd(np.asarray(rows))[2][-1]
        out[k, :3], out[k, 3] = point[:3] / point[3], 1.0
    return out


@dataclass
class MultiViewResult:
    """What the multi-view demo did.

    Attributes:
        views: The results of the views that worked; names: their names.
        failed: The results of the views that failed (each with its error).
        fitted: Whether the multi-view fits ran (they need two views).
        errors: Method -> PA error (mm) against the triangulated keypoints.
        disagreement: Method -> mean PA distance (mm) between the views' bodies.
        reprojection: The calibrated body's mean reprojection error per view, px.
        timings: Seconds per stage; files: name -> path.
    """

    views: list[ImageResult]
    names: list[str]
    failed: list[ImageResult] = field(default_factory=list)
    fitted: bool = False
    errors: dict[str, float] = field(default_factory=dict)
    disagreement: dict[str, float] = field(default_factory=dict)
    reprojection: list[float] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


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
    from hmrflow.demo.multiview_outputs import write_views_index

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
            from hmrflow.cli.demo import describe

            print(f"  view {i + 1}/{len(images)} {path.name}: {describe(view)}")


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
    from hmrflow.demo.multiview_outputs import write_multiview
    from hmrflow.fitting.keypoint_fit import People
    from hmrflow.fitting.lbfgs import StopRules
    from hmrflow.fitting.multiview import MultiViewConfig, fit_multiview, fit_multiview_calibrated

    device = next(model.parameters()).device
    count = len(result.views)
    keypoints = np.stack([v.people[0].keypoints for v in result.views])  # (V, K, 3)
    size = torch.as_tensor(calibration.image_size, dtype=torch.float32, device=device)
    kp = torch.as_tensor(keypoints, dtype=torch.float32, device=device)
    uncalibrated = [People.from_keypoints(kp[v : v + 1], size[v]) for v in range(count)]
    focal = torch.as_tensor(calibration.focal_length.mean(-1), dtype=torch.float32, device=device)
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

    target_np = triangulate(keypoints, calibration.projections())
    mask = tensor(target_np[:, 3] > 0)
    target = tensor(target_np[:, :3], torch.float32)
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
    cams = calibration.cameras(device=device)
    from hmrflow.geometry import perspective_projection

    projected = perspective_projection(
        world_points[None], cams.translation[0], cams.focal_length[0], cams.principal_point[0], cams.rotation[0]
    )
    detected = tensor(keypoints, torch.float32)
    confident = detected[..., 2] > 0
    distance = (projected - detected[..., :2]).norm(dim=-1)
    result.reprojection = [float(distance[v][confident[v]].mean()) for v in range(len(views))]
