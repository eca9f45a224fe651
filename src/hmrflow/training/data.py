r"""Training data: an endless stream of batches mixed from several sources, and validation sets.

Sources (:class:`~hmrflow.training.config.SourceConfig`): synthetic keypoints generated
on the fly, synthetic image shards (:mod:`hmrflow.data.image_shards`) and ProHMR-format
datasets (:mod:`hmrflow.data.prohmr_format`). Each batch of B examples takes a fixed
share from the synthetic keypoints (its weight over the sum, rounded) and the rest from
the map-style sources mixed by their weights (:class:`~hmrflow.data.mixing.MixedDataset`:
exact shares per epoch, without replacement).

Resumable by construction: batch ``t`` of process ``r`` depends only on
``(seed, r, t)`` -- the synthetic part is drawn with a generator seeded by
:func:`step_seed`, and the map-style part takes the items at positions
``(t * world_size + r) * n ...`` of the endless sequence of mixture epochs. A run resumed
at step ``t`` therefore sees the same batches as one that never stopped, whatever the
number of loader workers.

Example:
    >>> from hmrflow.body import BodyModel
    >>> from hmrflow.training.config import DataConfig
    >>> data = HMRDataModule(DataConfig(batch_size=8), BodyModel.from_name("anny_lowpoly"))
    >>> stream = data.training_stream()
    >>> a, b = stream.batch(5), stream.batch(5)
    >>> bool((a.evidence == b.evidence).all()), a.evidence.shape
    (True, torch.Size([8, 23, 3]))
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset, IterableDataset, Subset, get_worker_info

from hmrflow.body import BodyModel
from hmrflow.data.keypoint_files import EVIDENCE_NAMES
from hmrflow.data.mixing import MixedDataset, allocate
from hmrflow.data.pose_sources import load_real_motion
from hmrflow.data.prohmr_format import ProHMRDataset, ProHMRDatasetConfig, ProHMRSample
from hmrflow.data.synthetic import SyntheticBatch, SyntheticKeypoints, make_evaluation_set
from hmrflow.errors import DataSourceError
from hmrflow.models.config import ModelConfig, OrientationFrame
from hmrflow.training.batch import TrainingBatch
from hmrflow.training.config import DataConfig, SourceConfig

__all__ = [
    "BatchList",
    "DataSourceError",
    "HMRDataModule",
    "SyntheticDataModule",
    "TrainingStream",
    "load_source",
    "step_seed",
]

log = logging.getLogger(__name__)


def step_seed(seed: int, rank: int, step: int, stream: int = 0) -> int:
    r"""A well-mixed 63-bit seed for step ``step`` of process ``rank`` (and a sub-stream).

    Example:
        >>> step_seed(0, 0, 1) == step_seed(0, 0, 1) != step_seed(0, 1, 1)
        True
    """
    state = np.random.SeedSequence([seed, rank, step, stream]).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


class TrainingStream(IterableDataset):
    r"""Endless :class:`~hmrflow.training.batch.TrainingBatch` es; batch ``t`` depends only on ``(seed, rank, t)``.

    Arguments:
        batch_size: B.
        seed: Seed of the stream.
        synthetic: Generator of the synthetic keypoint share, or None.
        synthetic_count: Examples of each batch from ``synthetic``; the rest from ``mixture``.
        mixture: Map-style sources of :class:`~hmrflow.data.prohmr_format.ProHMRSample`.
        rank: This process's rank; world_size: the number of processes.
        start_step: The first step to yield (a resumed run's global step).
        device: Where the synthetic share is made (its random stream is that device's).
        frame: The frame of the synthetic share's labels (``DataConfig.labels_in``).

    With loader workers, worker ``w`` of ``W`` yields steps ``start + w, start + w + W, ...``
    and the loader returns them in order.
    """

    def __init__(
        self,
        batch_size: int,
        seed: int,
        synthetic: SyntheticKeypoints | None = None,
        synthetic_count: int = 0,
        mixture: MixedDataset | None = None,
        rank: int = 0,
        world_size: int = 1,
        start_step: int = 0,
        device: torch.device | str = "cpu",
        frame: OrientationFrame = "camera",
    ):
        if synthetic_count > 0 and synthetic is None:
            raise ValueError("synthetic_count > 0 needs a synthetic generator")
        if synthetic_count < batch_size and mixture is None:
            raise ValueError("the batch is not filled: give a mixture or synthetic_count = batch_size")
        self.batch_size = batch_size
        self.seed = seed
        self.device = torch.device(device)
        self.synthetic = None if synthetic is None else synthetic.on(self.device)
        self.synthetic_count = synthetic_count
        self.mixture = mixture
        self.rank = rank
        self.world_size = world_size
        self.start_step = start_step
        self.frame = frame

    def batch(self, step: int) -> TrainingBatch:
        """The batch of ``step`` for this rank."""
        parts = []
        if self.synthetic_count > 0:
            rng = torch.Generator(device=self.device).manual_seed(step_seed(self.seed, self.rank, step))
            parts.append(TrainingBatch.from_synthetic(self.synthetic.sample(self.synthetic_count, rng), self.frame))
        count = self.batch_size - self.synthetic_count
        if count > 0:
            first = (step * self.world_size + self.rank) * count
            samples = [self._item(position) for position in range(first, first + count)]
            parts.append(TrainingBatch.from_prohmr(ProHMRSample.collate(samples)))
        return parts[0] if len(parts) == 1 else TrainingBatch.concatenate(parts)

    def _item(self, position: int) -> ProHMRSample:
        epoch, index = divmod(position, len(self.mixture))
        if self.mixture.epoch != epoch:
            self.mixture.set_epoch(epoch)
        return self.mixture[index]

    def __iter__(self) -> Iterator[TrainingBatch]:
        worker = get_worker_info()
        offset, stride = (worker.id, worker.num_workers) if worker is not None else (0, 1)
        step = self.start_step + offset
        while True:
            yield self.batch(step)
            step += stride


class BatchList(Dataset):
    """A fixed :class:`SyntheticBatch` served in chunks of ``batch_size``."""

    def __init__(self, data: SyntheticBatch, batch_size: int):
        self.data = data
        self.batch_size = batch_size

    def __len__(self) -> int:
        return -(-len(self.data) // self.batch_size)

    def __getitem__(self, index: int) -> SyntheticBatch:
        start = index * self.batch_size
        return self.data[start : start + self.batch_size]


class Steps(IterableDataset):
    """The step numbers ``start, start + 1, ...``: batches made after the transfer to the device."""

    def __init__(self, start: int):
        self.start = start

    def __iter__(self) -> Iterator[int]:
        step = self.start
        while True:
            yield step
            step += 1


def _identity(batch: Any) -> Any:
    return batch


def load_source(
    source: SourceConfig,
    crop_size: int,
    augment: Any,
    train: bool,
    seed: int,
) -> Dataset:
    r"""The map-style dataset of a ``synthetic_images`` or ``prohmr`` source.

    Arguments:
        source: The source.
        crop_size: Side of the crops (the model's ``encoder.crop_size``).
        augment: :class:`~hmrflow.data.augment.AugmentConfig` used when ``train`` and
            ``source.augment``.
        train: Augment.
        seed: Augmentation seed.

    Raises:
        DataSourceError: a missing file or folder, or a missing data module.
    """
    if not source.path:
        raise DataSourceError(f"data source {source.label}: no path given (set its 'path')")
    path = Path(source.path).expanduser()
    if not path.exists():
        raise DataSourceError(
            f"data source {source.label}: {path} not found; edit the path in the configuration "
            "(data.sources / data.val_sources)"
        )
    settings = ProHMRDatasetConfig(crop_size=crop_size, augment=augment)
    train = train and source.augment
    if source.kind == "prohmr":
        root = Path(source.image_root).expanduser() if source.image_root else None
        if root is not None and not root.is_dir():
            raise DataSourceError(f"data source {source.label}: image folder {root} not found")
        return ProHMRDataset.from_file(path, root, settings, train=train, seed=seed)
    if source.kind == "synthetic_images":
        try:
            from hmrflow.data.image_shards import SyntheticImageDataset
        except ImportError as error:
            raise DataSourceError(
                f"data source {source.label}: synthetic image sources need the module "
                f"hmrflow.data.image_shards, which cannot be imported here ({error})"
            ) from None
        return SyntheticImageDataset(path, replace(settings, mask_body_3d=False), train=train, seed=seed)
    raise DataSourceError(f"data source {source.label}: kind {source.kind!r} is not a dataset")


class HMRDataModule(L.LightningDataModule):
    r"""Training and validation data as ``config`` says.

    Arguments:
        config: :class:`~hmrflow.training.config.DataConfig`.
        body: The body model synthetic keypoint data is generated with.
        seed: Seed of the training stream (and of the augmentation).
        model: The model's configuration (encoder kind, crop size, keypoint sets);
            None for a keypoint model.

    Raises:
        DataSourceError: sources that do not fit the model (synthetic keypoints for an
            image model, keypoint sets other than COCO-17 + feet with dataset sources).
    """

    def __init__(self, config: DataConfig, body: BodyModel, seed: int = 0, model: ModelConfig | None = None):
        super().__init__()
        self.config = config
        self.seed = seed
        self.model_config = model if model is not None else ModelConfig()
        self.sources = config.sources or (SourceConfig(),)
        self._check_sources(body)
        self.generator = SyntheticKeypoints(body, load_real_motion(config.synthetic.poses.real_motion), config.synthetic)
        self._val: SyntheticBatch | None = None
        self._mixture: MixedDataset | None = None
        self._device_stream: TrainingStream | None = None

    # -- sources ----------------------------------------------------------------------------

    @property
    def image_model(self) -> bool:
        return self.model_config.encoder.kind == "image"

    def _check_sources(self, body: BodyModel) -> None:
        kinds = [s.kind for s in self.sources]
        if any(s.weight < 0 for s in self.sources) or sum(s.weight for s in self.sources) <= 0:
            raise DataSourceError("data.sources: weights must be non-negative with a positive sum")
        if kinds.count("synthetic_keypoints") > 1:
            raise DataSourceError("data.sources: give synthetic_keypoints once (it has one configuration)")
        if self.image_model and "synthetic_keypoints" in kinds:
            raise DataSourceError(
                "data.sources: an image model cannot train on synthetic_keypoints (no images); "
                "use synthetic_images or prohmr sources"
            )
        datasets = [s for s in (*self.sources, *self.config.val_sources) if s.kind != "synthetic_keypoints"]
        sets = self.model_config.encoder.keypoint_sets
        names = tuple(n for key in sets if key in body.keypoint_sets for n in body.keypoint_sets[key].names)
        if datasets and names != EVIDENCE_NAMES:
            raise DataSourceError(
                "dataset sources give COCO-17 + feet keypoints in the order of "
                f"hmrflow.data.keypoint_files.EVIDENCE_NAMES; the model's keypoint sets {list(sets)} differ"
            )
        if any(s.kind == "synthetic_keypoints" for s in self.config.val_sources):
            raise DataSourceError("data.val_sources: synthetic keypoints validate by default; list datasets only")

    def check_files(self) -> None:
        """Raise :class:`DataSourceError` now if a source's file or folder is missing."""
        for source in (*self._dataset_sources(), *self.config.val_sources):
            if not source.path or not Path(source.path).expanduser().exists():
                raise DataSourceError(
                    f"data source {source.label}: {source.path or 'no path'} not found; edit the "
                    "paths in the configuration (data.sources / data.val_sources)"
                )
            if source.image_root and not Path(source.image_root).expanduser().is_dir():
                raise DataSourceError(f"data source {source.label}: image folder {source.image_root} not found")

    def _dataset_sources(self) -> list[SourceConfig]:
        return [s for s in self.sources if s.kind != "synthetic_keypoints" and s.weight > 0]

    def synthetic_count(self) -> int:
        """Examples of each batch drawn from the synthetic keypoints."""
        synthetic = sum(s.weight for s in self.sources if s.kind == "synthetic_keypoints")
        others = sum(s.weight for s in self._dataset_sources())
        if others == 0:
            return self.config.batch_size
        return allocate([synthetic, others], self.config.batch_size)[0]

    def mixture(self) -> MixedDataset | None:
        """The map-style sources mixed by weight (opened on first use), or None."""
        sources = self._dataset_sources()
        if not sources or self.synthetic_count() == self.config.batch_size:
            return None
        if self._mixture is None:
            crop = self.model_config.encoder.crop_size
            datasets = [
                load_source(s, crop, self.config.augment, train=True, seed=self.seed * 1009 + i)
                for i, s in enumerate(sources)
            ]
            for source, dataset in zip(sources, datasets):
                log.info("data source %s: %d examples, weight %g", source.label, len(dataset), source.weight)
            self._mixture = MixedDataset(datasets, [s.weight for s in sources], seed=self.seed)
        return self._mixture

    def training_stream(
        self, rank: int = 0, world_size: int = 1, start_step: int = 0, device: torch.device | str = "cpu"
    ) -> TrainingStream:
        """The stream of training batches of process ``rank`` from ``start_step`` on."""
        count = self.synthetic_count()
        return TrainingStream(
            self.config.batch_size,
            self.seed + 1,
            synthetic=self.generator if count > 0 else None,
            synthetic_count=count,
            mixture=self.mixture(),
            rank=rank,
            world_size=world_size,
            start_step=start_step,
            device=device,
            frame=self.config.labels_in(self.model_config),
        )

    def generates_on_device(self, device: torch.device) -> bool:
        """Whether training batches are made on ``device`` (``data.generate_on``)."""
        if self.synthetic_count() != self.config.batch_size:
            return False
        return self.config.generate_on == "device" or (self.config.generate_on == "auto" and device.type == "cuda")

    # -- Lightning --------------------------------------------------------------------------

    def initialization_batch(self, max_batches: int = 8) -> SyntheticBatch | TrainingBatch:
        """The batch ActNorm is initialised from: the same on every process.

        From mixed sources: the first training batches of process 0, as many as it takes
        (at most ``max_batches``) for half a batch of examples with a pose label.
        """
        if self.synthetic_count() == self.config.batch_size:
            return self.generator.sample(self.config.batch_size, torch.Generator().manual_seed(self.seed))
        stream = self.training_stream()
        batches = [stream.batch(0)]
        labelled = lambda: sum(int((b.has_pose > 0).sum()) for b in batches)  # noqa: E731
        while labelled() < max(2, self.config.batch_size // 2) and len(batches) < max_batches:
            batches.append(stream.batch(len(batches)))
        return batches[0] if len(batches) == 1 else TrainingBatch.concatenate(batches)

    def validation_set(self) -> SyntheticBatch:
        """The fixed synthetic keypoint validation set."""
        if self._val is None:
            self._val = make_evaluation_set(self.generator, self.config.val_size, self.config.val_seed)
        return self._val

    @property
    def has_validation(self) -> bool:
        """Whether there is validation data (image models need ``val_sources``)."""
        return bool(self.config.val_sources) or not self.image_model

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        if trainer is not None:  # a resumed run continues the stream at its global step
            device = trainer.strategy.root_device
            stream = self.training_stream(trainer.global_rank, trainer.world_size, trainer.global_step, device)
            if self.generates_on_device(device):  # the loader only counts; on_after_batch_transfer makes
                self._device_stream = stream
                return DataLoader(Steps(trainer.global_step), batch_size=None)
        else:
            stream = self.training_stream()
        return DataLoader(
            stream,
            batch_size=None,
            num_workers=self.config.num_workers,
            persistent_workers=self.config.num_workers > 0,
        )

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        if isinstance(batch, (int, torch.Tensor)) and self._device_stream is not None:
            return self._device_stream.batch(int(batch))  # a step number: made on the device
        return batch

    def val_dataloader(self) -> DataLoader | list:
        if self.config.val_sources:
            crop = self.model_config.encoder.crop_size
            datasets = [load_source(s, crop, self.config.augment, train=False, seed=0) for s in self.config.val_sources]
            data: Dataset = ConcatDataset(datasets)
            if len(data) > self.config.val_size:
                data = Subset(data, range(self.config.val_size))
            return DataLoader(
                data,
                batch_size=self.config.batch_size,
                num_workers=self.config.num_workers,
                collate_fn=ProHMRSample.collate,
            )
        if self.image_model:
            return []
        return DataLoader(
            BatchList(self.validation_set(), self.config.batch_size),
            batch_size=None,
            collate_fn=_identity,
        )


#: The former name, kept: with no ``sources`` it serves synthetic keypoints only.
SyntheticDataModule = HMRDataModule
