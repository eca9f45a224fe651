r"""The photo demo: keypoints -> person box -> distribution -> mode, samples, fit -> outputs.

Per photo (:meth:`DemoPipeline.run_image`; steps 2-4 are
:func:`~hmrflow.application.prediction.predict_people`):

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
from pathlib import Path

import numpy as np

from hmrflow.application.demo_config import DemoConfig
from hmrflow.application.detector import DETECTOR_NAME, DetectorError, LazyDetector, MediaPipeDetector
from hmrflow.application.inputs import (
    DemoInputError,
    KeypointFile,
    Photo,
    drop_ghosts,
    keypoints_for_image,
    load_photo,
    sidecar_path,
    usable_people,
)
from hmrflow.application.prediction import predict_people
from hmrflow.application.results import BodyParams, ImageResult, PersonResult
from hmrflow.errors import InputError
from hmrflow.models import ProbabilisticHMR

__all__ = [
    "BodyParams",
    "DemoConfig",
    "DemoPipeline",
    "ImageResult",
    "PersonResult",
]

log = logging.getLogger(__name__)


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
        r"""The people's keypoints ``(P, K, 3)`` in the processed photo's px (``(P, K, 4)`` from the
        detector: with its relative depth, :attr:`~hmrflow.application.detector.Detection.keypoints_with_depth`),
        and their source."""
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
        r"""The detector's people ``(P, K, 4)`` (with depth) in ``photo`` (at most ``max_people``), the
        usable ones without the ghosts it is cheap to spot, and the source's description."""
        clock = time.perf_counter()
        found = self.detector().detect_people(photo.pixels, self.config.max_people)
        seconds = time.perf_counter() - clock
        if not found:
            raise DemoInputError(f"{photo.path}: no person found in the photo (the detector saw nobody)")
        keypoints = np.stack([d.keypoints_with_depth for d in found])
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
