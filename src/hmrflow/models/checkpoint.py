"""Model files: reading, writing and loading models for inference, strictly.

Two kinds of file hold a model: Lightning training checkpoints (``state_dict`` keys
prefixed ``model.``, optimiser state, ...) and exported model files (``state_dict`` of
the model alone). Both hold a ``"hmrflow"`` section with the experiment configuration
the model came from; :func:`load_model` rebuilds the model from its ``model`` part and
loads the weights strictly. A file whose model weights are not all finite (a diverged
training) is refused. Training reads the rest of the configuration
(:mod:`hmrflow.training.checkpoint`); inference needs nothing of training.
"""

from __future__ import annotations

import dataclasses
import logging
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from hmrflow.config import ConfigError, config_from_dict, config_to_dict
from hmrflow.errors import CheckpointError
from hmrflow.models.config import ModelConfig
from hmrflow.models.prohmr import ProbabilisticHMR

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_KEY",
    "DEFAULT_MODEL",
    "CheckpointError",
    "ModelFile",
    "check_finite",
    "load_model",
    "load_state_strictly",
    "read_model_file",
    "save_model",
    "upgrade_config",
]

log = logging.getLogger(__name__)

CHECKPOINT_KEY = "hmrflow"
#: The format files are written in. 2: ``trainer.num_samples`` counts the samples besides
#: the mode (format 1 counted the mode too); :func:`upgrade_config` reads older files.
CHECKPOINT_FORMAT = 2
#: The shipped keypoint-conditioned model, in ``hmrflow/assets/models``.
DEFAULT_MODEL = "keypoints.pt"


@dataclass(frozen=True)
class ModelFile:
    """What a model file holds.

    Attributes:
        path: The file.
        config: The stored experiment configuration, as a plain dict.
        model: Its ``model`` part, built strictly.
        state: The model's weights (a training checkpoint's ``model.`` prefix removed).
        raw: Everything the file holds (a training checkpoint's step and optimiser too).
    """

    path: Path
    config: dict[str, Any]
    model: ModelConfig
    state: dict[str, torch.Tensor]
    raw: dict[str, Any]


def read_model_file(path: str | Path, mmap: bool = False) -> ModelFile:
    """Read a training checkpoint or an exported model file (``mmap``: map, not read, it).

    Raises:
        CheckpointError: The file is missing, unreadable, not an hmrflow checkpoint, its
            model configuration does not fit this hmrflow, or a model weight is not finite.
    """
    path = Path(path)
    data = _load(path, mmap)
    section = data[CHECKPOINT_KEY] if isinstance(data[CHECKPOINT_KEY], dict) else {}
    config = section.get("config")
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: its '{CHECKPOINT_KEY}' section holds no configuration")
    file_format = section.get("format", 1)
    if not isinstance(file_format, int) or not 1 <= file_format <= CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: file format {file_format!r} is not one this hmrflow reads (1 to {CHECKPOINT_FORMAT}); "
            "a newer hmrflow wrote it"
        )
    config = upgrade_config(config, file_format)
    try:
        model = config_from_dict(ModelConfig, config.get("model", {}), "model")
    except ConfigError as error:
        raise CheckpointError(f"{path}: its configuration does not match this hmrflow: {error}") from None
    state = _model_state(data)
    check_finite(state, path)
    return ModelFile(path, config, model, state, data)


def upgrade_config(config: dict[str, Any], file_format: int) -> dict[str, Any]:
    """The stored configuration of a file of ``file_format``, in today's meaning.

    Format 1 -> 2: ``trainer.num_samples`` counted the mode; it now counts the samples
    besides the mode, so one less (at least 0).

    Example:
        >>> upgrade_config({"trainer": {"num_samples": 11}}, 1)
        {'trainer': {'num_samples': 10}}
    """
    config = dict(config)
    trainer = config.get("trainer")
    if file_format < 2 and isinstance(trainer, dict) and isinstance(trainer.get("num_samples"), int):
        config["trainer"] = {**trainer, "num_samples": max(trainer["num_samples"] - 1, 0)}
    return config


def _load(path: Path, mmap: bool = False) -> dict[str, Any]:
    """The dict saved in ``path``, which must hold an hmrflow section and a ``state_dict``."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        data: Any = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as error:  # noqa: BLE001 - torch raises many kinds on corrupt files
        raise CheckpointError(f"{path}: not a readable checkpoint ({_why_unreadable(path, error)})") from None
    if not isinstance(data, dict) or CHECKPOINT_KEY not in data or "state_dict" not in data:
        raise CheckpointError(
            f"{path}: not an hmrflow checkpoint (no '{CHECKPOINT_KEY}' section); "
            "a released ProHMR checkpoint must first be converted with `hmrflow convert-prohmr`"
        )
    return data


def _why_unreadable(path: Path, error: Exception) -> str:
    """Why torch could not load ``path``: an incomplete file says so (torch only says "Errno 22")."""
    if not zipfile.is_zipfile(path):
        return f"truncated or not a torch file: no complete zip archive, {path.stat().st_size} bytes"
    return f"{type(error).__name__}: {error}"


def _model_state(data: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The model's weights: a Lightning checkpoint's ``model.`` entries without the prefix."""
    state = data["state_dict"]
    if any(key.startswith("model.") for key in state):  # a Lightning training checkpoint
        state = {key[len("model."):]: value for key, value in state.items() if key.startswith("model.")}
    return state


def check_finite(state: dict[str, torch.Tensor], path: Any) -> None:
    """Refuse weights with a NaN or an infinite value (a diverged training wrote them).

    Raises:
        CheckpointError: Naming ``path`` and the first tensor that is not finite.
    """
    for name, value in state.items():
        if not (value.is_floating_point() or value.is_complex()):
            continue
        bad = int((~torch.isfinite(value)).sum())
        if bad:
            raise CheckpointError(
                f"{path}: model weight {name} is not finite ({bad} of {value.numel()} values are NaN or "
                "infinite); the training that wrote it diverged, use an earlier checkpoint"
            )


def load_model(
    path: str | Path | None = None, device: str | torch.device = "cpu", body_model: str | None = None
) -> ProbabilisticHMR:
    r"""Load a model for inference (eval mode).

    Arguments:
        path: A training checkpoint or an exported model file; None or ``"default"`` for
            the shipped keypoint-conditioned default model (every command's name for it).
        device: Where to put the model.
        body_model: Another body model file (or name) than the checkpoint's, e.g. the
            SMPL file of a converted ProHMR checkpoint.
    """
    if path is None or path == "default":
        with resources.as_file(resources.files("hmrflow") / "assets" / "models" / DEFAULT_MODEL) as p:
            if not p.is_file():
                raise CheckpointError(f"the shipped model is not installed: {p} is missing")
            return load_model(p, device, body_model)
    file = read_model_file(path)
    model_config = file.model
    if body_model is not None:
        model_config = dataclasses.replace(model_config, body_model=body_model)
    try:
        model = ProbabilisticHMR(model_config)
    except ValueError as error:
        raise CheckpointError(f"{path}: cannot build its model: {error}") from None
    load_state_strictly(model, file.state, path)
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
    config: Any,
    path: str | Path,
    storage_dtype: torch.dtype | None = None,
) -> None:
    """Write an exported model file: the configuration and the model's weights only.

    Arguments:
        config: The experiment configuration the model came from (a configuration
            dataclass or its dict; at least ``{"model": ...}``).
        storage_dtype: e.g. ``torch.float16``: floating-point weights stored smaller;
            they load back into the model's own dtype.
    """
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if storage_dtype is not None:
        state = {k: v.to(storage_dtype) if v.is_floating_point() else v for k, v in state.items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    stored = config_to_dict(config) if dataclasses.is_dataclass(config) else dict(config)
    torch.save({CHECKPOINT_KEY: {"format": CHECKPOINT_FORMAT, "config": stored}, "state_dict": state}, path)
