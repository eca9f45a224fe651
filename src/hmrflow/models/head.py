"""Shape and camera head: context features -> body shape (betas) and weak-perspective camera.

As ProHMR's ``fc_head``: ``Linear(C -> H) -> ReLU -> Linear(H -> S + 3)``, the last layer
initialised xavier-uniform with gain 0.02, its outputs added to the mean betas and the
mean camera ``(s, tx, ty)``.

Example:
    >>> head = ShapeCameraHead(context_features=32, hidden_features=16)
    >>> out = head(torch.zeros(4, 32))
    >>> out.betas.shape, out.camera.shape
    (torch.Size([4, 10]), torch.Size([4, 3]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = ["ShapeCameraHead", "ShapeCamera"]


@dataclass(frozen=True)
class ShapeCamera:
    betas: Tensor  #: (B, S) shape coefficients
    camera: Tensor  #: (B, 3) weak-perspective camera (s, tx, ty) in the crop


class ShapeCameraHead(nn.Module):
    r"""Regress betas ``(B, S)`` and camera ``(B, 3)`` from context ``(B, C)``.

    Arguments:
        context_features: C.
        num_betas: S.
        hidden_features: Width of the hidden layer (1024 in ProHMR).
        mean_camera: The camera at initialisation, ``(s, tx, ty)``.
    """

    def __init__(
        self,
        context_features: int,
        num_betas: int = 10,
        hidden_features: int = 1024,
        mean_camera: tuple[float, float, float] = (0.9, 0.0, 0.0),
    ):
        super().__init__()
        self.num_betas = num_betas
        self.layers = nn.Sequential(
            nn.Linear(context_features, hidden_features),
            nn.ReLU(),
            nn.Linear(hidden_features, num_betas + 3),
        )
        nn.init.xavier_uniform_(self.layers[2].weight, gain=0.02)
        self.register_buffer("init_betas", torch.zeros(num_betas))
        self.register_buffer("init_cam", torch.tensor(mean_camera))

    def forward(self, context: Tensor) -> ShapeCamera:
        offset = self.layers(context)
        return ShapeCamera(
            betas=offset[..., : self.num_betas] + self.init_betas,
            camera=offset[..., self.num_betas :] + self.init_cam,
        )
