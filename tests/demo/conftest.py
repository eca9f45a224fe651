from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.tiny import TINY_MODEL

TINY = [
    *TINY_MODEL,
    "data.batch_size=32",
    "data.val_size=32",
]


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> Path:
    """A tiny keypoint model whose flow is initialised from data (untrained otherwise)."""
    from hmrflow.config import apply_overrides
    from hmrflow.models.checkpoint import save_model
    from hmrflow.training.config import ExperimentConfig
    from hmrflow.training.data import SyntheticDataModule
    from hmrflow.training.module import HMRModule

    torch.manual_seed(0)
    config = apply_overrides(ExperimentConfig(), TINY)
    module = HMRModule(config)
    module.initialize_flow(SyntheticDataModule(config.data, module.model.body).initialization_batch())
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_model(module.model, config, path)
    return path
