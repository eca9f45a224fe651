r"""A Gaussian-mixture pose prior (SMPLify-style) and the EM that fits it.

SMPLify's prior is a mixture of 8 full-covariance Gaussians over the 69 axis-angle
values of the 23 body joints. :class:`GaussianMixture` gives the smooth negative
log-likelihood ``-log sum_m w_m N(x; mu_m, Sigma_m)`` (up to a constant: the minimum
over ``x`` of the largest component's term is subtracted, so a pose at a mean scores
about 0). The shipped prior (:meth:`GaussianMixture.default`) was fitted by
``scripts/fit_pose_gmm.py`` on the bundled CMU poses and pose-sampler poses.

Example:
    >>> x = torch.randn(500, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> gmm = fit_gaussian_mixture(x, 2, generator=torch.Generator().manual_seed(0))
    >>> gmm.nll(x).shape
    torch.Size([500])
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

__all__ = ["GaussianMixture", "fit_gaussian_mixture", "DEFAULT_POSE_PRIOR"]

#: The shipped pose prior, in ``hmrflow/assets/priors``.
DEFAULT_POSE_PRIOR = "pose_gmm.npz"


@dataclass(frozen=True)
class GaussianMixture:
    r"""M full-covariance Gaussians in D dimensions.

    Attributes:
        weights: ``(M,)`` mixture weights (sum 1).
        means: ``(M, D)``.
        precision_cholesky: ``(M, D, D)`` lower-triangular ``L_m`` with
            ``Sigma_m^{-1} = L_m L_m^T``.
    """

    weights: Tensor
    means: Tensor
    precision_cholesky: Tensor

    @property
    def dim(self) -> int:
        """D."""
        return self.means.shape[-1]

    def to(self, like: Tensor) -> GaussianMixture:
        """The same mixture on ``like``'s device and dtype."""
        kw = {"device": like.device, "dtype": like.dtype}
        return GaussianMixture(self.weights.to(**kw), self.means.to(**kw), self.precision_cholesky.to(**kw))

    def _log_normalizer(self) -> Tensor:
        """``(M,)`` ``log w_m + log det(L_m) - D/2 log(2 pi)``."""
        log_det = torch.diagonal(self.precision_cholesky, dim1=-2, dim2=-1).log().sum(-1)
        return self.weights.log() + log_det - 0.5 * self.dim * math.log(2 * math.pi)

    def component_log_prob(self, x: Tensor) -> Tensor:
        r"""``(..., D)`` -> ``(..., M)`` ``log w_m + log N(x; mu_m, Sigma_m)``."""
        flat = x.reshape(-1, self.dim)
        diff = flat[None] - self.means[:, None]  # (M, P, D): one large product per component
        squared = torch.bmm(diff, self.precision_cholesky).square().sum(-1)  # (M, P)
        return (self._log_normalizer()[:, None] - 0.5 * squared).T.reshape(*x.shape[:-1], -1)

    def log_prob(self, x: Tensor) -> Tensor:
        r"""``(..., D)`` -> ``(...)`` the mixture's log-density."""
        return torch.logsumexp(self.component_log_prob(x), dim=-1)

    def nll(self, x: Tensor) -> Tensor:
        r"""``(..., D)`` -> ``(...)`` ``-log p(x) + max_m log_normalizer_m`` (about 0 at a mean)."""
        return self._log_normalizer().max() - self.log_prob(x)

    def pruned(self, min_weight: float = 1e-3) -> GaussianMixture:
        """The mixture without components of weight below ``min_weight`` (renormalised)."""
        keep = self.weights >= min_weight
        weights = self.weights[keep]
        return GaussianMixture(weights / weights.sum(), self.means[keep], self.precision_cholesky[keep])

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write an ``.npz`` file (float32)."""
        np.savez_compressed(
            path,
            weights=self.weights.float().numpy(),
            means=self.means.float().numpy(),
            precision_cholesky=self.precision_cholesky.float().numpy(),
        )

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> GaussianMixture:
        """Read a file written by :meth:`save`."""
        with np.load(Path(path)) as data:
            arrays = {key: torch.from_numpy(np.asarray(data[key], dtype=np.float32)) for key in
                      ("weights", "means", "precision_cholesky")}  # fmt: skip
        M, D = arrays["means"].shape
        if arrays["weights"].shape != (M,) or arrays["precision_cholesky"].shape != (M, D, D):
            raise ValueError(f"{path}: inconsistent Gaussian-mixture arrays")
        return cls(**arrays)

    @classmethod
    def default(cls) -> GaussianMixture:
        """The shipped 69-D body-pose prior (axis-angle of the 23 body joints)."""
        with resources.as_file(resources.files("hmrflow") / "assets" / "priors" / DEFAULT_POSE_PRIOR) as path:
            return cls.from_file(path)


def fit_gaussian_mixture(
    x: Tensor,
    components: int,
    iterations: int = 100,
    generator: torch.Generator | None = None,
    regularization: float = 1e-3,
) -> GaussianMixture:
    r"""Maximum-likelihood mixture of ``components`` full-covariance Gaussians by EM.

    Arguments:
        x: ``(N, D)`` data (float64 recommended).
        components: M.
        iterations: EM iterations.
        generator: Randomness of the initial means (M distinct data points).
        regularization: Added to every covariance's diagonal (keeps degenerate
            directions, e.g. joints that never move, well conditioned).
    """
    N, D = x.shape
    if N < components:
        raise ValueError(f"need at least {components} points, got {N}")
    means = x[torch.randperm(N, generator=generator)[:components]].clone()
    eye = torch.eye(D, dtype=x.dtype, device=x.device)
    covariances = ((x - x.mean(0)).T @ (x - x.mean(0)) / N + regularization * eye).expand(components, D, D)
    weights = torch.full((components,), 1.0 / components, dtype=x.dtype, device=x.device)
    gmm = _from_covariances(weights, means, covariances)
    for _ in range(iterations):
        responsibilities = torch.softmax(gmm.component_log_prob(x), dim=-1)  # (N, M)
        mass = responsibilities.sum(0) + 1e-12
        means = responsibilities.T @ x / mass[:, None]
        diff = x[None] - means[:, None]  # (M, N, D)
        weighted = diff * responsibilities.T[..., None]
        covariances = torch.bmm(weighted.transpose(1, 2), diff) / mass[:, None, None] + regularization * eye
        gmm = _from_covariances(mass / N, means, covariances)
    return gmm


def _from_covariances(weights: Tensor, means: Tensor, covariances: Tensor) -> GaussianMixture:
    precision = torch.linalg.inv(covariances)
    precision = 0.5 * (precision + precision.transpose(-1, -2))
    return GaussianMixture(weights / weights.sum(), means, torch.linalg.cholesky(precision))
