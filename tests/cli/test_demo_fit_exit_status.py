"""Exit status and one-line errors of demo, demo-multiview, fit and fit-multiview.

0 all done; 1 some inputs failed (the last line on stderr names them; the others are
written); 2 a usage error, reported before any model loads (a missing model would be
reported otherwise, so each usage case below also names a missing model).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hmrflow.application.inputs import read_keypoint_file, sidecar_path
from hmrflow.cli.demo import bundled_images
from hmrflow.cli.main import main
from tests.demo.conftest import tiny_model_path  # noqa: F401 - the fixture

COMMANDS = {
    "demo": ["demo"],
    "demo-multiview": ["demo-multiview"],
    "fit": ["fit", "{tmp}/a.json"],
    "fit-multiview": ["fit-multiview", "{tmp}/a.json", "{tmp}/b.json"],
}


def run(argv: list[str], tmp_path, out) -> int:  # noqa: ANN001
    argv = [a.format(tmp=tmp_path) for a in argv]
    return main([*argv, "--model", str(tmp_path / "missing.pt"), "--out", str(out)])


@pytest.mark.parametrize("command", COMMANDS)
def test_an_out_that_is_a_file_is_refused_before_the_model_loads(command, tmp_path, capsys):
    out = tmp_path / "taken"
    out.write_text("a file")
    assert run(COMMANDS[command], tmp_path, out) == 2
    assert capsys.readouterr().err.strip() == f"hmrflow {command}: --out {out}: is a file, not a folder"


@pytest.mark.parametrize("command", COMMANDS)
def test_an_out_under_a_file_is_refused_before_the_model_loads(command, tmp_path, capsys):
    (tmp_path / "file").write_text("a file")
    out = tmp_path / "file" / "sub"
    assert run(COMMANDS[command], tmp_path, out) == 2
    assert capsys.readouterr().err.strip() == f"hmrflow {command}: --out {out}: cannot write there (Not a directory)"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("command", COMMANDS)
def test_cuda_without_cuda_is_refused_before_the_model_loads(command, tmp_path, capsys):
    out = tmp_path / "out"
    assert run([*COMMANDS[command], "--device", "cuda"], tmp_path, out) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"hmrflow {command}: --device cuda: CUDA is not available (")
    assert err.endswith("); use --device cpu or auto") and "\n" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--device", "gpu"], "--device gpu: not a device (use auto, cpu, cuda, cuda:N or mps)"),
        (["demo", "--steps", "0"], "--steps must be >= 1"),
        (["demo", "--focal-length", "-3"], "--focal-length must be a positive number of pixels, not -3.0"),
        (["demo-multiview", "--steps", "0"], "--steps must be >= 1"),
        (["demo-multiview", "a.jpg", "--calibration", "c.json"], "one instant needs at least two views, got 1"),
        (["fit"], "give keypoint files (or --evaluate); see `hmrflow fit --help`"),
        (["fit", "a.json", "--steps", "0"], "--steps must be >= 1"),
        (["fit", "a.json", "--focal-length", "0"], "--focal-length must be a positive number of pixels, not 0.0"),
        (["fit-multiview", "a.json", "b.json", "--calibration", "{tmp}/cams.json"],
         "--calibration {tmp}/cams.json: expected a list of 2 cameras (one per view file)"),
    ],
    ids=["device", "fit-steps", "focal-length", "mv-steps", "mv-one-view", "fit-no-files", "fit-steps",
         "fit-focal", "fit-mv-calibration"],
)  # fmt: skip
def test_usage_errors_exit_2_before_the_model_loads(argv, message, tmp_path, capsys):
    (tmp_path / "cams.json").write_text(json.dumps([{"R": np.eye(3).tolist(), "t": [0, 0, 0], "f": 1, "c": [0, 0]}]))
    out = tmp_path / "out"
    assert run(argv, tmp_path, out) == 2
    assert capsys.readouterr().err.strip() == f"hmrflow {argv[0]}: {message.format(tmp=tmp_path)}"
    assert not out.exists()


def test_a_bad_camera_in_the_fit_calibration_is_named(tmp_path, capsys):
    cameras = [{"R": np.eye(3).tolist(), "t": [0, 0, 0], "f": 1000, "c": [0, 0]}, {"R": [1, 2], "t": [0, 0, 0]}]
    (tmp_path / "cams.json").write_text(json.dumps(cameras))
    argv = ["fit-multiview", "a.json", "b.json", "--calibration", str(tmp_path / "cams.json")]
    assert run(argv, tmp_path, tmp_path / "out") == 2
    assert "camera 1 needs R (3x3), t (3), f (a number or [fx, fy]) and c (2)" in capsys.readouterr().err


def bundled_people() -> tuple[np.ndarray, tuple[int, int]]:
    """The bundled photo's detected person ``(1, 23, 3)`` and the photo's size."""
    found = read_keypoint_file(sidecar_path(bundled_images()[0]))
    return np.stack(found.people), found.image_size


def fit(model, out, *files, command: str = "fit") -> int:  # noqa: ANN001
    people, size = bundled_people()
    return main([command, *map(str, files), "--model", str(model), "--out", str(out), "--steps", "1",
                 "--image-size", str(size[0]), str(size[1]), "--device", "cpu",
                 *(["--no-render"] if command == "fit" else [])])  # fmt: skip


def test_fit_names_failed_files_exits_1_writes_the_good_ones(tiny_model_path, tmp_path, capsys, caplog):  # noqa: F811
    people, _ = bundled_people()
    good, far, loud = tmp_path / "good.npy", tmp_path / "far.npy", tmp_path / "loud.npy"
    np.save(good, people)
    wild = people.copy()
    wild[0, 5, :2] = 1e12  # a confident left shoulder at 1e12 px
    np.save(far, wild)
    shouting = people.copy()
    shouting[0, 0, 2] = 50.0
    np.save(loud, shouting)
    out = tmp_path / "out"
    assert fit(tiny_model_path, out, far, good, loud) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == "2 of 3 inputs failed: far.npy, loud.npy"
    text = caplog.text  # each input's error, logged as it fails
    assert f"{far}: person 0, keypoint 5 (left_shoulder) lies at (1e+12, " in text and "10 image sizes" in text
    assert f"{loud}: keypoint confidences must lie in [0, 1] (0: missing), found " in text and " to 50" in text
    assert (out / "good" / "person0" / "params.json").is_file() and not (out / "far").exists()


def test_fit_multiview_leaves_out_a_bad_view_and_exits_1(tiny_model_path, tmp_path, capsys):  # noqa: F811
    people, _ = bundled_people()
    files = []
    for name in ("a", "b"):
        np.save(tmp_path / f"{name}.npy", people)
        files.append(tmp_path / f"{name}.npy")
    (tmp_path / "bad.json").write_text("{not json")
    out = tmp_path / "out"
    assert fit(tiny_model_path, out, *files, tmp_path / "bad.json", command="fit-multiview") == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == "1 of 3 views failed: bad.json"
    assert json.loads((out / "params.json").read_text())["views"] == ["a.npy", "b.npy"]
