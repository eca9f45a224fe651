r"""One photo's people through the model: person boxes, the distribution, the fit, posed bodies.

:func:`predict_people` is steps 2-4 of the photo demo (:mod:`hmrflow.application.pipeline`):
the person box and camera of every person (:class:`~hmrflow.fitting.people.People`), the
model's mode and samples, the fit (learned prior with the left/right labelling check, or the
baseline), and every person's bodies posed with the final betas and translation, as
:class:`~hmrflow.application.results.PersonResult`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from hmrflow.application.calibration import Intrinsics
from hmrflow.application.demo_config import DemoConfig
from hmrflow.application.inputs import DemoInputError, Photo
from hmrflow.application.results import BodyParams, FitReport, PersonResult
from hmrflow.geometry.pinhole import PinholeCamera
from hmrflow.models import HMROutput, PoseSet, ProbabilisticHMR

if TYPE_CHECKING:  # the fitting modules load when a photo is first predicted
    from hmrflow.body.model import BodyOutput
    from hmrflow.fitting.keypoint_fit import BodyFit, Start
    from hmrflow.fitting.people import People

__all__ = ["image_crops", "photo_camera", "predict_people"]


def image_crops(pixels: np.ndarray, centers: Tensor, sizes: Tensor, crop_size: int) -> Tensor:
    r"""ImageNet-normalised crops ``(B, 3, crop, crop)`` of the boxes ``centers (B, 2)``, ``sizes (B,)``."""
    from PIL import Image

    from hmrflow.data.augment import Augmentation, crop_matrix, warp_image
    from hmrflow.models.resnet import IMAGENET_MEAN, IMAGENET_STD

    image = Image.fromarray(pixels)
    crops = [
        warp_image(image, crop_matrix(c.numpy(), float(s), crop_size, Augmentation()), crop_size)
        for c, s in zip(centers.detach().cpu(), sizes.detach().cpu())
    ]
    batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255
    mean = torch.tensor(IMAGENET_MEAN)[:, None, None]
    std = torch.tensor(IMAGENET_STD)[:, None, None]
    return ((batch - mean) / std).to(centers.device)


def _numpy(t: Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def photo_camera(
    size: tuple[int, int], intrinsics: Intrinsics | None, count: int, device: torch.device | str | None
) -> PinholeCamera:
    """The camera ``(count,)`` of a ``size`` (W, H) photo: known ``intrinsics``, else the
    image diagonal as focal length and the principal point at the image centre."""
    image_size = torch.tensor([float(size[0]), float(size[1])], device=device).expand(count, 2).clone()
    return PinholeCamera.centred(image_size) if intrinsics is None else intrinsics.camera(image_size)


def _people(model: ProbabilisticHMR, photo: Photo, keypoints: np.ndarray, config: DemoConfig) -> People:
    """The fitting module's ``People`` (box, camera, evidence) of ``keypoints (P, K, 3 or 4)``."""
    from hmrflow.fitting.people import People

    device = next(model.parameters()).device
    kp = torch.as_tensor(keypoints, dtype=torch.float32, device=device)
    people = People.from_camera(kp, photo_camera(photo.size, config.intrinsics, len(kp), device), config.box_scale)
    if model.config.encoder.kind == "image":
        if photo.pixels is None:
            raise DemoInputError(f"{photo.path}: an image-conditioned model needs the photo (give --images)")
        crops = image_crops(photo.pixels, people.box_center, people.box_size, model.config.encoder.crop_size)
        people = replace(people, evidence=crops)
    return people


@dataclass(frozen=True)
class _Bodies:
    """Posed bodies of P people (final betas and translation), see :class:`PersonResult`."""

    final: BodyOutput
    mode_vertices: Tensor
    sample_vertices: Tensor
    spread: Tensor
    projected: Tensor
    initial_error: Tensor
    final_error: Tensor


def _pose_bodies(
    model: ProbabilisticHMR, people: People, samples: Tensor, start: Start, fit: BodyFit | None
) -> _Bodies:
    """Final body, mode and samples ``(P, S, J, 3, 3)`` (camera frame) posed with the final betas
    and translation, and the errors."""
    from hmrflow.fitting.robust import reprojection_error

    betas = fit.betas if fit is not None else start.betas
    transl = fit.translation if fit is not None else start.translation
    rotmats = fit.rotmats if fit is not None else start.rotmats
    sets = tuple(model.config.encoder.keypoint_sets)
    P, S, N = len(people), samples.shape[1], model.body.num_vertices

    def project(keypoints: dict[str, Tensor]) -> Tensor:
        points = torch.cat([keypoints[name] for name in sets], dim=-2)
        return people.camera.project(points)

    with torch.no_grad():
        final = model.body(rotmats, betas, transl, keypoints=sets)
        mode = model.body(start.rotmats, betas, transl, keypoints=()).vertices
        regressed = model.body(start.rotmats, start.betas, start.translation, keypoints=sets, vertices=False)
        sample_vertices = mode.new_zeros(P, 0, N, 3)
        spread = mode.new_zeros(P, N)
        if S > 0:
            sample_vertices = model.body(samples, betas[:, None], transl[:, None], keypoints=()).vertices
        if S > 1:  # the spread of the body pose: every sample with the mode's global orientation
            aligned = torch.cat([start.rotmats[:, None, :1].expand(P, S, 1, 3, 3), samples[:, :, 1:]], dim=2)
            posed = model.body(aligned, betas[:, None], transl[:, None], keypoints=()).vertices
            spread = (posed - posed.mean(1, keepdim=True)).square().sum(-1).mean(1).sqrt()
    projected = project(final.keypoints)
    return _Bodies(
        final=final,
        mode_vertices=mode,
        sample_vertices=sample_vertices,
        spread=spread,
        projected=projected,
        initial_error=reprojection_error(project(regressed.keypoints), people.keypoints),
        final_error=reprojection_error(projected, people.keypoints),
    )


def _no_samples(mode: PoseSet) -> PoseSet:
    """A ``PoseSet`` like ``mode`` with S = 0."""
    return replace(
        mode, rotmats=mode.rotmats[:, :0], sixd=mode.sixd[:, :0], z=mode.z[:, :0], log_prob=mode.log_prob[:, :0]
    )


def _pose_params(rotmats: Tensor, z: Tensor, log_prob: Tensor) -> BodyParams:
    return BodyParams(_numpy(rotmats), _numpy(z), _numpy(log_prob))


def predict_people(
    model: ProbabilisticHMR,
    image: np.ndarray | Photo,
    keypoints: np.ndarray,
    config: DemoConfig,
    timings: dict[str, float] | None = None,
) -> list[PersonResult]:
    r"""Mode, samples and (optionally) the fit of P people in one photo.

    Arguments:
        model: A trained model (eval mode).
        image: The photo (a :class:`Photo`; an unseen one for keypoint files) or its
            ``(H, W, 3)`` uint8 pixels: its size sets the camera; image-conditioned models
            see a crop of it.
        keypoints: ``(P, K, 3)`` px and confidence in the evidence order, or ``(P, K, 4)`` with
            a detector's relative depth px (:meth:`~hmrflow.fitting.people.People.from_keypoints`).
        config: :class:`DemoConfig`.
        timings: Filled with the seconds spent predicting and fitting.
    """
    photo = image if isinstance(image, Photo) else Photo(image, Path("photo"))
    timings = timings if timings is not None else {}
    clock = time.perf_counter()
    people = _people(model, photo, keypoints, config)
    out = _predict(model, people, config)
    timings["predict"] = timings.get("predict", 0.0) + time.perf_counter() - clock
    fit = fit_latent = None
    swapped = torch.zeros(len(people), dtype=torch.bool)
    if config.fit:
        clock = time.perf_counter()
        people, out, fit, swapped = _fit(model, people, out, config)
        fit_latent = _fit_latent(model, people, fit, out)
        timings["fit"] = timings.get("fit", 0.0) + time.perf_counter() - clock
    clock = time.perf_counter()
    results = _results(model, people, out, fit, fit_latent, swapped.cpu())
    timings["predict"] += time.perf_counter() - clock
    return results


def _predict(model: ProbabilisticHMR, people: People, config: DemoConfig) -> HMROutput:
    """The model's output (mode, ``num_samples`` samples, shape, camera) for ``people``."""
    from hmrflow.fitting.keypoint_fit import frozen

    generator = torch.Generator(device=people.keypoints.device).manual_seed(config.seed)
    with torch.no_grad(), frozen(model):
        return model(people.evidence, config.num_samples, generator, temperature=config.temperature)


def _fit(
    model: ProbabilisticHMR, people: People, out: HMROutput, config: DemoConfig
) -> tuple[People, HMROutput, BodyFit, Tensor]:
    """The fit (and, with the labelling check, the people and output of the kept labellings)."""
    from hmrflow.fitting.baseline import fit_baseline
    from hmrflow.fitting.keypoint_fit import FitConfig, Start, fit_keypoints
    from hmrflow.fitting.lbfgs import StopRules
    from hmrflow.fitting.mirror import MirrorConfig, check_labelling

    fit_config = FitConfig(rules=StopRules(max_steps=config.fit_steps), drop_hips=config.drop_hips,
                           box_scale=config.box_scale)  # fmt: skip
    swapped = torch.zeros(len(people), dtype=torch.bool, device=people.keypoints.device)
    if config.fitter == "baseline":
        return people, out, fit_baseline(model, people, fit_config, start=Start.of_output(out, people)), swapped
    if config.mirror_check and model.config.encoder.kind != "image":
        check = check_labelling(model, people, MirrorConfig(fit=fit_config))
        if check.swapped.any():  # the mode and samples of the kept labels (the others' are unchanged)
            people, out = check.people, _predict(model, check.people, config)
        return people, out, check.fit, check.swapped
    return people, out, fit_keypoints(model, people, fit_config, Start.of_output(out, people)), swapped


def _fit_latent(model: ProbabilisticHMR, people: People, fit: BodyFit, out: HMROutput) -> tuple[Tensor, Tensor]:
    """The fit's latents ``(P, D)`` (the baseline's poses encoded by the flow) and their
    log-likelihoods under the model ``(P, 1)`` (the baseline's too)."""
    from hmrflow.fitting.keypoint_fit import frozen
    from hmrflow.geometry.rotations import rotmat_to_sixd

    with torch.no_grad(), frozen(model):
        if fit.z is not None:
            return fit.z, model.decode_latent(fit.z[:, None], out.context).log_prob
        sixd = rotmat_to_sixd(people.pose_to_model(fit.rotmats, out.frame)).flatten(-2)  # the model's frame
        return model.encode_pose(sixd, out.context), model.pose_log_prob(sixd[:, None], out.context)


def _report(fit: BodyFit, i: int) -> FitReport:
    result = fit.results[i]
    return FitReport(result.reason.value, int(result.steps), [float(v) for v in result.loss_history])


def _results(
    model: ProbabilisticHMR,
    people: People,
    out: HMROutput,
    fit: BodyFit | None,
    fit_latent: tuple[Tensor, Tensor] | None,
    swapped: Tensor,
) -> list[PersonResult]:
    """One :class:`PersonResult` per person; ``fit_latent``: :func:`_fit_latent` of ``fit``."""
    from hmrflow.fitting.keypoint_fit import Start

    start = Start.of_output(out, people)
    translation = start.translation
    samples = out.samples if out.samples is not None else _no_samples(out.mode)
    mode_rotmats = start.rotmats[:, None]  # the mode and the samples in the camera frame
    sample_rotmats = people.pose_to_camera(samples.rotmats, out.frame)
    bodies = _pose_bodies(model, people, sample_rotmats, start, fit)
    cameras = people.camera.to("cpu")
    fit_z, fit_log_prob = fit_latent if fit_latent is not None else (None, None)
    return [
        PersonResult(
            keypoints=_numpy(people.keypoints[i]),
            evidence=_numpy(_box_keypoints(people, i)),
            box_center=_numpy(people.box_center[i]),
            box_size=float(people.box_size[i]),
            camera=cameras[i],
            mode=_pose_params(mode_rotmats[i], out.mode.z[i], out.mode.log_prob[i]),
            samples=_pose_params(sample_rotmats[i], samples.z[i], samples.log_prob[i]),
            fit=None if fit is None else _pose_params(fit.rotmats[i : i + 1], fit_z[i : i + 1], fit_log_prob[i]),
            betas=_numpy(fit.betas[i] if fit is not None else out.betas[i]),
            translation=_numpy(fit.translation[i] if fit is not None else translation[i]),
            regressed_betas=_numpy(out.betas[i]),
            regressed_translation=_numpy(translation[i]),
            weak_perspective=_numpy(out.camera[i]),
            reprojection_error=float(bodies.final_error[i]),
            initial_error=float(bodies.initial_error[i]),
            vertices=_numpy(bodies.final.vertices[i]),
            mode_vertices=_numpy(bodies.mode_vertices[i]),
            sample_vertices=_numpy(bodies.sample_vertices[i]),
            projected=_numpy(bodies.projected[i]),
            joints=_numpy(bodies.final.joints[i]),
            spread=_numpy(bodies.spread[i]),
            labels_mirrored=bool(swapped[i]),
            fit_report=None if fit is None else _report(fit, i),
        )
        for i in range(len(people))
    ]


def _box_keypoints(people: People, i: int) -> Tensor:
    """Person ``i``'s keypoints in normalised box coordinates (image models' evidence is a crop)."""
    from hmrflow.geometry.boxes import normalize_keypoints

    return normalize_keypoints(people.keypoints[i], people.box_center[i], people.box_size[i])
