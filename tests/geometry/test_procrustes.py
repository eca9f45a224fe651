"""Tests for hmrflow.geometry.procrustes against a plain numpy SVD (Umeyama) oracle."""

from __future__ import annotations

import numpy as np
import torch

from hmrflow.geometry.procrustes import Similarity, align, similarity_procrustes
from hmrflow.geometry.rotations import rotvec_to_rotmat

F64 = torch.float64


def umeyama_oracle(
    source: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, float, np.ndarray]:
    """Slow reference for one example: (R, s, t) minimising sum w |s R x + t - y|^2."""
    n = source.shape[0]
    w = np.full(n, 1.0 / n) if weights is None else weights / weights.sum()
    mu_x = (w[:, None] * source).sum(0)
    mu_y = (w[:, None] * target).sum(0)
    x = source - mu_x
    y = target - mu_y
    covariance = (w[:, None, None] * y[:, :, None] * x[:, None, :]).sum(0)  # sum w y x^T
    U, D, Vt = np.linalg.svd(covariance)
    sign = np.ones(3)
    sign[2] = np.sign(np.linalg.det(U) * np.linalg.det(Vt))
    R = U @ np.diag(sign) @ Vt
    variance = (w * (x**2).sum(1)).sum()
    scale = float((D * sign).sum() / variance)
    t = mu_y - scale * R @ mu_x
    return R, scale, t


def known_transform(seed: int, batch: tuple[int, ...]) -> Similarity:
    g = torch.Generator().manual_seed(seed)
    return Similarity(
        rotation=rotvec_to_rotmat(torch.randn((*batch, 3), generator=g, dtype=F64)),
        scale=0.5 + 1.5 * torch.rand(batch, generator=g, dtype=F64),
        translation=torch.randn((*batch, 3), generator=g, dtype=F64),
    )


def test_recovers_a_known_similarity_with_leading_dims() -> None:
    truth = known_transform(0, (2, 3))
    g = torch.Generator().manual_seed(1)
    source = torch.randn(2, 3, 14, 3, generator=g, dtype=F64)
    target = truth.apply(source)
    fit = similarity_procrustes(source, target)
    assert fit.rotation.shape == (2, 3, 3, 3)
    assert fit.scale.shape == (2, 3) and fit.translation.shape == (2, 3, 3)
    torch.testing.assert_close(fit.rotation, truth.rotation)
    torch.testing.assert_close(fit.scale, truth.scale)
    torch.testing.assert_close(fit.translation, truth.translation)
    torch.testing.assert_close(align(source, target), target)


def test_apply_hand_value() -> None:
    quarter_z = rotvec_to_rotmat(torch.tensor([0.0, 0.0, torch.pi / 2], dtype=F64))
    similarity = Similarity(
        quarter_z, torch.tensor(2.0, dtype=F64), torch.tensor([1.0, 0.0, 0.0], dtype=F64)
    )
    moved = similarity.apply(torch.tensor([[1.0, 0.0, 0.0]], dtype=F64))
    torch.testing.assert_close(moved, torch.tensor([[1.0, 2.0, 0.0]], dtype=F64))


def test_matches_numpy_oracle_on_noisy_points() -> None:
    g = torch.Generator().manual_seed(2)
    source = torch.randn(5, 20, 3, generator=g, dtype=F64)
    noise = 0.2 * torch.randn(5, 20, 3, generator=g, dtype=F64)
    target = known_transform(3, (5,)).apply(source) + noise
    weights = torch.rand(5, 20, generator=g, dtype=F64) + 0.1
    for w in (None, weights):
        fit = similarity_procrustes(source, target, w)
        for b in range(5):
            R, s, t = umeyama_oracle(
                source[b].numpy(), target[b].numpy(), None if w is None else w[b].numpy()
            )
            np.testing.assert_allclose(fit.rotation[b].numpy(), R, atol=1e-9)
            np.testing.assert_allclose(fit.scale[b].item(), s, rtol=1e-9)
            np.testing.assert_allclose(fit.translation[b].numpy(), t, atol=1e-9)


def test_weights_ignore_outliers_with_zero_weight() -> None:
    truth = known_transform(4, ())
    g = torch.Generator().manual_seed(5)
    source = torch.randn(12, 3, generator=g, dtype=F64)
    target = truth.apply(source)
    target[:3] += 5.0  # corrupted points
    weights = torch.ones(12, dtype=F64)
    weights[:3] = 0.0
    fit = similarity_procrustes(source, target, weights)
    torch.testing.assert_close(fit.scale, truth.scale)
    torch.testing.assert_close(fit.apply(source)[3:], target[3:])


def test_mirrored_target_gives_a_proper_rotation() -> None:
    g = torch.Generator().manual_seed(6)
    source = torch.randn(15, 3, generator=g, dtype=F64)
    target = source * torch.tensor([-1.0, 1.0, 1.0], dtype=F64)
    fit = similarity_procrustes(source, target)
    torch.testing.assert_close(torch.linalg.det(fit.rotation), torch.tensor(1.0, dtype=F64))
    R, s, t = umeyama_oracle(source.numpy(), target.numpy())
    np.testing.assert_allclose(fit.rotation.numpy(), R, atol=1e-9)
    np.testing.assert_allclose(fit.scale.item(), s, rtol=1e-9)
    # A reflection cannot be matched: the residual stays positive.
    assert (align(source, target) - target).norm() > 0.1


def test_alignment_is_the_least_squares_optimum() -> None:
    g = torch.Generator().manual_seed(7)
    source = torch.randn(10, 3, generator=g, dtype=F64)
    target = torch.randn(10, 3, generator=g, dtype=F64)
    fit = similarity_procrustes(source, target)
    best = (fit.apply(source) - target).square().sum()
    for seed in range(20):
        nudge = known_transform(100 + seed, ())
        nearby = Similarity(
            fit.rotation @ rotvec_to_rotmat(0.01 * nudge.translation),
            fit.scale * (1 + 0.01 * (nudge.scale - 1)),
            fit.translation + 0.01 * nudge.translation,
        )
        assert (nearby.apply(source) - target).square().sum() > best
