"""Keypoint files, their checks, and the detector's landmark mapping."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hmrflow.application.detector import BLAZEPOSE_TO_COCO17, blazepose_to_evidence
from hmrflow.application.inputs import (
    DemoInputError,
    keypoints_for_image,
    load_photo,
    read_keypoint_file,
    write_keypoints_json,
)
from hmrflow.body.keypoints import BODY_25
from hmrflow.data.keypoint_files import EVIDENCE_NAMES


def test_blazepose_landmarks_map_to_the_evidence_order():
    landmarks = np.zeros((33, 5))
    landmarks[:, 0] = np.arange(33) + 10.0  # x px = index + 10
    landmarks[:, 1] = 20.0
    landmarks[:, 3] = 0.9
    landmarks[14, 3] = 0.1  # right elbow barely visible -> missing
    landmarks[16, 0] = 5000.0  # right wrist outside the image -> missing
    out = blazepose_to_evidence(landmarks, (640, 480))
    index = {name: i for i, name in enumerate(EVIDENCE_NAMES)}
    assert out[index["nose"]].tolist() == [10.0, 20.0, 0.9]
    assert out[index["left_shoulder"], 0] == 11 + 10 and out[index["right_hip"], 0] == 24 + 10
    assert out[index["right_elbow"]].tolist() == [0.0, 0.0, 0.0]
    assert out[index["right_wrist"]].tolist() == [0.0, 0.0, 0.0]
    assert out[index["left_heel"], 0] == 29 + 10 and out[index["right_big_toe"], 0] == 32 + 10
    assert out[index["left_small_toe"], 2] == 0  # BlazePose has no small toes
    assert len(BLAZEPOSE_TO_COCO17) == 17


def test_openpose_and_coco_files_read_into_the_evidence_order(tmp_path):
    body25 = np.zeros((25, 3))
    body25[BODY_25.index("right_knee")] = (100.0, 200.0, 0.8)
    body25[BODY_25.index("left_heel")] = (50.0, 300.0, 0.7)
    openpose = tmp_path / "photo_keypoints.json"
    openpose.write_text(json.dumps({"version": 1.3, "people": [{"pose_keypoints_2d": body25.reshape(-1).tolist()}]}))
    found = read_keypoint_file(openpose)
    assert found.kind == "openpose" and len(found.people) == 1
    assert found.people[0][EVIDENCE_NAMES.index("right_knee")].tolist() == [100.0, 200.0, 0.8]
    assert found.people[0][EVIDENCE_NAMES.index("left_heel")].tolist() == [50.0, 300.0, 0.7]

    kp = np.zeros((17, 3))
    kp[0] = (30, 40, 2)
    coco = tmp_path / "coco.json"
    coco.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}],
        "annotations": [{"image_id": 2, "category_id": 1, "keypoints": kp.reshape(-1).tolist()}],
        "categories": [{"id": 1, "name": "person", "keypoints": [str(i) for i in range(17)]}],
    }))  # fmt: skip
    assert read_keypoint_file(coco, image_name="a.jpg").people == []
    assert read_keypoint_file(coco, image_name="photos/b.jpg").people[0][0].tolist() == [30.0, 40.0, 1.0]
    with pytest.raises(DemoInputError, match="no keypoints for image 'c.jpg'"):
        read_keypoint_file(coco, image_name="c.jpg")


def test_keypoints_of_another_image_are_refused(tmp_path):
    people = [np.tile([100.0, 100.0, 1.0], (23, 1))]
    path = tmp_path / "a.keypoints.json"
    write_keypoints_json(path, "a.jpg", (640, 480), people, detector="test")
    assert keypoints_for_image(path, tmp_path / "a.jpg", (640, 480)).people[0].shape == (23, 3)
    with pytest.raises(DemoInputError, match="not of 'b.jpg'"):
        keypoints_for_image(path, tmp_path / "b.jpg", (640, 480))
    with pytest.raises(DemoInputError, match="640x480 image"):
        keypoints_for_image(path, tmp_path / "a.jpg", (320, 240))
    body25 = np.zeros((25, 3))
    body25[:, :] = (2000.0, 2000.0, 0.9)  # far outside a 640x480 photo
    openpose = tmp_path / "b_keypoints.json"
    openpose.write_text(json.dumps({"people": [{"pose_keypoints_2d": body25.reshape(-1).tolist()}]}))
    with pytest.raises(DemoInputError, match="outside the 640x480 image"):
        keypoints_for_image(openpose, tmp_path / "b.jpg", (640, 480))


def test_unreadable_inputs_give_clear_errors(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(DemoInputError, match="not valid JSON"):
        read_keypoint_file(tmp_path / "x.json")
    (tmp_path / "y.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(DemoInputError, match="not a keypoint file"):
        read_keypoint_file(tmp_path / "y.json")
    (tmp_path / "z.jpg").write_bytes(b"\x89PNG broken")
    with pytest.raises(DemoInputError, match="corrupt"):
        load_photo(tmp_path / "z.jpg")
    with pytest.raises(DemoInputError, match="no such image"):
        load_photo(tmp_path / "missing.jpg")


def test_large_photos_are_scaled_down_with_their_keypoints(tmp_path):
    from PIL import Image

    Image.new("RGB", (4000, 3000), (10, 20, 30)).save(tmp_path / "big.png")
    photo = load_photo(tmp_path / "big.png", max_size=1000)
    assert photo.size == (1000, 750) and photo.original_size == (4000, 3000)
    assert photo.scale == pytest.approx(0.25)
