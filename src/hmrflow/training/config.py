"""The experiment configuration: one frozen dataclass per component, composed here.

Loaded strictly from YAML (unknown keys are errors, numbers must lie in their field's
range) with ``key=value`` overrides, and saved inside every checkpoint
(:mod:`hmrflow.training.checkpoint`). The ranges of the data settings defined in
:mod:`hmrflow.data` are declared here (:func:`~hmrflow.config.declare_bounds`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from hmrflow.config import Bounds, bounded, declare_bounds
from hmrflow.data.augment import AugmentConfig
from hmrflow.data.pose_sampler import PoseSamplerConfig
from hmrflow.data.synthetic import CameraConfig, CorruptionConfig, SyntheticConfig
from hmrflow.models.config import ModelConfig, OrientationFrame
from hmrflow.training.losses import LossWeights

__all__ = [
    "SourceConfig",
    "DataConfig",
    "DiscriminatorConfig",
    "OptimConfig",
    "TrainerConfig",
    "ExperimentConfig",
]

SourceKind = Literal["synthetic_keypoints", "synthetic_images", "prohmr"]
#: Values of ``trainer.precision``: full float32, or mixed precision for the image backbone.
Precision = Literal["32-true", "bf16-mixed", "16-mixed"]
#: Seeds must fit numpy's (unsigned 32-bit) seeds.
MAX_SEED = 2**32 - 1

_PROBABILITY = Bounds(minimum=0, maximum=1)
_PROBABILITY_RANGE = Bounds(minimum=0, maximum=1, ordered=True)
_NON_NEGATIVE = Bounds(minimum=0)
declare_bounds(
    CameraConfig,
    image_size=Bounds(minimum=1),
    distance=Bounds(above=0, ordered=True),
    elevation_deg=Bounds(minimum=-90, maximum=90, ordered=True),
    roll_deg=Bounds(minimum=-180, maximum=180, ordered=True),
    focal_length=Bounds(above=0, ordered=True),
    center_spread=_PROBABILITY,
)
declare_bounds(
    CorruptionConfig,
    jitter=Bounds(minimum=0, ordered=True),
    drop_probability=_PROBABILITY_RANGE,
    part_drop_probability=_PROBABILITY,
    swap_probability=_PROBABILITY,
    mirror_probability=_PROBABILITY,
    confidence=_PROBABILITY_RANGE,
    box_scale=Bounds(above=0),
    segment_noise=Bounds(minimum=0, ordered=True),
    other_person_probability=_PROBABILITY,
)
declare_bounds(SyntheticConfig, betas_std=_NON_NEGATIVE, num_betas=Bounds(minimum=1))
declare_bounds(
    PoseSamplerConfig,
    real_fraction=_PROBABILITY,
    mix_probability=_PROBABILITY,
    mirror_probability=_PROBABILITY,
    noise_deg=_NON_NEGATIVE,
    concentration=Bounds(above=0),
    tilt_deg=Bounds(minimum=0, maximum=180),
    uniform_orientation_fraction=_PROBABILITY,
    family_fraction=_PROBABILITY,
    families=_NON_NEGATIVE,
    family_mix_probability=_PROBABILITY,
)
declare_bounds(
    AugmentConfig,
    scale=Bounds(minimum=0, below=1),  # the box scale 1 + [-1, 1] * scale stays positive
    rotation_deg=_NON_NEGATIVE,
    rotation_probability=_PROBABILITY,
    translation=_NON_NEGATIVE,
    flip_probability=_PROBABILITY,
    color_scale=_PROBABILITY,
    extreme_crop_probability=_PROBABILITY,
    extreme_crop_choices=_NON_NEGATIVE,
)


@dataclass(frozen=True)
class SourceConfig:
    r"""One source of training (or validation) data.

    Attributes:
        kind: ``"synthetic_keypoints"`` (generated on the fly from
            ``DataConfig.synthetic``; keypoint models only), ``"synthetic_images"`` (a
            folder of rendered shards, ``hmrflow render images``) or ``"prohmr"`` (a
            ProHMR-format ``.npz`` file and its images).
        weight: Share of each batch, relative to the other sources' weights.
        path: The shard folder (``synthetic_images``) or the ``.npz`` file (``prohmr``).
        image_root: Folder the ``imgname`` paths of a ``prohmr`` file are relative to
            (default: the file's folder).
        name: Shown in messages (default: the kind and path).
        augment: ProHMR's augmentation (``DataConfig.augment``) on this source when training.
    """

    kind: SourceKind = "synthetic_keypoints"
    weight: float = bounded(1.0, minimum=0)
    path: str = ""
    image_root: str = ""
    name: str = ""
    augment: bool = True

    @property
    def label(self) -> str:
        return self.name or (f"{self.kind}:{self.path}" if self.path else self.kind)


@dataclass(frozen=True)
class DataConfig:
    r"""Training and validation data.

    Attributes:
        synthetic: Synthetic keypoint data (poses x shapes x cameras).
        batch_size: Examples per step (per device; at least 2 for BatchNorm and ActNorm).
        val_size: Size of the fixed synthetic validation set (or the most items taken
            from ``val_sources``).
        val_seed: Seed of the validation set (a seed gives an identical set).
        num_workers: Data loader worker processes.
        sources: Training data mixed by weight (:class:`SourceConfig`); empty means
            synthetic keypoints only.
        val_sources: Validation data read without augmentation (``synthetic_images``
            or ``prohmr``); empty means the synthetic keypoint validation set for
            keypoint models and no validation for image models.
        augment: ProHMR's image augmentation, for sources with ``augment``.
        generate_on: Where synthetic keypoint batches are made: ``"loader"`` in the data
            loader (the CPU and its workers), ``"device"`` on the training device in the
            main process (a GPU makes a batch of thousands in milliseconds, with no
            transfer), ``"auto"`` the device when it is a GPU. Only batches wholly of
            synthetic keypoints are made on the device.
            Batch ``t`` stays a function of ``(seed, rank, t)`` on each kind of device
            (the CPU's and a GPU's random streams differ).
        label_frame: The frame of the synthetic keypoints' 3D labels and global orientation:
            ``"model"``, the model's ``orientation_frame`` (consistent), or ``"camera"``
            always. A box model trained on camera-frame labels keeps a wider orientation
            spread (the box cannot tell the camera-frame orientation, so the labels look
            noisy): the shipped v7 was trained so, as its samples cover real people's
            orientations better (calibration error 0.044 against 0.115 for box labels on
            ``real-multiview-v1``; ``docs/keypoint_model_history.md``).
    """

    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    batch_size: int = bounded(64, minimum=2)
    val_size: int = bounded(512, minimum=1)
    val_seed: int = bounded(1234, minimum=0, maximum=MAX_SEED)
    num_workers: int = bounded(0, minimum=0)
    sources: tuple[SourceConfig, ...] = ()
    val_sources: tuple[SourceConfig, ...] = ()
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    generate_on: Literal["auto", "loader", "device"] = "auto"
    label_frame: Literal["model", "camera"] = "model"

    def labels_in(self, model: ModelConfig) -> OrientationFrame:
        """The frame the synthetic labels are made in for a model of configuration ``model``."""
        return "camera" if self.label_frame == "camera" else model.orientation_frame


@dataclass(frozen=True)
class DiscriminatorConfig:
    r"""The optional adversarial prior (ProHMR's discriminator; :mod:`hmrflow.training.discriminator`).

    A discriminator on the predicted body-joint rotations and betas learns to tell them
    from real motion capture; the model is penalised (``losses.adversarial``) when it
    can. Off by default.

    Attributes:
        enabled: Train with the discriminator.
        mocap: Motion files of real poses: AMASS ``.npz`` (``poses``, ``betas``) or
            ProHMR's mocap ``.npz`` (``pose`` (N, 72) axis-angle, ``shape`` (N, 10)).
        use_bundled: Also use the bundled CMU trial (:func:`~hmrflow.data.pose_sources.load_cmu_demo`).
        betas_std: Std of the Gaussian betas drawn for mocap poses without a shape.
    """

    enabled: bool = False
    mocap: tuple[str, ...] = ()
    use_bundled: bool = True
    betas_std: float = bounded(1.0, minimum=0)


@dataclass(frozen=True)
class OptimConfig:
    """AdamW, as ProHMR.

    Attributes:
        lr: Learning rate at ``reference_batch_size`` examples per step (all devices).
        weight_decay: AdamW's decoupled weight decay.
        grad_clip: Gradient-norm clip; 0 disables.
        lr_scaling: How ``lr`` follows the batch: ``"none"``; ``"sqrt"`` (times
            ``sqrt(B / reference_batch_size)``, the usual rule for Adam) or ``"linear"``
            (times ``B / reference_batch_size``), B the examples per step over all devices.
        reference_batch_size: The batch ``lr`` was tuned at (ProHMR's 64).
        fused: On CUDA, the fused AdamW kernel (one launch for every parameter).
        schedule: ``"constant"`` (ProHMR's), or ``"cosine"``: the learning rate falls from
            ``lr`` to ``lr * final_lr_ratio`` along a half cosine over ``trainer.max_steps``
            (the last steps at a small rate settle the weights; use it for a run's end).
        final_lr_ratio: The cosine schedule's last rate over ``lr``.
    """

    lr: float = bounded(1e-4, above=0)
    weight_decay: float = bounded(1e-4, minimum=0)
    grad_clip: float = bounded(0.0, minimum=0)
    lr_scaling: Literal["none", "sqrt", "linear"] = "none"
    reference_batch_size: int = bounded(64, minimum=1)
    fused: bool = True
    schedule: Literal["constant", "cosine"] = "constant"
    final_lr_ratio: float = bounded(0.0, minimum=0, maximum=1)

    def lr_factor(self, step: int, max_steps: int) -> float:
        """The schedule's factor on the learning rate at optimiser step ``step`` (0-based).

        Example:
            >>> OptimConfig(schedule="cosine", final_lr_ratio=0.1).lr_factor(50, 100)
            0.55
        """
        if self.schedule == "constant":
            return 1.0
        progress = min(max(step / max(max_steps, 1), 0.0), 1.0)
        return self.final_lr_ratio + (1 - self.final_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    def scaled_lr(self, batch_size: int) -> float:
        """The learning rate for ``batch_size`` examples per step (over all devices)."""
        ratio = batch_size / self.reference_batch_size
        return self.lr * {"none": 1.0, "sqrt": ratio**0.5, "linear": ratio}[self.lr_scaling]


@dataclass(frozen=True)
class TrainerConfig:
    r"""How long and where to train (passed to Lightning).

    Attributes:
        max_steps: Optimiser steps.
        val_every: Steps between validations.
        log_every: Steps between logged losses.
        accelerator, devices, num_nodes, strategy: Lightning's (``"auto"`` picks).
        precision: ``"32-true"``, or ``"bf16-mixed"``/``"16-mixed"``: mixed precision
            runs only the image backbone in low precision; flow, head, body model and
            losses stay float32 (keypoint models run wholly in float32).
        output_dir: Checkpoints and TensorBoard logs go here.
        seed: Seed of everything random in training.
        num_samples: Samples per input in a training step besides the mode (ProHMR: 1,
            i.e. two poses per input). Model files of format 1 counted the mode too; they
            are read with one less (:func:`hmrflow.models.checkpoint.upgrade_config`).
        validation_samples: Samples per input besides the mode in validation (the best of
            the mode and these is logged as ``val/pa_mpjpe_best``; ProHMR: 9).
        sync_batchnorm: Synchronise BatchNorm statistics across devices (DDP).
        init_from: A checkpoint or model file whose model weights start this run
            (fine-tuning; the weights must fit the model exactly, settings such as
            dropout may differ); the optimiser, step count and data stream start
            afresh. Empty: start from scratch.
        init_widen: ``init_from``'s model may be narrower than this one (encoder width
            and context, head or flow hidden features): it starts this model computing the
            same function, the new units without effect until they learn
            (:mod:`hmrflow.models.widen`).
        trainable: Train only the model parameters whose names start with one of these
            prefixes (e.g. ``["flow.context_scale."]``); the rest is frozen and runs in
            eval mode (its BatchNorm statistics stay put). Empty: train everything.
    """

    max_steps: int = bounded(20000, minimum=1)
    val_every: int = bounded(1000, minimum=1)
    log_every: int = bounded(50, minimum=1)
    accelerator: str = "auto"
    devices: int | str = bounded("auto", minimum=1)  #: a count, "auto", or a list such as "0,1"
    num_nodes: int = bounded(1, minimum=1)
    strategy: str = "auto"
    precision: Precision = "32-true"
    output_dir: str = "runs/keypoints"
    seed: int = bounded(0, minimum=0, maximum=MAX_SEED)
    num_samples: int = bounded(1, minimum=0)
    validation_samples: int = bounded(9, minimum=1)
    sync_batchnorm: bool = False
    init_from: str = ""
    init_widen: bool = False
    trainable: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything a training run needs."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    losses: LossWeights = field(default_factory=LossWeights)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
