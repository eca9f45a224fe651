"""Keypoint encoder: a residual MLP over normalised 2D keypoints with confidences.

Keypoints arrive in normalised box coordinates (:func:`~hmrflow.geometry.normalize_keypoints`:
the person box spans ``[-0.5, 0.5]``) with a confidence in ``[0, 1]`` per point. A
keypoint with zero confidence (missing) has its coordinates zeroed, so the encoder never
sees where a missing point was.

Relative depth (optional, ``depth=True``): a fourth column per keypoint, the point's depth
minus the hips' midpoint's (the synthetic data's pelvis, a centimetre from it), in the unit
of x and y (box sides; positive is farther from the camera), as detectors such as BlazePose
estimate it (its landmark ``z`` over the box side).
It is a hint, not a measurement: BlazePose's is about 2.2 times the true relative depth
and its error about as large as the depths themselves (``benchmarks/keypoint_depth.py``).
NaN (or a missing point) means no depth; the encoder sees the depth and a has-depth flag,
so one model reads evidence with and without it, and ``(B, K, 3)`` evidence is all
without.

Example:
    >>> encoder = KeypointEncoder(num_keypoints=17, hidden_features=64).eval()
    >>> encoder(torch.zeros(2, 17, 3)).shape
    torch.Size([2, 64])
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["KeypointEncoder", "ResidualMLPBlock"]


class ResidualMLPBlock(nn.Module):
    """Pre-activation residual block: BN -> ReLU -> Linear -> BN -> ReLU -> Dropout -> Linear."""

    def __init__(self, features: int, dropout: float = 0.5):
        super().__init__()
        self.layers = nn.Sequential(
            nn.BatchNorm1d(features),
            nn.ReLU(),
            nn.Linear(features, features),
            nn.BatchNorm1d(features),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(features, features),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.layers(x)


class KeypointEncoder(nn.Module):
    r"""Residual MLP from ``(B, K, 3)`` keypoints ``(x, y, confidence)`` -- or ``(B, K, 4)``
    with a relative depth -- to ``(B, C)``.

    Arguments:
        num_keypoints: K.
        hidden_features: C, the width and the output size.
        num_blocks: Residual blocks.
        dropout: Dropout inside the blocks.
        depth: Read the fourth column (module docstring); without it, it is ignored. The
            input layer's first ``3 K`` columns read ``(x, y, confidence)`` per keypoint as
            without depth and the last ``2 K`` ``(depth, has depth)``, so a trained model
            without depth widens into one with (:mod:`hmrflow.models.widen`) unchanged.

    Example:
        >>> encoder = KeypointEncoder(num_keypoints=17, hidden_features=64, depth=True).eval()
        >>> with_depth = torch.cat([torch.rand(2, 17, 3), torch.full((2, 17, 1), float("nan"))], -1)
        >>> torch.equal(encoder(with_depth), encoder(with_depth[..., :3]))
        True
    """

    def __init__(
        self,
        num_keypoints: int,
        hidden_features: int = 1024,
        num_blocks: int = 2,
        dropout: float = 0.5,
        depth: bool = False,
    ):
        super().__init__()
        self.num_keypoints = num_keypoints
        self.out_features = hidden_features
        self.depth = depth
        self.input_layer = nn.Linear((5 if depth else 3) * num_keypoints, hidden_features)
        self.blocks = nn.Sequential(
            *(ResidualMLPBlock(hidden_features, dropout) for _ in range(num_blocks))
        )
        self.output_norm = nn.Sequential(nn.BatchNorm1d(hidden_features), nn.ReLU())

    def forward(self, keypoints: Tensor) -> Tensor:
        if keypoints.shape[-2] != self.num_keypoints or keypoints.shape[-1] not in (3, 4):
            raise ValueError(
                f"expected keypoints of shape (B, {self.num_keypoints}, 3) or (B, {self.num_keypoints}, 4) "
                f"(x, y, confidence[, depth]), got {tuple(keypoints.shape)}"
            )
        confidence = keypoints[..., 2:3].clamp(0.0, 1.0)
        xy = torch.where(confidence > 0, keypoints[..., :2], torch.zeros_like(keypoints[..., :2]))
        x = torch.cat([xy, confidence], dim=-1).flatten(-2)
        if self.depth:
            x = torch.cat([x, depth_features(keypoints, confidence).flatten(-2)], dim=-1)
        return self.output_norm(self.blocks(self.input_layer(x)))


def depth_features(keypoints: Tensor, confidence: Tensor) -> Tensor:
    r"""``(B, K, 2)`` (depth, has depth) of keypoints ``(B, K, 3 or 4)``: zeros where a point
    is missing (``confidence`` ``(B, K, 1)`` zero), its depth NaN, or no depth column given."""
    if keypoints.shape[-1] < 4:
        return keypoints.new_zeros(*keypoints.shape[:-1], 2)
    depth = keypoints[..., 3:4]
    known = (confidence > 0) & depth.isfinite()
    return torch.cat([torch.where(known, depth, torch.zeros_like(depth)), known.to(depth.dtype)], dim=-1)
