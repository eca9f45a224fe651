"""Fitting bodies to 2D keypoints with the learned prior, a baseline, and multi-view.

* :func:`minimize` -- the one L-BFGS loop (strong Wolfe, stop rules) every fitter uses;
* :func:`fit_keypoints` -- keypoint fitting with the flow as the pose prior (ProHMR);
* :func:`fit_baseline` -- SMPLify-style fitting with a Gaussian-mixture pose prior;
* :func:`fit_multiview` / :func:`fit_multiview_calibrated` -- several views, one body;
* :mod:`hmrflow.fitting.evaluate` -- the evaluation tables (``hmrflow fit --evaluate``).
"""

from hmrflow.fitting.baseline import BaselineConfig, fit_baseline
from hmrflow.fitting.gmm import GaussianMixture, fit_gaussian_mixture
from hmrflow.fitting.keypoint_fit import (
    BodyFit,
    FitConfig,
    Start,
    default_focal_length,
    fit_keypoints,
    regress,
)
from hmrflow.fitting.lbfgs import MinimizeResult, StopReason, StopRules, minimize
from hmrflow.fitting.multiview import (
    Cameras,
    MultiViewConfig,
    MultiViewFit,
    fit_multiview,
    fit_multiview_calibrated,
)
from hmrflow.fitting.people import People
from hmrflow.fitting.robust import geman_mcclure, reprojection_energy, reprojection_error

__all__ = [
    "BaselineConfig",
    "BodyFit",
    "Cameras",
    "FitConfig",
    "GaussianMixture",
    "MinimizeResult",
    "MultiViewConfig",
    "MultiViewFit",
    "People",
    "Start",
    "StopReason",
    "StopRules",
    "default_focal_length",
    "fit_baseline",
    "fit_gaussian_mixture",
    "fit_keypoints",
    "fit_multiview",
    "fit_multiview_calibrated",
    "geman_mcclure",
    "minimize",
    "regress",
    "reprojection_energy",
    "reprojection_error",
]
