r"""The photo demo's settings (:class:`DemoConfig`), shared by the pipeline and the prediction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hmrflow.application.calibration import Intrinsics
from hmrflow.application.inputs import MIN_KEYPOINTS

__all__ = ["DemoConfig"]


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
