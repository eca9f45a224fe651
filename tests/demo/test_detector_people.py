"""Several people per photo: duplicates, boxes, and real detections in the detector environment."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from hmrflow.application.detector import (
    Detection,
    MaxPeopleError,
    MediaPipeDetector,
    find_detector_python,
    landmark_box,
    read_video_frame,
    refound,
    suppress_duplicates,
)
from hmrflow.data.keypoint_files import EVIDENCE_NAMES
from hmrflow.errors import InputError
from hmrflow.geometry.boxes import box_iou
from tests.fetched import fetched

DETECTOR = find_detector_python()
needs_detector = pytest.mark.skipif(
    DETECTOR is None, reason="the detector environment is not installed (scripts/setup_detector.sh)"
)
REAL_SET = Path(str(resources.files("hmrflow") / "assets" / "real" / "real-multiview-v1.npz"))
BUNDLED = sorted(Path(str(resources.files("hmrflow") / "assets" / "demo" / "images")).glob("*.jpg"))


def person(x0: float, y0: float, width: float, height: float, seed: int) -> Detection:
    """A synthetic detection: 23 keypoints spread over the box ``x0, y0, width, height``."""
    gen = np.random.default_rng(seed)
    points = np.column_stack([x0 + width * gen.random(23), y0 + height * gen.random(23), np.ones(23)])
    box = np.array([points[:, 0].min(), points[:, 1].min(), points[:, 0].max(), points[:, 1].max()])
    return Detection(points, None, (1000, 1000), 0.0, box)


def test_box_iou_and_landmark_box():
    a, b = np.array([0.0, 0.0, 4.0, 4.0]), np.array([2.0, 0.0, 6.0, 4.0])
    assert box_iou(a[None], b[None])[0, 0] == pytest.approx(8 / 24)
    assert box_iou(a[None], a[None])[0, 0] == pytest.approx(1.0)
    assert box_iou(a[None], np.array([[5.0, 5.0, 6.0, 6.0]]))[0, 0] == 0.0
    landmarks = np.array([[-10.0, 5.0, 0, 1, 1], [50.0, 30.0, 0, 1, 1], [20.0, 90.0, 0, 1, 1]])
    assert landmark_box(landmarks, (40, 60)).tolist() == [0.0, 5.0, 40.0, 60.0]


def test_suppress_duplicates_keeps_distinct_people_and_drops_repeats():
    left, right = person(100, 100, 200, 600, 0), person(500, 100, 200, 600, 1)
    repeat = Detection(left.keypoints + 3.0, None, left.image_size, 0.0, left.box + 3.0)
    kept = suppress_duplicates([left, right, repeat])
    assert [id(d) for d in kept] == [id(left), id(right)]


def test_a_repeat_with_a_smaller_box_is_found_by_its_keypoints():
    # a partly painted person found again: only the legs, but on top of the first legs
    whole = person(100, 100, 200, 600, 2)
    legs = whole.keypoints.copy()
    legs[:11, 2] = 0.0  # face and arms missing
    visible = legs[legs[:, 2] > 0]
    box = np.array([visible[:, 0].min(), visible[:, 1].min(), visible[:, 0].max(), visible[:, 1].max()])
    box[1] = box[3] - 0.2 * (box[3] - box[1])  # a small box: IoU alone would keep it
    partial = Detection(legs + np.array([2.0, 2.0, 0.0]), None, whole.image_size, 0.0, box)
    assert box_iou(whole.box[None], partial.box[None])[0, 0] < 0.5
    assert suppress_duplicates([whole, partial]) == [whole]
    assert len(suppress_duplicates([whole, partial], max_distance=0.0)) == 2


def test_overlapping_people_are_both_kept():
    # one in front of the other: boxes overlap (IoU < 0.5) and keypoints are far apart
    back, front = person(100, 100, 300, 800, 3), person(250, 300, 300, 700, 4)
    assert 0 < box_iou(back.box[None], front.box[None])[0, 0] < 0.5
    assert len(suppress_duplicates([back, front])) == 2


def test_detections_without_a_person_are_dropped():
    nobody = Detection(None, None, (10, 10), 0.0)
    assert suppress_duplicates([nobody]) == []


@needs_detector
@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_max_people_must_be_a_positive_integer(bad):
    with MediaPipeDetector() as detector:
        with pytest.raises(MaxPeopleError, match="max_people") as caught:
            detector.detect_people(np.zeros((32, 32, 3), np.uint8), max_people=bad)
    assert isinstance(caught.value, InputError)


@needs_detector
@pytest.mark.parametrize("camera", ["cam02", "cam04"])
def test_both_people_of_a_multi_person_frame_are_found_where_the_real_set_has_them(camera):
    frame = 0
    real = np.load(REAL_SET)
    view = list(real["camera_names"]).index(camera)
    assert real["detected"][:, frame, view].all()
    expected = real["boxes"][:, frame, view].astype(np.float64)  # (2, 4): the woman, the man
    image = read_video_frame(fetched(f"pose2sim/Demo_MultiPerson/videos/{camera}.mp4"), frame)
    assert image.shape == (1920, 1088, 3)
    with MediaPipeDetector() as detector:
        people = detector.detect_people(image, max_people=4)
    assert len(people) == 2
    ious = box_iou(np.stack([p.box for p in people]), expected)
    assert (ious.max(0) > 0.5).all()  # each real person matched ...
    assert len(set(ious.argmax(1).tolist())) == 2  # ... by a different detection
    areas = [(p.box[2] - p.box[0]) * (p.box[3] - p.box[1]) for p in people]
    assert areas == sorted(areas, reverse=True)
    for found in people:
        assert found.keypoints.shape == (len(EVIDENCE_NAMES), 3) and found.landmarks.shape == (33, 5)
        assert (found.keypoints[:, 2] > 0).sum() >= 12
        assert found.image_size == (1088, 1920)
        with_depth = found.keypoints_with_depth
        assert np.array_equal(with_depth[:, :3], found.keypoints)
        assert np.array_equal(np.isfinite(with_depth[:, 3]), found.keypoints[:, 2] > 0)  # depth where found


@needs_detector
def test_one_person_in_a_bundled_photo_gives_one_and_nobody_in_a_blank_image_gives_none():
    from PIL import Image

    assert BUNDLED
    with MediaPipeDetector() as detector:
        blank = detector.detect_people(np.full((240, 320, 3), 127, np.uint8))
        for path in BUNDLED:
            pixels = np.asarray(Image.open(path).convert("RGB"))
            people = detector.detect_people(pixels)
            single = detector.detect(pixels)
            assert len(people) == 1, path.name
            # the same person as the one-person detector: its first look is the same call
            np.testing.assert_allclose(people[0].landmarks, single.landmarks)
            np.testing.assert_allclose(people[0].box, single.box)
    assert blank == []


@needs_detector
def test_a_frame_past_the_end_of_a_video_is_reported():
    from hmrflow.application.detector import DetectorError

    with pytest.raises(DetectorError, match="frame 100000"):
        read_video_frame(fetched("pose2sim/Demo_MultiPerson/videos/cam04.mp4"), 100000)


def test_a_detection_gives_its_keypoints_with_blazeposes_depth():
    from hmrflow.application.detector import BLAZEPOSE_TO_COCO17, blazepose_to_evidence

    gen = np.random.default_rng(3)
    landmarks = np.column_stack([100 + 200 * gen.random(33), 100 + 600 * gen.random(33), gen.normal(size=33) * 50,
                                 np.ones((33, 2))])  # fmt: skip
    landmarks[BLAZEPOSE_TO_COCO17[9], 3] = 0.1  # the left wrist unsure: missing, and so its depth
    keypoints = blazepose_to_evidence(landmarks, (1000, 1000))
    found = Detection(keypoints, landmarks, (1000, 1000), 0.0, landmark_box(landmarks, (1000, 1000)))
    with_depth = found.keypoints_with_depth
    assert with_depth.shape == (23, 4) and np.array_equal(with_depth[:, :3], keypoints)
    assert with_depth[5, 3] == landmarks[BLAZEPOSE_TO_COCO17[5], 2]  # the left shoulder's z
    assert np.isnan(with_depth[9, 3]) and np.isnan(with_depth[EVIDENCE_NAMES.index("left_small_toe"), 3])
    assert Detection(None, None, (10, 10), 0.0).keypoints_with_depth is None


def test_refound_needs_the_same_landmarks_within_a_fraction_of_the_box_height():
    gen = np.random.default_rng(5)
    landmarks = np.column_stack([100 + 200 * gen.random(33), 100 + 600 * gen.random(33), np.zeros(33), np.ones((33, 2))])
    found = Detection(None, landmarks, (1000, 1000), 0.0, landmark_box(landmarks, (1000, 1000)))
    height = found.box[3] - found.box[1]
    near, far = landmarks.copy(), landmarks.copy()
    near[:, :2] += 0.05 * height
    far[:, 1] += 0.4 * height  # someone else, lower down
    assert refound(found, near) and not refound(found, far) and not refound(found, None)
    assert refound(found, far, max_distance=0.5)
    unseen = near.copy()
    unseen[4:, 3] = 0.1  # fewer than 5 landmarks visible in both: not found again
    assert not refound(found, unseen)


@needs_detector
def test_the_verification_look_drops_a_ghost_and_keeps_both_real_people():
    # cam04 frame 76: the third look reads a person out of the paint over the two real ones
    camera, frame = "cam04", 76
    real = np.load(REAL_SET)
    view = list(real["camera_names"]).index(camera)
    assert real["detected"][:, frame, view].all()
    expected = real["boxes"][:, frame, view].astype(np.float64)
    image = read_video_frame(fetched(f"pose2sim/Demo_MultiPerson/videos/{camera}.mp4"), frame)
    with MediaPipeDetector() as detector:
        old = detector.detect_people(image, max_people=4, verify=False)
        new = detector.detect_people(image, max_people=4)
    def matched(people: list[Detection]) -> np.ndarray:
        return box_iou(np.stack([p.box for p in people]), expected).max(1) > 0.5
    assert len(old) == 3 and matched(old).sum() == 2  # the old rule: both people and a ghost
    assert len(new) == 2 and matched(new).all()  # the ghost is gone, both people kept
    real_old = [p for p, m in zip(old, matched(old)) if m]
    for before, after in zip(real_old, new):  # the real people are the same detections
        np.testing.assert_allclose(before.landmarks, after.landmarks)
