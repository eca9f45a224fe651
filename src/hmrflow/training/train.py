"""Run a training: Lightning trainer, checkpoints with their config, resume, logs.

Mixed precision (``trainer.precision`` ``"bf16-mixed"`` or ``"16-mixed"``) is Lightning's
(autocast, and a gradient scaler for float16), and the model confines it to the image
backbone: the flow, head, body model and losses run in float32
(:meth:`hmrflow.models.ProbabilisticHMR.encode`).

Every check that can fail runs before the run writes anything (``config.yaml``, logs,
checkpoints): the configuration's ranges, the body model, the data files, the checkpoint
to resume from (:mod:`hmrflow.training.resume`), the output folder and Lightning's
accelerator settings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

import lightning as L
import torch

from hmrflow.config import ConfigError, config_to_dict, validate
from hmrflow.errors import InputError
from hmrflow.training.checkpoint import TrainingCheckpoint
from hmrflow.training.config import ExperimentConfig, Precision
from hmrflow.training.data import HMRDataModule
from hmrflow.training.module import HMRModule

__all__ = ["train", "build_trainer", "initialize_from", "Throughput"]

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


class Throughput(L.Callback):
    """Training examples per second over all processes, data loading included.

    Timed between marks after ``warmup`` steps: a mark at every logged step, at the start
    of a validation (which is left out) and at the end. The GPU is synchronised at the
    marks only, so the timing does not stall the steps between them. Logged as
    ``train/samples_per_s`` and said once at the end.
    """

    def __init__(self, batch_size: int, warmup: int = 10):
        self.batch_size, self.warmup = batch_size, warmup
        self.steps, self.seconds = 0, 0.0
        self._mark: tuple[int, float] | None = None  # (step, time) the running interval began

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, *args: object) -> None:
        step = trainer.global_step
        if step < self.warmup:
            return
        if self._mark is None:
            self._mark = (step, _now(module))
        elif step % trainer.log_every_n_steps == 0:
            self._close(trainer, module)
            module.log("train/samples_per_s", self.rate(trainer.world_size), rank_zero_only=True)

    def _close(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        """Add the running interval; a new one starts now."""
        if self._mark is None:
            return
        step, now = trainer.global_step, _now(module)
        self.steps += step - self._mark[0]
        self.seconds += now - self._mark[1]
        self._mark = (step, now)

    def on_validation_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._close(trainer, module)
        self._mark = None

    def rate(self, world_size: int) -> float:
        return self.steps * self.batch_size * world_size / max(self.seconds, 1e-9)

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._close(trainer, module)
        if self.steps:
            log.info("%d timed steps of %d examples x %d process(es): %.0f samples/s (after %d warm-up steps)",
                     self.steps, self.batch_size, trainer.world_size, self.rate(trainer.world_size), self.warmup)


def _now(module: L.LightningModule) -> float:
    """The time once the module's device has finished its queued work."""
    if module.device.type == "cuda":
        torch.cuda.synchronize(module.device)
    return time.perf_counter()


def build_trainer(
    config: ExperimentConfig,
    progress: bool = True,
    validate: bool = True,
    callbacks: Sequence[L.Callback] = (),
) -> L.Trainer:
    """A Lightning trainer as ``config.trainer`` says (``validate=False``: no validation loop).

    It writes nothing until training starts.

    Raises:
        ConfigError: The precision, accelerator, devices or strategy cannot be used.
    """
    t = config.trainer
    if t.precision not in PRECISIONS:
        raise ConfigError(
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
    return _lightning_trainer(
        t.accelerator,
        devices,
        t.strategy,
        max_steps=t.max_steps,
        val_check_interval=t.val_every,
        check_val_every_n_epoch=None,
        log_every_n_steps=t.log_every,
        num_nodes=t.num_nodes,
        # Mixed precision reaches the image backbone only (see ProbabilisticHMR.encode).
        precision=t.precision,
        sync_batchnorm=t.sync_batchnorm,
        limit_val_batches=None if validate else 0,
        num_sanity_val_steps=None if validate else 0,
        gradient_clip_val=config.optim.grad_clip or None,
        logger=_logger(output_dir),
        callbacks=[checkpoints, Throughput(config.data.batch_size, warmup=min(10, t.max_steps // 2)), *callbacks],
        enable_progress_bar=progress,
        enable_model_summary=progress,
        default_root_dir=str(output_dir),
    )


def _lightning_trainer(accelerator: str, devices: str | int, strategy: str, **kwargs: Any) -> L.Trainer:
    """``L.Trainer``; settings that do not work on this machine are a ConfigError.

    Raises:
        ConfigError: Lightning refuses the accelerator, devices or strategy.
    """
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        return L.Trainer(accelerator=accelerator, devices=devices, strategy=strategy, **kwargs)
    except (MisconfigurationException, ValueError, TypeError) as error:
        raise ConfigError(
            f"trainer.accelerator={accelerator}, trainer.devices={devices}, trainer.strategy={strategy}: {error}"
        ) from None


def initialize_from(model: torch.nn.Module, path: str | Path, widen: bool = False) -> None:
    """Load the model weights of checkpoint ``path`` into ``model`` (fine-tuning).

    The weights must fit exactly (same names and shapes); settings that leave them
    unchanged (dropout, the body model's name) may differ from the checkpoint's. The one
    exception is the flow's context scale, which starts as the identity: a checkpoint
    without it fine-tunes into a model with it. ``widen``: the checkpoint's model may be
    narrower; it fills the leading part of each weight, computing the same function
    (:func:`~hmrflow.models.widen.widen_state`).

    Raises:
        CheckpointError: The file is unreadable or its weights do not fit ``model``.
    """
    from hmrflow.models.checkpoint import load_state_strictly
    from hmrflow.training.checkpoint import read_checkpoint

    config, state = read_checkpoint(path)
    fresh = ("flow.context_scale.",)
    if widen:
        from hmrflow.models.widen import widen_state

        own = model.state_dict()
        missing = {k: v for k, v in own.items() if k.startswith(fresh) and k not in state}
        state = widen_state({**state, **missing}, own)
    load_state_strictly(model, state, path, fresh=fresh)
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
        resume: A checkpoint to continue from (``"last"``: the run's newest usable one,
            :func:`~hmrflow.training.resume.newest_checkpoint`); the run continues exactly
            (weights, optimiser, data stream and randomness). Its model must be ``config``'s.
        progress: Show a progress bar.
        callbacks: More Lightning callbacks.

    Raises:
        InputError: A setting, file or checkpoint that cannot be used; raised before
            anything is written.
    """
    config = validate(config)
    if config.trainer.init_widen and not config.trainer.init_from:
        raise ConfigError("trainer.init_widen widens the model of trainer.init_from, which is empty: set it too")
    L.seed_everything(config.trainer.seed, workers=True, verbose=False)
    module = _build_module(config)
    output_dir = Path(config.trainer.output_dir)
    start = _resume_point(resume, output_dir, config)
    if config.trainer.init_from and start is None:
        initialize_from(module.model, config.trainer.init_from, config.trainer.init_widen)
    data = HMRDataModule(config.data, module.model.body, seed=config.trainer.seed, model=config.model)
    data.check_files()
    if module.discriminator is not None:
        module.mocap()
    trainer = build_trainer(config, progress, validate=data.has_validation, callbacks=callbacks)
    _writable(output_dir)
    import yaml

    # Everything that can fail on the user's inputs has been checked: now write.
    (output_dir / "config.yaml").write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))
    if not data.has_validation:
        log.warning("no validation data for an image model: set data.val_sources to validate")
    torch.set_float32_matmul_precision("high")
    trainer.fit(module, datamodule=data, ckpt_path=str(start.path) if start else None)
    last = trainer.checkpoint_callback.last_model_path if trainer.checkpoint_callback else ""
    return Path(last) if last else output_dir / "checkpoints" / "last.ckpt"


def _build_module(config: ExperimentConfig) -> HMRModule:
    """The training module with its model and body model; unusable settings are ConfigErrors.

    Raises:
        ConfigError: The body model cannot be loaded, or the model cannot be built.
    """
    from hmrflow.models.prohmr import ProbabilisticHMR, load_body_model

    try:
        body = load_body_model(config.model.body_model)
    except ValueError as error:  # an InputError naming the file, or an unknown name
        raise ConfigError(f"model.body_model: {error}") from error
    try:
        model = ProbabilisticHMR(config.model, body=body)
    except InputError:
        raise
    except ValueError as error:
        raise ConfigError(f"model: {error}") from None
    return HMRModule(config, model=model)


def _resume_point(resume: str | Path | None, output_dir: Path, config: ExperimentConfig) -> TrainingCheckpoint | None:
    """The checkpoint to resume from, checked against ``config``; None to start afresh."""
    if not resume:
        return None
    from hmrflow.training.resume import check_resumable, resume_checkpoint

    start = resume_checkpoint(resume, output_dir)
    changes = check_resumable(start, config)
    shown = "".join(f"; {key} {old!r} -> {new!r}" for key, old, new in changes)
    log.info("resuming from %s (step %d)%s", start.path, start.step, shown)
    return start


def _writable(output_dir: Path) -> None:
    """Create ``output_dir`` and make sure files can be written there.

    Raises:
        InputError: Naming ``trainer.output_dir`` and why not.
    """
    from hmrflow.folders import output_folder

    output_folder(output_dir, "trainer.output_dir")
