"""Training checkpoints: the whole experiment configuration, and what a run resumes from.

Model files are read and written by :mod:`hmrflow.models.checkpoint` (inference needs
nothing of training); here the stored configuration is read as a whole
:class:`~hmrflow.training.config.ExperimentConfig`, strictly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from hmrflow.config import ConfigError, config_from_dict
from hmrflow.errors import CheckpointError
from hmrflow.models.checkpoint import ModelFile, read_model_file
from hmrflow.training.config import ExperimentConfig

__all__ = ["read_checkpoint", "read_training_checkpoint", "TrainingCheckpoint"]


def read_checkpoint(path: str | Path) -> tuple[ExperimentConfig, dict[str, torch.Tensor]]:
    """The experiment configuration and the model's ``state_dict`` stored in ``path``.

    Raises:
        CheckpointError: The file is missing, unreadable, not an hmrflow checkpoint, its
            configuration does not fit this hmrflow, or a model weight is not finite.
    """
    file = read_model_file(path)
    return _experiment(file), file.state


@dataclass(frozen=True)
class TrainingCheckpoint:
    """What a run resumes from: a Lightning training checkpoint, checked.

    Attributes:
        path: The file.
        step: The optimiser steps taken (Lightning's ``global_step``).
        config: The experiment configuration stored in it.
    """

    path: Path
    step: int
    config: ExperimentConfig


def read_training_checkpoint(path: str | Path) -> TrainingCheckpoint:
    """Check that ``path`` is a readable training checkpoint a run can resume from.

    The file is memory-mapped: only the model weights are read (to check they are finite).

    Raises:
        CheckpointError: As :func:`read_checkpoint`, or the file is an exported model
            (no optimiser state or step count).
    """
    file = read_model_file(path, mmap=True)
    config = _experiment(file)
    if not isinstance(file.raw.get("global_step"), int) or "optimizer_states" not in file.raw:
        raise CheckpointError(
            f"{file.path}: a model file, not a training checkpoint (no step count or optimiser state); "
            "to start a run from its weights, set trainer.init_from instead"
        )
    return TrainingCheckpoint(file.path, file.raw["global_step"], config)


def _experiment(file: ModelFile) -> ExperimentConfig:
    """The experiment configuration of a model file, built strictly."""
    try:
        return config_from_dict(ExperimentConfig, file.config)
    except ConfigError as error:
        raise CheckpointError(f"{file.path}: its configuration does not match this hmrflow: {error}") from None
