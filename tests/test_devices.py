"""Every path keeps its tensors on the device of its inputs (CI has no GPU).

A tensor made without ``device=`` lands on torch's default device: on a GPU run that is
the CPU while the model and data are on the GPU, and the run crashes. These tests make
the default device "meta" while everything real stays on the CPU: a tensor made without
its device is then a meta tensor, and the first operation that mixes it with real data
fails. The paths: synthetic data, a training step and validation, evaluation, and every
fitter.
"""

from __future__ import annotations

import pytest
import torch

from hmrflow.config import apply_overrides
from hmrflow.data.synthetic import SyntheticKeypoints, make_evaluation_set
from hmrflow.fitting.baseline import fit_baseline
from hmrflow.fitting.keypoint_fit import FitConfig, fit_keypoints
from hmrflow.fitting.lbfgs import StopRules
from hmrflow.fitting.multiview import Cameras, MultiViewConfig, fit_multiview, fit_multiview_calibrated
from hmrflow.fitting.people import People
from hmrflow.training.config import ExperimentConfig
from hmrflow.training.data import HMRDataModule
from hmrflow.training.module import HMRModule
from tests.tiny import TINY_MODEL

ONE_STEP = StopRules(max_steps=1, inner_steps=3)


@pytest.fixture(scope="module")
def trained() -> tuple[HMRModule, HMRDataModule]:
    torch.manual_seed(0)
    config = apply_overrides(ExperimentConfig(), [*TINY_MODEL, "data.batch_size=8", "data.val_size=8"])
    module = HMRModule(config)
    data = HMRDataModule(config.data, module.model.body)
    module.initialize_flow(data.initialization_batch())
    return module, data


@pytest.fixture(scope="module")
def people(trained: tuple[HMRModule, HMRDataModule]) -> People:
    body = trained[0].model.body
    synthetic = make_evaluation_set(SyntheticKeypoints(body, None), 2, seed=1)
    return People.from_keypoints(synthetic.clean_2d, synthetic.image_size, synthetic.focal_length)


def test_the_meta_default_catches_a_tensor_made_without_its_device(elsewhere: None) -> None:
    real = torch.ones(3, device="cpu")
    with pytest.raises((RuntimeError, NotImplementedError)):
        (real + torch.ones(3)).sum().item()


def test_synthetic_data_and_a_training_step(trained, elsewhere: None) -> None:
    module, data = trained
    batch = data.training_stream().batch(3)
    assert batch.evidence.device.type == "cpu"
    module.compute_losses(batch).total.backward()
    module.validation_step(data.validation_set()[:8], 0)


def test_initialization_and_synthetic_data_on_the_generators_device(trained, elsewhere: None) -> None:
    module, data = trained
    module.initialize_flow(data.initialization_batch())
    generator = SyntheticKeypoints(module.model.body, None)
    sample = generator.sample(4, torch.Generator(device="cpu").manual_seed(0))
    assert sample.keypoints_2d.device.type == "cpu"


def test_evaluation(trained, elsewhere: None) -> None:
    from hmrflow.evaluation.runner import evaluate_model
    from hmrflow.evaluation.sets import synthetic_set

    model = trained[0].model.eval()
    data = synthetic_set("synthetic-keypoints-v1", model.body, size=8)
    result, _ = evaluate_model(model, data, hypotheses=4, min_of_n=[1, 4], batch_size=4,
                               generator=torch.Generator(device="cpu").manual_seed(0), progress=False)  # fmt: skip
    assert result.count == 8


@pytest.mark.parametrize("fitter", ["learned", "baseline", "multiview", "multiview-prohmr", "calibrated"])
def test_fitting(fitter: str, trained, people: People, elsewhere: None) -> None:
    model = trained[0].model.eval()
    if fitter == "learned":
        fit = fit_keypoints(model, people, FitConfig(rules=ONE_STEP))
    elif fitter == "baseline":
        fit = fit_baseline(model, people)
    elif fitter == "calibrated":
        eye = torch.eye(3, device="cpu").expand(2, 2, 3, 3)
        two = people.camera[:, None].to("cpu")  # (2, 1) -> (2, 2) views, at the origin
        cameras = Cameras(two.focal_length.expand(2, 2, 2), two.principal_point.expand(2, 2, 2),
                          two.image_size.expand(2, 2, 2), eye, torch.zeros(2, 2, 3, device="cpu"))  # fmt: skip
        fit = fit_multiview_calibrated(model, [people, people], cameras, MultiViewConfig(rules=ONE_STEP))
    else:
        config = MultiViewConfig(rules=ONE_STEP, reprojection=fitter == "multiview")
        fit = fit_multiview(model, [people, people], config)
    assert fit.rotmats.device.type == "cpu"
