r"""Robust reprojection energy: the Geman-McClure function on pixel residuals.

``rho(r) = sigma^2 r^2 / (sigma^2 + r^2)`` per coordinate: quadratic for ``|r| << sigma``,
flat (at ``sigma^2``) for outliers. The keypoint energy of DESIGN.md 8 is

``E_data = (1000 / max(W, H))^2 sum_k c_k^2 sum_{x,y} rho(proj_k - x_k)``

with ``sigma = 100`` px: the ``(1000 / max(W, H))^2`` factor makes the energy of a
residual measured as a fraction of the image independent of the image's resolution.

Example:
    >>> geman_mcclure(torch.tensor([0.0, 1.0, 1000.0]), sigma=1.0)
    tensor([0.0000, 0.5000, 1.0000])
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["geman_mcclure", "reprojection_energy", "reprojection_error"]


def geman_mcclure(residual: Tensor, sigma: float = 100.0) -> Tensor:
    r"""``sigma^2 r^2 / (sigma^2 + r^2)`` elementwise, any shape."""
    squared = residual.square()
    return sigma**2 * squared / (sigma**2 + squared)


def reprojection_energy(
    projected: Tensor, keypoints: Tensor, image_size: Tensor, sigma: float = 100.0
) -> Tensor:
    r"""Robust, confidence-weighted reprojection energy per person.

    Arguments:
        projected: ``(..., K, 2)`` model keypoints projected into the image, px.
        keypoints: ``(..., K, 3)`` detections: px and confidence ``c`` (0 = missing).
        image_size: ``(..., 2)`` (W, H) px.
        sigma: Geman-McClure scale, px.

    Returns:
        ``(...)`` energies ``(1000 / max(W, H))^2 sum_k c_k^2 sum_xy rho(residual)``.
    """
    confidence = keypoints[..., 2]
    rho = geman_mcclure(projected - keypoints[..., :2], sigma).sum(-1)
    # Missing points may carry any coordinates: mask rather than multiply NaNs.
    rho = torch.where(confidence > 0, rho, torch.zeros_like(rho))
    scale = (1000.0 / image_size.amax(-1)).square()
    return scale * (confidence.square() * rho).sum(-1)


def reprojection_error(projected: Tensor, keypoints: Tensor) -> Tensor:
    r"""Mean pixel distance over the keypoints with confidence > 0: ``(..., K, 2)``,
    ``(..., K, 3)`` -> ``(...)`` (NaN for a person with no keypoint)."""
    valid = keypoints[..., 2] > 0
    distance = torch.linalg.vector_norm(projected - keypoints[..., :2], dim=-1)
    distance = torch.where(valid, distance, torch.zeros_like(distance))
    return distance.sum(-1) / valid.sum(-1).to(distance.dtype)
