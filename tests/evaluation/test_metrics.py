"""Tests for hmrflow.evaluation.metrics against hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch

from hmrflow.evaluation.metrics import (
    align_pelvis,
    calibration_curve,
    min_of_n,
    mpjpe,
    pa_mpjpe,
    per_joint_errors,
    sample_diversity,
)
from hmrflow.geometry.procrustes import Similarity
from hmrflow.geometry.rotations import rotvec_to_rotmat

F64 = torch.float64


def random_skeletons(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.4 * torch.randn(*shape, 14, 3, generator=g, dtype=F64)


def test_known_offset_gives_its_mpjpe_in_mm() -> None:
    target = random_skeletons(3)
    pred = target + torch.tensor([0.003, 0.004, 0.0], dtype=F64)
    torch.testing.assert_close(mpjpe(pred, target), torch.full((3,), 5.0, dtype=F64))


def test_per_joint_errors_hand_value() -> None:
    target = torch.zeros(4, 3, dtype=F64)
    pred = target.clone()
    pred[2] = torch.tensor([0.0, 0.006, 0.008], dtype=F64)  # 10 mm at joint 2
    errors = per_joint_errors(pred, target)
    torch.testing.assert_close(errors, torch.tensor([0.0, 0.0, 10.0, 0.0], dtype=F64))
    torch.testing.assert_close(mpjpe(pred, target), torch.tensor(2.5, dtype=F64))


def test_pelvis_alignment_removes_a_global_shift() -> None:
    target = random_skeletons(2, 5, seed=1)
    shift = torch.tensor([0.5, -1.0, 3.0], dtype=F64)
    pred = target + shift
    expected = torch.full((2, 5), 1000 * shift.norm().item(), dtype=F64)
    torch.testing.assert_close(mpjpe(pred, target, pelvis=None), expected)
    assert mpjpe(pred, target, pelvis=0).abs().max() < 1e-9
    assert mpjpe(pred, target, pelvis=(2, 3)).abs().max() < 1e-9


def test_pelvis_as_joint_or_hip_midpoint_hand_values() -> None:
    target = torch.zeros(3, 3, dtype=F64)
    pred = torch.tensor([[0.0, 0.0, 0.0], [0.01, 0.0, 0.0], [-0.01, 0.0, 0.0]], dtype=F64)
    # Midpoint of joints 1 and 2 is the origin: errors 0, 10, 10 mm.
    expected = torch.tensor(20.0 / 3, dtype=F64)
    torch.testing.assert_close(mpjpe(pred, target, pelvis=(1, 2)), expected)
    # Joint 1 as pelvis: pred becomes (-10, 0, -20) mm along x.
    expected = torch.tensor([10.0, 0.0, 20.0], dtype=F64)
    torch.testing.assert_close(per_joint_errors(pred, target, pelvis=1), expected)
    torch.testing.assert_close(align_pelvis(pred, (1, 2)), pred)


def test_pa_mpjpe_zero_for_a_known_similarity() -> None:
    target = random_skeletons(4, seed=2)
    g = torch.Generator().manual_seed(3)
    similarity = Similarity(
        rotvec_to_rotmat(torch.randn(4, 3, generator=g, dtype=F64)),
        torch.tensor([0.5, 1.0, 1.3, 2.0], dtype=F64),
        torch.randn(4, 3, generator=g, dtype=F64),
    )
    pred = similarity.apply(target)
    assert pa_mpjpe(pred, target).abs().max() < 1e-9
    assert mpjpe(pred, target, pelvis=0).min() > 10.0  # the plain metric does see it


def test_pa_mpjpe_hand_value() -> None:
    # Square in the xy plane; the prediction lifts the x pair and lowers the y pair by 0.1 m.
    # Best similarity: R = I, t = 0, scale = 1 / 1.01; every residual is 1 / sqrt(101) m.
    target = torch.tensor([[1.0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]], dtype=F64)
    pred = target + torch.tensor([[0, 0, 0.1], [0, 0, 0.1], [0, 0, -0.1], [0, 0, -0.1]], dtype=F64)
    expected = torch.tensor(1000 / math.sqrt(101), dtype=F64)
    torch.testing.assert_close(pa_mpjpe(pred, target), expected)


def test_pa_mpjpe_invariant_to_a_similarity_of_the_prediction() -> None:
    target = random_skeletons(3, seed=4)
    pred = target + 0.05 * random_skeletons(3, seed=5)
    g = torch.Generator().manual_seed(6)
    moved = Similarity(
        rotvec_to_rotmat(torch.randn(3, 3, generator=g, dtype=F64)),
        torch.tensor([0.7, 1.5, 3.0], dtype=F64),
        torch.randn(3, 3, generator=g, dtype=F64),
    ).apply(pred)
    torch.testing.assert_close(pa_mpjpe(moved, target), pa_mpjpe(pred, target))


def test_pa_mpjpe_broadcasts_target_over_samples() -> None:
    target = random_skeletons(2, seed=7)
    samples = target.unsqueeze(1) + 0.05 * random_skeletons(2, 6, seed=8)
    broadcast = pa_mpjpe(samples, target.unsqueeze(1))
    explicit = pa_mpjpe(samples, target.unsqueeze(1).expand_as(samples))
    assert broadcast.shape == (2, 6)
    torch.testing.assert_close(broadcast, explicit)


def test_min_of_n_hand_value_and_range() -> None:
    mode = torch.tensor([5.0, 2.0])
    samples = torch.tensor([[7.0, 4.0, 3.0], [1.0, 9.0, 0.5]])
    torch.testing.assert_close(min_of_n(mode, samples, n=1), mode)
    torch.testing.assert_close(min_of_n(mode, samples, n=2), torch.tensor([5.0, 1.0]))
    torch.testing.assert_close(min_of_n(mode, samples, n=3), torch.tensor([4.0, 1.0]))
    torch.testing.assert_close(min_of_n(mode, samples), torch.tensor([3.0, 0.5]))
    for bad in (0, 5):
        with pytest.raises(ValueError):
            min_of_n(mode, samples, n=bad)


def test_min_of_n_never_above_mode_and_non_increasing() -> None:
    g = torch.Generator().manual_seed(9)
    mode = 50 + 10 * torch.rand(200, generator=g)
    samples = 40 + 30 * torch.rand(200, 24, generator=g)
    curve = torch.stack([min_of_n(mode, samples, n) for n in range(1, 26)])
    assert (curve <= mode).all()
    assert (curve[1:] <= curve[:-1]).all()
    assert (curve[-1] < curve[0]).float().mean() > 0.9  # samples do help here


def test_sample_diversity_hand_values() -> None:
    base = random_skeletons(seed=10)
    same = base.expand(4, 14, 3)
    assert sample_diversity(same).abs() < 1e-9
    pair = torch.stack((base, base + torch.tensor([0.0, 0.006, 0.008], dtype=F64)))
    torch.testing.assert_close(sample_diversity(pair), torch.tensor(10.0, dtype=F64))
    # One joint at 0, 10, 20 mm: ordered pairs 10, 20, 10 (twice each) -> 40 / 3 mm.
    line = torch.tensor([[[0.0, 0, 0]], [[0.01, 0, 0]], [[0.02, 0, 0]]], dtype=F64)
    torch.testing.assert_close(sample_diversity(line), torch.tensor(40.0 / 3, dtype=F64))
    with pytest.raises(ValueError):
        sample_diversity(base.unsqueeze(0))


def test_sample_diversity_pelvis_and_gaussian_expectation() -> None:
    g = torch.Generator().manual_seed(11)
    sigma = 0.02  # metres
    samples = sigma * torch.randn(50, 40, 6, 3, generator=g, dtype=F64)
    # Two independent N(0, sigma^2 I_3) points lie 4 sigma / sqrt(pi) apart on average.
    expected = 1000 * 4 * sigma / math.sqrt(math.pi)
    assert abs(sample_diversity(samples).mean().item() - expected) < 0.02 * expected
    shifted = samples + torch.randn(50, 40, 1, 3, generator=g, dtype=F64)
    torch.testing.assert_close(
        sample_diversity(shifted, pelvis=0), sample_diversity(samples, pelvis=0)
    )
    assert (sample_diversity(shifted) > 10 * sample_diversity(samples)).all()


def test_calibration_definition_hand_case() -> None:
    # One joint, samples at x = -1, 0, 1: mean 0, leave-one-out distances 1.5, 0, 1.5.
    # Plotting positions q * 4 (1-based): q = 0.25 -> radius 0, 0.375 -> 0.75, 0.5 -> 1.5.
    samples = torch.tensor([[[-1.0, 0, 0]], [[0.0, 0, 0]], [[1.0, 0, 0]]], dtype=F64)
    samples = samples.expand(4, 3, 1, 3)
    target = torch.tensor(
        [[[0.0, 0, 0]], [[0.0, 0.5, 0]], [[1.4, 0, 0]], [[0, 0, -1.6]]], dtype=F64
    )
    levels = torch.tensor([0.25, 0.375, 0.5], dtype=F64)
    curve = calibration_curve(samples, target, levels)
    torch.testing.assert_close(curve.per_joint, torch.tensor([[0.25], [0.5], [0.75]], dtype=F64))
    torch.testing.assert_close(curve.observed, torch.tensor([0.25, 0.5, 0.75], dtype=F64))
    torch.testing.assert_close(curve.error, torch.tensor((0 + 0.125 + 0.25) / 3, dtype=F64))


def gaussian_case(sample_std: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """GT ~ N(mu, 1) per joint; samples ~ N(mu, sample_std^2) around the same mean."""
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(3000, 1, 5, 3, generator=g)
    target = mean[:, 0] + torch.randn(3000, 5, 3, generator=g)
    samples = mean + sample_std * torch.randn(3000, 50, 5, 3, generator=g)
    return samples, target


def test_calibration_of_the_true_distribution_is_near_the_diagonal() -> None:
    samples, target = gaussian_case(1.0, seed=12)
    curve = calibration_curve(samples, target)
    assert curve.levels.shape == (19,) and curve.per_joint.shape == (19, 5)
    assert (curve.observed - curve.levels).abs().max() < 0.05
    assert curve.error < 0.02


def test_calibration_over_and_under_confidence() -> None:
    over = calibration_curve(*gaussian_case(0.6, seed=13))
    under = calibration_curve(*gaussian_case(1.6, seed=14))
    assert (over.observed < over.levels).all()
    assert (under.observed > under.levels).all()
    assert over.error > 0.1 and under.error > 0.1


def test_calibration_leading_dims_average_like_a_flat_batch() -> None:
    samples, target = gaussian_case(1.0, seed=15)
    samples, target = samples[:600], target[:600]
    flat = calibration_curve(samples, target)
    nested = calibration_curve(samples.reshape(20, 30, 50, 5, 3), target.reshape(20, 30, 5, 3))
    torch.testing.assert_close(nested.per_joint, flat.per_joint)
