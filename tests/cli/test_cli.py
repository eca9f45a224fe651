from __future__ import annotations

from pathlib import Path

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
    assert "model.nope" in capsys.readouterr().err


def test_subcommand_modules_are_listed_once():
    assert len(COMMAND_MODULES) == len(set(COMMAND_MODULES))


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--model", "{missing}", "--out", "{tmp}/demo"],
        ["fit", "a.json", "--model", "{missing}", "--out", "{tmp}/fit"],
        ["fit-multiview", "a.json", "b.json", "--model", "{missing}", "--out", "{tmp}/mv"],
        ["eval", "{missing}", "--data", "synthetic-keypoints-v1"],
    ],
    ids=lambda argv: argv[0],
)
def test_a_missing_model_file_is_reported_once_by_every_command(argv, tmp_path, capsys):
    missing = tmp_path / "missing.pt"
    argv = [a.format(missing=missing, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"hmrflow {argv[0]}: checkpoint not found: {missing}" in err
    if "--out" in argv:
        assert not Path(argv[argv.index("--out") + 1]).exists()  # nothing written


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "x.jpg", "y.jpg", "--keypoints", "a.json", "b.json", "c.json"], "2 images but 3 keypoint files"),
        (["demo", "--samples", "-1"], "--samples must be >= 0"),
        (["demo-multiview", "a.jpg", "b.jpg"], "photos need their --calibration"),
        (["demo-multiview", "--calibration", "{tmp}/bad.json"], "not a calibration file"),
    ],
    ids=["demo-keypoint-count", "demo-samples", "multiview-no-calibration", "multiview-bad-calibration"],
)
def test_demo_usage_errors_exit_2_with_the_reason(argv, message, tmp_path, capsys):
    (tmp_path / "bad.json").write_text("{\"cameras\": 3")
    out = tmp_path / "out"
    argv = [a.format(tmp=tmp_path) for a in argv] + ["--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"hmrflow {argv[0]}: " in err and message in err
    assert not out.exists()
