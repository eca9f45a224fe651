"""Converting a checkpoint with exactly the layout ProHMR's original code (its nflows fork) writes.

The layout comes from ``tests/models/data/fork_checkpoint_keys.json`` (a copy, kept in the
repository, of the key list read off the original code; see ``fork_checkpoint.py``).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import torch
from torch import Tensor

from hmrflow.errors import CheckpointError
from hmrflow.models.checkpoint import load_model
from hmrflow.models.prohmr_convert import FLOW_PREFIX, convert_prohmr, convert_prohmr_state_dict
from tests.models.fork_checkpoint import (
    SKIPPED_COUNTS,
    fork_layout,
    fork_state,
    write_fork_checkpoint,
)

LOGGER = "hmrflow.models.prohmr_convert"


@pytest.fixture(scope="module")
def state() -> dict[str, Tensor]:
    return fork_state(seed=0)


@pytest.fixture(scope="module")
def checkpoint(state, tmp_path_factory) -> Path:
    return write_fork_checkpoint(tmp_path_factory.mktemp("fork") / "checkpoint.pt", state)


def test_the_built_state_has_exactly_the_recorded_layout(state):
    recorded = [(name, shape, dtype) for name, shape, dtype in fork_layout()["state_dict_keys"]]
    built = [(name, list(t.shape), str(t.dtype).removeprefix("torch.")) for name, t in state.items()]
    assert built == recorded
    assert sum(SKIPPED_COUNTS.values()) == 16


def test_fork_checkpoint_converts_loads_and_reports_what_it_left_out(checkpoint, state, tmp_path, caplog):
    out = tmp_path / "prohmr.pt"
    with caplog.at_level(logging.INFO, logger=LOGGER):
        converted = convert_prohmr(checkpoint, out)
    summaries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("left out ")]
    assert len(summaries) == 1, caplog.text
    assert summaries[0].startswith("left out 16 keys on purpose: ")
    for group, count in SKIPPED_COUNTS.items():
        assert f"{count} {group} (" in summaries[0]
    left_out = r"discriminator\..*|smpl\..*|initialized|flow\.flow\._transform\.(_transforms\.\d+\.)?dummy_buffer"
    expected_skipped = {name for name in state if re.fullmatch(left_out, name)}
    assert set(converted.skipped) == expected_skipped and len(expected_skipped) == 16
    assert len(converted.state_dict) == len(state) - 16

    model = load_model(out)
    flow = model.config.flow
    assert (flow.features, flow.context_features, flow.hidden_features) == (144, 2048, 1024)
    assert (flow.num_layers, flow.num_blocks, model.config.encoder.backbone_depth) == (4, 2, 50)
    assert torch.equal(model.flow.transforms[4].lower_entries, state[FLOW_PREFIX + "4.lower_entries"])
    gen = torch.Generator().manual_seed(1)
    context = torch.randn(2, 2048, generator=gen)
    with torch.no_grad():
        sample = model.flow.decode(torch.randn(2, 3, 144, generator=gen), context)
        head = model.head(context)
    assert torch.isfinite(sample.x).all() and torch.isfinite(sample.log_prob).all()
    assert torch.isfinite(head.betas).all() and torch.isfinite(head.camera).all()


@pytest.mark.parametrize(
    "key",
    ["flow.flow._transform._transforms.3.extra_scale", "flow.flow.dummy", "mystery_buffer",
     "backbone.dummy_buffer"],  # fmt: skip
)
def test_unknown_keys_next_to_the_fork_layout_fail_naming_the_key(state, key):
    with pytest.raises(CheckpointError, match=f"unexpected key '{re.escape(key)}'"):
        convert_prohmr_state_dict(state | {key: torch.zeros(1)})
