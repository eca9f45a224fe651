from __future__ import annotations

import pytest

from hmrflow.cli.main import COMMAND_MODULES, build_parser, main


def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sorted(action.choices)


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for name in ("demo", "train"):
        assert name in text


@pytest.mark.parametrize("name", subcommands())
def test_every_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    assert len(capsys.readouterr().out) > 200, f"`hmrflow {name} --help` says too little"


def test_train_reports_a_bad_config(capsys, tmp_path):
    assert main(["train", "keypoints", "model.nope=1", f"trainer.output_dir={tmp_path}"]) == 2
    assert "model.nope" in capsys.readouterr().out


def test_demo_runs_end_to_end(tmp_path, capsys):
    from hmrflow.config import apply_overrides
    from hmrflow.training.checkpoint import save_model
    from hmrflow.training.config import ExperimentConfig
    from hmrflow.models import ProbabilisticHMR

    config = apply_overrides(
        ExperimentConfig(),
        ["model.encoder.width=32", "model.flow.context_features=32", "model.flow.hidden_features=32", "model.head_hidden=32"],
    )
    save_model(ProbabilisticHMR(config.model), config, tmp_path / "m.pt")
    assert main(["demo", "--model", str(tmp_path / "m.pt"), "--out", str(tmp_path / "out"), "--people", "2"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["person0_mode.obj", "person1_mode.obj"]
    assert "PA-MPJPE" in capsys.readouterr().out
    assert len(COMMAND_MODULES) == len(set(COMMAND_MODULES))
