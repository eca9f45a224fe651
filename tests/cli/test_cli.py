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


def test_subcommand_modules_are_listed_once():
    assert len(COMMAND_MODULES) == len(set(COMMAND_MODULES))
