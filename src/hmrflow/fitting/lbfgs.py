r"""The one minimisation loop that every fitter uses: L-BFGS with a strong-Wolfe line search.

An *outer step* is ``inner_steps`` L-BFGS iterations (20, torch's default ``max_iter``
and ProHMR's: its fitting counts its 30 iterations as 30 calls of
:meth:`torch.optim.LBFGS.step`), each a quasi-Newton direction and a strong-Wolfe line
search (lr 1) of at most ``max_line_search`` energy evaluations. The loop runs the
iterations one at a time and checks its stop rules after every iteration, in this order:

1. the energy is not finite (the variables go back to the last finite point);
2. ``max |grad| <= max_grad`` (1e-9): a stationary point;
3. the iteration changed nothing (L-BFGS found no descent) right after a restart: converged
   to float rounding (a first such iteration restarts L-BFGS from steepest descent, its
   memory cleared: a direction spoiled by rounding is not a minimum);
4. once an outer step has been done: the relative change of the energy over the last
   outer step, ``|E_{i - n} - E_i| <= rel_loss_change * |E_{i - n}|`` with ``n =
   inner_steps`` (1e-3: measured on the learned-prior fitting, where it saves a quarter
   to a third of the evaluations and moves PA-MPJPE by 0.1-0.4 mm on average, less
   than a millimetre either way on the mean; see ``benchmarks/bench_fitting.py``);
5. ``max_steps`` outer steps done (30 for evaluation, 10 for a demo).

The gradient rule is also checked before the first iteration (a start at a stationary
point takes no step). The energy and its gradient at the current point are cached, so
the stop rules cost no extra evaluation (L-BFGS re-evaluates the start of each
iteration, which the cache answers).

Example:
    >>> x = torch.tensor([3.0, -2.0], requires_grad=True)
    >>> result = minimize(lambda: ((x - 1) ** 2).sum(), [x])
    >>> result.reason.value, round(result.loss, 6)
    ('gradient', 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

import torch
from torch import Tensor

__all__ = ["StopReason", "StopRules", "MinimizeResult", "minimize"]

#: Floor of the denominator of the relative loss change.
_TINY = 1e-30


class StopReason(str, Enum):
    """Why :func:`minimize` stopped."""

    MAX_STEPS = "max_steps"
    LOSS_CHANGE = "loss_change"
    GRADIENT = "gradient"
    NON_FINITE = "non_finite"


@dataclass(frozen=True)
class StopRules:
    """Stop rules and L-BFGS settings of :func:`minimize`.

    Attributes:
        max_steps: Outer steps at most (30 for evaluation, 10 for a demo).
        rel_loss_change: Stop when the relative change of the energy over the last outer
            step is at most this (checked after every iteration; 0 turns the rule off,
            but a run still stops when an iteration changes nothing).
        max_grad: Stop when the largest absolute gradient entry is at most this.
        inner_steps: L-BFGS iterations per outer step; 1 makes every iteration an outer
            step.
        history_size: L-BFGS memory.
        max_line_search: Energy evaluations of one strong-Wolfe line search, at most.
    """

    max_steps: int = 30
    rel_loss_change: float = 1e-3
    max_grad: float = 1e-9
    inner_steps: int = 20
    history_size: int = 20
    max_line_search: int = 25

    def __post_init__(self) -> None:
        if self.max_steps < 0 or self.inner_steps < 1 or self.history_size < 1:
            raise ValueError(f"invalid stop rules: {self}")


@dataclass(frozen=True)
class MinimizeResult:
    """What :func:`minimize` did.

    Attributes:
        reason: The rule that stopped it.
        steps: Outer steps taken (begun: the last one may have stopped early).
        loss_history: Energy at the start and after each outer step, the last one at the
            end (``steps + 1`` values).
        max_grad: Largest absolute gradient entry at the end.
        evaluations: Energy evaluations (forward and backward passes).
        iterations: L-BFGS iterations.
    """

    reason: StopReason
    steps: int
    loss_history: list[float]
    max_grad: float
    evaluations: int
    iterations: int = 0

    @property
    def loss(self) -> float:
        """The final energy."""
        return self.loss_history[-1]


class _CachedEnergy:
    """The L-BFGS closure: energy and gradients, remembered for the last point evaluated."""

    def __init__(self, energy: Callable[[], Tensor], variables: Sequence[Tensor]):
        self.energy = energy
        self.variables = list(variables)
        self.point: Tensor | None = None
        self.loss: Tensor | None = None
        self.grads: list[Tensor] = []
        self.evaluations = 0

    def _flat(self) -> Tensor:
        return torch.cat([v.detach().reshape(-1) for v in self.variables])

    def __call__(self) -> Tensor:
        point = self._flat()
        if self.point is not None and self.loss is not None and torch.equal(point, self.point):
            for v, g in zip(self.variables, self.grads):
                v.grad = g.clone()
            return self.loss
        for v in self.variables:
            v.grad = None
        loss = self.energy()
        if loss.dim() != 0:
            raise ValueError(f"the energy must be a scalar, got shape {tuple(loss.shape)}")
        loss.backward()
        self.evaluations += 1
        self.grads = [v.grad.detach().clone() if v.grad is not None else torch.zeros_like(v) for v in self.variables]
        for v, g in zip(self.variables, self.grads):
            v.grad = g.clone()
        self.point, self.loss = point, loss.detach()
        return self.loss

    def max_grad(self) -> float:
        return max((float(g.abs().max()) for g in self.grads if g.numel()), default=0.0)


def _optimizer(variables: list[Tensor], rules: StopRules) -> torch.optim.LBFGS:
    """torch's L-BFGS, one iteration per :meth:`~torch.optim.LBFGS.step` call."""
    return torch.optim.LBFGS(
        variables,
        lr=1.0,
        max_iter=1,
        # torch caps the line search at max_eval minus the (cached) evaluation of the start.
        max_eval=1 + rules.max_line_search,
        history_size=rules.history_size,
        tolerance_grad=rules.max_grad,
        # Inside an iteration, stop only on a stall (no change at all); the relative rule is ours.
        tolerance_change=_TINY,
        line_search_fn="strong_wolfe",
    )


def _restore(variables: list[Tensor], point: list[Tensor]) -> None:
    with torch.no_grad():
        for v, p in zip(variables, point):
            v.copy_(p)


def _small_change(losses: list[float], rules: StopRules) -> bool:
    """Rule 4 of the module docstring on the energies after each iteration so far."""
    n = rules.inner_steps
    if len(losses) <= n:
        return False
    before = losses[-1 - n]
    return abs(before - losses[-1]) <= rules.rel_loss_change * max(abs(before), _TINY)


def minimize(
    energy: Callable[[], Tensor], variables: Sequence[Tensor], rules: StopRules | None = None
) -> MinimizeResult:
    r"""Minimise a scalar ``energy()`` over ``variables`` (leaf tensors, changed in place).

    Arguments:
        energy: Computes the scalar energy from the current ``variables``.
        variables: Tensors with ``requires_grad=True``.
        rules: :class:`StopRules` (default: 30 outer steps, relative change 1e-3 over an
            outer step, gradient 1e-9).

    Returns:
        :class:`MinimizeResult`; the variables hold the final point.
    """
    rules = rules or StopRules()
    variables = list(variables)
    if not all(v.is_leaf and v.requires_grad for v in variables):
        raise ValueError("variables must be leaf tensors with requires_grad=True")
    closure = _CachedEnergy(energy, variables)
    losses = [float(closure())]
    if not math.isfinite(losses[0]):
        return MinimizeResult(StopReason.NON_FINITE, 0, losses, math.nan, closure.evaluations)
    reason = StopReason.GRADIENT if closure.max_grad() <= rules.max_grad else StopReason.MAX_STEPS
    optimizer = _optimizer(variables, rules)
    restarted = False
    while reason is StopReason.MAX_STEPS and len(losses) <= rules.max_steps * rules.inner_steps:
        last_point = [v.detach().clone() for v in variables]
        optimizer.step(closure)
        loss = float(closure())
        if not math.isfinite(loss) or not math.isfinite(closure.max_grad()):
            _restore(variables, last_point)
            reason = StopReason.NON_FINITE
            break
        losses.append(loss)
        stalled = losses[-1] == losses[-2]
        if closure.max_grad() <= rules.max_grad:
            reason = StopReason.GRADIENT
        elif stalled and restarted or not stalled and _small_change(losses, rules):
            reason = StopReason.LOSS_CHANGE
        elif stalled:
            optimizer.state.clear()  # forget the curvature pairs: the next iteration is steepest descent
        restarted = stalled
    for v in variables:
        v.grad = None
    final_grad = closure.max_grad() if reason is not StopReason.NON_FINITE else math.nan
    iterations = len(losses) - 1
    history = losses[:: rules.inner_steps] + ([losses[-1]] if iterations % rules.inner_steps else [])
    return MinimizeResult(reason, len(history) - 1, history, final_grad, closure.evaluations, iterations)
