"""Tests for the Evaluator: accumulation, purity, min-of-N, calibration, NLL."""

from __future__ import annotations

import pytest
import torch

from hmrflow.evaluation.evaluator import Evaluator
from hmrflow.evaluation.metrics import align_pelvis, calibration_curve, min_of_n, mpjpe, pa_mpjpe

F64 = torch.float64
NAMES = tuple(f"j{k}" for k in range(6))


def make_batch(B: int = 12, S: int = 7, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    target = 0.4 * torch.randn(B, 6, 3, generator=g)
    return {
        "target": target,
        "mode": target + 0.03 * torch.randn(B, 6, 3, generator=g),
        "samples": target[:, None] + 0.08 * torch.randn(B, S, 6, 3, generator=g),
        "log_prob": torch.randn(B, generator=g),
    }


def split(batch: dict[str, torch.Tensor], sizes: list[int]) -> list[dict[str, torch.Tensor]]:
    parts, start = [], 0
    for size in sizes:
        parts.append({k: v[start : start + size] for k, v in batch.items()})
        start += size
    return parts


def test_accumulation_equals_one_shot_computation() -> None:
    batch = make_batch()
    whole = Evaluator(NAMES, pelvis=0, min_of_n=(1, 3, 8))
    whole.update(**batch)
    parts = Evaluator(NAMES, pelvis=0, min_of_n=(1, 3, 8))
    for part in split(batch, [5, 4, 3]):
        parts.update(**part)
    one, many = whole.compute(), parts.compute()
    assert one.count == many.count == 12
    assert one.figures.keys() == many.figures.keys()
    for key in one.figures:
        assert many.figures[key] == pytest.approx(one.figures[key], rel=1e-12, abs=1e-12), key
    for field in ("per_joint_mpjpe", "per_joint_pa_mpjpe", "calibration_observed", "min_of_n_pa_mpjpe"):
        assert getattr(many, field) == pytest.approx(getattr(one, field), rel=1e-12, abs=1e-12)


def test_figures_are_the_metric_functions() -> None:
    batch = make_batch()
    evaluator = Evaluator(NAMES, pelvis=0, min_of_n=(1, 5))
    evaluator.update(**batch)
    result = evaluator.compute()
    t, m, s = (batch[k].double() for k in ("target", "mode", "samples"))
    assert result.figures["mpjpe"] == pytest.approx(mpjpe(m, t, pelvis=0).mean().item())
    assert result.figures["pa_mpjpe"] == pytest.approx(pa_mpjpe(m, t).mean().item(), rel=1e-9)
    best = min_of_n(pa_mpjpe(m, t), pa_mpjpe(s, t[:, None]), 5).mean().item()
    assert result.figures["min_of_5_pa_mpjpe"] == pytest.approx(best, rel=1e-9)
    # Calibration leaves out the pelvis joint (zero spread after alignment).
    curve = calibration_curve(align_pelvis(s, 0)[..., 1:, :], align_pelvis(t, 0)[..., 1:, :])
    assert result.figures["calibration_error"] == pytest.approx(curve.error.item())
    assert result.calibration_joints == NAMES[1:]
    assert result.figures["nll"] == pytest.approx(-batch["log_prob"].mean().item(), rel=1e-6)
    assert result.min_of_n == (1, 5)


def test_inputs_are_not_mutated() -> None:
    batch = make_batch()
    batch["target"] = batch["target"].double()  # float64 CPU: no copy is made on the way in
    batch["mode"] = batch["mode"].requires_grad_()
    before = {k: v.detach().clone() for k, v in batch.items()}
    for pelvis in (0, (1, 2), None):
        evaluator = Evaluator(NAMES, pelvis=pelvis)
        evaluator.update(**batch)
        evaluator.compute()
    for key, value in batch.items():
        assert torch.equal(value.detach(), before[key]), key


def test_min_of_n_never_exceeds_the_mode_error_and_falls_with_n() -> None:
    batch = make_batch(B=40, S=24, seed=3)
    batch["samples"] = batch["target"][:, None] + 0.15 * torch.randn(40, 24, 6, 3)  # worse than the mode
    evaluator = Evaluator(NAMES, pelvis=0)
    evaluator.update(**batch)
    result = evaluator.compute()
    assert result.min_of_n == (1, 5, 10, 25)
    for values, mode in ((result.min_of_n_mpjpe, "mpjpe"), (result.min_of_n_pa_mpjpe, "pa_mpjpe")):
        assert values[0] == pytest.approx(result.figures[mode])
        assert all(v <= result.figures[mode] + 1e-9 for v in values)
        assert all(b <= a + 1e-9 for a, b in zip(values, values[1:]))
    assert result.figures["sample_mpjpe"] > result.figures["mpjpe"]


def test_min_of_n_beyond_the_samples_is_left_out() -> None:
    batch = make_batch(S=4)
    evaluator = Evaluator(NAMES, min_of_n=(1, 5, 10))
    evaluator.update(**batch)
    assert evaluator.compute().min_of_n == (1, 5)


def test_calibration_through_the_evaluator() -> None:
    g = torch.Generator().manual_seed(1)
    B, S, K = 400, 30, 6
    centre = torch.randn(B, 1, K, 3, generator=g)
    truth = centre[:, 0] + 0.05 * torch.randn(B, K, 3, generator=g)  # one more draw
    honest = centre + 0.05 * torch.randn(B, S, K, 3, generator=g)
    narrow = centre + 0.02 * torch.randn(B, S, K, 3, generator=g)
    figures = {}
    for name, samples in (("honest", honest), ("narrow", narrow)):
        evaluator = Evaluator(NAMES, pelvis=None)
        evaluator.update(truth, centre[:, 0], samples)
        figures[name] = evaluator.compute().figures
    assert figures["honest"]["calibration_error"] < 0.03
    assert figures["narrow"]["calibration_bias"] < -0.2  # over-confident: below the diagonal
    assert figures["narrow"]["diversity"] < figures["honest"]["diversity"]


def test_without_samples_only_mode_figures() -> None:
    batch = make_batch()
    evaluator = Evaluator(NAMES)
    evaluator.update(batch["target"], batch["mode"])
    result = evaluator.compute()
    assert result.min_of_n == (1,)
    assert "calibration_error" not in result.figures and "nll" not in result.figures
    assert result.calibration_levels == ()


def test_nll_of_the_examples_with_a_pose() -> None:
    batch = make_batch()
    evaluator = Evaluator(NAMES)
    evaluator.update(batch["target"][:5], batch["mode"][:5], batch["samples"][:5], batch["log_prob"][:2])
    evaluator.update(batch["target"][5:], batch["mode"][5:], batch["samples"][5:], None)
    result = evaluator.compute()
    assert result.nll_count == 2
    assert result.figures["nll"] == pytest.approx(-batch["log_prob"][:2].mean().item(), rel=1e-6)


def test_bad_inputs_fail_clearly() -> None:
    batch = make_batch()
    evaluator = Evaluator(NAMES)
    with pytest.raises(ValueError, match="no batch"):
        evaluator.compute()
    with pytest.raises(ValueError, match="expected target and mode"):
        evaluator.update(batch["target"][:, :5], batch["mode"][:, :5])
    evaluator.update(batch["target"], batch["mode"], batch["samples"])
    with pytest.raises(ValueError, match="same number of samples"):
        evaluator.update(batch["target"], batch["mode"], batch["samples"][:, :3])
    assert evaluator.count == 12  # the rejected batch left nothing behind
