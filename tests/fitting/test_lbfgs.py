from __future__ import annotations

import math

import pytest
import torch

from hmrflow.fitting.lbfgs import StopReason, StopRules, minimize


def quadratic(x: torch.Tensor, scales: tuple[float, ...] = (1.0, 1000.0), offset: float = 0.0):
    a = torch.tensor(scales, dtype=x.dtype)
    return lambda: offset + (a * (x - 1) ** 2).sum()


def test_stops_at_max_steps():
    x = torch.tensor([3.0, -2.0], requires_grad=True)
    result = minimize(quadratic(x), [x], StopRules(max_steps=2, inner_steps=1))
    assert result.reason is StopReason.MAX_STEPS
    assert result.steps == 2 and len(result.loss_history) == 3
    assert result.loss_history[-1] < result.loss_history[0]
    assert result.max_grad > 1e-9


def test_stops_on_a_zero_gradient():
    x = torch.tensor([3.0, -2.0], dtype=torch.float64, requires_grad=True)
    result = minimize(quadratic(x), [x], StopRules(max_steps=100))
    assert result.reason is StopReason.GRADIENT
    assert result.steps < 100 and result.max_grad <= 1e-9
    torch.testing.assert_close(x.detach(), torch.ones(2, dtype=torch.float64))


def test_a_start_at_the_minimum_takes_no_step():
    x = torch.ones(2, requires_grad=True)
    result = minimize(quadratic(x), [x])
    assert result.reason is StopReason.GRADIENT and result.steps == 0 and result.evaluations == 1


def test_stops_on_a_negligible_relative_change():
    # The energy is dominated by a constant: each step changes it by far less than 1e-9.
    x = torch.tensor([3.0, -2.0], dtype=torch.float64, requires_grad=True)
    result = minimize(quadratic(x, offset=1e13), [x], StopRules(max_steps=100))
    assert result.reason is StopReason.LOSS_CHANGE
    assert result.steps < 100 and result.max_grad > 1e-9
    before, after = result.loss_history[-2:]
    assert abs(before - after) <= 1e-9 * abs(before)


def test_non_finite_energy_restores_the_last_finite_point():
    x = torch.tensor([2.0], requires_grad=True)
    # log(x) is finite for x > 0 and NaN below: L-BFGS walks into the NaN region.
    result = minimize(lambda: x.log().sum() + 0.0 * x.sum(), [x], StopRules(max_steps=50))
    assert result.reason is StopReason.NON_FINITE
    assert torch.isfinite(x).all() and float(x.detach()) > 0


def test_one_evaluation_per_accepted_unit_step():
    # On a well-scaled quadratic the unit step is accepted: the cache avoids re-evaluating.
    x = torch.tensor([3.0, -2.0], dtype=torch.float64, requires_grad=True)
    result = minimize(quadratic(x, scales=(1.0, 2.0)), [x], StopRules(max_steps=3, inner_steps=1))
    assert result.evaluations <= 2 * result.steps + 1


def test_an_outer_step_runs_several_iterations():
    x = torch.tensor([3.0, -2.0, 5.0], dtype=torch.float64, requires_grad=True)
    a = (1.0, 10.0, 100.0)
    one = minimize(quadratic(x, scales=a), [x], StopRules(max_steps=1, inner_steps=1))
    x.data = torch.tensor([3.0, -2.0, 5.0], dtype=torch.float64)
    many = minimize(quadratic(x, scales=a), [x], StopRules(max_steps=1, inner_steps=20))
    assert many.steps == one.steps == 1
    assert many.evaluations > one.evaluations and many.loss < one.loss


def test_variables_must_be_leaves_with_gradients():
    with pytest.raises(ValueError):
        minimize(lambda: torch.zeros(()), [torch.zeros(2)])


def test_several_variables_and_history():
    x = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[3.0, 4.0]], dtype=torch.float64, requires_grad=True)
    result = minimize(lambda: (x**2).sum() + ((y - 2) ** 2).sum(), [x, y], StopRules(max_steps=50))
    assert math.isclose(result.loss, 0.0, abs_tol=1e-12)
    assert all(b <= a + 1e-12 for a, b in zip(result.loss_history, result.loss_history[1:]))
    assert x.grad is None and y.grad is None
