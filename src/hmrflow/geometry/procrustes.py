r"""Similarity Procrustes: the rotation, scale and translation that best align point sets.

Convention: a :class:`Similarity` maps ``source`` points to ``target`` points as
``target ~ scale * rotation @ source + translation`` (rotations act on column vectors;
``rotation`` is a proper rotation, ``det = +1``, never a reflection). The fit minimises
``sum_i w_i |scale R x_i + t - y_i|^2`` (Umeyama 1991), computed by
:func:`roma.rigid_points_registration` with ``compute_scaling=True``.

Every function accepts any number of leading batch dimensions ``...``. A source whose
points all coincide has no defined scale (the result is NaN).

Example:
    >>> import torch
    >>> source = torch.randn(10, 3)
    >>> target = 2.0 * source @ roma.rotvec_to_rotmat(torch.tensor([0.0, 0.0, 1.0])).T + 1.0
    >>> torch.allclose(align(source, target), target, atol=1e-5)
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import roma
import torch
from torch import Tensor

__all__ = ["Similarity", "similarity_procrustes", "align"]


@dataclass(frozen=True)
class Similarity:
    r"""A similarity transform ``x -> scale * rotation @ x + translation``.

    Attributes:
        rotation: Rotation matrices, shape ``(..., 3, 3)``.
        scale: Positive scales, shape ``(...)``.
        translation: Translations, shape ``(..., 3)``.
    """

    rotation: Tensor
    scale: Tensor
    translation: Tensor

    def apply(self, points: Tensor) -> Tensor:
        r"""Transform points ``(..., N, 3)`` to ``(..., N, 3)``."""
        rotated = points @ self.rotation.transpose(-1, -2)
        return self.scale[..., None, None] * rotated + self.translation.unsqueeze(-2)


def similarity_procrustes(
    source: Tensor, target: Tensor, weights: Tensor | None = None
) -> Similarity:
    r"""Least-squares similarity transform taking ``source`` onto ``target``.

    Arguments:
        source: Points to move, shape ``(..., N, 3)``.
        target: Corresponding target points, shape ``(..., N, 3)``.
        weights: Optional non-negative weights per point, shape ``(..., N)``; they are
            normalised to sum to one.

    Returns:
        The :class:`Similarity` with batch shape ``(...)`` minimising
        ``sum_i w_i |scale R source_i + t - target_i|^2``.
    """
    with torch.device(source.device):  # roma makes its constants on the default device
        rotation, translation, scale = roma.rigid_points_registration(
            source, target, weights=weights, compute_scaling=True
        )
    return Similarity(rotation=rotation, scale=scale, translation=translation)


def align(source: Tensor, target: Tensor, weights: Tensor | None = None) -> Tensor:
    r"""``source`` ``(..., N, 3)`` moved by its best similarity transform onto ``target``.

    Returns:
        Aligned source points, shape ``(..., N, 3)``.
    """
    return similarity_procrustes(source, target, weights).apply(source)
