"""Training data: an endless stream of synthetic batches and a fixed validation set."""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from hmrflow.body import BodyModel
from hmrflow.data.pose_sources import load_cmu_demo
from hmrflow.data.synthetic import SyntheticBatch, SyntheticKeypoints, make_evaluation_set
from hmrflow.training.config import DataConfig

__all__ = ["SyntheticStream", "BatchList", "SyntheticDataModule"]


class SyntheticStream(IterableDataset):
    r"""Endless synthetic batches; each process and loader worker draws its own stream.

    Arguments:
        generator: The synthetic data generator.
        batch_size: Examples per batch.
        seed: Base seed; the stream of ``(seed, rank, worker)`` is always the same.
        rank: The process's rank in distributed training.
    """

    def __init__(self, generator: SyntheticKeypoints, batch_size: int, seed: int, rank: int = 0):
        self.generator = generator
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank

    def __iter__(self):
        worker = get_worker_info()
        worker_id = worker.id if worker is not None else 0
        rng = torch.Generator().manual_seed(self.seed + 100_003 * self.rank + 7_919 * worker_id)
        while True:
            yield self.generator.sample(self.batch_size, rng)


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


def _identity(batch: SyntheticBatch) -> SyntheticBatch:
    return batch


class SyntheticDataModule(L.LightningDataModule):
    r"""Synthetic keypoint data for training and validation.

    Arguments:
        config: :class:`~hmrflow.training.config.DataConfig`.
        body: The body model the data is generated with.
        seed: Seed of the training stream.
    """

    def __init__(self, config: DataConfig, body: BodyModel, seed: int = 0):
        super().__init__()
        self.config = config
        self.seed = seed
        self.generator = SyntheticKeypoints(body, load_cmu_demo().rotmats, config.synthetic)
        self._val: SyntheticBatch | None = None

    def initialization_batch(self) -> SyntheticBatch:
        """The batch ActNorm is initialised from: the same on every process."""
        return self.generator.sample(self.config.batch_size, torch.Generator().manual_seed(self.seed))

    def validation_set(self) -> SyntheticBatch:
        if self._val is None:
            self._val = make_evaluation_set(self.generator, self.config.val_size, self.config.val_seed)
        return self._val

    def train_dataloader(self) -> DataLoader:
        rank = self.trainer.global_rank if self.trainer is not None else 0
        stream = SyntheticStream(self.generator, self.config.batch_size, self.seed + 1, rank)
        return DataLoader(
            stream,
            batch_size=None,
            num_workers=self.config.num_workers,
            persistent_workers=self.config.num_workers > 0,
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(
            BatchList(self.validation_set(), self.config.batch_size),
            batch_size=None,
            collate_fn=_identity,
        )
