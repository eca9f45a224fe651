"""The demo's keypoint files follow the same value rules as `hmrflow fit` (one check for both)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hmrflow.application.inputs import keypoints_for_image, read_keypoint_file, write_keypoints_json
from hmrflow.body.keypoints import BODY_25
from hmrflow.data.keypoint_files import EVIDENCE_NAMES, KeypointFileError
from hmrflow.errors import InputError

SIZE = (640, 480)


def person(x: float = 300.0, confidence: float = 0.9) -> np.ndarray:
    """A person in the evidence order, on a 640x480 photo; the nose at ``(x, 100)``."""
    people = np.tile([320.0, 240.0, 0.8], (len(EVIDENCE_NAMES), 1))
    people[EVIDENCE_NAMES.index("nose")] = (x, 100.0, confidence)
    return people


def hmrflow_file(tmp_path, people: np.ndarray):  # noqa: ANN201 - a path
    path = tmp_path / "a.keypoints.json"
    write_keypoints_json(path, "a.jpg", SIZE, [people], detector="test")
    return path


def openpose_file(tmp_path, people: np.ndarray):  # noqa: ANN201 - a path
    body25 = np.zeros((25, 3))
    for k, name in enumerate(BODY_25):
        if name in EVIDENCE_NAMES:
            body25[k] = people[EVIDENCE_NAMES.index(name)]
    path = tmp_path / "a_keypoints.json"
    path.write_text(json.dumps({"people": [{"pose_keypoints_2d": body25.ravel().tolist()}]}))
    return path


WRITERS = {"hmrflow": hmrflow_file, "openpose": openpose_file}


@pytest.mark.parametrize("kind", WRITERS)
def test_one_point_far_off_the_photo_is_refused_with_the_file_and_value(tmp_path, kind):
    path = WRITERS[kind](tmp_path, person(x=1e12))  # 1 point in 23: the 20 % pairing check lets it through
    with pytest.raises(KeypointFileError) as info:
        keypoints_for_image(path, tmp_path / "a.jpg", SIZE)
    message = str(info.value)
    assert str(path) in message and "nose" in message and "1e+12" in message
    assert "more than 10 image sizes outside the 640x480 image" in message


@pytest.mark.parametrize("kind", WRITERS)
@pytest.mark.parametrize("confidence", [-5.0, 50.0])
def test_confidences_outside_0_1_are_refused_with_the_range_found(tmp_path, kind, confidence):
    path = WRITERS[kind](tmp_path, person(confidence=confidence))
    found = "found -5 to" if confidence < 0 else "to 50$"
    with pytest.raises(InputError, match=rf"a.*keypoints.json.*\[0, 1\].*{found}"):
        read_keypoint_file(path)


def test_nan_is_refused_on_a_confident_point_and_a_missing_point_elsewhere(tmp_path):
    path = tmp_path / "a.keypoints.json"
    people = person()
    people[0, 0] = float("nan")
    path.write_text(json.dumps({"format": "hmrflow-keypoints", "version": 1, "image": "a.jpg", "image_size": SIZE,
                                "people": [{"keypoints": people.tolist()}]}))  # fmt: skip
    with pytest.raises(InputError, match=r"people\[0\].keypoints: keypoint 0 \(nose\) has confidence 0.9 but"):
        read_keypoint_file(path)
    people[0, 2] = 0.0  # now a missing point: its coordinates do not matter
    path.write_text(json.dumps({"format": "hmrflow-keypoints", "version": 1, "image": "a.jpg", "image_size": SIZE,
                                "people": [{"keypoints": people.tolist()}]}))  # fmt: skip
    assert read_keypoint_file(path).people[0][0].tolist() == [0.0, 0.0, 0.0]
