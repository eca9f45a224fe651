"""Checkpoints that carry their configuration, loaded strictly.

Two kinds of file hold a model: Lightning training checkpoints (``state_dict`` keys
prefixed ``model.``, optimiser state, ...) and exported model files (``state_dict`` of
the model alone). Both hold a ``"hmrflow"`` section with the experiment configuration,
so :func:`load_model` rebuilds the exact model and loads its weights strictly.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from hmrflow.config import ConfigError, config_from_dict, config_to_dict
from hmrflow.errors import CheckpointError
from hmrflow.models import ProbabilisticHMR
from hmrflow.training.config import ExperimentConfig

__all__ = [
    "CheckpointError",
    "load_model",
    "save_model",
    "read_checkpoint",
    "load_state_strictly",
    "DEFAULT_MODEL",
]

log = logging.getLogger(__name__)

CHECKPOINT_KEY = "hmrflow"
#: The shipped keypoint-conditioned model, in ``hmrflow/assets/models``.
DEFAULT_MODEL = "keypoints.pt"


def read_checkpoint(path: str | Path) -> tuple[ExperimentConfig, dict[str, torch.Tensor]]:
    """The configuration and the model's ``state_dict`` stored in ``path``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        data: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many kinds on corrupt files
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(error).__name__}: {error})") from None
    if not isinstance(data, dict) or CHECKPOINT_KEY not in data or "state_dict" not in data:
        raise CheckpointError(
            f"{path}: not an hmrflow checkpoint (no '{CHECKPOINT_KEY}' section); "
            "a released ProHMR checkpoint must first be converted with `hmrflow convert-prohmr`"
        )
    try:
        config = config_from_dict(ExperimentConfig, data[CHECKPOINT_KEY]["config"])
    except (ConfigError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path}: its configuration does not match this hmrflow: {error}") from None
    state = data["state_dict"]
    if any(key.startswith("model.") for key in state):  # a Lightning training checkpoint
        state = {key[len("model."):]: value for key, value in state.items() if key.startswith("model.")}
    return config, state


def load_model(
    path: str | Path | None = None, device: str | torch.device = "cpu", body_model: str | None = None
) -> ProbabilisticHMR:
    r"""Load a model for inference (eval mode).

    Arguments:
        path: A training checkpoint or an exported model file; None for the shipped
            keypoint-conditioned default model.
        device: Where to put the model.
        body_model: Another body model file (or name) than the checkpoint's, e.g. the
            SMPL file of a converted ProHMR checkpoint.
    """
    if path is None:
        with resources.as_file(resources.files("hmrflow") / "assets" / "models" / DEFAULT_MODEL) as p:
            if not p.is_file():
                raise CheckpointError(f"the shipped model is not installed: {p} is missing")
            return load_model(p, device, body_model)
    config, state = read_checkpoint(path)
    model_config = config.model
    if body_model is not None:
        from dataclasses import replace

        model_config = replace(model_config, body_model=body_model)
    try:
        model = ProbabilisticHMR(model_config)
    except ValueError as error:
        raise CheckpointError(f"{path}: cannot build its model: {error}") from None
    load_state_strictly(model, state, path)
    return model.to(device).eval()


def load_state_strictly(
    model: torch.nn.Module, state: dict[str, torch.Tensor], path: Any, fresh: tuple[str, ...] = ()
) -> None:
    """Load ``state`` into ``model``; every name and shape must fit.

    Keys starting with one of ``fresh`` may be absent from ``state``: those parameters
    keep their initial values.

    Raises:
        CheckpointError: Naming the missing, unexpected and wrongly shaped keys.
    """
    own = model.state_dict()
    missing = sorted(k for k in set(own) - set(state) if not k.startswith(fresh))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    problems = []
    if missing:
        problems.append(f"missing keys {_few(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_few(unexpected)}")
    if wrong:
        problems.append(
            "wrong shapes " + ", ".join(f"{k} {tuple(state[k].shape)} != {tuple(own[k].shape)}" for k in wrong[:5])
        )
    if problems:
        raise CheckpointError(f"{path}: weights do not fit the model: " + "; ".join(problems))
    model.load_state_dict(state, strict=not fresh)


def _few(keys: list[str], n: int = 5) -> str:
    return ", ".join(keys[:n]) + (f" (and {len(keys) - n} more)" if len(keys) > n else "")


def save_model(
    model: ProbabilisticHMR,
    config: ExperimentConfig,
    path: str | Path,
    storage_dtype: torch.dtype | None = None,
) -> None:
    """Write an exported model file: the configuration and the model's weights only.

    ``storage_dtype`` (e.g. ``torch.float16``) stores floating-point weights smaller; they
    load back into the model's own dtype.
    """
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if storage_dtype is not None:
        state = {k: v.to(storage_dtype) if v.is_floating_point() else v for k, v in state.items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({CHECKPOINT_KEY: {"format": 1, "config": config_to_dict(config)}, "state_dict": state}, path)
