from __future__ import annotations

import re
from dataclasses import replace

import pytest
import torch

from hmrflow.body import BodyModel
from hmrflow.config import ConfigError, apply_overrides
from hmrflow.geometry import box_to_camera_rotation
from hmrflow.models.checkpoint import CheckpointError, load_model, save_model
from hmrflow.training.batch import TrainingBatch
from hmrflow.training.checkpoint import read_checkpoint
from hmrflow.training.config import ExperimentConfig
from hmrflow.training.data import HMRDataModule, SyntheticDataModule
from hmrflow.training.losses import keypoint_3d_energy_score, keypoint_3d_loss, pelvis_weights, rotation_loss
from hmrflow.training.module import HMRModule
from tests.tiny import TINY_MODEL

TINY = [
    *TINY_MODEL,
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


def test_initialization_runs_where_the_weights_are(config, monkeypatch):
    # In Lightning's setup hook the module already reports the accelerator as its device
    # while its weights are still on the CPU; "meta" stands in for the GPU here.
    module = HMRModule(config)
    monkeypatch.setattr(HMRModule, "device", property(lambda self: torch.device("meta")))
    module.initialize_flow(SyntheticDataModule(config.data, module.model.body).initialization_batch())
    assert module.model.flow.initialized
    assert all(p.device.type == "cpu" for p in module.parameters())


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


def test_files_of_format_1_count_samples_without_the_mode(config, tmp_path):
    # Format 1 stored trainer.num_samples with the mode counted; format 2 counts samples only.
    module = HMRModule(apply_overrides(config, ["trainer.num_samples=4"]))
    path = tmp_path / "model.pt"
    save_model(module.model, module.config, path)
    data = torch.load(path, weights_only=True)
    assert data["hmrflow"]["format"] == 2
    assert read_checkpoint(path)[0].trainer.num_samples == 4
    data["hmrflow"]["format"] = 1
    torch.save(data, path)
    assert read_checkpoint(path)[0].trainer.num_samples == 3
    data["hmrflow"]["format"] = 3
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="file format 3 is not one this hmrflow reads"):
        load_model(path)


def test_validation_draws_the_configured_samples(config):
    module = HMRModule(apply_overrides(config, ["trainer.validation_samples=3"]))
    batch = SyntheticDataModule(config.data, module.model.body).initialization_batch()
    module.initialize_flow(batch)
    drawn = []
    forward = module.model.forward
    module.model.forward = lambda *a, **k: drawn.append(k["num_samples"]) or forward(*a, **k)
    module.log = lambda *a, **k: None
    module.eval()
    with torch.no_grad():
        module.validation_step(batch, 0)
    assert drawn == [3]


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_model_with_weights_that_are_not_finite_is_refused(config, tmp_path, bad):
    module = HMRModule(config)
    path = tmp_path / "diverged.pt"
    save_model(module.model, config, path)
    data = torch.load(path, weights_only=True)
    names = [name for name, value in data["state_dict"].items() if value.is_floating_point()]
    first, later = names[3], names[-5]  # the first one named, in the file's order
    data["state_dict"][later] = torch.full_like(data["state_dict"][later], float("nan"))
    data["state_dict"][first].view(-1)[:2] = bad
    torch.save(data, path)
    count = data["state_dict"][first].numel()
    message = f"{path}: model weight {first} is not finite (2 of {count} values are NaN or infinite)"
    with pytest.raises(CheckpointError, match=re.escape(message)):
        load_model(path)
    with pytest.raises(CheckpointError, match=re.escape(message)):
        read_checkpoint(path)


def test_resuming_from_a_checkpoint_continues_identically(config, tmp_path):
    from hmrflow.training.train import train

    def run(name: str, steps: int, resume=None):
        cfg = apply_overrides(
            config,
            ["trainer.accelerator=cpu", "trainer.devices=1", "data.val_size=16", "trainer.val_every=3",
             f"trainer.max_steps={steps}", f"trainer.output_dir={tmp_path / name}"],
        )  # fmt: skip
        return train(cfg, resume=resume, progress=False)

    straight = torch.load(run("straight", 6), weights_only=True)
    run("halves", 3)
    middle = tmp_path / "halves" / "checkpoints" / "step0000003.ckpt"
    resumed = torch.load(run("halves", 6, resume=middle), weights_only=True)
    assert straight["global_step"] == resumed["global_step"] == 6
    first = torch.load(middle, weights_only=True)["state_dict"]
    a, b = straight["state_dict"], resumed["state_dict"]
    assert a.keys() == b.keys()
    for key in a:  # bit-identical: same batches, same noise, same optimiser state
        assert torch.equal(a[key], b[key]), key
    assert not torch.equal(first["model.head.layers.0.weight"], a["model.head.layers.0.weight"])


def test_trainable_trains_only_the_named_parameters(config, tmp_path):
    from hmrflow.training.train import train

    source = HMRModule(config)
    source.initialize_flow(SyntheticDataModule(config.data, source.model.body).initialization_batch())
    save_model(source.model, config, tmp_path / "start.pt")
    cfg = apply_overrides(
        config,
        ["trainer.accelerator=cpu", "trainer.devices=1", "data.val_size=16", "trainer.val_every=2",
         "trainer.max_steps=4", f"trainer.output_dir={tmp_path / 'run'}", f"trainer.init_from={tmp_path / 'start.pt'}",
         "model.flow.context_scale=true", "trainer.trainable=[flow.context_scale.]"],
    )  # fmt: skip
    state = torch.load(train(cfg, progress=False), weights_only=True)["state_dict"]
    before = source.model.state_dict()
    for key, value in state.items():
        name = key.removeprefix("model.")
        if name.startswith("flow.context_scale."):
            continue
        assert torch.equal(value, before[name]), name  # weights and BatchNorm statistics alike
    assert state["model.flow.context_scale.net.2.weight"].abs().sum() > 0
    with pytest.raises(ConfigError, match="no model parameter starts with"):
        HMRModule(apply_overrides(config, ["trainer.trainable=[flow.nothing]"]))


def test_the_training_stream_is_a_function_of_the_step(config):
    from torch.utils.data import DataLoader

    from hmrflow.training.data import HMRDataModule

    data = HMRDataModule(apply_overrides(config, ["data.batch_size=4"]).data, BodyModel.from_name("anny_lowpoly"))
    stream = data.training_stream()
    later = data.training_stream(start_step=3)
    torch.testing.assert_close(stream.batch(3).evidence, next(iter(later)).evidence, rtol=0, atol=0)
    other_rank = data.training_stream(rank=1)
    assert not torch.equal(stream.batch(3).evidence, other_rank.batch(3).evidence)
    # Loader workers take turns over the steps: the sequence does not depend on their number.
    loader = DataLoader(data.training_stream(start_step=2), batch_size=None, num_workers=2)
    for step, batch in zip(range(2, 6), loader):
        assert torch.equal(batch.evidence, stream.batch(step).evidence)


def test_missing_labels_are_masked_as_prohmr_does(config):
    torch.manual_seed(0)
    module = HMRModule(config)
    data = SyntheticDataModule(config.data, module.model.body)
    batch = TrainingBatch.from_synthetic(data.initialization_batch())
    module.initialize_flow(batch)
    missing = torch.arange(len(batch)) < 5
    labelled = replace(batch, has_pose=(~missing).float(), has_betas=(~missing).float())
    garbage = torch.linalg.qr(torch.randn(len(batch), 24, 3, 3))[0]
    changed = replace(
        labelled,
        rotmats=torch.where(missing[:, None, None, None], garbage, batch.rotmats),
        betas=torch.where(missing[:, None], 10 * torch.randn_like(batch.betas), batch.betas),
    )
    module.eval()  # no dropout: the same forward pass for both

    def losses(b):
        torch.manual_seed(1)
        return module.compute_losses(b)

    a, b, full = losses(labelled), losses(changed), losses(batch)
    for name in ("global_orient_mode", "body_pose_mode", "betas", "nll", "keypoints_3d_mode"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name), msg=name)
    # Items without a label count as zero, divided by the whole batch size.
    torch.testing.assert_close(
        a.body_pose_mode,
        rotation_loss(module.model(batch.evidence).mode.rotmats[~missing, 0, 1:], batch.rotmats[~missing, 1:])
        * (~missing).sum() / len(batch),
    )
    assert not torch.allclose(a.body_pose_mode, full.body_pose_mode)


def test_batches_with_and_without_depth_stack_with_a_nan_depth_column(config):
    data = SyntheticDataModule(config.data, BodyModel.from_name("anny_lowpoly"))
    plain = TrainingBatch.from_synthetic(data.initialization_batch())[:4]
    deep = replace(plain, evidence=torch.cat([plain.evidence, torch.randn(4, plain.evidence.shape[1], 1)], -1))
    both = TrainingBatch.concatenate([plain, deep])
    assert both.evidence.shape == (8, plain.evidence.shape[1], 4)
    assert torch.equal(both.evidence[:4, :, :3], plain.evidence) and both.evidence[:4, :, 3].isnan().all()
    assert torch.equal(both.evidence[4:], deep.evidence)


def test_without_joint_labels_the_3d_loss_aligns_at_the_hips():
    pred = torch.randn(3, 1, 5, 3)
    target = torch.cat([torch.randn(3, 5, 3), torch.ones(3, 5, 1)], -1)
    target[1:, 0, 3] = 0  # no pelvis label: the mean of points 1 and 2 stands in
    target[2, 1, 3] = 0  # nor a hip: the example drops out
    weights = pelvis_weights(target[..., 3], 0, (1, 2))
    loss = keypoint_3d_loss(pred, target, weights)
    shifted = keypoint_3d_loss(pred + torch.randn(3, 1, 1, 3), target, weights)
    torch.testing.assert_close(loss, shifted)  # translation-invariant
    centred = pred[1, 0] - pred[1, 0, 1:3].mean(0)
    expected_1 = (centred - (target[1, :, :3] - target[1, 1:3, :3].mean(0))).abs()[1:].sum()
    expected_0 = keypoint_3d_loss(pred[:1], target[:1], (0,)) * 1
    torch.testing.assert_close(loss, (expected_0 + expected_1) / 3)


def test_weights_stored_in_half_precision_load_as_float32(config, tmp_path):
    module = HMRModule(config)
    save_model(module.model, config, tmp_path / "half.pt", storage_dtype=torch.float16)
    assert torch.load(tmp_path / "half.pt", weights_only=True)["state_dict"]["flow.transforms.1.bias"].dtype == torch.float16
    loaded = load_model(tmp_path / "half.pt")
    assert next(loaded.parameters()).dtype == torch.float32
    module.model.eval()
    evidence = torch.rand(2, 23, 3)
    torch.testing.assert_close(loaded(evidence).mode.sixd, module.model(evidence).mode.sixd, atol=2e-2, rtol=1e-2)


def test_fine_tuning_starts_from_the_checkpoint_weights(config, tmp_path):
    from hmrflow.training.train import initialize_from

    source = HMRModule(config)
    source.initialize_flow(SyntheticDataModule(config.data, source.model.body).initialization_batch())
    path = tmp_path / "model.pt"
    save_model(source.model, config, path)
    target = HMRModule(config)
    initialize_from(target.model, path)
    for (name, a), b in zip(source.model.state_dict().items(), target.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert target.model.flow.initialized  # ActNorm is not initialised again from data
    other = HMRModule(apply_overrides(config, ["model.head_hidden=16"]))
    with pytest.raises(CheckpointError, match="wrong shapes head"):
        initialize_from(other.model, path)
    scaled = HMRModule(apply_overrides(config, ["model.flow.context_scale=true"]))
    initialize_from(scaled.model, path)  # the new context scale starts as the identity
    scaled_state = scaled.model.state_dict()
    for name, a in source.model.state_dict().items():
        assert torch.equal(a, scaled_state[name]), name
    assert not scaled.model.flow.context_scale.net[-1].weight.any()
    scaled_path = tmp_path / "scaled.pt"
    save_model(scaled.model, scaled.config, scaled_path)
    with pytest.raises(CheckpointError, match="unexpected keys flow.context_scale"):
        initialize_from(target.model, scaled_path)


def test_fine_tuning_may_widen_the_checkpoint_model(config, tmp_path):
    from hmrflow.training.train import initialize_from

    source = HMRModule(config)
    source.initialize_flow(SyntheticDataModule(config.data, source.model.body).initialization_batch())
    path = tmp_path / "model.pt"
    save_model(source.model, config, path)
    wider = ["model.encoder.width=48", "model.flow.context_features=48", "model.flow.context_scale=true"]
    target = HMRModule(apply_overrides(config, wider))
    with pytest.raises(CheckpointError, match="wrong shapes"):
        initialize_from(target.model, path)
    initialize_from(target.model, path, widen=True)  # the new context scale is filled in too
    source.model.eval(), target.model.eval()
    evidence = torch.rand(4, 23, 3) - 0.5
    torch.testing.assert_close(target.model(evidence).mode.sixd, source.model(evidence).mode.sixd, atol=1e-4, rtol=1e-4)
    assert target.model.flow.initialized
    from hmrflow.training.train import train

    with pytest.raises(ConfigError, match="trainer.init_widen .* trainer.init_from, which is empty"):
        train(apply_overrides(config, ["trainer.init_widen=true", f"trainer.output_dir={tmp_path / 'run'}"]))
    assert not (tmp_path / "run").exists()


def off_and_weighted(config, term: str, weight: float):
    """The loss terms of one batch with the default weights and with ``losses.<term>=weight``,
    the same model and random stream; and the module and batch."""
    module = HMRModule(apply_overrides(config, ["trainer.num_samples=2"]))
    batch = SyntheticDataModule(config.data, module.model.body).initialization_batch()
    module.initialize_flow(batch)
    torch.manual_seed(0)
    off = module.compute_losses(batch)
    weighted = HMRModule(apply_overrides(module.config, [f"losses.{term}={weight}"]), model=module.model)
    torch.manual_seed(0)
    return off, weighted.compute_losses(batch), module, batch


def test_the_3d_loss_on_samples_is_off_by_default_and_counts_when_weighted(config):
    off, on, module, batch = off_and_weighted(config, "keypoints_3d_samples", 0.5)
    assert off.keypoints_3d_samples.item() == 0.0
    assert on.keypoints_3d_samples.item() > 0
    torch.testing.assert_close(on.total - off.total, 0.5 * on.keypoints_3d_samples)
    best_of = ["losses.keypoints_3d_samples=0.5", "losses.keypoints_3d_samples_best_of=true"]
    best = HMRModule(apply_overrides(module.config, best_of), model=module.model)
    torch.manual_seed(0)
    assert 0 < best.compute_losses(batch).keypoints_3d_samples.item() < on.keypoints_3d_samples.item()
    assert off.keypoints_3d_energy.item() == 0.0
    energy = HMRModule(apply_overrides(module.config, ["losses.keypoints_3d_energy=0.5"]), model=module.model)
    torch.manual_seed(0)
    scored = energy.compute_losses(batch)
    assert scored.keypoints_3d_energy.item() != 0
    torch.testing.assert_close(scored.total - off.total, 0.5 * scored.keypoints_3d_energy)
    from hmrflow.config import ConfigError

    with pytest.raises(ConfigError, match="num_samples >= 2"):
        HMRModule(apply_overrides(config, ["losses.keypoints_3d_energy=0.5", "trainer.num_samples=1"]))


def test_the_energy_score_is_lowest_for_samples_as_spread_as_the_truth():
    # Truths scatter around a centre with std 0.1; samples with std 0.1 score best.
    g = torch.Generator().manual_seed(0)
    centre = torch.randn(4000, 1, 3, 3, generator=g)
    centre[..., 0, :] = 0  # keypoint 0 is the pelvis
    truth = centre[:, 0] + 0.1 * torch.randn(4000, 3, 3, generator=g)
    target = torch.cat([truth, torch.ones(4000, 3, 1)], dim=-1)
    noise = torch.randn(4000, 8, 3, 3, generator=g)
    for whole_body in (False, True):
        score = {
            std: keypoint_3d_energy_score(centre + std * noise, target, whole_body=whole_body).item()
            for std in (0.0, 0.05, 0.1, 0.2)
        }
        assert score[0.1] < min(score[0.0], score[0.05], score[0.2]), whole_body
    with pytest.raises(ValueError, match="S >= 2"):
        keypoint_3d_energy_score(centre[:, 0], target)


def test_a_missing_shipped_model_is_named_as_such(monkeypatch):
    import hmrflow.models.checkpoint as checkpoint

    monkeypatch.setattr(checkpoint, "DEFAULT_MODEL", "no-such-model.pt")
    for name in (None, "default"):  # every command calls the shipped model "default"
        with pytest.raises(CheckpointError, match="the shipped model is not installed"):
            load_model(name)


def test_batches_made_on_the_device_train_as_those_from_the_loader(config, tmp_path, caplog):
    # data.generate_on=device: the loader yields step numbers and the batch is made after
    # the transfer. On the CPU its random stream is the loader's: the runs are identical.
    from hmrflow.training.train import train

    def run(where: str) -> dict:
        cfg = apply_overrides(config, ["trainer.accelerator=cpu", "trainer.devices=1", "data.val_size=16",
                                       "trainer.val_every=2", "trainer.max_steps=4", f"data.generate_on={where}",
                                       f"trainer.output_dir={tmp_path / where}"])  # fmt: skip
        return torch.load(train(cfg, progress=False), weights_only=True)["state_dict"]

    with caplog.at_level("INFO", logger="hmrflow.training.train"):
        loader, device = run("loader"), run("device")
    assert loader.keys() == device.keys()
    assert re.search(r"timed steps of 16 examples x 1 process\(es\): \d+ samples/s", caplog.text)
    for name in loader:
        torch.testing.assert_close(device[name], loader[name], rtol=0, atol=0, msg=name)


@pytest.mark.parametrize("rule, factor", [("none", 1.0), ("sqrt", 2.0), ("linear", 4.0)])
def test_the_learning_rate_follows_the_batch_as_configured(config, rule, factor):
    cfg = apply_overrides(config, [f"optim.lr_scaling={rule}", "optim.reference_batch_size=4", "data.batch_size=16"])
    optimizer = HMRModule(cfg).configure_optimizers()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(cfg.optim.lr * factor)


def test_the_cosine_schedule_falls_from_the_rate_to_its_final_share(config):
    cfg = apply_overrides(config, ["optim.schedule=cosine", "optim.final_lr_ratio=0.1", "trainer.max_steps=10"])
    configured = HMRModule(cfg).configure_optimizers()
    optimizer, schedule = configured["optimizer"], configured["lr_scheduler"]["scheduler"]
    assert configured["lr_scheduler"]["interval"] == "step"
    rates = []
    for _ in range(11):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[0] == pytest.approx(cfg.optim.lr)
    assert rates[5] == pytest.approx(cfg.optim.lr * 0.55)
    assert rates[10] == pytest.approx(cfg.optim.lr * 0.1)
    assert all(a > b for a, b in zip(rates, rates[1:]))
    constant = HMRModule(config).configure_optimizers()
    assert isinstance(constant, torch.optim.AdamW)


def test_the_range_of_motion_loss_is_zero_inside_and_pulls_poses_in():
    from hmrflow.data.joint_limits import joint_limits, plausibility, sample_within_limits
    from hmrflow.geometry import rotvec_to_rotmat
    from hmrflow.training.losses import range_of_motion_loss

    limits = joint_limits("rom")
    g = torch.Generator().manual_seed(0)
    inside = sample_within_limits(32, g, limits)
    assert range_of_motion_loss(inside, limits).item() < 1e-8
    rotvecs = (0.8 * torch.randn(32, 24, 3, generator=g)).requires_grad_(True)
    assert not plausibility(rotvec_to_rotmat(rotvecs), limits).any()
    optimizer = torch.optim.SGD([rotvecs], lr=0.5)
    for _ in range(200):
        optimizer.zero_grad()
        loss = range_of_motion_loss(rotvec_to_rotmat(rotvecs), limits)
        loss.backward()
        assert torch.isfinite(rotvecs.grad).all()
        optimizer.step()
    assert plausibility(rotvec_to_rotmat(rotvecs), limits).all()


def test_the_range_of_motion_loss_counts_from_the_margin_inside_the_limits():
    from hmrflow.data.joint_limits import clamp_to_limits, joint_limits, sample_within_limits
    from hmrflow.training.losses import range_of_motion_loss

    limits = joint_limits("rom")
    on_edges = clamp_to_limits(sample_within_limits(32, torch.Generator().manual_seed(0), joint_limits("v1")), limits)
    assert range_of_motion_loss(on_edges, limits).item() < 1e-8
    assert range_of_motion_loss(on_edges, limits.narrowed(3.0)).item() > 1e-4


def test_the_range_of_motion_term_counts_when_weighted(config):
    from hmrflow.config import ConfigError

    off, on, module, batch = off_and_weighted(config, "range_of_motion", 2.0)
    assert off.range_of_motion.item() == 0.0
    assert on.range_of_motion.item() > 0  # an untrained flow's samples leave the ranges
    torch.testing.assert_close(on.total - off.total, 2.0 * on.range_of_motion)
    margin = ["losses.range_of_motion=2", "losses.range_of_motion_margin_deg=5"]
    torch.manual_seed(0)
    inside = HMRModule(apply_overrides(module.config, margin), model=module.model).compute_losses(batch)
    assert inside.range_of_motion.item() > on.range_of_motion.item()  # the same samples, counted from 5 deg in
    with pytest.raises(ConfigError, match="range_of_motion"):
        apply_overrides(config, ["losses.range_of_motion=-1"])
    with pytest.raises(ConfigError, match="range_of_motion_margin_deg"):
        apply_overrides(config, ["losses.range_of_motion_margin_deg=-1"])


def test_box_frame_labels_are_the_camera_labels_turned_onto_the_box_ray(config):
    """``orientation_frame=box``: every 3D label and the global orientation turn by the inverse box-ray
    rotation, and stay one body: the turned pose gives the turned joints (about the pelvis)."""
    body = BodyModel.from_name("anny_lowpoly")
    data = SyntheticDataModule(config.data, body)
    synthetic = data.generator.sample(16, torch.Generator().manual_seed(4))
    camera, box = TrainingBatch.from_synthetic(synthetic), TrainingBatch.from_synthetic(synthetic, "box")
    turn = box_to_camera_rotation(synthetic.box_center, synthetic.focal_length, synthetic.image_size / 2)
    assert not torch.allclose(box.rotmats[:, 0], camera.rotmats[:, 0], atol=1e-3)  # the boxes are off-axis
    torch.testing.assert_close(turn @ box.rotmats[:, 0], camera.rotmats[:, 0])
    torch.testing.assert_close(box.rotmats[:, 1:], camera.rotmats[:, 1:])
    torch.testing.assert_close(box.keypoints_3d[..., :3] @ turn.mT, camera.keypoints_3d[..., :3], atol=1e-5, rtol=0)
    posed = body(box.rotmats, synthetic.betas, vertices=False).joints
    torch.testing.assert_close(posed - posed[:, :1], box.joints_3d[..., :3] - box.joints_3d[:, :1, :3],
                               atol=1e-5, rtol=0)  # fmt: skip
    # the box ray is the box frame's optical axis: the box centre's ray has no sideways part there
    centre_ray = torch.cat([(synthetic.box_center - synthetic.image_size / 2) / synthetic.focal_length[:, None],
                            torch.ones(16, 1)], -1)  # fmt: skip
    in_box = (turn.mT @ centre_ray[..., None])[..., 0]
    torch.testing.assert_close(in_box[:, :2], torch.zeros(16, 2), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="frame"):
        TrainingBatch.from_synthetic(synthetic, "world")


def test_the_training_stream_gives_labels_in_the_models_frame(config):
    body = BodyModel.from_name("anny_lowpoly")
    box_config = apply_overrides(config, ["model.orientation_frame=box", "data.batch_size=8"])
    camera = HMRDataModule(box_config.data, body, model=config.model).training_stream().batch(0)
    box = HMRDataModule(box_config.data, body, model=box_config.model).training_stream().batch(0)
    torch.testing.assert_close(box.evidence, camera.evidence, rtol=0, atol=0)
    assert not torch.allclose(box.rotmats[:, 0], camera.rotmats[:, 0], atol=1e-3)
    # data.label_frame=camera: a box model trained on camera-frame labels (the shipped v7's recipe)
    kept = apply_overrides(box_config, ["data.label_frame=camera"])
    same = HMRDataModule(kept.data, body, model=kept.model).training_stream().batch(0)
    torch.testing.assert_close(same.rotmats, camera.rotmats, rtol=0, atol=0)
    synthetic = SyntheticDataModule(config.data, body).generator.sample(8, torch.Generator().manual_seed(2))
    for overrides, frame in ((["model.orientation_frame=box"], "box"), (["data.label_frame=camera"], "camera")):
        module = HMRModule(apply_overrides(box_config, overrides)).eval()  # the module makes its labels so too
        torch.manual_seed(0)
        direct = module.compute_losses(synthetic).global_orient_mode
        torch.manual_seed(0)
        expected = module.compute_losses(TrainingBatch.from_synthetic(synthetic, frame)).global_orient_mode
        torch.testing.assert_close(direct, expected)
