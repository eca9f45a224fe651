r"""The one minimisation loop that every fitter uses: L-BFGS with a strong-Wolfe line search.

An *outer step* is one call of :meth:`torch.optim.LBFGS.step`: up to ``inner_steps``
L-BFGS iterations (20, torch's default and ProHMR's), each a quasi-Newton direction and
a strong-Wolfe line search (lr 1), within ``inner_steps + max_line_search`` energy
evaluations. ProHMR's fitting counts its 30 iterations the same way. After every outer
step the loop checks its stop rules, in this order:

1. the energy is not finite (the variables go back to the last finite point);
2. ``max |grad| <= max_grad`` (1e-9): a stationary point;
3. ``|E_prev - E| <= rel_loss_change * max(|E_prev|, tiny)`` (1e-9): no more progress;
4. ``max_steps`` outer steps done (30 for evaluation, 10 for a demo).

The gradient rule is also checked before the first step (a start at a stationary point
takes no step). The energy and its gradient at the current point are cached, so the
stop rules cost no extra evaluation (L-BFGS re-evaluates the start of each step, which
the cache answers).

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
        rel_loss_change: Stop when the relative change of the energy is at most this.
        max_grad: Stop when the largest absolute gradient entry is at most this.
        inner_steps: L-BFGS iterations per outer step (``max_iter`` of LBFGS); 1 makes
            every iteration an outer step.
        history_size: L-BFGS memory.
        max_line_search: Energy evaluations of one strong-Wolfe line search, at most.
    """

    max_steps: int = 30
    rel_loss_change: float = 1e-9
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
        steps: Outer steps taken.
        loss_history: Energy at the start and after each outer step (``steps + 1`` values).
        max_grad: Largest absolute gradient entry at the end.
        evaluations: Energy evaluations (forward and backward passes).
    """

    reason: StopReason
    steps: int
    loss_history: list[float]
    max_grad: float
    evaluations: int

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


def minimize(
    energy: Callable[[], Tensor], variables: Sequence[Tensor], rules: StopRules | None = None
) -> MinimizeResult:
    r"""Minimise a scalar ``energy()`` over ``variables`` (leaf tensors, changed in place).

    Arguments:
        energy: Computes the scalar energy from the current ``variables``.
        variables: Tensors with ``requires_grad=True``.
        rules: :class:`StopRules` (default: 30 outer steps, 1e-9 tolerances).

    Returns:
        :class:`MinimizeResult`; the variables hold the final point.
    """
    rules = rules or StopRules()
    variables = list(variables)
    if not all(v.is_leaf and v.requires_grad for v in variables):
        raise ValueError("variables must be leaf tensors with requires_grad=True")
    closure = _CachedEnergy(energy, variables)
    optimizer = torch.optim.LBFGS(
        variables,
        lr=1.0,
        max_iter=rules.inner_steps,
        # torch caps each line search at max_eval minus the evaluations so far; its default
        # (1.25 max_iter) would leave a one-iteration step no backtracking at all.
        max_eval=rules.inner_steps + rules.max_line_search,
        history_size=rules.history_size,
        tolerance_grad=rules.max_grad,
        # Inside a step, stop only on a stall (no change at all); the relative rule is ours.
        tolerance_change=_TINY,
        line_search_fn="strong_wolfe",
    )
    history = [float(closure())]
    if not math.isfinite(history[0]):
        return MinimizeResult(StopReason.NON_FINITE, 0, history, math.nan, closure.evaluations)
    reason = StopReason.MAX_STEPS
    steps = 0
    if closure.max_grad() <= rules.max_grad:
        reason = StopReason.GRADIENT
    while reason is StopReason.MAX_STEPS and steps < rules.max_steps:
        last_point = [v.detach().clone() for v in variables]
        optimizer.step(closure)
        steps += 1
        loss = float(closure())
        if not math.isfinite(loss) or not math.isfinite(closure.max_grad()):
            with torch.no_grad():
                for v, p in zip(variables, last_point):
                    v.copy_(p)
            reason = StopReason.NON_FINITE
            break
        previous = history[-1]
        history.append(loss)
        if closure.max_grad() <= rules.max_grad:
            reason = StopReason.GRADIENT
        elif abs(previous - loss) <= rules.rel_loss_change * max(abs(previous), _TINY):
            reason = StopReason.LOSS_CHANGE
    for v in variables:
        v.grad = None
    final_grad = closure.max_grad() if reason is not StopReason.NON_FINITE else math.nan
    return MinimizeResult(reason, steps, history, final_grad, closure.evaluations)
