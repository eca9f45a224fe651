r"""Evaluation metrics as pure functions on tensors.

Units: 3D positions come in **metres** and every distance-valued metric is returned in
**millimetres** (multiplied by :data:`MM_PER_M`). Calibration figures are fractions.

Alignment before measuring:

* ``pelvis=None``: no alignment (positions compared as given).
* ``pelvis=i``: joint ``i`` of each skeleton is subtracted from that skeleton.
* ``pelvis=(i, j)``: the midpoint of joints ``i`` and ``j`` (e.g. the two hips of the
  14-joint evaluation set) is subtracted.
* PA (Procrustes-aligned) metrics: the prediction is moved onto the target by the
  least-squares similarity transform (rotation, scale, translation), per example.

Samples: a probabilistic model gives a mode (its single best estimate) and ``S`` random
samples. Min-of-N takes the mode and the samples separately, so there is no convention
about which sample is the mode.

Example:
    >>> target = torch.zeros(1, 14, 3)
    >>> pred = target + torch.tensor([0.003, 0.004, 0.0])
    >>> mpjpe(pred, target)
    tensor([5.])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from hmrflow.geometry.procrustes import align

__all__ = [
    "MM_PER_M",
    "CalibrationCurve",
    "align_pelvis",
    "per_joint_errors",
    "mpjpe",
    "pa_mpjpe",
    "min_of_n",
    "sample_diversity",
    "calibration_curve",
]

#: Millimetres per metre: the factor from input units to reported units.
MM_PER_M = 1000.0

Pelvis = int | tuple[int, int] | None


def align_pelvis(points: Tensor, pelvis: Pelvis) -> Tensor:
    r"""Express each skeleton relative to its pelvis.

    Arguments:
        points: Joint positions, shape ``(..., K, 3)``.
        pelvis: A joint index, a pair of joint indices whose midpoint is the pelvis, or
            ``None`` for no alignment.

    Returns:
        Pelvis-relative positions, shape ``(..., K, 3)``.
    """
    if pelvis is None:
        return points
    if isinstance(pelvis, int):
        root = points[..., pelvis, :]
    else:
        first, second = pelvis
        root = 0.5 * (points[..., first, :] + points[..., second, :])
    return points - root.unsqueeze(-2)


def per_joint_errors(
    pred: Tensor, target: Tensor, pelvis: Pelvis = None, procrustes: bool = False
) -> Tensor:
    r"""Euclidean error of every joint in millimetres.

    Arguments:
        pred: Predicted joints in metres, shape ``(..., K, 3)``.
        target: Ground-truth joints in metres, shape ``(..., K, 3)`` (broadcastable).
        pelvis: Pelvis alignment (see the module docstring); ignored when
            ``procrustes`` is set, which removes any global offset by itself.
        procrustes: Align ``pred`` onto ``target`` by a similarity transform first.

    Returns:
        Errors in mm, shape ``(..., K)``.
    """
    if procrustes:
        pred, target = torch.broadcast_tensors(pred, target)
        pred = align(pred, target)
    else:
        pred, target = align_pelvis(pred, pelvis), align_pelvis(target, pelvis)
    return MM_PER_M * torch.linalg.vector_norm(pred - target, dim=-1)


def mpjpe(pred: Tensor, target: Tensor, pelvis: Pelvis = None) -> Tensor:
    r"""Mean per-joint position error in mm, after optional pelvis alignment.

    Arguments:
        pred: Predicted joints in metres, shape ``(..., K, 3)``.
        target: Ground-truth joints in metres, shape ``(..., K, 3)``.
        pelvis: ``None``, a joint index, or a pair of joints whose midpoint is the pelvis.

    Returns:
        MPJPE in mm, shape ``(...)``.
    """
    return per_joint_errors(pred, target, pelvis).mean(dim=-1)


def pa_mpjpe(pred: Tensor, target: Tensor) -> Tensor:
    r"""Mean per-joint position error in mm after a similarity Procrustes per example.

    Arguments:
        pred: Predicted joints in metres, shape ``(..., K, 3)``.
        target: Ground-truth joints in metres, shape ``(..., K, 3)``.

    Returns:
        PA-MPJPE in mm, shape ``(...)``.
    """
    return per_joint_errors(pred, target, procrustes=True).mean(dim=-1)


def min_of_n(mode_errors: Tensor, sample_errors: Tensor, n: int | None = None) -> Tensor:
    r"""Best error among the mode and the first ``n - 1`` samples.

    Arguments:
        mode_errors: Error of the mode, shape ``(...)``.
        sample_errors: Errors of the random samples, shape ``(..., S)``.
        n: Number of hypotheses, mode included, ``1 <= n <= S + 1``; ``None`` for
            ``S + 1`` (all). ``n = 1`` gives the mode's error.

    Returns:
        Minimum errors, shape ``(...)``; never above ``mode_errors``, non-increasing in n.

    Example:
        >>> min_of_n(torch.tensor([5.0]), torch.tensor([[7.0, 4.0, 3.0]]), n=3)
        tensor([4.])
    """
    total = sample_errors.shape[-1] + 1
    n = total if n is None else n
    if not 1 <= n <= total:
        raise ValueError(f"n must lie in [1, {total}] for {total - 1} samples, got {n}")
    errors = torch.cat((mode_errors.unsqueeze(-1), sample_errors[..., : n - 1]), dim=-1)
    return errors.amin(dim=-1)


def sample_diversity(samples: Tensor, pelvis: Pelvis = None) -> Tensor:
    r"""Mean pairwise distance between samples, averaged over joints, in mm.

    For each joint, the Euclidean distance between every pair of distinct samples,
    averaged over the ``S (S - 1)`` ordered pairs and then over the ``K`` joints.

    Arguments:
        samples: Sampled joints in metres, shape ``(..., S, K, 3)`` with ``S >= 2``.
        pelvis: Pelvis alignment applied to every sample first (see module docstring).

    Returns:
        Diversity in mm, shape ``(...)``.
    """
    count = samples.shape[-3]
    if count < 2:
        raise ValueError(f"sample_diversity needs at least 2 samples, got {count}")
    per_joint = align_pelvis(samples, pelvis).movedim(-3, -2)  # (..., K, S, 3)
    pairwise = torch.cdist(per_joint, per_joint, compute_mode="donot_use_mm_for_euclid_dist")
    distances = pairwise.sum(dim=(-1, -2))  # (..., K); the zero diagonal adds nothing
    return MM_PER_M * (distances / (count * (count - 1))).mean(dim=-1)


@dataclass(frozen=True)
class CalibrationCurve:
    r"""Observed coverage of central sample regions against their nominal level.

    Attributes:
        levels: Nominal levels ``q``, shape ``(Q,)``.
        observed: Fraction of ground-truth joints inside their ``q`` region, averaged
            over joints, shape ``(Q,)``.
        per_joint: The same per joint, shape ``(Q, K)``.
        error: Mean absolute calibration error ``mean_q |observed - q|``, shape ``()``.
    """

    levels: Tensor
    observed: Tensor
    per_joint: Tensor
    error: Tensor


def calibration_curve(
    samples: Tensor, target: Tensor, levels: Tensor | None = None
) -> CalibrationCurve:
    r"""Calibration of sampled joints against the ground truth.

    The central ``q`` region of a joint is a ball around the mean ``m`` of its ``S``
    samples. Its radius is the ``q``-quantile of the samples' distances to the centre, each
    sample measured from the mean of the *other* samples (leave-one-out, which equals
    ``S / (S - 1) |x_s - m|``), so that samples and an independent draw are measured
    alike. The quantile uses the plotting position ``q (S + 1)`` (1-based, linear
    interpolation, clamped to the sample range): a ground truth exchangeable with the
    samples then ranks inside with probability ``q``. The ground truth ``y`` is inside
    when ``|y - m|`` is at most the radius. For a well-calibrated model the observed
    fraction equals ``q``; below the diagonal means over-confident (regions too small),
    above means under-confident.

    Align the pelvis beforehand (:func:`align_pelvis`) to measure the pose alone; the
    pelvis joint itself then has zero spread and should be left out.

    Arguments:
        samples: Sampled joints, shape ``(..., S, K, 3)`` (usually ``(B, S, K, 3)``).
        target: Ground-truth joints, shape ``(..., K, 3)``, in the same units.
        levels: Nominal levels in ``[0, 1]``, shape ``(Q,)``; ``None`` for
            ``0.05, 0.10, ..., 0.95``.

    Returns:
        A :class:`CalibrationCurve` averaged over all leading dimensions ``...``.
    """
    if levels is None:
        levels = torch.arange(1, 20, dtype=samples.dtype, device=samples.device) / 20
    levels = levels.to(dtype=samples.dtype, device=samples.device)
    centre = samples.mean(dim=-3, keepdim=True)  # (..., 1, K, 3)
    count = samples.shape[-3]
    if count < 2:
        raise ValueError(f"calibration_curve needs at least 2 samples, got {count}")
    leave_one_out = count / (count - 1)
    spread = leave_one_out * torch.linalg.vector_norm(samples - centre, dim=-1)  # (..., S, K)
    offset = torch.linalg.vector_norm(target - centre.squeeze(-3), dim=-1)  # (..., K)
    radius = _quantiles(spread.movedim(-2, -1), levels)  # (Q, ..., K)
    inside = (offset <= radius).to(samples.dtype)
    per_joint = inside.reshape(levels.shape[0], -1, inside.shape[-1]).mean(dim=1)
    observed = per_joint.mean(dim=-1)
    error = (observed - levels).abs().mean()
    return CalibrationCurve(levels=levels, observed=observed, per_joint=per_joint, error=error)


def _quantiles(values: Tensor, levels: Tensor) -> Tensor:
    """Empirical quantiles along the last dim at plotting positions ``q (S + 1)``.

    ``values`` ``(..., S)``, ``levels`` ``(Q,)`` -> ``(Q, ...)``: linear interpolation
    between order statistics, the 1-based position clamped to ``[1, S]``. Sort-based, so
    unlike ``torch.quantile`` it has no limit on the input size.
    """
    count = values.shape[-1]
    ordered = values.sort(dim=-1).values
    position = (levels * (count + 1) - 1).clamp(0, count - 1)
    low = position.floor().long()
    high = position.ceil().long()
    fraction = (position - low).view(-1, *([1] * (values.dim() - 1)))
    below = ordered[..., low].movedim(-1, 0)
    above = ordered[..., high].movedim(-1, 0)
    return below + fraction * (above - below)
