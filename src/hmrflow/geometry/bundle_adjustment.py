r"""Refine some cameras' placement from 2D observations of unknown 3D points.

A small bundle adjustment: the 3D points and the extrinsics of the ``free`` cameras (a
rotation ``R = exp(w) R_0`` and a camera centre ``C = C_0 + d``, so ``t = -R C``) minimise

``sum_n sum_v c_nv s^2 (sqrt(1 + (|proj_v(X_n) - x_nv| / s)^2) - 1)``

(a pseudo-Huber loss of scale ``s`` px, weighted by the observations' confidences ``c``)
with L-BFGS; intrinsics and the other cameras stay as given. Keep at least two cameras
fixed: they hold the frame, scale and origin of the world.

Conventions as in :mod:`hmrflow.geometry.triangulation`; computations in float64 on the
inputs' device.

Example (a camera turned by 2 degrees is found again from 50 points):
    >>> from hmrflow.geometry.rotations import rotvec_to_rotmat
    >>> from hmrflow.geometry.triangulation import project, projection_matrices
    >>> g = torch.Generator().manual_seed(0)
    >>> yaw = torch.tensor([-0.6, 0.0, 0.6], dtype=torch.float64)
    >>> R = rotvec_to_rotmat(torch.stack([0 * yaw, yaw, 0 * yaw], -1))
    >>> t = torch.tensor([0.0, 0.0, 4.0], dtype=torch.float64).expand(3, 3)
    >>> f, c = torch.full((3, 2), 1000.0, dtype=torch.float64), torch.full((3, 2), 500.0, dtype=torch.float64)
    >>> X = torch.rand(50, 3, generator=g, dtype=torch.float64) - 0.5
    >>> uv = project(X, projection_matrices(R, t, f, c))
    >>> turn = rotvec_to_rotmat(torch.tensor([0.0, 0.035, 0.0], dtype=torch.float64))
    >>> wrong = torch.stack([R[0], R[1], turn @ R[2]])
    >>> out = refine_extrinsics(uv, torch.ones(50, 3, dtype=torch.float64), wrong, t, f, c,
    ...                         torch.tensor([False, False, True]), X + 0.01)
    >>> bool((out.rotation[2] - R[2]).abs().max() < 1e-4), round(out.loss_after, 6)
    (True, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from hmrflow.geometry.rotations import rotvec_to_rotmat

__all__ = ["ExtrinsicsRefinement", "refine_extrinsics"]


@dataclass(frozen=True)
class ExtrinsicsRefinement:
    r"""Result of :func:`refine_extrinsics`.

    Attributes:
        rotation: ``(V, 3, 3)``; translation: ``(V, 3)``: every camera (the fixed ones as given).
        points: ``(N, 3)`` the refined points.
        loss_before, loss_after: The robust loss at the start and the end.
        turn_deg: ``(V,)`` how far each camera turned, degrees; shift_m: ``(V,)`` how far
            its centre moved, metres.
    """

    rotation: Tensor
    translation: Tensor
    points: Tensor
    loss_before: float
    loss_after: float
    turn_deg: Tensor
    shift_m: Tensor


def _project(points: Tensor, rotation: Tensor, translation: Tensor, focal: Tensor, principal: Tensor) -> Tensor:
    """``(N, 3)`` world points -> ``(N, V, 2)`` px in the V cameras."""
    camera = torch.einsum("vij,nj->nvi", rotation, points) + translation
    return camera[..., :2] / camera[..., 2:] * focal + principal


def refine_extrinsics(
    points_2d: Tensor,
    confidence: Tensor,
    rotation: Tensor,
    translation: Tensor,
    focal_length: Tensor,
    principal_point: Tensor,
    free: Tensor,
    points: Tensor,
    scale_px: float = 10.0,
    max_iter: int = 500,
    rounds: int = 3,
) -> ExtrinsicsRefinement:
    r"""Refine the extrinsics of the ``free`` cameras (the module docstring has the loss).

    Arguments:
        points_2d: ``(N, V, 2)`` observations px; confidence: ``(N, V)`` (0: unseen).
        rotation, translation: ``(V, 3, 3)``, ``(V, 3)`` the cameras' start.
        focal_length, principal_point: ``(V, 2)`` px (kept).
        free: ``(V,)`` bool, the cameras to move; at least two must stay fixed.
        points: ``(N, 3)`` the points' start (e.g. a triangulation), finite.
        scale_px: ``s`` of the pseudo-Huber loss.
        max_iter, rounds: L-BFGS iterations per round, and rounds.
    """
    if int((~free).sum()) < 2:
        raise ValueError("keep at least two cameras fixed: they hold the world frame and scale")
    dtype = torch.float64
    rotation0, translation0 = rotation.to(dtype), translation.to(dtype)
    centre0 = -(rotation0.transpose(-1, -2) @ translation0[..., None])[..., 0]
    mask = free.to(dtype)[:, None]
    turn = torch.zeros_like(centre0, requires_grad=True)
    shift = torch.zeros_like(centre0, requires_grad=True)
    X = points.to(dtype).detach().clone().requires_grad_(True)
    observed, weights = points_2d.to(dtype), confidence.to(dtype)
    focal, principal = focal_length.to(dtype), principal_point.to(dtype)

    def cameras() -> tuple[Tensor, Tensor]:
        R = rotvec_to_rotmat(turn * mask) @ rotation0
        t = -(R @ (centre0 + shift * mask)[..., None])[..., 0]
        kept = ~free.to(R.device)  # exactly as given, not recomputed
        return torch.where(kept[:, None, None], rotation0, R), torch.where(kept[:, None], translation0, t)

    def loss() -> Tensor:
        R, t = cameras()
        error = torch.linalg.vector_norm(_project(X, R, t, focal, principal) - observed, dim=-1)
        robust = scale_px**2 * (torch.sqrt(1 + (error / scale_px) ** 2) - 1)
        return (weights * torch.where(weights > 0, robust, 0.0)).sum()

    optimizer = torch.optim.LBFGS([X, turn, shift], max_iter=max_iter, line_search_fn="strong_wolfe",
                                  tolerance_grad=1e-10, tolerance_change=1e-12)  # fmt: skip

    def closure() -> Tensor:
        optimizer.zero_grad()
        value = loss()
        value.backward()
        return value

    with torch.no_grad():
        before = float(loss())
    for _ in range(rounds):
        optimizer.step(closure)
    with torch.no_grad():
        R, t = cameras()
        after = float(loss())
    return ExtrinsicsRefinement(
        rotation=R.detach(),
        translation=t.detach(),
        points=X.detach(),
        loss_before=before,
        loss_after=after,
        turn_deg=torch.rad2deg(torch.linalg.vector_norm(turn * mask, dim=-1)).detach(),
        shift_m=torch.linalg.vector_norm(shift * mask, dim=-1).detach(),
    )
