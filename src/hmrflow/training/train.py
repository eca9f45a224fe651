"""Run a training: Lightning trainer, checkpoints with their config, resume, logs."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch

from hmrflow.config import config_to_dict
from hmrflow.training.config import ExperimentConfig
from hmrflow.training.data import SyntheticDataModule
from hmrflow.training.module import HMRModule

__all__ = ["train", "build_trainer"]

log = logging.getLogger(__name__)


def _logger(output_dir: Path):
    try:
        import tensorboard  # noqa: F401

        return L.pytorch.loggers.TensorBoardLogger(str(output_dir), name="logs")
    except ImportError:
        log.info("tensorboard is not installed: logging to CSV instead")
        return L.pytorch.loggers.CSVLogger(str(output_dir), name="logs")


def build_trainer(config: ExperimentConfig, progress: bool = True) -> L.Trainer:
    """A Lightning trainer as ``config.trainer`` says."""
    t = config.trainer
    output_dir = Path(t.output_dir)
    checkpoints = L.pytorch.callbacks.ModelCheckpoint(
        dirpath=output_dir / "checkpoints",
        filename="step{step:07d}",
        auto_insert_metric_name=False,
        every_n_train_steps=t.val_every,
        save_last=True,
        save_top_k=-1,
    )
    devices: str | int = int(t.devices) if t.devices.isdigit() else t.devices
    return L.Trainer(
        max_steps=t.max_steps,
        val_check_interval=t.val_every,
        check_val_every_n_epoch=None,
        log_every_n_steps=t.log_every,
        accelerator=t.accelerator,
        devices=devices,
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        # Mixed precision applies to the image backbone only (see ProbabilisticHMR).
        precision="32-true",
        gradient_clip_val=config.optim.grad_clip or None,
        logger=_logger(output_dir),
        callbacks=[checkpoints],
        enable_progress_bar=progress,
        enable_model_summary=progress,
        default_root_dir=str(output_dir),
    )


def train(config: ExperimentConfig, resume: str | Path | None = None, progress: bool = True) -> Path:
    """Train as ``config`` says; returns the path of the last checkpoint.

    Arguments:
        config: The experiment.
        resume: A checkpoint to continue from (``"last"`` for the run's last one).
        progress: Show a progress bar.
    """
    L.seed_everything(config.trainer.seed, workers=True, verbose=False)
    output_dir = Path(config.trainer.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    import yaml

    (output_dir / "config.yaml").write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))
    module = HMRModule(config)
    data = SyntheticDataModule(config.data, module.model.body, seed=config.trainer.seed)
    trainer = build_trainer(config, progress)
    if resume == "last":
        resume = output_dir / "checkpoints" / "last.ckpt"
    torch.set_float32_matmul_precision("high")
    trainer.fit(module, datamodule=data, ckpt_path=str(resume) if resume else None)
    return output_dir / "checkpoints" / "last.ckpt"
