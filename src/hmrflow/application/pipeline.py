r"""The photo demo: keypoints -> person box -> distribution -> mode, samples, fit -> outputs.

Per photo (:meth:`DemoPipeline.run_image`):

1. **Keypoints** (evidence order: COCO-17 + 6 foot points, px and confidence), from the
   first source that applies: a ``--keypoints`` file; precomputed detections beside the
   photo (``<stem>.keypoints.json``, as the bundled example ships); the mediapipe
   detector (:mod:`hmrflow.application.detector`, its own process and environment), which finds
   up to ``max_people`` people. People with fewer than ``min_keypoints`` confident
   keypoints are dropped (:func:`~hmrflow.application.inputs.usable_people`), and so are
   the detector's cheap-to-spot ghosts (:func:`~hmrflow.application.inputs.drop_ghosts`).
   ``hmrflow fit`` enters here with keypoint files (:meth:`DemoPipeline.run_keypoints`).
2. **Person box**: the square around the confident keypoints, 1.2 times their extent
   (the training data's box, :meth:`hmrflow.fitting.people.People.from_keypoints`).
3. **Distribution**: the model's mode (``z = 0``) and ``num_samples`` samples with their
   log-likelihoods, shape and camera; image-conditioned models see a 224 px crop of the
   box instead of the keypoints. The camera goes into the full photo with a focal length
   of the image diagonal and the principal point at its centre (unknown cameras;
   ``intrinsics`` overrides either).
4. **Fit** (optional, on by default): the learned-prior keypoint fit
   (:func:`hmrflow.fitting.keypoint_fit.fit_keypoints`, 30 L-BFGS steps), starting at
   the mode, or the SMPLify-style baseline (``fitter="baseline"``). With the learned
   prior, the labelling check (:func:`hmrflow.fitting.mirror.check_labelling`, on by
   default: about 3 times the fit's time) fits both left/right labellings of every
   person and keeps the mirrored one where it fits far better; that person is then
   predicted, fitted and written with the mirrored keypoints (``labels_mirrored``).
5. **Outputs** (:mod:`hmrflow.application.outputs`) per person.

Every problem with one photo (corrupt file, nobody in it, keypoints of another photo)
becomes that photo's :attr:`ImageResult.error`; the others go on.

Frames and units: camera frame of the photo (OpenCV: x right, y down, +Z forward),
metres; ``vertices = body(rotmats, betas, translation)``.

Example (needs a photo with its keypoints or the detector)::

    with DemoPipeline(hmrflow.load_model(), DemoConfig(num_samples=5)) as pipeline:
        result = pipeline.run_image(Path("photo.jpg"), None, Path("out"))
    result.people[0].vertices.shape      # (N, 3), the final body in the camera frame
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from hmrflow.application.calibration import Intrinsics
from hmrflow.application.detector import DETECTOR_NAME, DetectorError, LazyDetector, MediaPipeDetector
from hmrflow.application.inputs import (
    MIN_KEYPOINTS,
    DemoInputError,
    KeypointFile,
    Photo,
    drop_ghosts,
    keypoints_for_image,
    load_photo,
    sidecar_path,
    usable_people,
)
from hmrflow.application.results import BodyParams, FitReport, ImageResult, PersonResult
from hmrflow.errors import InputError
from hmrflow.geometry.pinhole import PinholeCamera
from hmrflow.models import ProbabilisticHMR

__all__ = [
    "BodyParams",
    "DemoConfig",
    "DemoPipeline",
    "ImageResult",
    "PersonResult",
    "image_crops",
    "predict_people",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoConfig:
    """Settings of the photo demo.

    Attributes:
        num_samples: S, samples drawn besides the mode.
        temperature: Scale of the samples' latents (below 1: closer to the mode; see
            :meth:`~hmrflow.models.ProbabilisticHMR.forward`).
        fit: Fit the body to the keypoints with the learned prior.
        fit_steps: L-BFGS outer steps of the fit (30: on the bundled example, 10 steps
            leave about twice the keypoint error of 30 and a visibly shifted overlay).
        fitter: ``"prior"`` (the learned prior) or ``"baseline"`` (SMPLify-style, GMM prior).
        mirror_check: Check every person's left/right labelling when fitting with the
            learned prior (:func:`~hmrflow.fitting.mirror.check_labelling`).
        drop_hips: Leave the detector's hips out of the fit.
        seed: Seed of the samples.
        intrinsics: Known intrinsics of the photos (None: a focal length of the image
            diagonal, the principal point at the image centre).
        max_people: The detector looks for at most this many people per photo.
        max_size: Photos larger than this (long side, px) are scaled down first.
        min_keypoints: A person needs at least this many confident keypoints.
        detect: ``"auto"`` (keypoint files, then precomputed ones, then the detector),
            ``"always"`` (the detector, unless ``--keypoints``), ``"never"`` (files only).
        box_scale: Person box side over the keypoints' extent (as in training).
        viewer: Write the HTML viewer.
        pictures: Render the overlay and the figure of samples.
        view: ``"upright"``: the figure of samples, the side view and the viewer level each
            person by their estimated gravity; ``"camera"``: the camera's frame.
    """

    num_samples: int = 10
    temperature: float = 1.0
    fit: bool = True
    fit_steps: int = 30
    fitter: Literal["prior", "baseline"] = "prior"
    mirror_check: bool = True
    drop_hips: bool = False
    seed: int = 0
    intrinsics: Intrinsics | None = None
    max_people: int = 4
    max_size: int = 1920
    min_keypoints: int = MIN_KEYPOINTS
    detect: Literal["auto", "always", "never"] = "auto"
    box_scale: float = 1.2
    viewer: bool = True
    pictures: bool = True
    view: Literal["upright", "camera"] = "upright"


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


def photo_camera(size: tuple[int, int], intrinsics: Intrinsics | None, count: int, device: Any) -> PinholeCamera:
    """The camera ``(count,)`` of a ``size`` (W, H) photo: known ``intrinsics``, else the
    image diagonal as focal length and the principal point at the image centre."""
    image_size = torch.tensor([float(size[0]), float(size[1])], device=device).expand(count, 2).clone()
    return PinholeCamera.centred(image_size) if intrinsics is None else intrinsics.camera(image_size)


def _people(model: ProbabilisticHMR, photo: Photo, keypoints: np.ndarray, config: DemoConfig):  # noqa: ANN202
    """The fitting module's ``People`` (box, camera, evidence) of ``keypoints (P, K, 3)``."""
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

    final: Any
    mode_vertices: Tensor
    sample_vertices: Tensor
    spread: Tensor
    projected: Tensor
    initial_error: Tensor
    final_error: Tensor


def _pose_bodies(model: ProbabilisticHMR, people: Any, out: Any, start: Any, fit: Any) -> _Bodies:
    """Final body, mode and samples posed with the final betas and translation, and the errors."""
    from hmrflow.fitting.robust import reprojection_error

    betas = fit.betas if fit is not None else start.betas
    transl = fit.translation if fit is not None else start.translation
    rotmats = fit.rotmats if fit is not None else start.rotmats
    sets = tuple(model.config.encoder.keypoint_sets)
    samples = out.samples.rotmats if out.samples is not None else out.mode.rotmats[:, :0]
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


def _no_samples(mode: Any) -> Any:
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
        keypoints: ``(P, K, 3)`` px and confidence in the evidence order.
        config: :class:`DemoConfig`.
        timings: Filled with the seconds spent predicting and fitting.
    """
    photo = image if isinstance(image, Photo) else Photo(image, Path("photo"))
    timings = timings if timings is not None else {}
    clock = time.perf_counter()
    people = _people(model, photo, keypoints, config)
    out = _predict(model, people, config)
    timings["predict"] = timings.get("predict", 0.0) + time.perf_counter() - clock
    fit = fit_log_prob = None
    swapped = torch.zeros(len(people), dtype=torch.bool)
    if config.fit:
        clock = time.perf_counter()
        people, out, fit, swapped = _fit(model, people, out, config)
        fit_log_prob = _fit_log_prob(model, fit, out)
        timings["fit"] = timings.get("fit", 0.0) + time.perf_counter() - clock
    clock = time.perf_counter()
    results = _results(model, people, out, fit, fit_log_prob, swapped.cpu())
    timings["predict"] += time.perf_counter() - clock
    return results


def _predict(model: ProbabilisticHMR, people: Any, config: DemoConfig) -> Any:
    """The model's output (mode, ``num_samples`` samples, shape, camera) for ``people``."""
    from hmrflow.fitting.keypoint_fit import frozen

    generator = torch.Generator(device=people.keypoints.device).manual_seed(config.seed)
    with torch.no_grad(), frozen(model):
        return model(people.evidence, config.num_samples, generator, temperature=config.temperature)


def _fit(model: ProbabilisticHMR, people: Any, out: Any, config: DemoConfig) -> tuple[Any, Any, Any, Tensor]:
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


def _fit_log_prob(model: ProbabilisticHMR, fit: Any, out: Any) -> Tensor:
    """``(P, 1)`` log-likelihood of the fitted poses under the model (the baseline's too)."""
    from hmrflow.fitting.keypoint_fit import frozen
    from hmrflow.geometry.rotations import rotmat_to_sixd

    with torch.no_grad(), frozen(model):
        if fit.z is not None:
            return model.decode_latent(fit.z[:, None], out.context).log_prob
        sixd = rotmat_to_sixd(fit.rotmats).reshape(len(fit.rotmats), 1, -1)
        return model.pose_log_prob(sixd, out.context)


def _fit_latent(model: ProbabilisticHMR, fit: Any, out: Any) -> Tensor:
    """``(P, D)`` the fit's latents (the baseline's poses encoded by the flow)."""
    from hmrflow.fitting.keypoint_fit import frozen
    from hmrflow.geometry.rotations import rotmat_to_sixd

    if fit.z is not None:
        return fit.z
    with torch.no_grad(), frozen(model):
        return model.encode_pose(rotmat_to_sixd(fit.rotmats).reshape(len(fit.rotmats), -1), out.context)


def _report(fit: Any, i: int) -> FitReport:
    result = fit.results[i]
    return FitReport(result.reason.value, int(result.steps), [float(v) for v in result.loss_history])


def _results(
    model: ProbabilisticHMR, people: Any, out: Any, fit: Any, fit_log_prob: Tensor | None, swapped: Tensor
) -> list[PersonResult]:
    """One :class:`PersonResult` per person."""
    from hmrflow.fitting.keypoint_fit import Start

    start = Start.of_output(out, people)
    translation = start.translation
    bodies = _pose_bodies(model, people, out, start, fit)
    samples = out.samples if out.samples is not None else _no_samples(out.mode)
    cameras = people.camera.to("cpu")
    fit_z = None if fit is None else _fit_latent(model, fit, out)
    return [
        PersonResult(
            keypoints=_numpy(people.keypoints[i]),
            evidence=_numpy(_box_keypoints(people, i)),
            box_center=_numpy(people.box_center[i]),
            box_size=float(people.box_size[i]),
            camera=cameras[i],
            mode=_pose_params(out.mode.rotmats[i], out.mode.z[i], out.mode.log_prob[i]),
            samples=_pose_params(samples.rotmats[i], samples.z[i], samples.log_prob[i]),
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


def _box_keypoints(people, i: int) -> Tensor:  # noqa: ANN001 - People
    """Person ``i``'s keypoints in normalised box coordinates (image models' evidence is a crop)."""
    from hmrflow.geometry.boxes import normalize_keypoints

    return normalize_keypoints(people.keypoints[i], people.box_center[i], people.box_size[i])


class DemoPipeline:
    r"""Runs the demo photo by photo (see the module docstring).

    Arguments:
        model: A trained model (keypoint- or image-conditioned).
        config: :class:`DemoConfig`.
        detector: A started detector to use (default: one is started when first needed).
    """

    def __init__(
        self, model: ProbabilisticHMR, config: DemoConfig | None = None, detector: MediaPipeDetector | None = None
    ):
        self.model = model.eval()
        self.config = config or DemoConfig()
        self._detector = LazyDetector(detector)
        self._writer = None

    # ------------------------------------------------------------------ lifetime

    def __enter__(self) -> DemoPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the detector (if this pipeline started it) and release the renderer."""
        self._detector.close()
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    @property
    def writer(self):  # noqa: ANN201 - OutputWriter, imported lazily
        """The :class:`~hmrflow.application.outputs.OutputWriter` (made on first use)."""
        if self._writer is None:
            from hmrflow.application.outputs import OutputWriter

            config = self.config
            self._writer = OutputWriter(
                self.model.body, pictures=config.pictures, viewer=config.viewer, view=config.view
            )
        return self._writer

    # ------------------------------------------------------------------ keypoints

    def detector(self) -> MediaPipeDetector:
        """The detector, started on first use; raises :class:`DemoInputError` if there is none."""
        try:
            return self._detector()
        except DetectorError as error:
            raise DemoInputError(f"no keypoints: {error}; or pass keypoint files with --keypoints") from None

    def keypoints(self, photo: Photo, keypoint_file: Path | None) -> tuple[np.ndarray, str]:
        r"""The people's keypoints ``(P, K, 3)`` in the processed photo's px, and their source."""
        found: KeypointFile | None = None
        if keypoint_file is not None:
            found = keypoints_for_image(keypoint_file, photo.path, photo.original_size)
            if found.kind == "openpose" and photo.path.stem not in keypoint_file.stem:
                log.warning("%s: the file name does not name %s; using it anyway", keypoint_file, photo.path.name)
        elif self.config.detect != "always" and sidecar_path(photo.path).is_file():
            found = keypoints_for_image(sidecar_path(photo.path), photo.path, photo.original_size)
        if found is not None:
            source = f"{found.path.name} ({found.detector or found.kind})"
            people = [p.copy() for p in found.people]
            for p in people:
                p[:, :2] *= photo.scale
            if not people:
                raise DemoInputError(f"{photo.path}: no person in its keypoint file {found.path}")
            return np.stack(people), source
        if self.config.detect == "never":
            raise DemoInputError(
                f"{photo.path}: no keypoints (no --keypoints file, no {sidecar_path(photo.path).name}, detector off)"
            )
        return self.detected(photo)

    def detected(self, photo: Photo) -> tuple[np.ndarray, str]:
        r"""The detector's people ``(P, K, 3)`` in ``photo`` (at most ``max_people``), the
        usable ones without the ghosts it is cheap to spot, and the source's description."""
        clock = time.perf_counter()
        found = self.detector().detect_people(photo.pixels, self.config.max_people)
        seconds = time.perf_counter() - clock
        if not found:
            raise DemoInputError(f"{photo.path}: no person found in the photo (the detector saw nobody)")
        keypoints = np.stack([d.keypoints for d in found])
        boxes = np.stack([d.box for d in found])
        usable = usable_people(keypoints, self.config.min_keypoints)
        keep = usable.copy()
        keep[usable] = drop_ghosts(boxes[usable], keypoints[usable])
        if not keep.any():  # nobody usable: the next step says why
            return keypoints, f"detector ({DETECTOR_NAME}, {seconds:.2f} s)"
        left = f", {int((usable & ~keep).sum())} ghost(s) dropped" if (usable & ~keep).any() else ""
        return keypoints[keep | ~usable], f"detector ({DETECTOR_NAME}, {len(found)} found{left}, {seconds:.2f} s)"

    def usable(self, keypoints: np.ndarray, path: Path) -> np.ndarray:
        """The people with at least ``min_keypoints`` confident keypoints (values checked on reading)."""
        counts = (keypoints[..., 2] > 0).sum(-1)
        keep = usable_people(keypoints, self.config.min_keypoints)
        if not keep.any():
            raise DemoInputError(
                f"{path}: no person found: the best has {int(counts.max(initial=0))} confident keypoints, "
                f"at least {self.config.min_keypoints} are needed"
            )
        return keypoints[keep]

    # ------------------------------------------------------------------ one photo

    def run_image(
        self,
        path: Path,
        keypoint_file: Path | None,
        out_dir: Path,
        folder_name: str | None = None,
    ) -> ImageResult:
        """Run the demo on one photo and write its outputs to ``out_dir / folder_name``.

        Errors with this photo are caught and returned in :attr:`ImageResult.error`.
        """
        result = ImageResult(Path(path))
        clock = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            result.timings[name] = result.timings.get(name, 0.0) + now - clock
            clock = now

        try:
            photo = load_photo(path, self.config.max_size)
            result.image_size = photo.size
            lap("load")
            keypoints, result.keypoint_source = self.keypoints(photo, keypoint_file)
            lap("keypoints")
            self._run_people(result, photo, keypoints, out_dir / (folder_name or photo.path.stem))
        except (InputError, DetectorError) as error:  # this photo's problem: the others go on
            result.error = str(error)
        return result

    def run_keypoints(self, photo: Photo, keypoints: np.ndarray, source: str, folder: Path) -> ImageResult:
        r"""Run the pipeline on given keypoints ``(P, K, 3)`` (px of ``photo``, which may be
        unseen: :meth:`Photo.unseen`) and write the outputs to ``folder`` (``hmrflow fit``).

        Errors with this image are caught and returned in :attr:`ImageResult.error`.
        """
        result = ImageResult(photo.path, keypoint_source=source, image_size=photo.size)
        try:
            self._run_people(result, photo, keypoints, folder)
        except InputError as error:
            result.error = str(error)
        return result

    def _run_people(self, result: ImageResult, photo: Photo, keypoints: np.ndarray, folder: Path) -> None:
        """The usable people of ``keypoints``: predicted, fitted and written to ``folder``."""
        usable = self.usable(keypoints, photo.path)
        result.dropped = len(keypoints) - len(usable)
        result.people = predict_people(self.model, photo, usable, self.config, result.timings)
        clock = time.perf_counter()
        result.folder = folder
        result.files = self.writer.write_image(result, photo)
        result.timings["outputs"] = result.timings.get("outputs", 0.0) + time.perf_counter() - clock
