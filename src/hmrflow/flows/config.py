r"""Configuration of the conditional Glow flow.

The defaults are ProHMR's: D = 144 (24 joints x 6D), C = 2048 (ResNet-50 feature),
4 layers of ActNorm -> LU linear -> additive coupling, coupling nets with hidden width
1024, 2 residual blocks and dropout 0.5 (about 25.9 M parameters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hmrflow.config import bounded, check_bounds

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

    features: int = bounded(144, minimum=2)
    context_features: int = bounded(2048, minimum=1)
    hidden_features: int = bounded(1024, minimum=1)
    num_layers: int = bounded(4, minimum=1)
    num_blocks: int = bounded(2, minimum=0)
    dropout: float = bounded(0.5, minimum=0, below=1)
    coupling: Literal["additive", "affine"] = "additive"
    context_scale: bool = False
    actnorm_min_std: float = bounded(1e-3, above=0)
    batch_norm_eps: float = bounded(1e-5, above=0)

    def __post_init__(self) -> None:
        """Check the ranges when built in code too (a :class:`~hmrflow.errors.ConfigError`)."""
        check_bounds(self)
        if self.coupling not in ("additive", "affine"):
            raise ValueError(f"coupling must be 'additive' or 'affine', got {self.coupling!r}")
