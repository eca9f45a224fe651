"""`hmrflow demo` into a folder that already holds results: nothing earlier is lost."""

from __future__ import annotations

import json
import shutil

import numpy as np

from hmrflow.application.inputs import read_keypoint_file, sidecar_path, write_keypoints_json
from hmrflow.cli.demo import bundled_images
from hmrflow.cli.main import main


def demo(model, out, *images, extra=()) -> int:  # noqa: ANN001
    return main(["demo", *map(str, images), "--model", str(model), "--out", str(out), "--samples", "1",
                 "--no-fit", "--no-viewer", "--detect", "never", *extra])  # fmt: skip


def test_a_rerun_with_a_photo_of_the_same_name_keeps_the_earlier_results(tiny_model_path, tmp_path, capsys):
    photo = bundled_images()[0]
    out = tmp_path / "out"
    assert demo(tiny_model_path, out, photo) == 0
    first = (out / photo.stem / "person0" / "params.json").read_bytes()
    assert demo(tiny_model_path, out, photo, extra=["--seed", "1"]) == 0
    assert (out / photo.stem / "person0" / "params.json").read_bytes() == first  # untouched
    assert (out / f"{photo.stem}_2" / "person0" / "params.json").is_file()  # the new one beside it
    manifest = json.loads((out / "demo.json").read_text())
    assert len(manifest["runs"]) == 2
    assert [(p["folder"], p["run"]) for p in manifest["photos"]] == [(photo.stem, 0), (f"{photo.stem}_2", 1)]
    index = (out / "index.html").read_text()
    assert f"{photo.stem}/person0/params.json" in index and f"{photo.stem}_2/person0/params.json" in index
    assert "run 1" in index and "run 2" in index

    broken = tmp_path / photo.name  # a third run whose photo fails: the index still lists both results
    broken.write_bytes(b"not an image")
    capsys.readouterr()
    assert demo(tiny_model_path, out, broken) == 1
    assert capsys.readouterr().err.strip().endswith(f"1 of 1 photos failed: {photo.name}")
    index = (out / "index.html").read_text()
    assert f"{photo.stem}/person0/params.json" in index and f"{photo.stem}_2/person0/params.json" in index
    assert index.count("failed:") == 1 and len(json.loads((out / "demo.json").read_text())["photos"]) == 3


def test_an_index_from_before_the_manifest_is_kept(tiny_model_path, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text("<html>an earlier run</html>")
    (out / bundled_images()[0].stem).mkdir()  # an earlier photo's folder: not reused
    assert demo(tiny_model_path, out, bundled_images()[0]) == 0
    assert (out / "index-earlier.html").read_text() == "<html>an earlier run</html>"
    assert (out / f"{bundled_images()[0].stem}_2" / "person0" / "params.json").is_file()


def test_a_damaged_manifest_stops_the_run_before_the_model_loads(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "demo.json").write_text("{not json")
    assert demo(tmp_path / "missing.pt", out, bundled_images()[0]) == 2
    err = capsys.readouterr().err
    assert f"hmrflow demo: {out / 'demo.json'}: cannot read the list of earlier results" in err
    assert (out / "demo.json").read_text() == "{not json"


def test_keypoints_far_off_the_photo_fail_that_photo_only(tiny_model_path, tmp_path, capsys):
    good = bundled_images()[0]
    bad = tmp_path / good.name.replace(good.stem, "far")
    shutil.copy(good, bad)
    found = read_keypoint_file(sidecar_path(good))
    people = [p.copy() for p in found.people]
    people[0][0, 0] = 1e12  # one keypoint at 1e12 px
    write_keypoints_json(sidecar_path(bad), bad.name, found.image_size, people, detector="test")
    assert demo(tiny_model_path, tmp_path / "out", good, bad) == 1
    captured = capsys.readouterr()
    line = [line for line in captured.out.splitlines() if line.startswith("[2/2]")][-1]
    assert "FAILED" in line and "far.keypoints.json" in line and "(1e+12, " in line and "10 image sizes" in line
    assert captured.err.strip().splitlines()[-1] == f"1 of 2 photos failed: {bad.name}"
    assert (tmp_path / "out" / good.stem / "person0" / "params.json").is_file()
    params = json.loads((tmp_path / "out" / good.stem / "person0" / "params.json").read_text())
    assert np.isfinite(params["betas"]).all()
