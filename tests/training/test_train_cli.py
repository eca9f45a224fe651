"""``hmrflow train``: unusable settings end in one line on stderr, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from hmrflow.cli.main import main
from tests.tiny import TINY_MODEL


def hmrflow_train(*argv: str) -> list[str]:
    return ["train", "keypoints", *TINY_MODEL, "trainer.accelerator=cpu", *argv]


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.batch_size=-4", "data.batch_size: -4 is out of range (must be >= 2)"),
        ("data.batch_size=0", "data.batch_size: 0 is out of range (must be >= 2)"),
        ("optim.lr=-0.001", "optim.lr: -0.001 is out of range (must be > 0)"),
        ("model.flow.hidden_features=0", "model.flow.hidden_features: 0 is out of range (must be >= 1)"),
        ("model.nope=1", "override 'model.nope=1': unknown key 'model.nope'"),
    ],
)
def test_a_bad_setting_is_one_line_on_stderr_and_nothing_is_written(override, message, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(hmrflow_train(override, f"trainer.output_dir={out}")) == 2
    captured = capsys.readouterr()
    assert captured.err == f"hmrflow train: {message}\n"
    assert captured.out == ""
    assert not out.exists()


def test_an_output_folder_that_cannot_be_written_is_reported_before_training(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(hmrflow_train(f"trainer.output_dir={blocker}")) == 2
    last_line = capsys.readouterr().err.splitlines()[-1]  # after Lightning's notes on the devices
    assert last_line == f"hmrflow train: trainer.output_dir {blocker}: is a file, not a folder"
    assert main(hmrflow_train(f"trainer.output_dir={blocker / 'run'}")) == 2
    last_line = capsys.readouterr().err.splitlines()[-1]
    assert last_line.startswith(f"hmrflow train: trainer.output_dir {blocker / 'run'}: cannot write there (")


def test_a_body_model_that_cannot_be_loaded_is_reported_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "run"
    missing = tmp_path / "smpl.pkl"
    assert main(hmrflow_train(f"model.body_model={missing}", f"trainer.output_dir={out}")) == 2
    assert capsys.readouterr().err == f"hmrflow train: model.body_model: {missing}: no such file\n"
    assert main(hmrflow_train("model.body_model=anny_highpoly", f"trainer.output_dir={out}")) == 2
    assert capsys.readouterr().err.startswith("hmrflow train: model.body_model: no body model named 'anny_highpoly'")
    assert not out.exists()


def test_settings_that_do_not_fit_together_are_configuration_errors(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(hmrflow_train("model.flow.context_features=64", f"trainer.output_dir={out}")) == 2
    assert capsys.readouterr().err == (
        "hmrflow train: model: flow.context_features (64) must equal the encoder's output width (32)\n"
    )
    assert main(hmrflow_train("trainer.strategy=nonsense", f"trainer.output_dir={out}")) == 2
    assert capsys.readouterr().err.startswith(
        "hmrflow train: trainer.accelerator=cpu, trainer.devices=auto, trainer.strategy=nonsense: "
    )
    assert not out.exists()


def test_an_export_path_that_cannot_be_written_fails_before_training(tmp_path, capsys):
    out = tmp_path / "run"
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(hmrflow_train(f"trainer.output_dir={out}", "--export", str(blocker / "model.pt"))) == 2
    assert capsys.readouterr().err == f"hmrflow train: --export {blocker}: is a file, not a folder\n"
    assert main(hmrflow_train(f"trainer.output_dir={out}", "--export", str(tmp_path))) == 2
    assert capsys.readouterr().err == f"hmrflow train: --export {tmp_path}: is a folder, not a file\n"
    assert not out.exists()


def test_resuming_from_a_missing_checkpoint_is_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(hmrflow_train(f"trainer.output_dir={out}", "--resume", "last")) == 2
    assert capsys.readouterr().err == (
        f"hmrflow train: no checkpoint to resume from in {Path(out) / 'checkpoints'} (has the run saved one yet?)\n"
    )
    assert not out.exists()
