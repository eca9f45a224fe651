r"""Baseline keypoint fitting, SMPLify-style: the pose optimised directly with a GMM prior.

The comparison users ask for: the same data term, the same start (the regression) and
the same stop rules as :func:`~hmrflow.fitting.keypoint_fit.fit_keypoints`, but the
variables are the pose itself -- the global orientation as 6D (smooth everywhere) and
the 23 body joints as axis-angle, as SMPLify -- with a generic pose prior instead of the
learned conditional one:

``E = E_data + w^2 GMM-NLL(body axis-angle) + 6^2 |betas|^2``,

``w = 4.78`` (SMPLify's pose-prior weight) and the shipped 8-component mixture
(:meth:`~hmrflow.fitting.gmm.GaussianMixture.default`). SMPLify's extra terms (the
elbow/knee bending prior, interpenetration) are left out: the prior is the mixture alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from hmrflow.fitting.gmm import GaussianMixture
from hmrflow.fitting.keypoint_fit import BodyFit, FitConfig, Start, fit_bodies, fit_each, regress
from hmrflow.fitting.people import People
from hmrflow.geometry import rotmat_to_rotvec, rotmat_to_sixd, rotvec_to_rotmat, sixd_to_rotmat
from hmrflow.models import ProbabilisticHMR

__all__ = ["BaselineConfig", "fit_baseline", "SMPLIFY_POSE_PRIOR_WEIGHT"]

#: SMPLify's pose-prior weight (squared in the energy).
SMPLIFY_POSE_PRIOR_WEIGHT = 4.78


@dataclass(frozen=True)
class BaselineConfig:
    """Settings of the baseline's pose prior.

    Attributes:
        prior_weight: ``w`` in ``w^2 GMM-NLL``.
        prior: The mixture over the 69 body axis-angle values; None for the shipped one.
    """

    prior_weight: float = SMPLIFY_POSE_PRIOR_WEIGHT
    prior: GaussianMixture | None = None


def fit_baseline(
    model: ProbabilisticHMR,
    people: People,
    config: FitConfig | None = None,
    baseline: BaselineConfig | None = None,
    start: Start | None = None,
) -> BodyFit:
    r"""Fit B people with the direct pose parametrisation and the GMM prior.

    Arguments:
        model: Gives the start (regression) and the body model; its flow is not used.
        people: :class:`~hmrflow.fitting.people.People`.
        config: Data term, shape prior and stop rules (``pose_prior_weight`` is unused).
        baseline: :class:`BaselineConfig`.
        start: The regression to start from (default: :func:`regress`).
    """
    config = config or FitConfig()
    baseline = baseline or BaselineConfig()
    start = start or regress(model, people)
    gmm = (baseline.prior or GaussianMixture.default()).to(start.rotmats)
    weight = baseline.prior_weight**2

    def fit_group(people: People, start: Start) -> BodyFit:
        orientation = rotmat_to_sixd(start.rotmats[:, 0]).detach().clone().requires_grad_(True)
        body_pose = rotmat_to_rotvec(start.rotmats[:, 1:]).detach().clone().requires_grad_(True)

        def pose() -> Tensor:
            root = sixd_to_rotmat(orientation)[:, None]
            return torch.cat([root, rotvec_to_rotmat(body_pose)], dim=1)

        def prior() -> Tensor:
            return weight * gmm.nll(body_pose.flatten(-2))

        return fit_bodies(model, people, config, start, [orientation, body_pose], pose, prior)

    return fit_each(fit_group, people, start, config.joint_batch)
