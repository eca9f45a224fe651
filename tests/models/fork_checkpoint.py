"""Checkpoints with exactly the layout ProHMR's original code writes (its nflows fork).

``data/fork_checkpoint_keys.json`` is a copy of ``/work/shared/prohmr/fork_checkpoint_keys.json``:
every ``[name, shape, dtype]`` of the ``state_dict`` in a Lightning checkpoint written by
ProHMR's original code with its nflows fork (read off that code with seeded weights; no
values), and the checkpoint's top-level keys. It is kept in the repository, being small
facts about a file layout, so the tests do not depend on anything outside it.

:func:`fork_state` fills that layout with random values chosen so that the converted
model is well behaved (ActNorm scales near 1, LU factors near the identity, positive
BatchNorm variances, ProHMR's alternating coupling masks).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

LAYOUT_FILE = Path(__file__).parent / "data" / "fork_checkpoint_keys.json"

#: How many of the recorded keys the converter leaves out, by its log's group names.
SKIPPED_COUNTS = {"discriminator.*": 1, "smpl.*": 1, "dummy_buffer": 13, "initialized": 1}

_DTYPES = {"float32": torch.float32, "int64": torch.int64, "bool": torch.bool}
_COUPLING = re.compile(r"flow\.flow\._transform\._transforms\.(\d+)\.(identity|transform)_features")


def fork_layout() -> dict[str, Any]:
    """The recorded layout: ``state_dict_keys`` ``[[name, shape, dtype], ...]`` and ``top_level_keys``."""
    return json.loads(LAYOUT_FILE.read_text())


def _coupling_mask(name: str, shape: list[int]) -> Tensor:
    """nflows' alternating mask: step k = i // 3 keeps the evens when k is even."""
    match = _COUPLING.fullmatch(name)
    assert match is not None, name
    step, kind = int(match.group(1)) // 3, match.group(2)
    start = step % 2 if kind == "identity" else 1 - step % 2
    return torch.arange(start, 2 * shape[0], 2)


def _float_value(name: str, shape: list[int], gen: torch.Generator) -> Tensor:
    """A sane random float tensor for the key ``name``."""
    leaf = name.rsplit(".", 1)[-1]

    def normal(std: float, mean: float = 0.0) -> Tensor:
        return torch.randn(shape, generator=gen) * std + mean

    if leaf == "dummy_buffer":
        return torch.zeros(shape)
    if leaf in ("log_scale", "shift"):
        return normal(0.05)
    if leaf in ("lower_entries", "upper_entries"):
        size = (1 + math.isqrt(1 + 8 * shape[0])) // 2  # n = d (d - 1) / 2 entries
        return normal(0.3 / math.sqrt(size))
    if leaf == "unconstrained_upper_diag":
        return normal(0.1, mean=0.5)
    if leaf == "running_var":
        return torch.rand(shape, generator=gen) + 0.5
    if leaf == "init_cam":
        return torch.tensor([0.9, 0.01, -0.02]).reshape(shape)
    if len(shape) >= 2:
        return normal(0.5 / math.sqrt(math.prod(shape[1:])))
    return normal(0.1, mean=1.0 if leaf == "weight" else 0.0)


def _value(name: str, shape: list[int], dtype: str, gen: torch.Generator) -> Tensor:
    """A random tensor of exactly ``shape`` and ``dtype`` that suits the key ``name``."""
    if dtype == "bool":
        return torch.ones(shape, dtype=torch.bool)
    if dtype == "int64":
        if name.endswith("num_batches_tracked"):
            return torch.full(shape, 1000, dtype=torch.int64)
        return _coupling_mask(name, shape)
    return _float_value(name, shape, gen)


def fork_state(seed: int = 0) -> dict[str, Tensor]:
    """A ``state_dict`` with exactly the recorded keys, shapes and dtypes, in their order."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape, dtype in fork_layout()["state_dict_keys"]:
        tensor = _value(name, shape, dtype, gen)
        assert list(tensor.shape) == shape and tensor.dtype == _DTYPES[dtype], name
        state[name] = tensor
    return state


def write_fork_checkpoint(path: Path, state: dict[str, Tensor]) -> Path:
    """Save ``state`` as a Lightning checkpoint with the recorded top-level keys."""
    extras: dict[str, Any] = {"epoch": 11, "global_step": 500000, "pytorch-lightning_version": "1.4.4"}
    checkpoint = {key: extras.get(key) for key in fork_layout()["top_level_keys"]}
    checkpoint["state_dict"] = state
    torch.save(checkpoint, path)
    return path
