"""Training losses of ProHMR (DESIGN.md section 7), as pure functions.

Shapes: B batch, S samples per input, K keypoints, J joints. Positions in metres, 2D
keypoints in normalised crop coordinates (:mod:`hmrflow.geometry.cameras`). Every loss
returns a scalar: a sum over coordinates, a mean over the batch (and samples), as ProHMR.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from hmrflow.config import bounded
from hmrflow.data.joint_limits import JointLimits, clamp_to_limits
from hmrflow.geometry import sixd_orthonormality_residual

__all__ = [
    "LossWeights",
    "keypoint_2d_loss",
    "keypoint_3d_loss",
    "keypoint_3d_energy_score",
    "pelvis_weights",
    "rotation_loss",
    "nll_loss",
    "betas_loss",
    "orthonormal_loss",
    "range_of_motion_loss",
]


@dataclass(frozen=True)
class LossWeights:
    """Weights of the training losses (each >= 0); ProHMR's defaults."""

    keypoints_3d_mode: float = bounded(0.05, minimum=0)
    keypoints_2d_mode: float = bounded(0.01, minimum=0)
    keypoints_2d_samples: float = bounded(0.001, minimum=0)
    #: 3D keypoint loss on the samples (ProHMR's KEYPOINTS_3D_EXP, 0 in its recipe).
    keypoints_3d_samples: float = bounded(0.0, minimum=0)
    #: The 3D samples loss counts only each input's best sample (best-of-many) instead of
    #: their mean: one hypothesis is pulled to the truth, not all of them, which rewards
    #: diverse samples rather than shrinking the distribution.
    keypoints_3d_samples_best_of: bool = False
    #: Energy score of the samples' 3D keypoints (:func:`keypoint_3d_energy_score`; not in ProHMR).
    keypoints_3d_energy: float = bounded(0.0, minimum=0)
    #: The energy score over whole bodies rather than per keypoint.
    keypoints_3d_energy_whole_body: bool = False
    global_orient_mode: float = bounded(0.001, minimum=0)
    body_pose_mode: float = bounded(0.001, minimum=0)
    betas: float = bounded(0.0005, minimum=0)
    nll: float = bounded(0.001, minimum=0)
    orthonormal: float = bounded(0.1, minimum=0)
    #: Distance of the mode's and the samples' joints from the ranges of motion
    #: (:func:`range_of_motion_loss`, the ``rom`` limits; not in ProHMR): keeps the flow's
    #: samples inside what people can do.
    range_of_motion: float = bounded(0.0, minimum=0)
    #: Degrees inside the ``rom`` limits that the range-of-motion loss counts from
    #: (:meth:`~hmrflow.data.joint_limits.JointLimits.narrowed`; 0: the limits themselves).
    range_of_motion_margin_deg: float = bounded(0.0, minimum=0)
    adversarial: float = bounded(0.0005, minimum=0)
    #: Std of the Gaussian noise added to ground-truth 6D poses for the NLL.
    nll_noise_std: float = bounded(0.005, minimum=0)


def keypoint_2d_loss(pred: Tensor, target: Tensor) -> Tensor:
    r"""Confidence-weighted L1 on 2D keypoints.

    Arguments:
        pred: Predicted keypoints, shape ``(B, [S,] K, 2)``.
        target: Targets with confidence, shape ``(B, K, 3)``; broadcast over samples.

    Example:
        >>> keypoint_2d_loss(torch.ones(1, 2, 2), torch.tensor([[[0.0, 0, 1], [0, 0, 0]]]))
        tensor(2.)
    """
    if pred.dim() == target.dim() + 1:
        target = target.unsqueeze(1)
    confidence = target[..., 2:]
    per_point = (confidence * (pred - target[..., :2]).abs()).sum(dim=(-1, -2))
    return per_point.mean()


def keypoint_3d_loss(
    pred: Tensor, target: Tensor, pelvis: tuple[int, ...] | Tensor = (0,), best_of: bool = False
) -> Tensor:
    r"""Confidence-weighted L1 on 3D keypoints after aligning their pelvises.

    Arguments:
        pred: Predicted keypoints, shape ``(B, [S,] K, 3)``.
        target: Targets with confidence, shape ``(B, K, 4)``.
        pelvis: Keypoint indices whose mean is the pelvis (one joint or the two hips),
            or per-example weights ``(B, K)`` (rows summing to 1, see
            :func:`pelvis_weights`; an all-zero row drops the example from the loss).
        best_of: With samples ``(B, S, K, 3)``, count each input's best sample only
            (the minimum over ``S``) instead of the mean.

    Example:
        >>> target = torch.tensor([[[0.0, 0, 0, 1], [1, 0, 0, 1]]])
        >>> keypoint_3d_loss(torch.tensor([[[5.0, 5, 5], [6, 5, 5]]]), target)
        tensor(0.)
        >>> samples = torch.tensor([[[[0.0, 0, 0], [1, 0, 0]], [[0.0, 0, 0], [3, 0, 0]]]])
        >>> keypoint_3d_loss(samples, target), keypoint_3d_loss(samples, target, best_of=True)
        (tensor(1.), tensor(0.))
    """
    has_samples = pred.dim() == target.dim() + 1
    if best_of and not has_samples:
        raise ValueError(f"best_of needs samples (B, S, K, 3), got {tuple(pred.shape)}")
    pred, xyz, confidence = _align_pelvis_3d(pred, target, pelvis)
    per_point = (confidence * (pred - xyz).abs()).sum(dim=(-1, -2))
    if best_of:
        per_point = per_point.min(dim=1).values
    return per_point.mean()


def keypoint_3d_energy_score(
    pred: Tensor, target: Tensor, pelvis: tuple[int, ...] | Tensor = (0,), whole_body: bool = False
) -> Tensor:
    r"""Energy score of sampled 3D keypoints (pelvises aligned).

    ``E|X - y| - E|X - X'| / 2`` with ``X, X'`` independent samples and ``|.|`` the
    Euclidean distance, per keypoint and summed over keypoints, or with ``whole_body``
    over all keypoints at once (one distance between whole bodies, which also scores how
    the keypoints vary together). A proper scoring rule: lowest in expectation when the
    samples follow the true distribution (per keypoint: its marginals). Unlike a loss on
    every sample (which shrinks the distribution) or on the best one, it rewards samples
    that are close to the truth *and* as spread as the truth's uncertainty: it trains
    calibration.

    Arguments:
        pred: Sampled keypoints, shape ``(B, S, K, 3)``, ``S >= 2``.
        target: Targets with confidence, shape ``(B, K, 4)``.
        pelvis: As :func:`keypoint_3d_loss`.
        whole_body: One distance over all keypoints instead of one per keypoint.

    Example:
        >>> target = torch.tensor([[[0.0, 0, 0, 1], [1, 0, 0, 1]]])
        >>> spread = torch.tensor([[[[0.0, 0, 0], [1, 0, 0.5]], [[0.0, 0, 0], [1, 0, -0.5]]]])
        >>> keypoint_3d_energy_score(spread, target).abs() < 1e-6  # centred on the truth: 0
        tensor(True)
        >>> keypoint_3d_energy_score(spread + torch.tensor([[0.0, 0, 0], [0, 0.5, 0]]), target)  # off by 0.5
        tensor(0.2071)
    """
    if pred.dim() != target.dim() + 1 or pred.shape[1] < 2:
        raise ValueError(f"the energy score needs samples (B, S >= 2, K, 3), got {tuple(pred.shape)}")
    pred, xyz, confidence = _align_pelvis_3d(pred, target, pelvis)
    if whole_body:  # unlabelled keypoints drop out of the distances
        pred, xyz = (confidence * pred).flatten(-2)[..., None, :], (confidence * xyz).flatten(-2)[..., None, :]
        confidence = confidence.new_ones(confidence.shape[:-2] + (1, 1))
    weight = confidence[..., 0]  # (B, 1, K)
    accuracy = (weight * _distance(pred, xyz)).sum(dim=-1).mean(dim=1)
    count = pred.shape[1]
    pairs = _distance(pred.unsqueeze(2), pred.unsqueeze(1))  # (B, S, S, K); zero on the diagonal
    spread = (weight.unsqueeze(1) * pairs).sum(dim=(1, 2, 3)) / (count * (count - 1))
    return (accuracy - 0.5 * spread).mean()


def _distance(a: Tensor, b: Tensor) -> Tensor:
    """Euclidean distance over the last axis, with a gradient at zero."""
    return torch.sqrt((a - b).square().sum(dim=-1) + 1e-12)


def _align_pelvis_3d(pred: Tensor, target: Tensor, pelvis: tuple[int, ...] | Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Pelvis-aligned predictions, targets and confidences ``(..., K, 1)``; targets gain a sample axis with ``pred``."""
    if pred.dim() == target.dim() + 1:
        target = target.unsqueeze(1)
    if isinstance(pelvis, Tensor):
        weights = pelvis.to(pred.dtype)
        if pred.dim() == weights.dim() + 2:
            weights = weights.unsqueeze(1)
        pred = pred - (weights.unsqueeze(-1) * pred).sum(dim=-2, keepdim=True)
        xyz = target[..., :3] - (weights.unsqueeze(-1) * target[..., :3]).sum(dim=-2, keepdim=True)
        confidence = target[..., 3:] * (weights.sum(-1) > 0)[..., None, None].to(pred.dtype)
    else:
        index = list(pelvis)
        pred = pred - pred[..., index, :].mean(dim=-2, keepdim=True)
        xyz = target[..., :3] - target[..., index, :3].mean(dim=-2, keepdim=True)
        confidence = target[..., 3:]
    return pred, xyz, confidence


def pelvis_weights(confidence: Tensor, root: int, fallback: tuple[int, ...]) -> Tensor:
    r"""Per-example pelvis definition for :func:`keypoint_3d_loss`.

    The point ``root`` where it is labelled, else the mean of the ``fallback`` points
    (e.g. the hips) where they all are, else nothing (an all-zero row).

    Arguments:
        confidence: ``(B, K)`` 3D label confidences.
        root: Index of the pelvis joint.
        fallback: Indices whose mean stands in for the pelvis.

    Returns:
        ``(B, K)`` weights; each row sums to 1 or 0.

    Example:
        >>> pelvis_weights(torch.tensor([[1.0, 1, 1], [0, 1, 1], [0, 1, 0]]), 0, (1, 2)).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 0.0]]
    """
    weights = torch.zeros_like(confidence)
    has_root = confidence[:, root] > 0
    weights[:, root] = has_root.to(confidence.dtype)
    if fallback:
        index = list(fallback)
        has_fallback = ~has_root & (confidence[:, index] > 0).all(dim=-1)
        weights[:, index] = has_fallback[:, None].to(confidence.dtype) / len(index)
    return weights


def rotation_loss(pred: Tensor, target: Tensor, valid: Tensor | None = None) -> Tensor:
    r"""Squared error of rotation matrices, summed over joints; invalid items count as zero in the batch mean (as ProHMR).

    Arguments:
        pred: ``(B, J, 3, 3)``.
        target: ``(B, J, 3, 3)``.
        valid: ``(B,)`` bool or 0/1: which items have a ground-truth pose.
    """
    per_item = (pred - target).square().sum(dim=(-1, -2, -3))
    return _masked_mean(per_item, valid)


def betas_loss(pred: Tensor, target: Tensor, valid: Tensor | None = None) -> Tensor:
    r"""Squared error of betas ``(B, S)``, summed over components; invalid items count as zero."""
    return _masked_mean((pred - target).square().sum(dim=-1), valid)


def nll_loss(log_prob: Tensor, valid: Tensor | None = None) -> Tensor:
    r"""Mean negative log-likelihood ``(B,)`` over the items that have a pose label (as ProHMR).

    Zero when no item has one.

    Example:
        >>> nll_loss(torch.tensor([-1.0, -3.0, -100.0]), torch.tensor([1.0, 1.0, 0.0]))
        tensor(2.)
    """
    if valid is None:
        return -log_prob.mean()
    mask = valid > 0
    if not mask.any():
        return log_prob.new_zeros(())
    return -log_prob[mask].mean()


def orthonormal_loss(sixd: Tensor) -> Tensor:
    r"""Mean over rotations of ``|A^T A - I|^2`` on raw 6D outputs ``(..., 6)``."""
    return sixd_orthonormality_residual(sixd).mean()


def range_of_motion_loss(rotmats: Tensor, limits: JointLimits) -> Tensor:
    r"""Mean over poses of ``sum_j |R_j - P(R_j)|_F^2``, ``P`` the projection into ``limits``.

    Zero for poses inside the limits; outside, the gradient pulls each joint towards its
    projection (held fixed: :func:`~hmrflow.data.joint_limits.clamp_to_limits` is not
    differentiated, so the swing-twist split's singularities never reach the gradient).

    Arguments:
        rotmats: Local rotations ``(..., J, 3, 3)`` (joint 0, the global orientation, is free).
        limits: Joint limits on the same ``J`` joints, e.g. ``joint_limits("rom")``.

    Example:
        >>> from hmrflow.data.joint_limits import joint_limits
        >>> range_of_motion_loss(torch.eye(3).expand(2, 24, 3, 3), joint_limits("rom"))
        tensor(0.)
    """
    with torch.no_grad():
        target = clamp_to_limits(rotmats.detach(), limits)
    return (rotmats - target).square().sum(dim=(-1, -2, -3)).mean()


def _masked_mean(values: Tensor, valid: Tensor | None) -> Tensor:
    # ProHMR divides by the batch size, not by the number of valid items.
    if valid is None:
        return values.mean()
    return (values * valid.to(values.dtype)).mean()
