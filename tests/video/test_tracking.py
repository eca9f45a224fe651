"""Tracking people across frames from synthetic detections."""

from __future__ import annotations

import numpy as np
import pytest

from hmrflow.errors import InputError
from hmrflow.geometry.boxes import box_iou
from hmrflow.video.tracking import Detection, TrackingConfig, track_people

#: A stick figure: head, shoulders, hips, feet (x, y offsets from the box corner), 7 points.
FIGURE = np.array([[30, 0], [10, 30], [50, 30], [15, 90], [45, 90], [15, 160], [45, 160]], dtype=float)


def person(x: float, y: float = 100.0, arms: float = 0.0) -> Detection:
    """A detection with its top-left corner at (x, y); ``arms`` moves the shoulders apart."""
    points = FIGURE + [x, y]
    points[1, 0] -= arms
    points[2, 0] += arms
    return Detection.from_keypoints(np.concatenate([points, np.ones((len(points), 1))], -1))


def positions(track) -> np.ndarray:
    return track.boxes[:, 0]


def test_crossing_people_keep_their_tracks() -> None:
    frames = []
    for t in range(20):
        a, b = person(5 + 16 * t), person(300 - 16 * t, y=110)
        frames.append([a, b] if t % 2 else [b, a])  # the detector's order carries no identity
    tracks = track_people(frames, TrackingConfig(min_length=3))
    assert len(tracks) == 2
    for track in tracks:
        assert track.frames.tolist() == list(range(20))
        steps = np.diff(positions(track))
        assert (steps > 0).all() or (steps < 0).all()  # each keeps going its own way through the crossing
    rightwards = [t for t in tracks if positions(t)[-1] > positions(t)[0]]
    assert len(rightwards) == 1 and rightwards[0].boxes[0, 1] == 100  # the one that started on the left


def test_standing_people_told_apart_by_keypoints() -> None:
    # Two people whose boxes overlap most of the time, in different poses: IoU alone is ambiguous.
    frames = [[person(100 + (t % 2), arms=0.0), person(108, arms=25.0)][:: 1 if t % 3 else -1] for t in range(8)]
    tracks = track_people(frames, TrackingConfig(min_length=3))
    assert len(tracks) == 2
    spreads = [np.ptp(t.keypoints[:, 1:3, 0], axis=1) for t in tracks]  # shoulder width per frame
    assert all(np.ptp(s) < 1e-9 for s in spreads)  # no track switches between the two poses


def test_missed_frame_is_bridged_and_new_person_starts_a_track() -> None:
    frames = [[person(100 + 5 * t)] for t in range(12)]
    frames[5] = []  # the detector missed her
    for t in range(7, 12):
        frames[t].append(person(600 + 3 * t))  # somebody new walks in
    tracks = track_people(frames, TrackingConfig(min_length=3, max_missed=2))
    assert [(t.id, t.first, t.last, len(t)) for t in tracks] == [(0, 0, 11, 11), (1, 7, 11, 5)]
    dense = tracks[0].dense_keypoints()
    assert dense.shape == (12, 7, 3) and (dense[5] == 0).all() and (dense[6] == tracks[0].keypoints[5]).all()
    assert tracks[1].dense_keypoints(12)[:7].sum() == 0 and tracks[1].detections.tolist() == [1] * 5


def test_long_gap_ends_a_track_and_short_tracks_are_dropped() -> None:
    frames = [[person(100)] if t < 5 or t >= 10 else [] for t in range(15)]
    frames[2].append(person(900))  # a one-frame false detection
    tracks = track_people(frames, TrackingConfig(min_length=3, max_missed=3))
    assert [(t.first, t.last) for t in tracks] == [(0, 4), (10, 14)]
    tracks = track_people(frames, TrackingConfig(min_length=1, max_missed=6))
    assert [(t.first, t.last) for t in tracks] == [(0, 14), (2, 2)]


def test_bad_detections_are_input_errors() -> None:
    with pytest.raises(InputError, match="box"):
        Detection(np.array([10.0, 0, 5, 5]), np.zeros((7, 3)))
    with pytest.raises(InputError, match="confident"):
        Detection.from_keypoints(np.zeros((7, 3)))
    odd = Detection.from_keypoints(np.ones((5, 3)))
    with pytest.raises(InputError, match="same keypoints"):
        track_people([[person(0)], [odd]])


def test_box_iou() -> None:
    boxes = np.array([[0.0, 0, 10, 10], [5, 0, 15, 10]])
    iou = box_iou(boxes, boxes)
    assert np.allclose(np.diag(iou), 1) and iou[0, 1] == pytest.approx(50 / 150)


def test_one_stray_box_does_not_split_a_track() -> None:
    # a person standing still; in frame 4 the detector's box slips 15 px right (still overlapping)
    frames = [[person(115.0 if t == 4 else 100.0)] for t in range(10)]
    tracks = track_people(frames, TrackingConfig(min_length=3))
    assert [t.frames.tolist() for t in tracks] == [list(range(10))]
