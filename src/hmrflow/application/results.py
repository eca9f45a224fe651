r"""What the demos found: one record per photo, one per person in it, one per multi-view instant.

Plain records of numpy arrays (and CPU cameras; no files): the pipeline
(:mod:`hmrflow.application.pipeline`) fills them, the writers (:mod:`hmrflow.application.outputs`,
:mod:`hmrflow.application.viewer`) read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hmrflow.geometry.pinhole import PinholeCamera

__all__ = ["BodyParams", "FitReport", "ImageResult", "MultiViewResult", "PersonResult"]


@dataclass(frozen=True)
class BodyParams:
    r"""Poses of one person: S = 1 (a mode, a fit) or S samples.

    Attributes:
        rotmats: ``(S, J, 3, 3)`` local joint rotations (joint 0 in the camera frame).
        z: ``(S, D)`` flow latents.
        log_prob: ``(S,)`` ``log p(pose | evidence)``.
    """

    rotmats: np.ndarray
    z: np.ndarray
    log_prob: np.ndarray


@dataclass(frozen=True)
class FitReport:
    """How a person's fit ended.

    Attributes:
        stop_reason: The rule that stopped L-BFGS; steps: outer steps taken;
        energy: the energy at the start and after each outer step.
    """

    stop_reason: str
    steps: int
    energy: list[float]


@dataclass(frozen=True)
class PersonResult:
    r"""One person in one photo; K = 23 keypoints, N vertices, S samples.

    The final body is ``fit`` (or ``mode`` without fitting) with ``betas`` and
    ``translation``; the samples are posed with the same betas and translation.

    Attributes:
        keypoints: ``(K, 3)`` px (processed photo) and confidence; evidence: ``(K, 3)``
            the same in normalised box coordinates.
        box_center: ``(2,)`` px; box_size: px.
        camera: The photo's :class:`~hmrflow.geometry.PinholeCamera` (batch shape ``()``, on
            the CPU; no extrinsics: the body is in its frame).
        mode: The distribution's mode (``z = 0``); samples: S samples.
        fit: The fitted pose, or None.
        betas: ``(S_b,)``; translation: ``(3,)`` metres, camera frame (final).
        regressed_betas, regressed_translation: The regression's, before fitting.
        weak_perspective: ``(3,)`` the regressed camera ``(s, tx, ty)`` in the box.
        reprojection_error: Mean px distance of the final body's keypoints to the
            confident detections; initial_error: the same for the regression.
        vertices: ``(N, 3)`` final body; mode_vertices: ``(N, 3)``; sample_vertices:
            ``(S, N, 3)`` (final betas and translation).
        projected: ``(K, 2)`` final body keypoints in px.
        joints: ``(J, 3)`` final body joints.
        spread: ``(N,)`` metres, how far the samples' vertices spread about their mean
            once each sample takes the mode's global orientation (root RMS distance):
            where the evidence leaves the body pose open.
        labels_mirrored: The left/right labels of the keypoints were swapped back (the
            labelling check); ``keypoints`` are the mirrored ones.
        fit_report: How the fit ended (None without a fit).
    """

    keypoints: np.ndarray
    evidence: np.ndarray
    box_center: np.ndarray
    box_size: float
    camera: PinholeCamera
    mode: BodyParams
    samples: BodyParams
    fit: BodyParams | None
    betas: np.ndarray
    translation: np.ndarray
    regressed_betas: np.ndarray
    regressed_translation: np.ndarray
    weak_perspective: np.ndarray
    reprojection_error: float
    initial_error: float
    vertices: np.ndarray
    mode_vertices: np.ndarray
    sample_vertices: np.ndarray
    projected: np.ndarray
    joints: np.ndarray
    spread: np.ndarray
    labels_mirrored: bool = False
    fit_report: FitReport | None = None

    @property
    def final(self) -> BodyParams:
        """The fit if there is one, else the mode."""
        return self.fit if self.fit is not None else self.mode


@dataclass
class ImageResult:
    """What the demo did with one photo.

    Attributes:
        path: The photo; folder: its output folder (None if it failed early).
        people: One result per person; error: why the photo failed (None if it did not).
        keypoint_source: Where its keypoints came from.
        timings: Seconds per stage; files: outputs written (per person, name -> path).
        image_size: ``(W, H)`` px of the processed photo.
        dropped: People the keypoints held that were left out (too few keypoints, ghosts).
    """

    path: Path
    folder: Path | None = None
    people: list[PersonResult] = field(default_factory=list)
    error: str | None = None
    keypoint_source: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    files: list[dict[str, Path]] = field(default_factory=list)
    image_size: tuple[int, int] | None = None
    dropped: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        """One terminal line about the photo: its people, errors and timings."""
        if not self.ok:
            return f"FAILED: {self.error}"
        timing = " | ".join(f"{k} {v:.2f} s" for k, v in self.timings.items())
        count = f"{len(self.people)} {'person' if len(self.people) == 1 else 'people'} found"
        if self.dropped:
            count += f" ({self.dropped} left out)"
        mirrored = sum(p.labels_mirrored for p in self.people)
        if mirrored:
            count += f", {mirrored} with left/right labels mirrored back"
        people = "; ".join(_describe_person(i, p) for i, p in enumerate(self.people))
        return f"{count}: {people} | keypoints: {self.keypoint_source} | {timing}"


def _describe_person(index: int, person: PersonResult) -> str:
    text = f"person {index}: keypoint error {person.initial_error:.1f} px (mode)"
    if person.fit is not None:
        change = float(person.fit.log_prob[0]) - float(person.mode.log_prob[0])
        text += f" -> {person.reprojection_error:.1f} px (fit, log p {change:+.1f} vs mode)"
    if person.labels_mirrored:
        text += " [labels mirrored]"
    return text


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
