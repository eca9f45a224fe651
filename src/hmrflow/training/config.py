"""The experiment configuration: one frozen dataclass per component, composed here.

Loaded strictly from YAML (unknown keys are errors) with ``key=value`` overrides, and
saved inside every checkpoint (:mod:`hmrflow.training.checkpoint`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hmrflow.data.synthetic import SyntheticConfig
from hmrflow.models.config import ModelConfig
from hmrflow.training.losses import LossWeights

__all__ = ["DataConfig", "OptimConfig", "TrainerConfig", "ExperimentConfig"]


@dataclass(frozen=True)
class DataConfig:
    r"""Training and validation data.

    Attributes:
        synthetic: Synthetic keypoint data (poses x shapes x cameras).
        batch_size: Examples per step (per device).
        val_size: Size of the fixed synthetic validation set.
        val_seed: Seed of the validation set (a seed gives an identical set).
        num_workers: Data loader worker processes.
    """

    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    batch_size: int = 64
    val_size: int = 512
    val_seed: int = 1234
    num_workers: int = 0


@dataclass(frozen=True)
class OptimConfig:
    """AdamW, as ProHMR."""

    lr: float = 1e-4
    weight_decay: float = 1e-4
    grad_clip: float = 0.0  #: gradient-norm clip; 0 disables


@dataclass(frozen=True)
class TrainerConfig:
    r"""How long and where to train (passed to Lightning).

    Attributes:
        max_steps: Optimiser steps.
        val_every: Steps between validations.
        log_every: Steps between logged losses.
        accelerator, devices, num_nodes, strategy: Lightning's (``"auto"`` picks).
        precision: ``"32-true"``, or ``"bf16-mixed"``/``"16-mixed"``: mixed precision
            runs only the image backbone in low precision; flow and body stay float32.
        output_dir: Checkpoints and TensorBoard logs go here.
        seed: Seed of everything random in training.
        num_samples: Poses per input in a training step: the mode and ``num_samples - 1``
            samples (ProHMR: 2).
    """

    max_steps: int = 20000
    val_every: int = 1000
    log_every: int = 50
    accelerator: str = "auto"
    devices: str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    output_dir: str = "runs/keypoints"
    seed: int = 0
    num_samples: int = 2


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything a training run needs."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    losses: LossWeights = field(default_factory=LossWeights)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
