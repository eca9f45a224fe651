r"""Configuration of the conditional Glow flow.

The defaults are ProHMR's: D = 144 (24 joints x 6D), C = 2048 (ResNet-50 feature),
4 layers of ActNorm -> LU linear -> additive coupling, coupling nets with hidden width
1024, 2 residual blocks and dropout 0.5 (about 25.9 M parameters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["FlowConfig"]


@dataclass(frozen=True)
class FlowConfig:
    r"""Hyper-parameters of :class:`~hmrflow.flows.ConditionalGlow`.

    Attributes:
        features: Flow dimension D.
        context_features: Context dimension C (it enters only the first Linear of each
            coupling net).
        hidden_features: Width H of the coupling nets.
        num_layers: Number of ActNorm -> LU linear -> coupling steps.
        num_blocks: Residual blocks per coupling net.
        dropout: Dropout probability inside the residual blocks.
        coupling: ``"additive"`` (ProHMR; every log-determinant is independent of the
            input, so ``z = 0`` is the exact mode) or ``"affine"`` (nflows' affine
            coupling, ``scale = sigmoid(u + 2) + 1e-3``; then ``z = 0`` is not exactly
            the mode).
        context_scale: Add a :class:`~hmrflow.flows.layers.ContextScale` at the noise end:
            a per-feature scale of the latent set by the context (not in ProHMR), so that
            the spread of the distribution can differ between inputs; ``z = 0`` stays
            the exact mode with additive coupling.
        actnorm_min_std: Floor on the per-feature standard deviation used by the
            data-dependent ActNorm initialisation.
        batch_norm_eps: ``eps`` of the BatchNorm layers of the residual blocks. The
            default 1e-5 follows the nflows fork ProHMR trained with, whose residual
            blocks use ``nn.BatchNorm1d(features, affine=True)``; upstream nflows
            uses 1e-3.

    Example:
        >>> FlowConfig(features=8, context_features=4, hidden_features=16).num_layers
        4
    """

    features: int = 144
    context_features: int = 2048
    hidden_features: int = 1024
    num_layers: int = 4
    num_blocks: int = 2
    dropout: float = 0.5
    coupling: Literal["additive", "affine"] = "additive"
    context_scale: bool = False
    actnorm_min_std: float = 1e-3
    batch_norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        if self.features < 2:
            raise ValueError(f"features must be >= 2, got {self.features}")
        if self.context_features < 1 or self.hidden_features < 1:
            raise ValueError("context_features and hidden_features must be >= 1")
        if self.num_layers < 1 or self.num_blocks < 0:
            raise ValueError("num_layers must be >= 1 and num_blocks >= 0")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.coupling not in ("additive", "affine"):
            raise ValueError(f"coupling must be 'additive' or 'affine', got {self.coupling!r}")
        if self.actnorm_min_std <= 0.0 or self.batch_norm_eps <= 0.0:
            raise ValueError("actnorm_min_std and batch_norm_eps must be positive")
