"""The same value rules for every keypoint format: confidences, NaN, points far off the image."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hmrflow.body.keypoints import BODY_25, COCO_17
from hmrflow.data.keypoint_files import (
    EVIDENCE_NAMES,
    KeypointFileError,
    check_keypoints,
    read_coco_keypoints_json,
    read_keypoint_array,
    read_openpose_json,
)
from hmrflow.errors import InputError


def _body25(x: float = 100.0, confidence: float = 0.9) -> np.ndarray:
    people = np.zeros((1, 25, 3))
    people[0, :, :2], people[0, :, 2] = 50.0, 0.8
    people[0, 0] = (x, 60.0, confidence)  # the nose
    return people


def _write(tmp_path, kind: str, people: np.ndarray):  # noqa: ANN202 - a path
    """``people (P, 25, 3)`` as an OpenPose file, a COCO results file or a .npy file."""
    if kind == "npy":
        path = tmp_path / "people.npy"
        np.save(path, people)
        return path
    if kind == "openpose":
        path = tmp_path / "people_keypoints.json"
        path.write_text(json.dumps({"people": [{"pose_keypoints_2d": p.ravel().tolist()} for p in people]}))
        return path
    coco = people[:, [BODY_25.index(n) for n in COCO_17]]
    path = tmp_path / "results.json"
    path.write_text(json.dumps([{"image_id": 1, "keypoints": p.ravel().tolist()} for p in coco]))
    return path


def _read(kind: str, path) -> np.ndarray:  # noqa: ANN001
    if kind == "npy":
        return read_keypoint_array(path)
    if kind == "openpose":
        return np.stack(read_openpose_json(path))
    return np.stack(read_coco_keypoints_json(path)["1"])


FORMATS = ("openpose", "coco", "npy")


@pytest.mark.parametrize("kind", FORMATS)
def test_nan_on_a_confident_keypoint_is_refused_in_every_format(tmp_path, kind):
    path = _write(tmp_path, kind, _body25(x=float("nan")))
    with pytest.raises(KeypointFileError, match=r"keypoint 0 \(nose\) has confidence 0.9 but coordinates \(nan, 60\)"):
        _read(kind, path)
    with pytest.raises(KeypointFileError, match=path.name):
        _read(kind, path)


@pytest.mark.parametrize("kind", FORMATS)
def test_nan_on_a_missing_keypoint_is_a_missing_keypoint_in_every_format(tmp_path, kind):
    people = _read(kind, _write(tmp_path, kind, _body25(x=float("nan"), confidence=0.0)))
    nose = people[0, 0] if kind != "npy" else people[0, EVIDENCE_NAMES.index("nose")]
    assert nose.tolist() == [0.0, 0.0, 0.0]
    assert np.isfinite(people).all()


@pytest.mark.parametrize("kind", FORMATS)
@pytest.mark.parametrize("confidence", [-5.0, 50.0])
def test_confidences_outside_0_1_are_refused_in_every_format(tmp_path, kind, confidence):
    path = _write(tmp_path, kind, _body25(confidence=confidence))
    low, high = min(confidence, 0.8), max(confidence, 0.8)  # the other points have 0.8
    with pytest.raises(KeypointFileError, match=rf"{path.name}: .*\[0, 1\].*found {low:g} to {high:g}"):
        _read(kind, path)


def test_coco_annotation_flags_must_be_0_1_or_2(tmp_path):
    keypoints = np.zeros((17, 3))
    keypoints[:, 2] = 2
    keypoints[3, 2] = 7
    data = {
        "images": [{"id": 1, "file_name": "a.jpg"}],
        "annotations": [{"image_id": 1, "keypoints": keypoints.ravel().tolist()}],
    }
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(data))
    with pytest.raises(KeypointFileError, match=r"coco.json: annotations\[0\].keypoints: visibility flags .*\[7.0\]"):
        read_coco_keypoints_json(path)


def test_points_far_outside_the_image_are_refused_with_the_value():
    people = _body25(x=1e12)
    assert check_keypoints(people, "f.json").shape == people.shape  # no image size: no range to check
    with pytest.raises(KeypointFileError, match=r"f.json: person 0, keypoint 0 \(nose\) lies at \(1e\+12, 60\) px"):
        check_keypoints(people, "f.json", (640, 480))
    near = _body25(x=-6000.0)  # 9.4 image sizes to the left: a wild detection, still allowed
    check_keypoints(near, "f.json", (640, 480))
    missing = _body25(x=1e12, confidence=0.0)
    assert check_keypoints(missing, "f.json", (640, 480))[0, 0].tolist() == [0.0, 0.0, 0.0]


def test_npy_files_of_other_shapes_or_objects_are_refused(tmp_path):
    np.save(tmp_path / "shape.npy", np.zeros((2, 18, 3)))
    with pytest.raises(KeypointFileError, match=r"shape.npy: expected \(P, 25\|17\|23, 3\)"):
        read_keypoint_array(tmp_path / "shape.npy")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(KeypointFileError, match="objects.npy: not a NumPy array"):
        read_keypoint_array(tmp_path / "objects.npy")
    (tmp_path / "text.npy").write_text("hello")
    with pytest.raises(InputError, match="text.npy"):
        read_keypoint_array(tmp_path / "text.npy")
    with pytest.raises(FileNotFoundError, match="nowhere.npy"):
        read_keypoint_array(tmp_path / "nowhere.npy")
