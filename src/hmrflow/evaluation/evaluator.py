r"""Accumulate evaluation figures over batches.

:class:`Evaluator` takes, per batch, the ground-truth joints, the model's mode, its random
samples and the log-likelihood of the ground-truth pose, and keeps per-example figures (on
the CPU, float64). :meth:`Evaluator.compute` turns them into an :class:`EvaluationResult`:
the same numbers as one computation over the whole set, whatever the batching. Inputs are
never modified.

Figures (``EvaluationResult.figures``, distances in mm):

* ``mpjpe``, ``pa_mpjpe``: the mode's error after pelvis alignment / similarity Procrustes.
* ``min_of_{N}_mpjpe``, ``min_of_{N}_pa_mpjpe``: best of N hypotheses, the mode and the
  first N - 1 samples (ProHMR's protocol); ``N = 1`` is the mode.
* ``sample_mpjpe``, ``sample_pa_mpjpe``: mean error of a random sample.
* ``diversity``: mean pairwise distance between samples, per joint (pelvis-aligned).
* ``calibration_error``: mean ``|observed - q|`` over the levels q of the calibration
  curve (:func:`~hmrflow.evaluation.metrics.calibration_curve`, pelvis-aligned, pelvis
  joint left out); ``calibration_bias``: mean ``observed - q``, negative when the model
  is over-confident.
* ``nll``: mean ``-log p(ground-truth pose | evidence)`` in nats (the flow's density over
  the 6D pose, D = 144), where a ground-truth pose is known.

Example:
    >>> evaluator = Evaluator(("a", "b", "c"), pelvis=0, min_of_n=(1, 2))
    >>> target = torch.zeros(4, 3, 3)
    >>> samples = target[:, None] + 0.01 * torch.randn(4, 5, 3, 3, generator=torch.Generator().manual_seed(0))
    >>> evaluator.update(target, target + 0.002, samples)
    >>> result = evaluator.compute()
    >>> result.count, round(result.figures["min_of_1_mpjpe"], 3) == round(result.figures["mpjpe"], 3)
    (4, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from hmrflow.evaluation.metrics import (
    Pelvis,
    align_pelvis,
    calibration_curve,
    min_of_n,
    per_joint_errors,
    sample_diversity,
)

__all__ = ["DEFAULT_MIN_OF_N", "EvaluationResult", "Evaluator", "figure_unit"]

#: Hypothesis counts of min-of-N figures (ProHMR reports 5, 10, 25).
DEFAULT_MIN_OF_N: tuple[int, ...] = (1, 5, 10, 25)


def figure_unit(name: str) -> str:
    """Unit of a figure by its name: ``"mm"``, ``"nats"``, ``"deg"`` (``*_deg``) or ``""``
    (a fraction: ``calibration*``, ``*_rate``)."""
    if name == "nll":
        return "nats"
    if name.endswith("_deg"):
        return "deg"
    if name.startswith("calibration") or name.endswith("_rate"):
        return ""
    return "mm"


@dataclass(frozen=True)
class EvaluationResult:
    r"""Figures of one evaluation; plain floats, ready for JSON.

    Attributes:
        count: Examples evaluated.
        num_samples: Random samples per example besides the mode (S).
        joint_names: The K evaluated joints.
        figures: Named scalar figures (see the module docstring).
        min_of_n: The N of the min-of-N figures, ascending.
        min_of_n_mpjpe, min_of_n_pa_mpjpe: Their values, one per N, mm.
        per_joint_mpjpe, per_joint_pa_mpjpe: The mode's error per joint ``(K,)``, mm.
        calibration_levels: Nominal levels ``(Q,)``; empty without at least 2 samples.
        calibration_observed: Observed coverage ``(Q,)``, averaged over joints.
        calibration_joints: Joints of the calibration curve (the pelvis left out).
        calibration_per_joint: Observed coverage per level and joint ``(Q, K_c)``.
        nll_count: Examples with a ground-truth pose (those in ``nll``).
    """

    count: int
    num_samples: int
    joint_names: tuple[str, ...]
    figures: dict[str, float]
    min_of_n: tuple[int, ...]
    min_of_n_mpjpe: tuple[float, ...]
    min_of_n_pa_mpjpe: tuple[float, ...]
    per_joint_mpjpe: tuple[float, ...]
    per_joint_pa_mpjpe: tuple[float, ...]
    calibration_levels: tuple[float, ...]
    calibration_observed: tuple[float, ...]
    calibration_joints: tuple[str, ...]
    calibration_per_joint: tuple[tuple[float, ...], ...]
    nll_count: int

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field."""
        return asdict(self)


class Evaluator:
    r"""Accumulates figures over batches of ground truth, modes and samples.

    Arguments:
        joint_names: Names of the K joints, in the order of the inputs.
        pelvis: Pelvis alignment for MPJPE, diversity and calibration (an index or a pair
            of indices; see :mod:`hmrflow.evaluation.metrics`).
        min_of_n: Hypothesis counts N for min-of-N; those above ``S + 1`` are left out.
        levels: Calibration levels ``(Q,)``; None for ``0.05, ..., 0.95``.
    """

    def __init__(
        self,
        joint_names: Sequence[str],
        pelvis: Pelvis = 0,
        min_of_n: Sequence[int] = DEFAULT_MIN_OF_N,
        levels: Tensor | None = None,
    ):
        if any(n < 1 for n in min_of_n):
            raise ValueError(f"min-of-N counts must be >= 1, got {tuple(min_of_n)}")
        self.joint_names = tuple(joint_names)
        self.pelvis = pelvis
        self.min_of_n = tuple(sorted(set(min_of_n)))
        default = torch.arange(1, 20, dtype=torch.float64, device="cpu") / 20  # figures add up on the CPU
        self.levels = default if levels is None else levels.detach().to("cpu", torch.float64)
        dropped = {pelvis} if isinstance(pelvis, int) else set()
        self.calibration_index = [k for k in range(len(self.joint_names)) if k not in dropped]
        self.reset()

    def reset(self) -> None:
        """Forget everything accumulated."""
        self._errors: dict[str, list[Tensor]] = {
            key: [] for key in ("mode", "mode_pa", "samples", "samples_pa", "diversity", "nll")
        }
        self._coverage = torch.zeros(len(self.levels), len(self.calibration_index), dtype=torch.float64, device="cpu")
        self._coverage_count = 0
        self._num_samples: int | None = None

    @property
    def count(self) -> int:
        """Examples accumulated so far."""
        return sum(t.shape[0] for t in self._errors["mode"])

    @torch.no_grad()
    def update(
        self,
        target: Tensor,
        mode: Tensor,
        samples: Tensor | None = None,
        log_prob: Tensor | None = None,
    ) -> None:
        r"""Add a batch.

        Arguments:
            target: Ground-truth joints ``(B, K, 3)``, metres.
            mode: The mode's joints ``(B, K, 3)``.
            samples: Random samples' joints ``(B, S, K, 3)`` (the mode not among them), or
                None; S must be the same in every batch.
            log_prob: ``log p(ground-truth pose | evidence)`` ``(B',)`` of the examples
                whose pose is known (any ``B' <= B``), or None.
        """
        B, K = target.shape[:2]
        if K != len(self.joint_names) or mode.shape != target.shape:
            raise ValueError(
                f"expected target and mode (B, {len(self.joint_names)}, 3), "
                f"got {tuple(target.shape)} and {tuple(mode.shape)}"
            )
        S = 0 if samples is None else samples.shape[1]
        if self._num_samples is not None and S != self._num_samples:
            raise ValueError(f"every batch needs the same number of samples: {self._num_samples}, then {S}")
        if samples is not None and samples.shape != (B, S, K, 3):
            raise ValueError(f"expected samples {(B, S, K, 3)}, got {tuple(samples.shape)}")
        self._num_samples = S
        target, mode = _cpu64(target), _cpu64(mode)
        self._errors["mode"].append(per_joint_errors(mode, target, self.pelvis))
        self._errors["mode_pa"].append(per_joint_errors(mode, target, procrustes=True))
        if samples is not None:
            self._add_samples(target, _cpu64(samples))
        if log_prob is not None:
            self._errors["nll"].append(-_cpu64(log_prob).reshape(-1))

    def _add_samples(self, target: Tensor, samples: Tensor) -> None:
        expanded = target[:, None]
        self._errors["samples"].append(per_joint_errors(samples, expanded, self.pelvis).mean(-1))
        self._errors["samples_pa"].append(per_joint_errors(samples, expanded, procrustes=True).mean(-1))
        if samples.shape[1] < 2:
            return
        self._errors["diversity"].append(sample_diversity(samples, self.pelvis))
        index = self.calibration_index
        aligned = align_pelvis(samples, self.pelvis)[..., index, :]
        curve = calibration_curve(aligned, align_pelvis(target, self.pelvis)[..., index, :], self.levels)
        self._coverage += curve.per_joint * target.shape[0]
        self._coverage_count += target.shape[0]

    def compute(self) -> EvaluationResult:
        """The figures over everything accumulated so far."""
        if not self._errors["mode"]:
            raise ValueError("nothing to compute: no batch was added")
        errors = {key: torch.cat(parts) if parts else None for key, parts in self._errors.items()}
        mode, mode_pa = errors["mode"], errors["mode_pa"]
        S = self._num_samples or 0
        figures = {"mpjpe": mode.mean().item(), "pa_mpjpe": mode_pa.mean().item()}
        counts = tuple(n for n in self.min_of_n if n <= S + 1)
        no_samples = mode.new_zeros(mode.shape[0], 0)
        best, best_pa = [], []
        for n in counts:
            sample_errors = errors["samples"] if S else no_samples
            sample_errors_pa = errors["samples_pa"] if S else no_samples
            best.append(min_of_n(mode.mean(-1), sample_errors, n).mean().item())
            best_pa.append(min_of_n(mode_pa.mean(-1), sample_errors_pa, n).mean().item())
            figures[f"min_of_{n}_mpjpe"] = best[-1]
            figures[f"min_of_{n}_pa_mpjpe"] = best_pa[-1]
        if S:
            figures["sample_mpjpe"] = errors["samples"].mean().item()
            figures["sample_pa_mpjpe"] = errors["samples_pa"].mean().item()
        levels, observed, per_joint = (), (), ()
        if self._coverage_count:
            figures["diversity"] = errors["diversity"].mean().item()
            coverage = self._coverage / self._coverage_count  # (Q, K_c)
            mean = coverage.mean(-1)
            figures["calibration_error"] = (mean - self.levels).abs().mean().item()
            figures["calibration_bias"] = (mean - self.levels).mean().item()
            levels, observed = tuple(self.levels.tolist()), tuple(mean.tolist())
            per_joint = tuple(tuple(row) for row in coverage.tolist())
        nll = errors["nll"]
        if nll is not None and nll.numel():
            figures["nll"] = nll.mean().item()
        return EvaluationResult(
            count=mode.shape[0],
            num_samples=S,
            joint_names=self.joint_names,
            figures=figures,
            min_of_n=counts,
            min_of_n_mpjpe=tuple(best),
            min_of_n_pa_mpjpe=tuple(best_pa),
            per_joint_mpjpe=tuple(mode.mean(0).tolist()),
            per_joint_pa_mpjpe=tuple(mode_pa.mean(0).tolist()),
            calibration_levels=levels,
            calibration_observed=observed,
            calibration_joints=tuple(self.joint_names[k] for k in self.calibration_index) if levels else (),
            calibration_per_joint=per_joint,
            nll_count=0 if nll is None else nll.numel(),
        )


def _cpu64(x: Tensor) -> Tensor:
    """A float64 CPU copy-or-view for reading only (the caller's tensor is never written)."""
    return x.detach().to("cpu", torch.float64)
