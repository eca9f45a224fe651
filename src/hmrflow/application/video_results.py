r"""The records of the video demo: its settings, one fitted track, and a clip's result.

:class:`VideoConfig` (the settings of ``hmrflow demo CLIP``), :class:`TrackFit` (one
person's frames fitted) and :class:`VideoResult` (a clip: its tracks, camera and files),
made by :mod:`hmrflow.application.video_pipeline` and written by
:mod:`hmrflow.application.video_outputs`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from torch import Tensor

from hmrflow.application.calibration import Intrinsics
from hmrflow.application.inputs import MIN_KEYPOINTS
from hmrflow.errors import ConfigError
from hmrflow.fitting.temporal import TemporalConfig
from hmrflow.geometry.pinhole import PinholeCamera
from hmrflow.video import Detection, TrackingConfig

__all__ = ["TrackFit", "VideoConfig", "VideoResult"]


@dataclass(frozen=True)
class VideoConfig:
    r"""Settings of the video demo.

    Attributes:
        temporal_weight: Multiplies the smoothness weights of ``temporal`` (1: its
            defaults; 0: every frame fitted alone).
        fit_steps: L-BFGS outer steps (per frame alone, per window of the temporal fit).
        max_people: The detector looks for at most this many people per frame.
        max_frames: Only the first frames of the clip (None: all).
        fps: Frame rate of a folder of pictures, or in place of a video's own (None: the
            video's; 30 for folders).
        min_keypoints: A detection needs at least this many confident keypoints.
        intrinsics: Known intrinsics of the video's camera (None: see the module docstring).
        tracking: :class:`~hmrflow.video.TrackingConfig`.
        temporal: :class:`~hmrflow.fitting.temporal.TemporalConfig`: the weights
            ``temporal_weight`` multiplies, windows, gaps (its stop rules are replaced by
            ``fit_steps``).
        overlay: Write the overlay video.
        overlay_size: Long side px of the overlay video (frames larger are scaled down).
        progress: Show a progress bar while detecting.
    """

    temporal_weight: float = 1.0
    fit_steps: int = 30
    max_people: int = 4
    max_frames: int | None = None
    fps: float | None = None
    min_keypoints: int = MIN_KEYPOINTS
    intrinsics: Intrinsics | None = None
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    overlay: bool = True
    overlay_size: int = 1280
    progress: bool = True

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temporal_weight) and self.temporal_weight >= 0):
            raise ConfigError(f"temporal_weight must be a number >= 0, got {self.temporal_weight}")
        for name in ("fit_steps", "max_people", "min_keypoints", "overlay_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ConfigError(f"max_frames must be >= 1 (or None for all), got {self.max_frames}")

    def temporal_config(self) -> TemporalConfig:
        """The temporal fit's settings: the weights scaled by ``temporal_weight``, ``fit_steps`` steps."""
        base, w = self.temporal, self.temporal_weight
        fit = replace(base.fit, rules=replace(base.fit.rules, max_steps=self.fit_steps))
        return replace(base, fit=fit, pose_weight=w * base.pose_weight, translation_weight=w * base.translation_weight,
                       latent_weight=w * base.latent_weight)  # fmt: skip


@dataclass(frozen=True)
class TrackFit:
    r"""One tracked person fitted over the T frames from their first to their last detection.

    Attributes:
        id: The track's number (0, 1, ... by first frame).
        frames: ``(T,)`` the video's frame indices, consecutive.
        observed: ``(T,)`` bool, the person was detected (and the detection used).
        fitted: ``(T,)`` bool, the frame was fitted; the tensors below are NaN elsewhere.
        keypoints: ``(T, K, 3)`` the detections, px of the video and confidence (0: none).
        rotmats: ``(T, J, 3, 3)``; betas: ``(T, S)`` (one shape repeated for a temporal fit);
        translation: ``(T, 3)`` metres, camera frame; joints: ``(T, J, 3)``; vertices:
            ``(T, N, 3)`` camera frame, translated.
        reprojection_error: ``(T,)`` mean px over the detected keypoints.
        temporal: Fitted with the temporal terms (False: every frame alone).
        seconds: The fit's wall time.
    """

    id: int
    frames: np.ndarray
    observed: Tensor
    fitted: Tensor
    keypoints: Tensor
    rotmats: Tensor
    betas: Tensor
    translation: Tensor
    joints: Tensor
    vertices: Tensor
    reprojection_error: Tensor
    temporal: bool
    seconds: float

    def __len__(self) -> int:
        return len(self.frames)


@dataclass
class VideoResult:
    r"""Everything the demo found in one clip.

    Attributes:
        path: The video file or folder.
        fps: Frames per second; size: (W, H) px; frames: frames read.
        camera: The video's camera (batch shape ``()``).
        detections: For every frame, the people kept (:class:`~hmrflow.video.Detection`).
        tracks: One fit per track.
        timings: Seconds per step (``read + detect``, ``track``, ``fit``, outputs ...).
        source: Where the keypoints came from.
        folder: The output folder; files: what was written, by name (per track: ``track<i>/...``).
    """

    path: Path
    fps: float
    size: tuple[int, int]
    frames: int
    camera: PinholeCamera
    detections: list[list[Detection]] = field(default_factory=list)
    tracks: list[TrackFit] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    source: str = ""
    folder: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)

    def describe(self) -> str:
        """One line: frames, tracks, time per frame."""
        total = sum(self.timings.values())
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in self.timings.items())
        per = total / max(self.frames, 1)
        return (f"{self.frames} frames at {self.fps:g} fps, {len(self.tracks)} track(s) "
                f"({', '.join(str(int(t.observed.sum())) for t in self.tracks) or 'none'} frames detected); "
                f"{per:.2f} s/frame ({parts})")  # fmt: skip
