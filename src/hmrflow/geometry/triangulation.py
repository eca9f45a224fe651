r"""Triangulation of 2D points seen by calibrated cameras (weighted DLT, robust variant).

Cameras follow :mod:`hmrflow.geometry.cameras`: world -> camera ``X_c = R X_w + t``, then
``u = f_x X_c,x / X_c,z + c_x`` (px, origin at the top-left corner). A camera's 3 x 4
projection matrix is ``P = K [R | t]``.

:func:`triangulate` solves the direct linear transform: each view ``v`` with weight
``w_v > 0`` adds the rows ``w_v (u P_3 - P_1)`` and ``w_v (v P_3 - P_2)`` (each first scaled
to unit length, so that the weights alone say how much a view counts), and the point is
the right singular vector of the smallest singular value. :func:`triangulate_robust`
repeats it, each time leaving out the view with the largest reprojection error while
that error exceeds a threshold and more than ``min_views`` views remain.

Shapes: ``...`` any batch dimensions, ``V`` views. Computations run in the inputs' dtype
(float64 is advised) and on their device.

Example (two cameras 2 m apart look at a point 5 m away):
    >>> R = torch.eye(3, dtype=torch.float64).expand(2, 3, 3)
    >>> t = torch.tensor([[1.0, 0, 0], [-1.0, 0, 0]], dtype=torch.float64)
    >>> P = projection_matrices(R, t, torch.full((2, 2), 1000.0, dtype=torch.float64),
    ...                         torch.full((2, 2), 500.0, dtype=torch.float64))
    >>> point = torch.tensor([0.2, -0.1, 5.0], dtype=torch.float64)
    >>> uv = project(point, P)
    >>> torch.allclose(triangulate(uv, torch.ones(2, dtype=torch.float64), P), point)
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "RobustTriangulation",
    "projection_matrices",
    "project",
    "reprojection_errors",
    "triangulate",
    "triangulate_robust",
]


def projection_matrices(rotation: Tensor, translation: Tensor, focal_length: Tensor, principal_point: Tensor) -> Tensor:
    r"""``P = K [R | t]`` ``(..., 3, 4)`` from ``R`` ``(..., 3, 3)``, ``t`` ``(..., 3)``,
    focal lengths ``(..., 2)`` (fx, fy) and principal points ``(..., 2)``, px."""
    K = torch.zeros(*principal_point.shape[:-1], 3, 3, dtype=rotation.dtype, device=rotation.device)
    K[..., 0, 0], K[..., 1, 1] = focal_length[..., 0], focal_length[..., 1]
    K[..., :2, 2], K[..., 2, 2] = principal_point, 1.0
    return K @ torch.cat([rotation, translation[..., None]], dim=-1)


def project(points: Tensor, projections: Tensor) -> Tensor:
    r"""Points ``(..., 3)`` seen by cameras ``(..., V, 3, 4)`` -> ``(..., V, 2)`` px.

    Points behind a camera (depth <= 0) project to NaN."""
    homogeneous = torch.cat([points, torch.ones_like(points[..., :1])], dim=-1)
    image = (projections @ homogeneous[..., None, :, None])[..., 0]  # (..., V, 3)
    depth = image[..., 2:]
    return torch.where(depth > 0, image[..., :2] / depth, torch.full_like(image[..., :2], float("nan")))


def reprojection_errors(points: Tensor, projections: Tensor, points_2d: Tensor) -> Tensor:
    r"""Distances ``(..., V)`` px between points ``(..., 3)`` projected by ``(..., V, 3, 4)``
    and the observations ``(..., V, 2)``."""
    return torch.linalg.vector_norm(project(points, projections) - points_2d, dim=-1)


def triangulate(points_2d: Tensor, weights: Tensor, projections: Tensor) -> Tensor:
    r"""Weighted DLT: observations ``(..., V, 2)`` px, weights ``(..., V)`` (0: unused),
    cameras ``(..., V, 3, 4)`` -> points ``(..., 3)``.

    Points seen (weight > 0) by fewer than two views come out as NaN."""
    u, v = points_2d[..., 0, None], points_2d[..., 1, None]  # (..., V, 1)
    P = projections.expand(*points_2d.shape[:-1], 3, 4)
    rows = torch.stack([u * P[..., 2, :] - P[..., 0, :], v * P[..., 2, :] - P[..., 1, :]], dim=-2)  # (..., V, 2, 4)
    rows = rows / torch.linalg.vector_norm(rows, dim=-1, keepdim=True).clamp_min(1e-12)
    rows = rows * weights[..., None, None]
    solution = torch.linalg.svd(rows.flatten(-3, -2)).Vh[..., -1, :]  # (..., 4)
    point = solution[..., :3] / solution[..., 3:]
    enough = (weights > 0).sum(-1, keepdim=True) >= 2
    return torch.where(enough, point, torch.full_like(point, float("nan")))


@dataclass(frozen=True)
class RobustTriangulation:
    r"""Result of :func:`triangulate_robust`.

    Attributes:
        points: ``(..., 3)``; NaN where not ``valid``.
        valid: ``(...)`` bool: at least ``min_views`` views agree within the threshold.
        used: ``(..., V)`` bool: the views the point was triangulated from.
        errors: ``(..., V)`` px: reprojection error in every view that saw the point
            (used or left out), NaN where it was not seen or the point is not valid.
    """

    points: Tensor
    valid: Tensor
    used: Tensor
    errors: Tensor


def triangulate_robust(
    points_2d: Tensor,
    confidence: Tensor,
    projections: Tensor,
    threshold: float,
    min_confidence: float = 0.0,
    min_views: int = 2,
) -> RobustTriangulation:
    r"""Triangulate, then leave out the worst view while its error exceeds ``threshold`` px.

    Arguments:
        points_2d: ``(..., V, 2)`` px.
        confidence: ``(..., V)``: the DLT weights; views at or under ``min_confidence``
            are not used.
        projections: ``(..., V, 3, 4)`` (broadcast over ``...``).
        threshold: Largest accepted reprojection error of a used view, px.
        min_confidence: Views need a higher confidence to be used.
        min_views: Fewest views a point is triangulated from (>= 2).
    """
    if min_views < 2:
        raise ValueError(f"min_views must be at least 2, got {min_views}")
    seen = confidence > min_confidence
    used = seen.clone()
    for _ in range(points_2d.shape[-2]):
        points = triangulate(points_2d, torch.where(used, confidence, 0.0), projections)
        errors = reprojection_errors(points, projections, points_2d)
        worst = torch.where(used, errors.nan_to_num(float("inf")), -1.0)
        largest, index = worst.max(-1)
        drop = (largest > threshold) & (used.sum(-1) > min_views)
        if not drop.any():
            break
        used = used & ~(drop[..., None] & (torch.arange(used.shape[-1], device=used.device) == index[..., None]))
    used_errors = torch.where(used, errors, 0.0).nan_to_num(float("inf"))
    valid = (used.sum(-1) >= min_views) & (used_errors.amax(-1) <= threshold)
    nan = float("nan")
    return RobustTriangulation(
        points=torch.where(valid[..., None], points, nan),
        valid=valid,
        used=used & valid[..., None],
        errors=torch.where(seen & valid[..., None], errors, nan),
    )
