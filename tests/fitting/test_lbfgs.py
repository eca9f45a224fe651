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


def rosenbrock(x: torch.Tensor):
    return lambda: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def test_the_relative_rule_waits_for_a_full_outer_step():
    # Any change passes a tolerance of 1, but only once an outer step has been done.
    for inner in (20, 7):
        x = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
        result = minimize(rosenbrock(x), [x], StopRules(rel_loss_change=1.0, inner_steps=inner))
        assert result.reason is StopReason.LOSS_CHANGE
        assert result.iterations == inner and result.steps == 1 and len(result.loss_history) == 2


def test_the_relative_rule_is_checked_after_every_iteration():
    # An ill-conditioned quadratic and a short memory converge slowly; one iteration per
    # outer step: the history holds every iteration's energy.
    x = torch.full((50,), 3.0, dtype=torch.float64, requires_grad=True)
    scales = tuple(torch.logspace(0, 4, 50, dtype=torch.float64).tolist())
    rules = StopRules(rel_loss_change=1e-3, inner_steps=1, max_steps=1000, history_size=1)
    result = minimize(quadratic(x, scales, offset=1.0), [x], rules)
    history = result.loss_history
    changes = [abs(a - b) / abs(a) for a, b in zip(history, history[1:])]
    assert result.reason is StopReason.LOSS_CHANGE and result.iterations == len(changes)
    assert changes[-1] <= 1e-3 and all(c > 1e-3 for c in changes[:-1])


def test_a_stop_within_an_outer_step_ends_the_history_with_the_last_energy():
    x = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    result = minimize(rosenbrock(x), [x], StopRules(rel_loss_change=0.5, inner_steps=8, max_steps=100))
    assert result.iterations % 8 != 0
    assert result.steps == -(-result.iterations // 8) and len(result.loss_history) == result.steps + 1
    assert result.loss_history[-1] == result.loss == float(rosenbrock(x.detach())())


def test_a_stall_stops_the_run_without_the_relative_rule():
    # In float32 the constant swamps every change: no iteration can lower the energy. The
    # first stall restarts L-BFGS from steepest descent, the second ends the run.
    x = torch.tensor([3.0, -2.0], requires_grad=True)
    result = minimize(quadratic(x, offset=1e13), [x], StopRules(rel_loss_change=0.0, max_steps=30))
    assert result.reason is StopReason.LOSS_CHANGE and result.iterations == 2
    assert result.max_grad > 1e-9


def test_max_steps_counts_outer_steps_of_inner_iterations():
    x = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    result = minimize(rosenbrock(x), [x], StopRules(rel_loss_change=0.0, max_grad=0.0, inner_steps=5, max_steps=2))
    assert result.reason is StopReason.MAX_STEPS and result.iterations == 10 and result.steps == 2
