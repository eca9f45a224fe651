r"""The video demo: frames -> people detected in each -> tracks -> one fit per track over time.

Per clip (:meth:`VideoPipeline.run`):

1. **Frames** of a video file or a folder of pictures (:func:`hmrflow.video.open_frames`:
   read lazily; unreadable or empty inputs raise :class:`~hmrflow.video.VideoInputError`
   at once), the first ``max_frames`` of them if set.
2. **Detection**: every person in every frame (the mediapipe detector,
   :meth:`~hmrflow.application.detector.MediaPipeDetector.detect_people`, at most ``max_people``
   per frame), with a progress bar; or keypoints given per frame (``keypoints``
   ``(F, P, K, 3)``, confidence 0 where a person is absent). People with fewer than
   ``min_keypoints`` confident keypoints are dropped, and so are the detector's ghosts
   (:func:`~hmrflow.application.inputs.drop_ghosts`), as in the photo demo.
3. **Tracking** (:func:`hmrflow.video.track_people`): boxes and keypoints linked across
   frames; tracks shorter than ``tracking.min_length`` detections are dropped.
4. **Fitting**, per track, over its frames from its first to its last detection: with
   ``temporal_weight`` > 0 one L-BFGS problem with the smoothness terms
   (:func:`hmrflow.fitting.temporal.fit_sequence`; ``temporal_weight`` multiplies the
   default weights of :class:`~hmrflow.fitting.temporal.TemporalConfig`; frames missed
   by the detector are bridged); with 0, every detected frame is fitted alone
   (:func:`hmrflow.fitting.keypoint_fit.fit_keypoints`, the photo demo's fit), and the
   frames without a detection are not fitted.
5. **Outputs** (:mod:`hmrflow.application.video_outputs`).

Camera: the focal length of the image diagonal and the principal point at the image
centre, or known ``intrinsics`` (``f_x``, ``f_y`` and the principal point, all used by
the fit). Frames and units: the camera frame of the video (OpenCV: x right, y down,
+Z forward), metres; ``vertices = body(rotmats, betas, translation)``.

Example (needs a video and the detector)::

    with VideoPipeline(hmrflow.load_model(), VideoConfig(max_frames=50)) as pipeline:
        result = pipeline.run(Path("clip.mp4"), Path("out/clip"))
    result.tracks[0].rotmats.shape      # (T, 24, 3, 3), the track's frames
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from hmrflow.application.calibration import Intrinsics
from hmrflow.application.detector import DetectorError, LazyDetector, MediaPipeDetector
from hmrflow.application.inputs import MIN_KEYPOINTS, drop_ghosts, usable_people
from hmrflow.application.video_results import TrackFit, VideoConfig, VideoResult
from hmrflow.errors import InputError
from hmrflow.fitting.keypoint_fit import fit_keypoints
from hmrflow.fitting.people import People
from hmrflow.fitting.temporal import fit_sequence
from hmrflow.geometry.pinhole import PinholeCamera, default_focal_length
from hmrflow.models import ProbabilisticHMR
from hmrflow.video import Detection, FrameSource, Track, open_frames, track_people

__all__ = ["VideoPipeline", "detections_from_keypoints", "fit_track"]

log = logging.getLogger(__name__)


def video_camera(size: tuple[int, int], intrinsics: Intrinsics | None) -> PinholeCamera:
    r"""The camera (batch shape ``()``) of ``size`` (W, H) frames, the one the fit uses."""
    image_size = torch.tensor([float(size[0]), float(size[1])])
    if intrinsics is None:
        return PinholeCamera.centred(image_size, default_focal_length(image_size))
    return intrinsics.camera(image_size)


def detections_from_keypoints(keypoints: np.ndarray, minimum: int = MIN_KEYPOINTS) -> list[list[Detection]]:
    r"""Per-frame detections of keypoints ``(F, P, K, 3)`` px (a person with fewer than
    ``minimum`` confident keypoints is absent from that frame); boxes from the keypoints."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.ndim != 4 or keypoints.shape[-1] != 3:
        raise InputError(f"keypoints of a clip must be (frames, people, K, 3), got {keypoints.shape}")
    return [[Detection.from_keypoints(p) for p in frame[usable_people(frame, minimum)]] for frame in keypoints]


def _progress(items: Iterable[Any], total: int | None, label: str, enabled: bool) -> Iterator[Any]:
    """``items`` with a progress bar on stderr (tqdm)."""
    if not enabled:
        yield from items
        return
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        for i, item in enumerate(items):
            print(f"\r{label}: frame {i + 1}" + (f"/{total}" if total else ""), end="", file=sys.stderr, flush=True)
            yield item
        print(file=sys.stderr)
        return
    yield from tqdm(items, total=total, desc=label, unit="frame", leave=False, file=sys.stderr)


def limited(source: FrameSource, max_frames: int | None) -> Iterator[Any]:
    """The first ``max_frames`` frames of ``source`` (all with None)."""
    for frame in source:
        if max_frames is not None and frame.index >= max_frames:
            return
        yield frame


def fit_track(model: ProbabilisticHMR, track: Track, camera: PinholeCamera, config: VideoConfig) -> TrackFit:
    r"""Fit ``track`` over its frames (the module docstring, step 4) in ``camera``'s frame."""
    clock = time.perf_counter()
    device = next(model.parameters()).device
    keypoints = torch.as_tensor(track.dense_keypoints(), dtype=torch.float32, device=device)  # (T, K, 3)
    detected = keypoints * (keypoints[..., 2:] > 0)
    camera = camera.to(device, keypoints.dtype)
    if config.temporal_weight > 0:
        fit = fit_sequence(model, detected, config=config.temporal_config(), camera=camera)
        S = fit.betas.shape[-1]
        values = (fit.observed, fit.fitted, fit.rotmats, fit.betas.expand(len(fit.z), S), fit.translation,
                  fit.joints, fit.vertices, fit.reprojection_error)  # fmt: skip
    else:
        values = _per_frame(model, detected, camera, config)
    frames = np.arange(track.first, track.last + 1)
    return TrackFit(track.id, frames, *values[:2], keypoints, *values[2:], temporal=config.temporal_weight > 0,
                    seconds=time.perf_counter() - clock)  # fmt: skip


def _per_frame(model: ProbabilisticHMR, keypoints: Tensor, camera: PinholeCamera, config: VideoConfig) -> tuple:
    """Every detected frame fitted alone (one batch, the photo demo's fit), seen by ``camera``; NaN elsewhere."""
    observed = (keypoints[..., 2] > 0).sum(-1) >= config.temporal.min_keypoints
    frames = keypoints[observed]
    people = People.from_camera(frames, camera.expand(len(frames)), config.temporal.fit.box_scale)
    fit_config = config.temporal_config().fit
    fit = fit_keypoints(model, people, fit_config)

    def spread(values: Tensor) -> Tensor:
        out = values.new_full((len(keypoints), *values.shape[1:]), float("nan"))
        out[observed] = values
        return out

    assert fit.vertices is not None
    tensors = (fit.rotmats, fit.betas, fit.translation, fit.joints, fit.vertices, fit.reprojection_error)
    return (observed, observed.clone(), *(spread(t.detach()) for t in tensors))


class VideoPipeline:
    r"""Runs the video demo clip by clip (see the module docstring).

    Arguments:
        model: A trained keypoint-conditioned model.
        config: :class:`VideoConfig`.
        detector: A started detector to use (default: one is started when first needed).
    """

    def __init__(self, model: ProbabilisticHMR, config: VideoConfig | None = None,
                 detector: MediaPipeDetector | None = None):  # fmt: skip
        if model.config.encoder.kind != "keypoints":
            raise InputError("the video demo needs a keypoint-conditioned model (the shipped one is)")
        self.model = model.eval()
        self.config = config or VideoConfig()
        self._detector = LazyDetector(detector)

    def __enter__(self) -> VideoPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the detector if this pipeline started it."""
        self._detector.close()

    def detector(self) -> MediaPipeDetector:
        """The detector, started on first use.

        Raises:
            InputError: No detector environment (the message says how to install it).
        """
        try:
            return self._detector()
        except DetectorError as error:
            raise InputError(f"no keypoints for the video: {error}") from None

    def detect(self, source: FrameSource) -> list[list[Detection]]:
        """The people of every frame (at most ``max_people``, the usable ones), with a progress bar."""
        config, out = self.config, []
        total = min(source.count or config.max_frames or 0, config.max_frames or sys.maxsize) or None
        for frame in _progress(limited(source, config.max_frames), total, source.path.name, config.progress):
            try:
                found = self.detector().detect_people(frame.image, config.max_people)
            except DetectorError as error:
                raise InputError(f"{source.path}: frame {frame.index}: {error}") from None
            out.append(self._kept(found))
        return out

    def _kept(self, found: list[Any]) -> list[Detection]:
        """The detector's usable people (``min_keypoints``) without the ghosts it is cheap to spot."""
        found = [d for d in found if d.keypoints is not None and d.box is not None]
        if not found:
            return []
        keypoints, boxes = np.stack([d.keypoints for d in found]), np.stack([d.box for d in found])
        keep = usable_people(keypoints, self.config.min_keypoints)
        keep[keep] = drop_ghosts(boxes[keep], keypoints[keep])
        return [Detection(boxes[i], keypoints[i]) for i in np.flatnonzero(keep)]

    def run(self, path: Path, out: Path | None, keypoints: np.ndarray | None = None,
            write: Callable[..., None] | None = None,
            detections: list[list[Detection]] | None = None) -> VideoResult:  # fmt: skip
        r"""Run the demo on the clip ``path`` and write its outputs to ``out`` (None: nothing written).

        Arguments:
            keypoints: ``(F, P, K, 3)`` px per frame instead of the detector (confidence 0:
                absent); F must be at least the frames used.
            write: The writer, called as ``write(result, frames, body, config)`` (default
                :func:`hmrflow.application.video_outputs.write_video`).
            detections: The people of every frame, found before (instead of the detector).

        Raises:
            InputError: An unreadable or empty clip, no detector, keypoints that do not fit.
        """
        config, clock = self.config, time.perf_counter()
        source = open_frames(path, config.fps)
        result = VideoResult(Path(path), source.fps, source.size, 0, video_camera(source.size, config.intrinsics))
        if detections is not None:
            result.detections, result.source = list(detections)[: config.max_frames], "detections given per frame"
        elif keypoints is not None:
            result.detections = self._given(keypoints, source)
            result.source = "keypoints given per frame"
        else:
            result.detections = self.detect(source)
            result.source = "detector (mediapipe BlazePose)"
        result.frames = len(result.detections)
        if not result.frames:
            raise InputError(f"{path}: no frames to read")
        result.timings["read + detect"] = time.perf_counter() - clock
        clock = time.perf_counter()
        tracks = track_people(result.detections, config.tracking)
        result.timings["track"] = time.perf_counter() - clock
        clock = time.perf_counter()
        result.tracks = [fit_track(self.model, track, result.camera, config) for track in tracks]
        result.timings["fit"] = time.perf_counter() - clock
        if out is not None:
            if write is None:
                from hmrflow.application.video_outputs import write_video

                write = write_video
            result.folder = Path(out)
            write(result, self._sliced(source), self.model.body, config)
        return result

    def _sliced(self, source: FrameSource) -> Any:
        """``source`` limited to ``max_frames`` (iterable again and again)."""
        return _Limited(source, self.config.max_frames)

    def _given(self, keypoints: np.ndarray, source: FrameSource) -> list[list[Detection]]:
        keypoints = np.asarray(keypoints, dtype=np.float64)
        frames = min(self.config.max_frames or sys.maxsize, source.count or len(keypoints))
        if keypoints.ndim != 4 or len(keypoints) < frames:
            raise InputError(f"keypoints of the clip must be (frames >= {frames}, people, K, 3), got {keypoints.shape}")
        return detections_from_keypoints(keypoints[:frames], self.config.min_keypoints)


@dataclass(frozen=True)
class _Limited:
    """A frame source cut to its first ``max_frames`` frames (None: all)."""

    source: FrameSource
    max_frames: int | None

    def __iter__(self) -> Iterator[Any]:
        return limited(self.source, self.max_frames)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)
