"""A tiny keypoint model, briefly trained on synthetic data, shared by the fitting tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hmrflow.config import apply_overrides
from hmrflow.data.synthetic import SyntheticBatch, SyntheticKeypoints, make_evaluation_set
from hmrflow.models import ProbabilisticHMR
from hmrflow.models.checkpoint import save_model
from hmrflow.training.config import ExperimentConfig
from tests.tiny import TINY_MODEL

TINY = [
    *TINY_MODEL,
    "data.batch_size=32",
    "data.val_size=32",
]


@pytest.fixture(scope="session")
def tiny_config() -> ExperimentConfig:
    return apply_overrides(ExperimentConfig(), TINY)


@pytest.fixture(scope="session")
def tiny_model(tiny_config: ExperimentConfig) -> ProbabilisticHMR:
    """Flow initialised from ground-truth poses, then 30 AdamW steps: a sane, fast model."""
    from hmrflow.training.data import SyntheticDataModule
    from hmrflow.training.module import HMRModule

    torch.manual_seed(0)
    module = HMRModule(tiny_config)
    data = SyntheticDataModule(tiny_config.data, module.model.body)
    batch = data.initialization_batch()
    module.initialize_flow(batch)
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)
    for _ in range(30):
        loss = module.compute_losses(batch).total
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    optimizer.zero_grad()
    return module.model.eval()


@pytest.fixture(scope="session")
def tiny_model_file(tiny_model: ProbabilisticHMR, tiny_config: ExperimentConfig, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_model(tiny_model, tiny_config, path)
    return path


@pytest.fixture(scope="session")
def synthetic(tiny_model: ProbabilisticHMR) -> SyntheticBatch:
    """Four synthetic people (clean projections in ``clean_2d``)."""
    return make_evaluation_set(SyntheticKeypoints(tiny_model.body, None), 4, seed=7)
