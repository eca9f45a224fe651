"""Resuming: the newest usable checkpoint, unreadable ones passed over, the model checked first."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest
import torch

from hmrflow.config import apply_overrides
from hmrflow.models.checkpoint import CheckpointError, save_model
from hmrflow.training.config import ExperimentConfig
from hmrflow.training.module import HMRModule
from hmrflow.training.resume import newest_checkpoint
from hmrflow.training.train import train


def settings(tiny: list[str], folder: Path, steps: int, *more: str) -> ExperimentConfig:
    """The tiny experiment in ``folder``, checkpointed every 2 steps, for ``steps`` steps."""
    return apply_overrides(
        ExperimentConfig(),
        [*tiny, "data.val_size=16", "trainer.val_every=2", f"trainer.max_steps={steps}",
         f"trainer.output_dir={folder}", *more],
    )  # fmt: skip


@pytest.fixture(scope="module")
def finished(tiny, tmp_path_factory) -> Path:
    """A run folder after 4 steps: step0000002, step0000004 and last (step 4)."""
    folder = tmp_path_factory.mktemp("finished") / "run"
    train(settings(tiny, folder, 4), progress=False)
    return folder


@pytest.fixture
def run(finished, tmp_path) -> Path:
    """A copy of the finished run this test may change."""
    return Path(shutil.copytree(finished, tmp_path / "run"))


@pytest.fixture
def config_for_files(tiny) -> ExperimentConfig:
    return apply_overrides(ExperimentConfig(), tiny)


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file under ``folder`` (contents of config.yaml, names of the others)."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.name == "config.yaml" else None for p in folder.rglob("*")}


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_resume_last_takes_the_newest_checkpoint_of_a_copied_run(tiny, run, caplog):
    train(settings(tiny, run, 6), resume="last", progress=False)  # Lightning writes last-v1.ckpt
    checkpoints = run / "checkpoints"
    assert torch.load(checkpoints / "last.ckpt", weights_only=True)["global_step"] == 4  # stale
    later = checkpoints / "last-v1.ckpt"
    os.utime(checkpoints / "last.ckpt", (later.stat().st_mtime + 60,) * 2)  # as a later copy may leave it
    newest = newest_checkpoint(checkpoints)
    assert (newest.path.name, newest.step) == ("last-v1.ckpt", 6)
    with caplog.at_level(logging.INFO, logger="hmrflow"):
        last = train(settings(tiny, run, 8), resume="last", progress=False)
    assert f"resuming from {later} (step 6); trainer.max_steps 6 -> 8" in caplog.text
    assert torch.load(last, weights_only=True)["global_step"] == 8


def test_a_truncated_last_checkpoint_falls_back_to_the_newest_step_checkpoint(tiny, run, caplog):
    truncate(run / "checkpoints" / "last.ckpt")
    with caplog.at_level(logging.INFO, logger="hmrflow"):
        last = train(settings(tiny, run, 6), resume="last", progress=False)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("hmrflow")]
    assert len(warnings) == 1
    bad = run / "checkpoints" / "last.ckpt"
    assert warnings[0].startswith(f"{bad}: not a readable checkpoint (truncated or not a torch file")
    assert warnings[0].endswith(f"resuming from {run / 'checkpoints' / 'step0000004.ckpt'} (step 4) instead")
    assert torch.load(last, weights_only=True)["global_step"] == 6


def test_a_checkpoint_with_non_finite_weights_is_passed_over(run, caplog):
    path = run / "checkpoints" / "step0000004.ckpt"
    data = torch.load(path, weights_only=True)
    data["state_dict"]["model.head.layers.0.weight"][0, 0] = float("nan")
    torch.save(data, path)
    truncate(run / "checkpoints" / "last.ckpt")
    with caplog.at_level(logging.WARNING, logger="hmrflow"):
        newest = newest_checkpoint(run / "checkpoints")
    assert (newest.path.name, newest.step) == ("step0000002.ckpt", 2)
    assert "step0000004.ckpt: model weight head.layers.0.weight is not finite (1 of" in caplog.text
    assert "last.ckpt: not a readable checkpoint" in caplog.text


def test_without_a_readable_checkpoint_resuming_fails_before_writing(tiny, run):
    for path in (run / "checkpoints").iterdir():
        truncate(path)
    before = snapshot(run)
    message = r"no readable checkpoint to resume from in .*checkpoints: .*last.ckpt: not a readable"
    with pytest.raises(CheckpointError, match=message):
        train(settings(tiny, run, 6), resume="last", progress=False)
    assert snapshot(run) == before
    with pytest.raises(CheckpointError, match="no checkpoint to resume from in"):
        train(settings(tiny, run.parent / "empty", 6), resume="last", progress=False)
    assert not (run.parent / "empty").exists()


def test_resuming_with_another_model_fails_before_writing_and_says_what_differs(tiny, run):
    before = snapshot(run)
    changed = settings(tiny, run, 6, "model.head_hidden=16", "model.flow.num_layers=2", "optim.lr=0.01")
    with pytest.raises(CheckpointError) as error:
        train(changed, resume="last", progress=False)
    message = str(error.value)
    assert message.startswith(f"{run / 'checkpoints' / 'last.ckpt'}: cannot resume with a different model: ")
    assert "model.flow.num_layers is 4 in the checkpoint but 2 now" in message
    assert "model.head_hidden is 32 in the checkpoint but 16 now" in message
    assert "optim.lr" not in message  # settings other than the model may change
    frozen = settings(tiny, run, 6, "trainer.trainable=[head.]")  # the optimiser state would not fit
    with pytest.raises(CheckpointError, match=r"trainer.trainable is \[\] in the checkpoint but \['head.'\] now"):
        train(frozen, resume="last", progress=False)
    assert snapshot(run) == before


def test_resuming_from_a_model_file_or_a_missing_file_is_a_clear_error(tiny, config_for_files, tmp_path):
    model_file = tmp_path / "model.pt"
    save_model(HMRModule(config_for_files).model, config_for_files, model_file)
    target = settings(tiny, tmp_path / "run", 6)
    with pytest.raises(CheckpointError, match="a model file, not a training checkpoint.*trainer.init_from"):
        train(target, resume=model_file, progress=False)
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        train(target, resume=tmp_path / "nope.ckpt", progress=False)
    assert not (tmp_path / "run").exists()
