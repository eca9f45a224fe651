from __future__ import annotations

import json

import numpy as np
import pytest

from hmrflow.body import BodyModel
from hmrflow.body.keypoints import BODY_25, COCO_17
from hmrflow.data.keypoint_files import (
    EVIDENCE_NAMES,
    FEET_6,
    KeypointFileError,
    body25_to_evidence,
    coco17_to_evidence,
    read_coco_keypoints_json,
    read_openpose_json,
)


def _write(path, data) -> str:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


def test_evidence_order_is_the_shipped_models_coco_and_feet():
    body = BodyModel.from_name("anny_lowpoly")
    assert body.keypoint_sets["feet"].names == FEET_6
    assert EVIDENCE_NAMES == body.keypoint_sets["coco"].names + body.keypoint_sets["feet"].names


def test_body25_and_coco_map_by_name():
    rng = np.random.default_rng(0)
    body25 = rng.random((2, 25, 3))
    evidence = body25_to_evidence(body25)
    assert evidence.shape == (2, 23, 3)
    for k, name in enumerate(EVIDENCE_NAMES):
        np.testing.assert_array_equal(evidence[:, k], body25[:, BODY_25.index(name)])
    coco = rng.random((17, 3))
    out = coco17_to_evidence(coco)
    np.testing.assert_array_equal(out[:17], coco)
    assert (out[17:] == 0).all()
    with_feet = coco17_to_evidence(coco, feet=body25[0, 19:])
    np.testing.assert_array_equal(with_feet[17:], body25[0, [BODY_25.index(n) for n in FEET_6]])


def test_openpose_good_file(tmp_path):
    a = np.arange(75, dtype=float).reshape(25, 3) / 75
    b = np.ones((25, 3))
    path = _write(
        tmp_path / "frame_keypoints.json",
        {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": a.ravel().tolist()},
                                    {"pose_keypoints_2d": b.ravel().tolist()}]},
    )  # fmt: skip
    people = read_openpose_json(path)
    assert len(people) == 2
    np.testing.assert_allclose(people[0], a)
    np.testing.assert_allclose(people[1], b)
    assert read_openpose_json(_write(tmp_path / "empty.json", {"people": []})) == []


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ({"frames": []}, "no 'people' list"),
        ({"people": [{"pose_keypoints_2d": [0.0] * 54}]}, "COCO-18"),
        ({"people": [{"pose_keypoints_2d": [0.0] * 74}]}, "74 values, expected 75"),
        ({"people": [{"face_keypoints_2d": []}]}, "no 'pose_keypoints_2d'"),
        ('{"people": [{"pose_keypoints_2d": [NaN, 0, 0.5' + ", 0" * 72 + "]}]}", "coordinates \\(nan, 0\\)"),
        ('{"people": [{"pose_keypoints_2d": [0, 0, 50' + ", 0" * 72 + "]}]}", r"in \[0, 1\].*found 0 to 50"),
        ({"people": [{"pose_keypoints_2d": ["a"] * 75}]}, "list of numbers"),
    ],
)
def test_openpose_bad_files_name_the_file(tmp_path, content, message):
    path = _write(tmp_path / "bad_openpose.json", content)
    with pytest.raises(KeypointFileError, match=message) as info:
        read_openpose_json(path)
    assert "bad_openpose.json" in str(info.value)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.json"):
        read_openpose_json(tmp_path / "nowhere.json")
    with pytest.raises(FileNotFoundError, match="nowhere.json"):
        read_coco_keypoints_json(tmp_path / "nowhere.json")


def _coco_file() -> dict:
    person = np.zeros((17, 3))
    person[:, 0], person[:, 1], person[:, 2] = np.arange(17) * 2.0, np.arange(17) * 3.0, 2
    person[3] = (0, 0, 0)  # left ear not labelled
    person[4, 2] = 1  # right ear labelled but occluded
    return {
        "images": [{"id": 7, "file_name": "000007.jpg"}, {"id": 9, "file_name": "000009.jpg"}],
        "categories": [{"id": 1, "name": "person", "keypoints": list(COCO_17)}],
        "annotations": [
            {"image_id": 7, "category_id": 1, "keypoints": person.ravel().tolist(), "num_keypoints": 16},
            {"image_id": 7, "category_id": 1, "keypoints": [0] * 51, "num_keypoints": 0},
            {"image_id": 9, "category_id": 1, "keypoints": (person * [1, 1, 0]).ravel().tolist()},
            {"image_id": 9, "category_id": 2, "bbox": [0, 0, 1, 1]},  # no keypoints: ignored
        ],
    }


def test_coco_good_file(tmp_path):
    data = _coco_file()
    people = read_coco_keypoints_json(_write(tmp_path / "person_keypoints.json", data))
    assert set(people) == {"000007.jpg", "000009.jpg"}
    assert len(people["000007.jpg"]) == 1 and people["000009.jpg"] == []
    kp = people["000007.jpg"][0]
    assert kp.shape == (17, 3)
    assert kp[3].tolist() == [0.0, 0.0, 0.0]
    assert kp[4, 2] == 1.0 and kp[0, 2] == 1.0  # labelled (occluded or visible) -> confidence 1
    assert kp[16].tolist() == [32.0, 48.0, 1.0]
    everyone = read_coco_keypoints_json(tmp_path / "person_keypoints.json", min_keypoints=0)
    assert len(everyone["000007.jpg"]) == 2


def test_coco_results_list(tmp_path):
    values = np.tile([10.0, 20.0, 0.5], 17)
    results = [{"image_id": 3, "category_id": 1, "keypoints": values.tolist(), "score": 0.9}]
    people = read_coco_keypoints_json(_write(tmp_path / "results.json", results))
    assert list(people) == ["3"]
    np.testing.assert_allclose(people["3"][0][:, 2], 0.5)


def test_coco_bad_files_name_the_file(tmp_path):
    data = _coco_file()
    data["annotations"][0]["keypoints"] = data["annotations"][0]["keypoints"][:-3]
    with pytest.raises(KeypointFileError, match=r"bad_coco\.json.*annotations\[0\].*48 values, expected 51"):
        read_coco_keypoints_json(_write(tmp_path / "bad_coco.json", data))
    data = _coco_file()
    data["annotations"][0]["image_id"] = 8
    with pytest.raises(KeypointFileError, match="unknown image_id 8"):
        read_coco_keypoints_json(_write(tmp_path / "bad_coco.json", data))
    data = _coco_file()
    data["annotations"][0]["keypoints"][0] = float("nan")  # a labelled point
    with pytest.raises(KeypointFileError, match="nan"):
        read_coco_keypoints_json(_write(tmp_path / "bad_coco.json", json.dumps(data)))
    with pytest.raises(KeypointFileError, match="no 'annotations'"):
        read_coco_keypoints_json(_write(tmp_path / "bad_coco.json", {"images": []}))
