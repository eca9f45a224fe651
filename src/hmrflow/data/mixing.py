r"""Mixing several datasets by weights (ProHMR trained on H36M 0.3, MPII 0.1, COCO 0.4, MPI-INF 0.2).

:class:`MixedDataset` is an epoch of ``length`` items in which dataset ``d`` supplies
a share ``w_d / sum(w)`` of the items -- exactly, up to rounding (largest remainders),
not merely in expectation -- in a shuffled order. Within a dataset, items are drawn
without replacement (a fresh permutation, cycled when the dataset is smaller than its
share). The plan of an epoch depends only on ``(seed, epoch)``, so every loader worker
and process sees the same mixture.

Example:
    >>> mixed = MixedDataset([list("aaaa"), list("bbbbbb")], weights=[0.75, 0.25], length=8)
    >>> sorted("".join(mixed[i] for i in range(len(mixed))))
    ['a', 'a', 'a', 'a', 'a', 'a', 'b', 'b']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

__all__ = ["MixedDataset", "allocate"]


def allocate(weights: Sequence[float], total: int) -> list[int]:
    r"""Integer shares of ``total`` proportional to ``weights`` (largest remainders).

    Example:
        >>> allocate([0.3, 0.1, 0.4, 0.2], 7)
        [2, 1, 3, 1]
    """
    w = torch.as_tensor(weights, dtype=torch.float64)
    if w.ndim != 1 or len(w) == 0 or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be non-negative with a positive sum, got {list(weights)}")
    exact = w / w.sum() * total
    counts = exact.floor().long()
    remainder = total - int(counts.sum())
    order = torch.argsort(exact - counts, descending=True, stable=True)
    counts[order[:remainder]] += 1
    return counts.tolist()


class MixedDataset(Dataset):
    r"""Datasets mixed by weights.

    Arguments:
        datasets: Map-style datasets (``len`` and ``[]``); empty ones need weight 0.
        weights: One non-negative weight per dataset.
        length: Items per epoch (default: the sum of the datasets' lengths).
        seed: Seed of the mixing plan.

    ``set_epoch(e)`` draws a new plan and passes ``e`` on to datasets that have
    ``set_epoch`` (e.g. :class:`~hmrflow.data.prohmr_format.ProHMRDataset`).
    """

    def __init__(
        self,
        datasets: Sequence[Any],
        weights: Sequence[float],
        length: int | None = None,
        seed: int = 0,
    ):
        if len(datasets) != len(weights):
            raise ValueError(f"{len(datasets)} datasets but {len(weights)} weights")
        for d, (dataset, weight) in enumerate(zip(datasets, weights)):
            if weight > 0 and len(dataset) == 0:
                raise ValueError(f"dataset {d} is empty but has weight {weight}")
        self.datasets = list(datasets)
        self.weights = [float(w) for w in weights]
        self.length = sum(len(d) for d in datasets) if length is None else int(length)
        self.seed = seed
        self.epoch = 0
        self._plan = self._make_plan()

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        for dataset in self.datasets:
            if hasattr(dataset, "set_epoch"):
                dataset.set_epoch(epoch)
        self._plan = self._make_plan()

    def counts(self) -> list[int]:
        """Items per dataset in an epoch."""
        return allocate(self.weights, self.length)

    def _make_plan(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(dataset id (L,), item index (L,))`` for this epoch."""
        rng = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        ids, items = [], []
        for d, count in enumerate(self.counts()):
            if count == 0:
                continue
            n = len(self.datasets[d])
            cycles = [torch.randperm(n, generator=rng) for _ in range(-(-count // n))]
            items.append(torch.cat(cycles)[:count])
            ids.append(torch.full((count,), d, dtype=torch.long))
        order = torch.randperm(self.length, generator=rng)
        return torch.cat(ids)[order], torch.cat(items)[order]

    def source(self, index: int) -> tuple[int, int]:
        """``(dataset, item)`` that epoch item ``index`` comes from."""
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for a mixture of length {self.length}")
        return int(self._plan[0][index]), int(self._plan[1][index])

    def __getitem__(self, index: int) -> Any:
        d, i = self.source(index)
        return self.datasets[d][i]
