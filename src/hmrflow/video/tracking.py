r"""People tracked across frames from per-frame detections (boxes and keypoints).

Online association, frame by frame. Every live track predicts where its person is now:
its last box and keypoints moved by the track's velocity (the median of the box centre's
motion per frame over its last three steps between detections, so that one stray box --
a detector's slip on pose2sim Demo_MultiPerson cam01 frame 4 split a track -- does not
throw the prediction) times the frames since it was last seen. Each
(track, detection) pair gets a cost

``cost = (1 - IoU(predicted box, box)) + d``,  ``d = mean_k |predicted x_k - x_k| / s``

over the keypoints confident in both (``s`` the square root of the predicted box's area;
``d = 1`` when none is shared). A pair may match when ``IoU >= min_iou`` or
``d <= max_keypoint_distance``; matches are taken greedily by increasing cost (each
track and each detection at most once). An unmatched detection starts a new track; a
track not matched for more than ``max_missed`` frames in a row ends. Tracks with fewer
than ``min_length`` detections are dropped at the end, and the rest numbered 0, 1, ...
in order of their first frame.

The velocity keeps two people apart where they cross (their boxes overlap, but each
continues its own way); the keypoint distance tells apart people whose boxes overlap
while they stand still.

Example (one person walking right, seen in frames 0, 1 and 3):
    >>> def person(x):
    ...     return Detection.from_keypoints(np.array([[x, 100.0, 1], [x + 40, 100, 1], [x + 20, 200, 1]]))
    >>> frames = [[person(100)], [person(110)], [], [person(130)]]
    >>> [(t.id, t.frames.tolist()) for t in track_people(frames, TrackingConfig(min_length=2))]
    [(0, [0, 1, 3])]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from hmrflow.config import bounded, check_bounds
from hmrflow.errors import InputError
from hmrflow.geometry.boxes import box_iou

__all__ = ["Detection", "Track", "TrackingConfig", "track_people"]

#: A track's velocity is the median of its last steps' (between consecutive detections).
VELOCITY_STEPS = 3


@dataclass(frozen=True)
class Detection:
    r"""One person found in one frame.

    Attributes:
        box: ``(4,)`` x0, y0, x1, y1 px.
        keypoints: ``(K, 3)`` px and confidence (0 = missing).
        score: The detector's confidence in the person (kept, not used for matching).
    """

    box: np.ndarray
    keypoints: np.ndarray
    score: float = 1.0

    def __post_init__(self) -> None:
        box, keypoints = np.asarray(self.box, dtype=np.float64), np.asarray(self.keypoints, dtype=np.float64)
        if box.shape != (4,) or not np.isfinite(box).all() or box[2] < box[0] or box[3] < box[1]:
            raise InputError(f"a detection's box must be finite x0, y0, x1, y1 with x0 <= x1, y0 <= y1; got {box}")
        if keypoints.ndim != 2 or keypoints.shape[1] != 3:
            raise InputError(f"a detection's keypoints must be (K, 3), got {keypoints.shape}")
        object.__setattr__(self, "box", box)
        object.__setattr__(self, "keypoints", keypoints)

    @classmethod
    def from_keypoints(cls, keypoints: np.ndarray, score: float = 1.0) -> Detection:
        r"""A detection whose box is the extent of its confident keypoints ``(K, 3)``."""
        keypoints = np.asarray(keypoints, dtype=np.float64)
        confident = keypoints[:, 2] > 0 if keypoints.ndim == 2 and keypoints.shape[-1] == 3 else None
        if confident is None or not confident.any():
            raise InputError("a detection made from keypoints needs (K, 3) keypoints with one confident point at least")
        xy = keypoints[confident, :2]
        return cls(np.concatenate([xy.min(0), xy.max(0)]), keypoints, score)


@dataclass(frozen=True)
class TrackingConfig:
    r"""Settings of :func:`track_people` (the module docstring says how they are used).

    Attributes:
        min_iou: A pair may match when its boxes overlap at least this much...
        max_keypoint_distance: ... or its keypoints lie this close (fraction of the box size).
        max_missed: Frames in a row a track may go unseen before it ends.
        min_length: Detections a track needs to be kept.
    """

    min_iou: float = bounded(0.3, 0, 1)
    max_keypoint_distance: float = bounded(0.25, minimum=0)
    max_missed: int = bounded(15, minimum=0)
    min_length: int = bounded(5, minimum=1)

    def __post_init__(self) -> None:
        check_bounds(self)


@dataclass(frozen=True)
class Track:
    r"""One person over the frames they were detected in (n detections, increasing frames).

    Attributes:
        id: 0, 1, ... in order of the first frame.
        frames: ``(n,)`` the frame indices.
        detections: ``(n,)`` the index of the detection in its frame's list.
        boxes: ``(n, 4)`` px; keypoints: ``(n, K, 3)`` px and confidence.
    """

    id: int
    frames: np.ndarray
    detections: np.ndarray
    boxes: np.ndarray
    keypoints: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def first(self) -> int:
        """The first frame."""
        return int(self.frames[0])

    @property
    def last(self) -> int:
        """The last frame."""
        return int(self.frames[-1])

    def dense_keypoints(self, count: int | None = None) -> np.ndarray:
        r"""``(T, K, 3)`` the keypoints of frames ``first .. last`` (``count``: of frames
        ``0 .. count - 1``), zeros where the person was not detected -- the input of
        :func:`~hmrflow.fitting.temporal.fit_sequence`."""
        start = 0 if count is not None else self.first
        length = count if count is not None else self.last - self.first + 1
        inside = (self.frames >= start) & (self.frames < start + length)
        out = np.zeros((length, *self.keypoints.shape[1:]), dtype=self.keypoints.dtype)
        out[self.frames[inside] - start] = self.keypoints[inside]
        return out


@dataclass
class _Live:
    """A track being built."""

    frames: list[int] = field(default_factory=list)
    detections: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    keypoints: list[np.ndarray] = field(default_factory=list)

    def shift(self, frame: int) -> np.ndarray:
        r"""``(2,)`` px: the predicted motion of the box centre since the last detection (the
        median of the last ``VELOCITY_STEPS`` steps' velocities: one stray box does not throw it)."""
        if len(self.frames) < 2:
            return np.zeros(2)
        centres = np.stack([(box[:2] + box[2:]) / 2 for box in self.boxes[-VELOCITY_STEPS - 1 :]])
        gaps = np.diff(np.asarray(self.frames[-VELOCITY_STEPS - 1 :], dtype=np.float64))
        velocity = np.median(np.diff(centres, axis=0) / gaps[:, None], axis=0)
        return velocity * (frame - self.frames[-1])

    def predict(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        r"""The box ``(4,)`` and keypoints ``(K, 3)`` expected at ``frame``."""
        shift = self.shift(frame)
        keypoints = self.keypoints[-1].copy()
        keypoints[:, :2] += shift
        return self.boxes[-1] + np.tile(shift, 2), keypoints


def _keypoint_distance(predicted: np.ndarray, box: np.ndarray, keypoints: np.ndarray) -> float:
    r"""Mean distance of the keypoints confident in both ``(K, 3)``, over the predicted box's size; 1 if none."""
    if predicted.shape != keypoints.shape:
        raise InputError(f"detections with {predicted.shape[0]} and {keypoints.shape[0]} keypoints: "
                         "every detection needs the same keypoints")  # fmt: skip
    shared = (predicted[:, 2] > 0) & (keypoints[:, 2] > 0)
    if not shared.any():
        return 1.0
    size = max(float(np.sqrt(np.prod(np.clip(box[2:] - box[:2], 0, None)))), 1.0)
    return float(np.linalg.norm(predicted[shared, :2] - keypoints[shared, :2], axis=-1).mean() / size)


def _match(live: list[_Live], found: Sequence[Detection], frame: int, config: TrackingConfig) -> list[tuple[int, int]]:
    """Greedy (track, detection) pairs by increasing cost, gated (module docstring)."""
    if not live or not found:
        return []
    predictions = [track.predict(frame) for track in live]
    iou = box_iou(np.stack([p[0] for p in predictions]), np.stack([d.box for d in found]))
    pairs = []
    for i, (box, keypoints) in enumerate(predictions):
        for j, detection in enumerate(found):
            distance = _keypoint_distance(keypoints, box, detection.keypoints)
            if iou[i, j] >= config.min_iou or distance <= config.max_keypoint_distance:
                pairs.append((1 - iou[i, j] + distance, i, j))
    used_tracks, used_detections, out = set(), set(), []
    for _, i, j in sorted(pairs):
        if i not in used_tracks and j not in used_detections:
            used_tracks.add(i)
            used_detections.add(j)
            out.append((i, j))
    return out


def track_people(frames: Sequence[Sequence[Detection]], config: TrackingConfig | None = None) -> list[Track]:
    r"""Link the detections of consecutive frames into tracks (module docstring).

    Arguments:
        frames: For every frame in order, the people detected there (possibly none).
        config: :class:`TrackingConfig`.

    Returns:
        The tracks with at least ``min_length`` detections, ids 0, 1, ... by first frame.

    Raises:
        InputError: Detections with different numbers of keypoints.
    """
    config = config or TrackingConfig()
    live: list[_Live] = []
    done: list[_Live] = []
    for frame, found in enumerate(frames):
        matched = _match(live, found, frame, config)
        for i, j in matched:
            track, detection = live[i], found[j]
            track.frames.append(frame)
            track.detections.append(j)
            track.boxes.append(detection.box)
            track.keypoints.append(detection.keypoints)
        taken = {j for _, j in matched}
        for j, detection in enumerate(found):
            if j not in taken:
                live.append(_Live([frame], [j], [detection.box], [detection.keypoints]))
        ended = [t for t in live if frame - t.frames[-1] > config.max_missed]
        done += ended
        live = [t for t in live if frame - t.frames[-1] <= config.max_missed]
    kept = sorted((t for t in done + live if len(t.frames) >= config.min_length), key=lambda t: (t.frames[0], t.detections[0]))
    return [Track(k, np.array(t.frames), np.array(t.detections), np.stack(t.boxes), np.stack(t.keypoints))
            for k, t in enumerate(kept)]  # fmt: skip
