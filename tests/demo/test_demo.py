"""The photo demo end to end on the bundled example (tiny model, precomputed keypoints)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from hmrflow.application.inputs import sidecar_path
from hmrflow.cli.demo import bundled_images
from hmrflow.cli.main import main
from hmrflow.render.context import egl_available

RENDER, WHY = egl_available()
PERSON_FILES = ("mesh.obj", "mesh.ply", "mesh.glb", "samples.glb", "params.json", "params.npz", "viewer.html")
PICTURES = ("overlay.jpg", "samples.png")


@pytest.fixture(scope="module")
def demo_run(tiny_model_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    args = ["demo", "--model", str(tiny_model_path), "--out", str(out), "--samples", "3", "--steps", "2",
            "--detect", "never"]  # fmt: skip
    assert main(args) == 0
    return out


def test_the_bundled_example_gives_every_output(demo_run):
    images = bundled_images()
    assert len(images) == 3
    index = (demo_run / "index.html").read_text()
    for image in images:
        folder = demo_run / image.stem
        assert (folder / "keypoints.json").is_file()
        for name in PERSON_FILES + (PICTURES if RENDER else ()):
            path = folder / "person0" / name
            assert path.is_file() and path.stat().st_size > 0, path
            assert f"{image.stem}/person0/{name}" in index or name in PICTURES
        if RENDER:
            assert (folder / "overlay.jpg").is_file()


@pytest.mark.skipif(not RENDER, reason=f"no EGL OpenGL context: {WHY}")
def test_pictures_show_the_body_where_the_person_is(demo_run):
    from PIL import Image

    image = bundled_images()[0]
    overlay = np.asarray(Image.open(demo_run / image.stem / "overlay.jpg")).astype(np.float32)
    photo = np.asarray(Image.open(image)).astype(np.float32)
    width = photo.shape[1]
    assert overlay.shape[1] == 2 * width + 6
    drawn = np.abs(overlay[:, width + 6 :] - photo).max(-1) > 40  # where the body covers the photo
    params = json.loads((demo_run / image.stem / "person0" / "params.json").read_text())
    x, y = np.array(params["keypoints"]["projected"]).T
    assert drawn.mean() > 0.01
    ys, xs = np.nonzero(drawn)
    # the drawn body lies around the projected keypoints of the same body
    assert x.min() - 60 < xs.mean() < x.max() + 60 and y.min() - 60 < ys.mean() < y.max() + 60
    figure = np.asarray(Image.open(demo_run / image.stem / "person0" / "samples.png").convert("RGB"))
    assert figure.std() > 10


def _read_obj(path: Path) -> np.ndarray:
    return np.array(
        [[float(v) for v in line.split()[1:4]] for line in path.read_text().splitlines() if line.startswith("v ")]
    )


def test_the_json_parameters_reproduce_the_saved_mesh(demo_run):
    from hmrflow.body import BodyModel
    from hmrflow.geometry import rotvec_to_rotmat

    folder = demo_run / bundled_images()[1].stem / "person0"
    params = json.loads((folder / "params.json").read_text())
    body = BodyModel.from_name(params["body_model"])
    final = params[params["final"]]
    assert params["final"] == "fit"
    rotmats = torch.tensor(final["rotmats"])
    betas, translation = torch.tensor(params["betas"]), torch.tensor(params["transl"])
    vertices = body(rotmats, betas, translation).vertices
    saved = _read_obj(folder / "mesh.obj") * [1, -1, -1]  # the mesh files are Y up
    assert saved.shape == tuple(vertices.shape)
    assert np.abs(vertices.numpy() - saved).max() < 1e-4
    from_axis_angle = body(rotvec_to_rotmat(torch.tensor(final["axis_angle"])), betas, translation).vertices
    assert np.abs(from_axis_angle.numpy() - saved).max() < 1e-4
    smpl_names = torch.cat([torch.tensor(params["global_orient"]), torch.tensor(params["body_pose"])])
    assert np.abs(body(rotvec_to_rotmat(smpl_names), betas, translation).vertices.numpy() - saved).max() < 1e-4
    arrays = np.load(folder / "params.npz")
    assert np.abs(arrays["vertices"] - saved).max() < 1e-5
    assert arrays["samples_rotmats"].shape == (3, 24, 3, 3) and len(params["samples"]) == 3
    # samples are less likely than the mode (additive flow: log p = const - |z|^2 / 2)
    assert all(s["log_prob"] < params["mode"]["log_prob"] for s in params["samples"])
    assert np.allclose(arrays["samples_log_prob"], [s["log_prob"] for s in params["samples"]], atol=1e-3)


def test_the_glb_holds_the_mesh_upright(demo_run):
    import trimesh

    folder = demo_run / bundled_images()[0].stem / "person0"
    scene = trimesh.load(folder / "mesh.glb")
    saved = _read_obj(folder / "mesh.obj")
    vertices = np.asarray(scene.to_geometry().vertices)
    assert np.allclose(vertices, saved, atol=1e-5)  # the same Y-up vertices
    arrays = np.load(folder / "params.npz")
    assert np.allclose(arrays["vertices"] * [1, -1, -1], saved, atol=1e-5)  # params: camera frame
    assert (saved[:, 1].max() - saved[:, 1].min()) > 1.0  # a standing body, tall along Y
    assert len(trimesh.load(folder / "samples.glb").geometry) == 1 + 1 + 3  # mode, fit, samples


def test_bad_inputs_fail_alone(tiny_model_path, tmp_path, capsys):
    good = bundled_images()[:2]
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg" * 20)
    empty = tmp_path / "empty.jpg"
    from PIL import Image

    Image.new("RGB", (320, 240), (128, 128, 128)).save(empty)
    nobody = tmp_path / "nobody.keypoints.json"
    nobody.write_text(json.dumps({"format": "hmrflow-keypoints", "version": 1, "image": "empty.jpg",
                                  "image_size": [320, 240], "people": []}))  # fmt: skip
    other = tmp_path / good[1].name
    shutil.copy(good[1], other)
    images = [good[0], corrupt, empty, other]
    keypoints = [
        sidecar_path(good[0]),
        sidecar_path(good[0]),
        nobody,
        sidecar_path(good[0]),
    ]  # the last: another image's
    out = tmp_path / "out"
    args = ["demo", *map(str, images), "--keypoints", *map(str, keypoints), "--model", str(tiny_model_path),
            "--out", str(out), "--samples", "2", "--no-fit", "--no-viewer"]  # fmt: skip
    assert main(args) == 1  # some photos failed: status 1, and the good one's outputs are written
    captured = capsys.readouterr()
    text = captured.out
    assert captured.err.strip().splitlines()[-1] == (
        f"3 of 4 photos failed: corrupt.jpg, empty.jpg, {other.name}"
    )
    lines = {line.split(":")[0].split("] ")[-1]: line for line in text.splitlines() if line.startswith("[")}
    assert "FAILED" not in lines[good[0].name]
    assert "not an image or is corrupt" in lines["corrupt.jpg"]
    assert "no person" in lines["empty.jpg"]
    assert "FAILED" in lines[other.name] and "another image" in lines[other.name]
    assert (out / good[0].stem / "person0" / "params.json").is_file()
    index = (out / "index.html").read_text()
    assert index.count("failed:") == 3
    assert "2 of 4" not in text and "1 of 4 photo(s) ok" in text


def test_everything_failing_is_an_error(tiny_model_path, tmp_path, capsys):
    corrupt = tmp_path / "bad.png"
    corrupt.write_bytes(b"nope")
    assert main(["demo", str(corrupt), "--model", str(tiny_model_path), "--out", str(tmp_path / "o")]) == 1
    captured = capsys.readouterr()
    assert "0 of 1 photo(s) ok" in captured.out
    assert "1 of 1 photos failed: bad.png" in captured.err


def test_a_photo_without_keypoints_says_how_to_get_them(tiny_model_path, tmp_path, capsys):
    photo = tmp_path / "photo.jpg"
    shutil.copy(bundled_images()[0], photo)
    assert (
        main(["demo", str(photo), "--model", str(tiny_model_path), "--out", str(tmp_path / "o"), "--detect", "never"])
        == 1
    )
    assert "--keypoints" in capsys.readouterr().out
