from __future__ import annotations

import pytest
import torch

from hmrflow.config import apply_overrides
from hmrflow.training.checkpoint import CheckpointError, load_model, save_model
from hmrflow.training.config import ExperimentConfig
from hmrflow.training.data import SyntheticDataModule
from hmrflow.training.module import HMRModule

TINY = [
    "model.encoder.width=32",
    "model.flow.context_features=32",
    "model.flow.hidden_features=32",
    "model.head_hidden=32",
    "data.batch_size=16",
    "data.val_size=32",
]


@pytest.fixture(scope="module")
def config() -> ExperimentConfig:
    return apply_overrides(ExperimentConfig(), TINY)


def test_a_tiny_model_learns(config):
    torch.manual_seed(0)
    module = HMRModule(config)
    data = SyntheticDataModule(config.data, module.model.body)
    batch = data.initialization_batch()
    module.initialize_flow(batch)
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)
    losses = []
    for _ in range(40):
        terms = module.compute_losses(batch)
        optimizer.zero_grad()
        terms.total.backward()
        optimizer.step()
        losses.append(terms.total.item())
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5
    assert all(torch.isfinite(torch.tensor(losses)))


def test_initialization_is_explicit_and_uses_the_ground_truth(config):
    module = HMRModule(config)
    assert not module.model.flow.initialized
    module.initialize_flow(SyntheticDataModule(config.data, module.model.body).initialization_batch())
    assert module.model.flow.initialized


def test_exported_model_round_trip(config, tmp_path):
    module = HMRModule(config)
    path = tmp_path / "model.pt"
    save_model(module.model, config, path)
    loaded = load_model(path)
    evidence = torch.rand(2, 23, 3)
    module.model.eval()
    torch.testing.assert_close(loaded(evidence).mode.sixd, module.model(evidence).mode.sixd)
    assert not loaded.training


def test_bad_checkpoints_fail_clearly(config, tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x80\x02garbage")
    with pytest.raises(CheckpointError, match="corrupt.pt"):
        load_model(corrupt)
    module = HMRModule(config)
    path = tmp_path / "model.pt"
    save_model(module.model, config, path)
    data = torch.load(path, weights_only=True)
    data["hmrflow"]["config"]["model"]["head_hidden"] = 64  # the weights no longer fit
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="wrong shapes head.layers"):
        load_model(path)
    data["hmrflow"]["config"]["model"]["colour"] = "red"
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="colour"):
        load_model(path)
