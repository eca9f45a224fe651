"""Run a training: Lightning trainer, checkpoints with their config, resume, logs.

Mixed precision (``trainer.precision`` ``"bf16-mixed"`` or ``"16-mixed"``) is Lightning's
(autocast, and a gradient scaler for float16), and the model confines it to the image
backbone: the flow, head, body model and losses run in float32
(:meth:`hmrflow.models.ProbabilisticHMR.encode`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

import lightning as L
import torch

from hmrflow.config import config_to_dict
from hmrflow.training.config import ExperimentConfig, Precision
from hmrflow.training.data import HMRDataModule
from hmrflow.training.module import HMRModule

__all__ = ["train", "build_trainer", "initialize_from"]

log = logging.getLogger(__name__)

#: Values of ``trainer.precision``: full float32, or mixed precision for the image backbone.
PRECISIONS: tuple[str, ...] = get_args(Precision)


def _logger(output_dir: Path):
    try:
        import tensorboard  # noqa: F401

        return L.pytorch.loggers.TensorBoardLogger(str(output_dir), name="logs")
    except ImportError:
        log.info("tensorboard is not installed: logging to CSV instead")
        return L.pytorch.loggers.CSVLogger(str(output_dir), name="logs")


def build_trainer(
    config: ExperimentConfig,
    progress: bool = True,
    validate: bool = True,
    callbacks: Sequence[L.Callback] = (),
) -> L.Trainer:
    """A Lightning trainer as ``config.trainer`` says (``validate=False``: no validation loop)."""
    t = config.trainer
    if t.precision not in PRECISIONS:
        raise ValueError(
            f"trainer.precision {t.precision!r} is not one of {list(PRECISIONS)} (the flow and body "
            "model stay float32; mixed precision applies to the image backbone)"
        )
    output_dir = Path(t.output_dir)
    checkpoints = L.pytorch.callbacks.ModelCheckpoint(
        dirpath=output_dir / "checkpoints",
        filename="step{step:07d}",
        auto_insert_metric_name=False,
        every_n_train_steps=t.val_every,
        save_last=True,
        save_top_k=-1,
    )
    devices: str | int = int(t.devices) if str(t.devices).isdigit() else t.devices
    return L.Trainer(
        max_steps=t.max_steps,
        val_check_interval=t.val_every,
        check_val_every_n_epoch=None,
        log_every_n_steps=t.log_every,
        accelerator=t.accelerator,
        devices=devices,
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        # Mixed precision reaches the image backbone only (see ProbabilisticHMR.encode).
        precision=t.precision,
        sync_batchnorm=t.sync_batchnorm,
        limit_val_batches=None if validate else 0,
        num_sanity_val_steps=None if validate else 0,
        gradient_clip_val=config.optim.grad_clip or None,
        logger=_logger(output_dir),
        callbacks=[checkpoints, *callbacks],
        enable_progress_bar=progress,
        enable_model_summary=progress,
        default_root_dir=str(output_dir),
    )


def initialize_from(model: torch.nn.Module, path: str | Path) -> None:
    """Load the model weights of checkpoint ``path`` into ``model`` (fine-tuning).

    The weights must fit exactly (same names and shapes); settings that leave them
    unchanged (dropout, the body model's name) may differ from the checkpoint's. The one
    exception is the flow's context scale, which starts as the identity: a checkpoint
    without it fine-tunes into a model with it.

    Raises:
        CheckpointError: The file is unreadable or its weights do not fit ``model``.
    """
    from hmrflow.training.checkpoint import load_state_strictly, read_checkpoint

    config, state = read_checkpoint(path)
    load_state_strictly(model, state, path, fresh=("flow.context_scale.",))
    if config.model != model.config:
        log.info("fine-tuning %s with a different model configuration (the weights fit)", path)
    log.info("model weights initialised from %s", path)


def train(
    config: ExperimentConfig,
    resume: str | Path | None = None,
    progress: bool = True,
    callbacks: Sequence[L.Callback] = (),
) -> Path:
    """Train as ``config`` says; returns the path of the last checkpoint.

    Arguments:
        config: The experiment.
        resume: A checkpoint to continue from (``"last"`` for the run's last one); the
            run continues exactly (weights, optimiser, data stream and randomness).
        progress: Show a progress bar.
        callbacks: More Lightning callbacks.
    """
    L.seed_everything(config.trainer.seed, workers=True, verbose=False)
    module = HMRModule(config)
    if config.trainer.init_from and not resume:
        initialize_from(module.model, config.trainer.init_from)
    data = HMRDataModule(config.data, module.model.body, seed=config.trainer.seed, model=config.model)
    data.check_files()  # before anything is written
    if module.discriminator is not None:
        module.mocap()
    output_dir = Path(config.trainer.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    import yaml

    (output_dir / "config.yaml").write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))
    if not data.has_validation:
        log.warning("no validation data for an image model: set data.val_sources to validate")
    trainer = build_trainer(config, progress, validate=data.has_validation, callbacks=callbacks)
    if resume == "last":
        resume = output_dir / "checkpoints" / "last.ckpt"
    torch.set_float32_matmul_precision("high")
    trainer.fit(module, datamodule=data, ckpt_path=str(resume) if resume else None)
    last = trainer.checkpoint_callback.last_model_path if trainer.checkpoint_callback else ""
    return Path(last) if last else output_dir / "checkpoints" / "last.ckpt"
