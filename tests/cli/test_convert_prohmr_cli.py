"""``hmrflow convert-prohmr``: bad inputs end in one line on stderr and status 2; ProHMR's layout converts.

The good checkpoint has exactly the layout ProHMR's original code writes (from
``tests/models/data/fork_checkpoint_keys.json``, see ``tests/models/fork_checkpoint.py``).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from torch import Tensor

import hmrflow.models.prohmr_convert as prohmr_convert
from hmrflow.cli.main import main
from tests.models.fork_checkpoint import fork_state, write_fork_checkpoint

UNKNOWN_KEY = "flow.flow._transform._transforms.3.extra_scale"


@pytest.fixture(scope="module")
def state() -> dict[str, Tensor]:
    return fork_state(seed=2)


@pytest.fixture(scope="module")
def checkpoint(state, tmp_path_factory) -> Path:
    return write_fork_checkpoint(tmp_path_factory.mktemp("fork") / "checkpoint.pt", state)


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The one line the command printed on stderr (and nothing on stdout)."""
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert captured.out == ""
    assert lines[0].startswith("hmrflow convert-prohmr: ")
    assert "weights_only" not in lines[0]
    return lines[0]


def test_missing_checkpoint(tmp_path, capsys):
    missing = tmp_path / "missing.pt"
    assert main(["convert-prohmr", str(missing), str(tmp_path / "out.pt")]) == 2
    assert _error_line(capsys) == f"hmrflow convert-prohmr: {missing}: checkpoint not found"
    assert not (tmp_path / "out.pt").exists()


def test_random_bytes_are_not_a_checkpoint(tmp_path, capsys):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(bytes([0x42]) + random.Random(0).randbytes(4095))
    assert main(["convert-prohmr", str(junk), str(tmp_path / "out.pt")]) == 2
    line = _error_line(capsys)
    assert f"{junk}: not a PyTorch checkpoint" in line


def test_damaged_checkpoint(tmp_path, capsys):
    cut = tmp_path / "cut.pt"
    torch.save({"state_dict": {"backbone.conv1.weight": torch.zeros(64, 3, 7, 7)}}, cut)
    cut.write_bytes(cut.read_bytes()[:300])
    assert main(["convert-prohmr", str(cut), str(tmp_path / "out.pt")]) == 2
    assert f"{cut}: not a readable PyTorch checkpoint" in _error_line(capsys)


def test_unknown_key_is_named(state, tmp_path, capsys):
    bad = write_fork_checkpoint(tmp_path / "unknown.pt", state | {UNKNOWN_KEY: torch.zeros(3)})
    assert main(["convert-prohmr", str(bad), str(tmp_path / "out.pt")]) == 2
    line = _error_line(capsys)
    assert f"{bad}: unexpected key '{UNKNOWN_KEY}'" in line
    assert not (tmp_path / "out.pt").exists()


@pytest.mark.parametrize("where", ["folder", "under_a_file"])
def test_unwritable_output_fails_before_reading(checkpoint, tmp_path, capsys, monkeypatch, where):
    def not_reached(*args, **kwargs):
        raise AssertionError("the checkpoint was read before the output was checked")

    monkeypatch.setattr(prohmr_convert, "read_prohmr_checkpoint", not_reached)
    (tmp_path / "a_file").write_text("x")
    out = tmp_path if where == "folder" else tmp_path / "a_file" / "out.pt"
    assert main(["convert-prohmr", str(checkpoint), str(out)]) == 2
    line = _error_line(capsys)
    expected = f"OUT {out}: is a folder" if where == "folder" else f"OUT {out.parent}: is a file"
    assert expected in line


def test_fork_layout_converts(checkpoint, tmp_path, capsys):
    out = tmp_path / "models" / "prohmr.pt"
    assert main(["convert-prohmr", str(checkpoint), str(out)]) == 0
    captured = capsys.readouterr()
    assert "ResNet-50 encoder" in captured.out and "left out 16" in captured.out
    assert "hmrflow convert-prohmr:" not in captured.err
    assert out.is_file()
