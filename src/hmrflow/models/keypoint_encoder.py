"""Keypoint encoder: a residual MLP over normalised 2D keypoints with confidences.

Keypoints arrive in normalised crop coordinates (the person box mapped to ``[-1, 1]``,
see :mod:`hmrflow.geometry.cameras`) with a confidence in ``[0, 1]`` per point. A
keypoint with zero confidence (missing) has its coordinates zeroed, so the encoder never
sees where a missing point was.

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
    r"""Residual MLP from ``(B, K, 3)`` keypoints ``(x, y, confidence)`` to ``(B, C)``.

    Arguments:
        num_keypoints: K.
        hidden_features: C, the width and the output size.
        num_blocks: Residual blocks.
        dropout: Dropout inside the blocks.
    """

    def __init__(
        self,
        num_keypoints: int,
        hidden_features: int = 1024,
        num_blocks: int = 2,
        dropout: float = 0.5,
    ):
        super().__init__()
        self.num_keypoints = num_keypoints
        self.out_features = hidden_features
        self.input_layer = nn.Linear(3 * num_keypoints, hidden_features)
        self.blocks = nn.Sequential(
            *(ResidualMLPBlock(hidden_features, dropout) for _ in range(num_blocks))
        )
        self.output_norm = nn.Sequential(nn.BatchNorm1d(hidden_features), nn.ReLU())

    def forward(self, keypoints: Tensor) -> Tensor:
        if keypoints.shape[-2:] != (self.num_keypoints, 3):
            raise ValueError(
                f"expected keypoints of shape (B, {self.num_keypoints}, 3), "
                f"got {tuple(keypoints.shape)}"
            )
        confidence = keypoints[..., 2:].clamp(0.0, 1.0)
        xy = torch.where(confidence > 0, keypoints[..., :2], torch.zeros_like(keypoints[..., :2]))
        x = torch.cat([xy, confidence], dim=-1).flatten(-2)
        return self.output_norm(self.blocks(self.input_layer(x)))
