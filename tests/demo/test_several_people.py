"""Several people per photo: the ghost filter, folders of photos, known intrinsics, and the
demo on a pose2sim Demo_MultiPerson frame (detector environment and fetched data)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from hmrflow.application.calibration import IntrinsicsError, parse_intrinsics
from hmrflow.application.detector import find_detector_python
from hmrflow.application.inputs import (
    DemoInputError,
    drop_ghosts,
    image_files,
    inside_union,
    read_keypoint_file,
    sidecar_path,
)
from hmrflow.cli.demo import bundled_images
from hmrflow.cli.main import main
from tests.demo.conftest import tiny_model_path  # noqa: F401 - the fixture
from tests.fetched import fetched


def test_inside_union_counts_overlaps_once():
    box = np.array([0.0, 0.0, 10.0, 10.0])
    assert inside_union(box, []) == 0.0
    assert inside_union(box, [box]) == pytest.approx(1.0)
    halves = [np.array([0.0, 0.0, 5.0, 10.0]), np.array([3.0, 0.0, 8.0, 10.0])]  # overlapping: 80 %, not 100 %
    assert inside_union(box, halves) == pytest.approx(0.8)
    assert inside_union(box, [np.array([20.0, 20.0, 30.0, 30.0])]) == 0.0


def test_a_ghost_is_dropped_and_a_hidden_real_person_is_kept():
    front, back = np.array([100.0, 100, 400, 900]), np.array([350.0, 50, 700, 850])
    ghost = np.array([200.0, 300, 450, 800])  # mostly over the two people
    sure, unsure = np.full((23, 3), 0.95), np.full((23, 3), 0.6)
    boxes = np.stack([front, back, ghost])
    assert drop_ghosts(boxes, np.stack([sure, sure, unsure])).tolist() == [True, True, False]
    assert drop_ghosts(boxes, np.stack([sure, sure, sure])).tolist() == [True, True, True]  # confident: a person
    far = np.array([900.0, 100, 1100, 700])  # unsure but alone: kept
    assert drop_ghosts(np.stack([front, far]), np.stack([sure, unsure])).tolist() == [True, True]
    unseen = unsure.copy()
    unseen[:, 2] = 0.0  # no confident keypoint at all
    assert drop_ghosts(np.stack([front, ghost]), np.stack([sure, unseen])).tolist() == [True, False]


def test_image_files_of_a_folder_are_sorted_and_an_empty_folder_is_an_error(tmp_path):
    for name in ("b.JPG", "a.png", "c.txt", "notes.keypoints.json"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.jpg").write_bytes(b"x")
    assert [p.name for p in image_files(tmp_path)] == ["a.png", "b.JPG"]
    with pytest.raises(DemoInputError, match="no image file in this folder"):
        image_files(_empty(tmp_path))


def _empty(root: Path) -> Path:
    folder = root / "empty"
    folder.mkdir()
    return folder


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1500", (1500.0, 1500.0, None, None)), ("1400,1410,500.5,960", (1400.0, 1410.0, 500.5, 960.0)),
     (" 1400, 1410 ,500,960 ", (1400.0, 1410.0, 500.0, 960.0))],
)  # fmt: skip
def test_intrinsics_from_numbers(text, expected):
    found = parse_intrinsics(text)
    assert (found.fx, found.fy, found.cx, found.cy) == expected


def test_intrinsics_from_files_and_the_camera_they_make(tmp_path):
    K = [[1400.0, 0.0, 500.0], [0.0, 1410.0, 900.0], [0.0, 0.0, 1.0]]
    (tmp_path / "K.json").write_text(json.dumps({"K": K}))
    (tmp_path / "K.txt").write_text("\n".join(" ".join(map(str, row)) for row in K))
    for name in ("K.json", "K.txt"):
        camera = parse_intrinsics(str(tmp_path / name)).camera(torch.tensor([[1088.0, 1920.0]] * 3))
        assert camera.focal_length.tolist() == [[1400.0, 1410.0]] * 3
        assert camera.principal_point.tolist() == [[500.0, 900.0]] * 3
    centred = parse_intrinsics("1500").camera(torch.tensor([640.0, 480.0]))
    assert centred.principal_point.tolist() == [320.0, 240.0]


@pytest.mark.parametrize("text", ["1,2", "1,2,3,4,5", "0", "-3", "inf", "nan,1,1,1", "wide"])
def test_bad_intrinsics_are_refused(text):
    with pytest.raises(IntrinsicsError):
        parse_intrinsics(text)


def test_bad_intrinsics_files_are_refused(tmp_path):
    (tmp_path / "skew.txt").write_text("1500 2 500\n0 1500 400\n0 0 1\n")
    (tmp_path / "two.txt").write_text("1500 0\n0 1500\n")
    (tmp_path / "noK.json").write_text('{"k": 1}')
    for name, message in (("skew.txt", "no skew"), ("two.txt", "3x3"), ("noK.json", '"K"')):
        with pytest.raises(IntrinsicsError, match=message):
            parse_intrinsics(str(tmp_path / name))


def test_the_demo_takes_a_folder_of_photos(tmp_path, tiny_model_path, capsys):  # noqa: F811
    folder = tmp_path / "photos"
    folder.mkdir()
    for photo in bundled_images()[:2]:
        shutil.copy(photo, folder / photo.name)
        shutil.copy(sidecar_path(photo), folder / sidecar_path(photo).name)
    argv = ["demo", str(folder), "--model", str(tiny_model_path), "--out", str(tmp_path / "out"), "--samples", "1",
            "--steps", "1", "--no-viewer", "--device", "cpu", "--intrinsics", "1400,1400,500,900"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("1 person found") == 2
    names = sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir())
    assert names == sorted(p.stem for p in bundled_images()[:2])
    params = json.loads((tmp_path / "out" / names[0] / "person0" / "params.json").read_text())
    assert params["camera"]["principal_point"] == [500.0, 900.0] and "labels_mirrored" in params
    assert "1 person found" in (tmp_path / "out" / "index.html").read_text()


REAL_FRAME = "pose2sim/Demo_MultiPerson/videos/cam04.mp4"


@pytest.mark.skipif(find_detector_python() is None, reason="the detector environment is not installed")
def test_the_demo_finds_and_fits_both_people_of_a_multi_person_frame(tmp_path, capsys):
    from PIL import Image

    from hmrflow.application.detector import read_video_frame

    Image.fromarray(read_video_frame(fetched(REAL_FRAME), 0)).save(tmp_path / "frame.png")
    argv = ["demo", str(tmp_path / "frame.png"), "--out", str(tmp_path / "out"), "--samples", "2", "--no-viewer",
            "--device", "cpu"]  # fmt: skip
    assert main(argv) == 0
    assert "2 people found" in capsys.readouterr().out
    folder = tmp_path / "out" / "frame"
    kept = read_keypoint_file(folder / "keypoints.json")
    assert len(kept.people) == 2
    for i in range(2):
        params = json.loads((folder / f"person{i}" / "params.json").read_text())
        assert params["final"] == "fit" and params["reprojection_error_px"]["final"] < 15.0
    centres = [np.median(p[p[:, 2] > 0, 0]) for p in kept.people]
    assert abs(centres[0] - centres[1]) > 100  # two different people, not one found twice
