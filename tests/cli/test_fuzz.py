"""Bad inputs, subcommand by subcommand: the exit status, a message that names the problem,
and the good inputs of the same call finished with their outputs intact.

Exit status everywhere: 0 all done; 1 some inputs failed (the last stderr line names them);
2 a usage or configuration error, reported before anything is written. Each case is one
row of ``CASES``; the workspace (``ws``) holds one good file of every kind and the bad
variants, built once.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from hmrflow.application.inputs import read_keypoint_file, sidecar_path
from hmrflow.cli.demo import bundled_images
from hmrflow.cli.main import main
from tests.demo.conftest import tiny_model_path  # noqa: F401 - the fixture


@dataclass(frozen=True)
class Workspace:
    root: Path
    model: Path
    size: tuple[int, int]

    def __truediv__(self, name: str) -> Path:
        return self.root / name


@pytest.fixture(scope="module")
def ws(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:  # noqa: F811
    root = tmp_path_factory.mktemp("fuzz")
    photo = bundled_images()[0]
    found = read_keypoint_file(sidecar_path(photo))
    people = np.stack(found.people).astype(np.float32)  # (1, 23, 3) px + confidence
    for name in ("good", "nan", "loud", "far", "corrupt", "sixteen"):
        shutil.copy(photo, root / f"{name}.jpg")
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    np.save(root / "good.npy", people)
    bad = {"nan": (0, 0, np.nan), "loud": (0, 2, 50.0), "far": (5, 0, 1e12)}
    for name, (k, c, value) in bad.items():
        array = people.copy()
        array[0, k, c] = value
        np.save(root / f"{name}.npy", array)
    (root / "broken.json").write_text('{"people": [')
    # Checkpoints: a good one, one with NaN weights, a truncated one, random bytes.
    state = torch.load(tiny_model_path, weights_only=True)
    nan = {**state, "state_dict": {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                                   for k, v in state["state_dict"].items()}}  # fmt: skip
    torch.save(nan, root / "nan.pt")
    data = tiny_model_path.read_bytes()
    (root / "truncated.pt").write_bytes(data[: len(data) // 2])
    (root / "random.pt").write_bytes(np.random.default_rng(0).bytes(4096))
    # Configurations and body-model files.
    (root / "unknown.yaml").write_text("model:\n  widht: 3\n")
    (root / "broken.yaml").write_text("model: [\n")
    (root / "garbage.npz").write_bytes(b"PK\x03\x04 not really a zip")
    (root / "a_file").write_text("a file, not a folder")
    (root / "empty").mkdir()
    (root / "skewed.txt").write_text("1500 3 500\n0 1500 400\n0 0 1\n")
    return Workspace(root, tiny_model_path, found.image_size)


def demo(ws: Workspace, *photos: str, out: str = "out", model: str | None = None) -> list[str]:
    """``hmrflow demo`` on ``photos`` (stems in the workspace) with their .npy keypoints."""
    images = [str(ws / f"{p}.jpg") for p in photos]
    keypoints = [str(ws / f"{p if p in ('nan', 'loud', 'far') else 'good'}.npy") for p in photos]
    return ["demo", *images, "--keypoints", *keypoints, "--model", model or str(ws.model), "--out", str(ws / out),
            "--samples", "2", "--no-fit", "--no-viewer", "--device", "cpu"]  # fmt: skip


def fit(ws: Workspace, *files: str, out: str = "out", model: str | None = None) -> list[str]:
    return ["fit", *(str(ws / f) for f in files), "--model", model or str(ws.model), "--out", str(ws / out),
            "--steps", "1", "--image-size", *map(str, ws.size), "--no-render", "--device", "cpu"]  # fmt: skip


def train(ws: Workspace, *overrides: str, config: str = "keypoints", out: str = "run") -> list[str]:
    return ["train", config, "trainer.max_steps=1", f"trainer.output_dir={ws / out}", *overrides, "--no-progress"]


def demo_wrote(photo: str) -> Callable[[Workspace, Path], bool]:
    return lambda ws, out: (out / photo / "person0" / "params.json").is_file()


def fit_wrote(stem: str) -> Callable[[Workspace, Path], bool]:
    return lambda ws, out: (out / stem / "person0" / "params.json").is_file() and (
        out / stem / "person0" / "params.npz"
    ).is_file()


def nothing_written(ws: Workspace, out: Path) -> bool:
    return not out.exists() or not any(out.iterdir())


@dataclass(frozen=True)
class Case:
    id: str
    argv: Callable[[Workspace], list[str]]
    status: int
    message: str  # a fragment of the last line on stderr
    outputs: Callable[[Workspace, Path], bool] = nothing_written
    out: str = "out"


CASES = [
    # demo: photos and keypoint files fail alone; checkpoints, folders, devices stop the run.
    Case("demo-image-corrupt", lambda ws: demo(ws, "corrupt", "good"), 1, "1 of 2 photos failed: corrupt.jpg",
         demo_wrote("good")),
    Case("demo-keypoints-nan", lambda ws: demo(ws, "nan", "good"), 1, "1 of 2 photos failed: nan.jpg",
         demo_wrote("good")),
    Case("demo-keypoints-confidence", lambda ws: demo(ws, "good", "loud"), 1, "1 of 2 photos failed: loud.jpg",
         demo_wrote("good")),
    Case("demo-keypoints-far", lambda ws: demo(ws, "far", "good"), 1, "1 of 2 photos failed: far.jpg",
         demo_wrote("good")),
    Case("demo-checkpoint-nan", lambda ws: demo(ws, "good", model=str(ws / "nan.pt")), 2, "is not finite"),
    Case("demo-checkpoint-truncated", lambda ws: demo(ws, "good", model=str(ws / "truncated.pt")), 2,
         "truncated.pt"),
    Case("demo-out-is-a-file", lambda ws: demo(ws, "good", out="a_file"), 2, "--out", out="a_file",
         outputs=lambda ws, out: out.read_text() == "a file, not a folder"),
    Case("demo-device-missing", lambda ws: [*demo(ws, "good"), "--device", "cuda:99"], 2, "--device cuda:99: "),
    Case("demo-intrinsics-three-numbers", lambda ws: [*demo(ws, "good"), "--intrinsics", "1,2,3"], 2,
         "--intrinsics 1,2,3: '1,2,3': give one focal length, or fx,fy,cx,cy"),
    Case("demo-intrinsics-negative", lambda ws: [*demo(ws, "good"), "--intrinsics", "-1500"], 2,
         "focal lengths > 0"),
    Case("demo-intrinsics-missing-file", lambda ws: [*demo(ws, "good"), "--intrinsics", str(ws / "K.json")], 2,
         "neither a number, nor fx,fy,cx,cy, nor an intrinsics file"),
    Case("demo-intrinsics-skewed-file", lambda ws: [*demo(ws, "good"), "--intrinsics", str(ws / "skewed.txt")], 2,
         "no skew"),
    Case("demo-focal-length-text", lambda ws: [*demo(ws, "good"), "--focal-length", "wide"], 2,
         "--focal-length must be a positive number of pixels, not 'wide'"),
    Case("demo-max-people-zero", lambda ws: [*demo(ws, "good"), "--max-people", "0"], 2, "--max-people must be >= 1"),
    Case("demo-folder-empty", lambda ws: ["demo", str(ws / "empty"), "--model", str(ws.model), "--out",
                                          str(ws / "out"), "--device", "cpu"], 2, "no image file in this folder"),
    # fit: one keypoint file at a time fails; the others are fitted and written.
    Case("fit-keypoints-json-broken", lambda ws: fit(ws, "broken.json", "good.npy"), 1,
         "1 of 2 inputs failed: broken.json", fit_wrote("good")),
    Case("fit-keypoints-confidence", lambda ws: fit(ws, "good.npy", "loud.npy"), 1,
         "1 of 2 inputs failed: loud.npy", fit_wrote("good")),
    Case("fit-keypoints-missing", lambda ws: fit(ws, "good.npy", "missing.npy"), 1,
         "1 of 2 inputs failed: missing.npy", fit_wrote("good")),
    Case("fit-intrinsics-nan", lambda ws: [*fit(ws, "good.npy"), "--intrinsics", "nan,1500,10,10"], 2,
         "finite values"),
    Case("fit-focal-length-zero", lambda ws: [*fit(ws, "good.npy"), "--focal-length", "0"], 2,
         "--focal-length must be a positive number of pixels, not 0.0"),
    Case("fit-folder-empty", lambda ws: fit(ws, "empty"), 2, "no keypoint file (.json, .npy) in this folder"),
    Case("fit-checkpoint-random", lambda ws: fit(ws, "good.npy", model=str(ws / "random.pt")), 2, "random.pt"),
    Case("fit-out-under-a-file", lambda ws: fit(ws, "good.npy", out="a_file/sub"), 2, "cannot write there",
         out="a_file/sub"),
    # eval
    Case("eval-checkpoint-random", lambda ws: ["eval", str(ws / "random.pt"), "--data", "synthetic-keypoints-v1",
                                               "--size", "8", "--out", str(ws / "out")], 2, "random.pt"),
    Case("eval-checkpoint-nan", lambda ws: ["eval", str(ws / "nan.pt"), "--data", "synthetic-keypoints-v1",
                                            "--size", "8", "--out", str(ws / "out")], 2, "is not finite"),
    Case("eval-data-unknown", lambda ws: ["eval", str(ws.model), "--data", "no-such-set", "--out", str(ws / "out")],
         2, "no-such-set"),
    Case("eval-out-is-a-file", lambda ws: ["eval", str(ws.model), "--data", "synthetic-keypoints-v1", "--out",
                                           str(ws / "a_file")], 2, "is a file, not a folder", out="a_file",
         outputs=lambda ws, out: out.read_text() == "a file, not a folder"),
    # train: every configuration problem before anything is written
    Case("train-config-batch-negative", lambda ws: train(ws, "data.batch_size=-4"), 2, "data.batch_size", out="run"),
    Case("train-config-batch-zero", lambda ws: train(ws, "data.batch_size=0"), 2, "data.batch_size", out="run"),
    Case("train-config-lr-negative", lambda ws: train(ws, "optim.lr=-1e-3"), 2, "optim.lr", out="run"),
    Case("train-config-width-zero", lambda ws: train(ws, "model.flow.hidden_features=0"), 2,
         "model.flow.hidden_features", out="run"),
    Case("train-config-unknown-key", lambda ws: train(ws, config=str(ws / "unknown.yaml")), 2, "widht", out="run"),
    Case("train-config-broken-yaml", lambda ws: train(ws, config=str(ws / "broken.yaml")), 2, "not valid YAML",
         out="run"),
    Case("train-body-missing", lambda ws: train(ws, f"model.body_model={ws / 'missing.npz'}"), 2, "missing.npz",
         out="run"),
    Case("train-body-garbage", lambda ws: train(ws, f"model.body_model={ws / 'garbage.npz'}"), 2, "garbage.npz",
         out="run"),
    Case("train-out-under-a-file", lambda ws: train(ws, out="a_file/run"), 2, "trainer.output_dir",
         out="a_file/run"),
    Case("train-resume-missing", lambda ws: [*train(ws), "--resume", str(ws / "missing.ckpt")], 2, "missing.ckpt",
         out="run"),
    # convert-prohmr, data, render
    Case("convert-checkpoint-random", lambda ws: ["convert-prohmr", str(ws / "random.pt"), str(ws / "out" / "m.pt")],
         2, "not a PyTorch checkpoint"),
    Case("data-stats-body-garbage", lambda ws: ["data", "stats", f"model.body_model={ws / 'garbage.npz'}",
                                                "--size", "8"], 2, "garbage.npz"),
    Case("data-sheet-out-under-a-file", lambda ws: ["data", "sheet", str(ws / "a_file" / "sheet.png")], 2,
         "is a file, not a folder", out="a_file/sheet.png"),
    Case("render-body-garbage", lambda ws: ["render", "sheet", str(ws / "out" / "s.png"), "--body",
                                            str(ws / "garbage.npz"), "--count", "1"], 2, "garbage.npz",
         outputs=lambda ws, out: not (out / "s.png").exists()),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("out", "run"):
        shutil.rmtree(ws / name, ignore_errors=True)
    status = main(case.argv(ws))
    err = capsys.readouterr().err.strip().splitlines()
    assert status == case.status, err
    assert err and case.message in err[-1], err
    assert "Traceback" not in "\n".join(err)
    if status == 2:
        assert err[-1].startswith(f"hmrflow {case.argv(ws)[0]}"), err[-1]
    assert case.outputs(ws, ws / case.out)


def test_the_table_covers_every_kind_of_input_and_every_subcommand() -> None:
    kinds = {c.id.split("-")[1] for c in CASES}
    assert {"image", "keypoints", "checkpoint", "config", "body", "out"} <= kinds
    commands = {c.id.split("-")[0] for c in CASES}
    assert {"demo", "fit", "eval", "train", "convert", "data", "render"} <= commands


def test_the_sixteen_bit_photo_is_read_not_refused(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    photo = np.asarray(Image.open(ws / "good.jpg").convert("L")).astype(np.uint16) * 257
    Image.fromarray(photo).save(ws / "sixteen.png")
    shutil.rmtree(ws / "out", ignore_errors=True)
    argv = demo(ws, "good")
    argv[1] = str(ws / "sixteen.png")
    assert main(argv) == 0, capsys.readouterr().err
    assert (ws / "out" / "sixteen" / "person0" / "params.json").is_file()
    params = json.loads((ws / "out" / "sixteen" / "person0" / "params.json").read_text())
    assert params  # a person was found and written
