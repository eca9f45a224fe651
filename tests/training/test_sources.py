"""Data sources and mixing, the image path with backbone-only mixed precision, the discriminator."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from hmrflow.body import BodyModel
from hmrflow.config import apply_overrides
from hmrflow.render.context import egl_available
from hmrflow.training.config import ExperimentConfig
from hmrflow.training.data import DataSourceError, HMRDataModule
from hmrflow.training.discriminator import MocapPoses
from hmrflow.training.module import HMRModule
from hmrflow.training.train import build_trainer, train

IMAGE = [
    "model.encoder.kind=image",
    "model.encoder.backbone_depth=18",
    "model.encoder.crop_size=64",
    "model.flow.context_features=512",
    "model.flow.hidden_features=32",
    "model.head_hidden=32",
    "data.batch_size=8",
    "data.val_size=8",
    "trainer.accelerator=cpu",
    "trainer.devices=1",
]


def prohmr_source(path, weight: float = 1.0) -> str:
    return f"{{kind: prohmr, path: {path}, weight: {weight}}}"


def test_sources_are_mixed_by_weight_and_labels_masked(tiny, prohmr_file):
    config = apply_overrides(
        ExperimentConfig(),
        [*tiny, f"data.sources=[{{kind: synthetic_keypoints, weight: 0.75}}, {prohmr_source(prohmr_file, 0.25)}]"],
    )
    module = HMRModule(config)
    data = HMRDataModule(config.data, module.model.body, model=config.model)
    assert data.synthetic_count() == 12  # 0.75 of 16
    batch = data.training_stream().batch(0)
    assert len(batch) == 16 and batch.images is None  # a keypoint model: no images needed
    # Synthetic keypoints have every label; the dataset part has no joints and 1/3 no pose.
    assert batch.has_joints[:12].all() and not batch.has_joints[12:].any()
    assert batch.keypoints_3d[12:, :, 3].sum() > 0  # its 3D keypoints (hips from the extra points)
    # Positions run through the mixture without repeats within an epoch of 12 items.
    items = [data.training_stream().batch(step).keypoints_3d[12:] for step in range(3)]
    rows = torch.cat(items).flatten(1)
    assert len(torch.unique(rows, dim=0)) == 12
    module.initialize_flow(batch)
    terms = module.compute_losses(batch)
    terms.total.backward()
    assert torch.isfinite(terms.total) and terms.keypoints_3d_mode > 0


def test_an_image_model_trains_a_step(prohmr_file, tmp_path):
    import lightning as L

    source = prohmr_source(prohmr_file)
    config = apply_overrides(
        ExperimentConfig(),
        [*IMAGE, f"data.sources=[{source}]", f"data.val_sources=[{source}]", "trainer.max_steps=2",
         "trainer.val_every=2", f"trainer.output_dir={tmp_path}"],
    )  # fmt: skip

    class Record(L.Callback):  # the backbone learns, the validation runs
        def on_fit_start(self, trainer, module):
            self.before = module.model.encoder.conv1.weight.detach().clone()

        def on_train_end(self, trainer, module):
            self.changed = not torch.equal(self.before, module.model.encoder.conv1.weight)
            self.metrics = dict(trainer.callback_metrics)

    record = Record()
    last = train(config, progress=False, callbacks=[record])
    assert record.changed and torch.load(last, weights_only=True)["global_step"] == 2
    assert {"val/mpjpe", "val/pa_mpjpe", "val/nll"} <= set(record.metrics)
    assert all(torch.isfinite(v) for v in record.metrics.values())


def test_mixed_precision_reaches_the_image_backbone_only(prohmr_file):
    source = prohmr_source(prohmr_file)
    config = apply_overrides(ExperimentConfig(), [*IMAGE, "data.batch_size=2", f"data.sources=[{source}]"])
    assert build_trainer(apply_overrides(config, ["trainer.precision=bf16-mixed"])).precision == "bf16-mixed"
    torch.manual_seed(0)
    module = HMRModule(config)
    data = HMRDataModule(config.data, module.model.body, model=config.model)
    module.initialize_flow(data.initialization_batch())  # enough labelled poses from the first batches
    batch = data.training_stream().batch(1)
    dtypes: dict[str, torch.dtype] = {}

    def hook(name, pick):
        return lambda m, i, o: dtypes.setdefault(name, pick(i, o)) and None  # keeps the output

    model = module.model
    model.encoder.layer1.register_forward_hook(hook("backbone", lambda i, o: o.dtype))
    model.head.register_forward_hook(hook("head_in", lambda i, o: i[0].dtype))
    model.body.register_forward_hook(hook("body", lambda i, o: o.joints.dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):  # what Lightning's bf16-mixed does
        terms = module.compute_losses(batch)
    assert dtypes == {"backbone": torch.bfloat16, "head_in": torch.float32, "body": torch.float32}
    assert all(v.dtype == torch.float32 for v in vars(terms).values() if v is not None)
    terms.total.backward()
    assert model.encoder.conv1.weight.grad.dtype == torch.float32 and torch.isfinite(terms.total)


def test_an_image_model_refuses_keypoint_only_data_and_bad_precision():
    config = apply_overrides(ExperimentConfig(), IMAGE)
    with pytest.raises(DataSourceError, match="image model"):
        HMRDataModule(config.data, BodyModel.from_name("anny_lowpoly"), model=config.model)
    with pytest.raises(ValueError, match="precision"):
        build_trainer(apply_overrides(config, ["trainer.precision=bf16-true"]))


def test_missing_files_and_modules_fail_clearly(tiny, prohmr_file, monkeypatch):
    body = BodyModel.from_name("anny_lowpoly")
    config = apply_overrides(ExperimentConfig(), [*tiny, f"data.sources=[{prohmr_source('/nowhere/h36m.npz')}]"])
    with pytest.raises(DataSourceError, match="/nowhere/h36m.npz not found"):
        HMRDataModule(config.data, body, model=config.model).check_files()
    images = f"data.sources=[{{kind: synthetic_images, path: {prohmr_file.parent}}}]"
    config = apply_overrides(ExperimentConfig(), [*tiny, images])
    monkeypatch.setitem(sys.modules, "hmrflow.data.image_shards", None)  # as if it did not exist
    with pytest.raises(DataSourceError, match="hmrflow.data.image_shards"):
        HMRDataModule(config.data, body, model=config.model).training_stream()


@pytest.mark.skipif(not egl_available()[0], reason="rendering synthetic images needs EGL")
def test_synthetic_image_shards_are_a_source(tmp_path):
    from hmrflow.data.image_shards import generate_shards
    from hmrflow.data.synthetic_images import SyntheticImageConfig

    generate_shards(tmp_path, 6, body="anny_lowpoly", config=SyntheticImageConfig(resolution=64, supersample=1),
                    shard_size=3, progress=False)  # fmt: skip
    config = apply_overrides(
        ExperimentConfig(), [*IMAGE, f"data.sources=[{{kind: synthetic_images, path: {tmp_path}}}]"]
    )
    module = HMRModule(config)
    data = HMRDataModule(config.data, module.model.body, model=config.model)
    batch = data.training_stream().batch(0)
    assert batch.images.shape == (8, 3, 64, 64)
    assert (batch.has_pose == 1).all() and (batch.keypoints_3d[..., 3] == 1).all()
    module.initialize_flow(batch)
    assert torch.isfinite(module.compute_losses(batch).total)


def test_the_discriminator_trains_against_mocap_on_its_own_side(tiny, tmp_path):
    config = apply_overrides(ExperimentConfig(), [*tiny, "discriminator.enabled=true"])
    torch.manual_seed(0)
    module = HMRModule(config)
    data = HMRDataModule(config.data, module.model.body)
    batch = data.initialization_batch()
    module.initialize_flow(batch)
    terms = module.compute_losses(batch)
    disc = list(module.discriminator.parameters())
    model = [p for p in module.model.parameters() if p.requires_grad]
    # The model's adversarial loss moves the model only; the discriminator's loss, the discriminator only.
    grads = torch.autograd.grad(terms.adversarial, disc + model, allow_unused=True, retain_graph=True)
    assert all(g is None for g in grads[: len(disc)]) and any(g is not None for g in grads[len(disc) :])
    grads = torch.autograd.grad(terms.discriminator, disc + model, allow_unused=True, retain_graph=True)
    assert all(g is not None for g in grads[: len(disc)]) and all(g is None for g in grads[len(disc) :])
    # The total holds both, weighted 0.0005 (ProHMR).
    plain = sum(getattr(config.losses, k) * getattr(terms, k) for k in ("keypoints_3d_mode", "keypoints_2d_mode",
                "keypoints_2d_samples", "global_orient_mode", "body_pose_mode", "betas", "nll", "orthonormal"))  # fmt: skip
    torch.testing.assert_close(terms.total, plain + 0.0005 * (terms.adversarial + terms.discriminator))
    # Mocap files: ProHMR's format (pose, shape).
    path = tmp_path / "mocap.npz"
    np.savez(path, pose=np.zeros((700, 72), np.float32), shape=np.ones((700, 10), np.float32))
    mocap = MocapPoses.load([path], use_bundled=True)
    rotmats, betas = mocap.sample(64, 10, torch.Generator().manual_seed(0))
    assert rotmats.shape == (64, 23, 3, 3) and betas.shape == (64, 10)
    from_file = (betas == 1).all(-1)
    assert 0 < from_file.sum() < 64  # a mix of the file's shapes and Gaussian ones


@pytest.mark.parametrize("name", ["image-synthetic", "prohmr"])
def test_bundled_image_configs_build_and_name_their_missing_data(name, tmp_path, capsys, monkeypatch):
    from hmrflow.cli.main import main
    from hmrflow.cli.train import config_path
    from hmrflow.config import load_config

    config = load_config(ExperimentConfig, config_path(name))
    assert config.model.encoder.kind == "image" and config.trainer.precision == "bf16-mixed"
    if name == "prohmr":  # the paper's recipe
        assert (config.model.encoder.backbone_depth, config.model.flow.context_features) == (50, 2048)
        assert (config.model.flow.hidden_features, config.model.flow.dropout) == (1024, 0.5)
        assert (config.data.batch_size, config.optim.lr, config.optim.weight_decay) == (64, 1e-4, 1e-4)
        assert config.trainer.max_steps == 500_000 and config.discriminator.enabled
        assert {s.name: s.weight for s in config.data.sources} == {
            "h36m": 0.3, "mpii": 0.1, "coco": 0.4, "mpi-inf-3dhp": 0.2
        }  # fmt: skip
    monkeypatch.chdir(tmp_path)  # relative data paths resolve here: nothing there
    assert main(["train", name, f"trainer.output_dir={tmp_path / 'run'}", "--no-progress"]) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("hmrflow train: ") and "not found" in err
    assert not (tmp_path / "run").exists()  # nothing written
