"""Reruns of ``hmrflow fit`` into one --out keep the earlier results, as the demo's do."""

from __future__ import annotations

import json

import numpy as np

from hmrflow.cli.main import main


def test_a_second_fit_into_the_same_folder_keeps_the_first(tmp_path, capsys):
    g = np.random.default_rng(0)
    points = np.concatenate([300 + 200 * g.random((1, 23, 2)), np.ones((1, 23, 1))], -1).astype(np.float32)
    people = tmp_path / "frame.npy"
    np.save(people, points)
    out = tmp_path / "fits"
    args = [str(people), "--image-size", "640", "480", "--steps", "1", "--no-render", "--no-mirror-check"]
    assert main(["fit", *args, "--out", str(out)]) == 0
    first = (out / "frame" / "person0" / "params.json").read_bytes()
    assert main(["fit", *args, "--out", str(out)]) == 0
    assert (out / "frame" / "person0" / "params.json").read_bytes() == first  # untouched
    assert (out / "frame_2" / "person0" / "params.json").is_file()
    manifest = json.loads((out / "demo.json").read_text())
    assert [run["command"] for run in manifest["runs"]] == ["hmrflow fit", "hmrflow fit"]
    assert sorted(entry["folder"].split("/")[0] for entry in manifest["photos"]) == ["frame", "frame_2"]
    index = (out / "index.html").read_text()
    assert "frame_2" in index and "frame/" in index
