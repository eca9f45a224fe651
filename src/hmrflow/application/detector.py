r"""The optional 2D keypoint detector: mediapipe's BlazePose in a separate process.

mediapipe 0.10.21 (the last release whose legacy ``mp.solutions.pose`` ships its model
and so runs offline) needs numpy < 2 and protobuf < 5; hmrflow works with numpy 2. The
detector therefore lives in its own virtual environment, ``.venv-detector`` at the
repository root (``scripts/setup_detector.sh`` makes it), and :class:`MediaPipeDetector`
runs :mod:`hmrflow.application.detect_worker` there as a subprocess that answers JSON lines.
Images travel as temporary ``.npy`` files (an ``(H, W, 3)`` uint8 array), so both sides
decode nothing twice and agree on EXIF orientation (hmrflow decodes the photo).

The detector's Python is, in order: the ``python`` argument, the environment variable
``HMRFLOW_DETECTOR_PYTHON``, ``$HMRFLOW_DETECTOR_VENV/bin/python``, then
``.venv-detector/bin/python`` at the repository root and in the working directory.

BlazePose gives 33 landmarks for one person. The evidence order (COCO-17 + 6 foot points,
:data:`hmrflow.data.keypoint_files.EVIDENCE_NAMES`) takes COCO-17 from the BlazePose
indices :data:`BLAZEPOSE_TO_COCO17`, the heels from landmarks 29/30 and the big toes from
the foot-index tips 31/32 (the second toe, next to the big toe); small toes are missing.
Confidence is BlazePose's visibility; points under ``min_visibility`` or outside the image
get confidence 0.

Several people (:meth:`MediaPipeDetector.detect_people`): BlazePose finds one person per
call, so the worker looks, paints the person found over (a grey skeleton of thick limbs,
torso and head) and looks again until nobody is found or ``max_people + 1`` looks were
made (the spare look makes up for a duplicate). The paint can itself look like a person
(a "ghost" between two people): by default each person after the first is verified by
one more look (:func:`refound`; the worker's ``verify_person``) at the painted image with
that person's own pixels restored from the original; a ghost loses the paint it was made
of and is not found again. On pose2sim Demo_MultiPerson (100 frame-views,
``benchmarks/bench_people_filter.py``) this drops 4 of 10 ghosts and 1 of 173 real
people (6 of 10 ghosts with the pipeline's :func:`~hmrflow.application.inputs.drop_ghosts`
after it, against 3 of 10 without verification) for 40 % more time per image. Duplicates -- the same person found twice
when the paint missed part of them -- are dropped (:func:`suppress_duplicates`: landmark
boxes overlapping with IoU > 0.5, or keypoints on top of each other), and the people are
sorted by the area of their landmark box, largest first. Chosen over running BlazePose's
person detector on its own through mediapipe's Tasks API (a ``.task`` bundle assembled
from the wheel's two models finds several boxes in one pass but, on pose2sim
Demo_MultiPerson, missed the second of two overlapping people in 4 of 16 frame-views and
added ghosts when combined with masking) and it gives the same keypoints as
:meth:`~MediaPipeDetector.detect` for each person; it costs one BlazePose run per look.

Example:
    >>> landmarks = np.zeros((33, 5)); landmarks[0] = (10.0, 20.0, 0.0, 0.9, 0.9)
    >>> blazepose_to_evidence(landmarks, (64, 64))[0].tolist()
    [10.0, 20.0, 0.9]
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hmrflow.data.keypoint_files import EVIDENCE_NAMES
from hmrflow.errors import InputError
from hmrflow.geometry.boxes import box_iou

__all__ = [
    "BLAZEPOSE_TO_COCO17",
    "BLAZEPOSE_TO_FEET",
    "DETECTOR_NAME",
    "blazepose_depth",
    "Detection",
    "DetectorError",
    "DetectorUnavailable",
    "MediaPipeDetector",
    "MaxPeopleError",
    "LazyDetector",
    "blazepose_to_evidence",
    "find_detector_python",
    "landmark_box",
    "read_video_frame",
    "refound",
    "suppress_duplicates",
]

log = logging.getLogger(__name__)

#: BlazePose landmark index of each COCO-17 keypoint, in COCO order.
BLAZEPOSE_TO_COCO17: tuple[int, ...] = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
#: BlazePose landmark of each foot point (left big toe, small toe, heel, right ...); -1: none.
BLAZEPOSE_TO_FEET: tuple[int, ...] = (31, -1, 29, 32, -1, 30)
#: How the detector is named in keypoint files and reports.
DETECTOR_NAME = (
    "mediapipe 0.10.21 BlazePose (legacy solutions.pose, model_complexity=1; several people: look, mask, look again)"
)
#: Landmark boxes of two detections overlapping more than this: the same person.
DUPLICATE_IOU = 0.5
#: Two detections whose shared keypoints lie, in median, closer than this fraction of the
#: first one's box height: the same person (a partly painted person found again).
DUPLICATE_DISTANCE = 0.1
#: A person found after painting is kept when its verification look finds it again with the
#: landmarks both have (visibility > 0.3, at least 5) within this fraction of its box height,
#: in median (:func:`refound`).
VERIFY_DISTANCE = 0.25

SETUP_HINT = "install it with `bash scripts/setup_detector.sh` (a separate .venv-detector with mediapipe 0.10.21)"


class DetectorError(RuntimeError):
    """The detector failed on an image or as a process."""


class DetectorUnavailable(DetectorError):
    """No detector environment was found; the message says how to install one."""


class MaxPeopleError(InputError):
    """``max_people`` is not a positive integer."""


@dataclass(frozen=True)
class Detection:
    r"""One person's detection in an image.

    Attributes:
        keypoints: ``(K, 3)`` evidence order (K = 23), px and confidence; None: no person.
        landmarks: ``(33, 5)`` BlazePose ``x px, y px, z, visibility, presence``; or None.
        image_size: ``(W, H)`` px.
        seconds: The detector's time on the image (all looks, for :meth:`~MediaPipeDetector.detect_people`).
        box: ``(4,)`` ``x0, y0, x1, y1`` px around the 33 landmarks, clipped to the image
            (:func:`landmark_box`); None: no person.
    """

    keypoints: np.ndarray | None
    landmarks: np.ndarray | None
    image_size: tuple[int, int]
    seconds: float
    box: np.ndarray | None = None

    @property
    def keypoints_with_depth(self) -> np.ndarray | None:
        r"""``(K, 4)``: :attr:`keypoints` with BlazePose's relative depth px as a fourth column
        (:func:`blazepose_depth`; NaN: none), the evidence keypoint models with depth read;
        None: no person."""
        if self.keypoints is None or self.landmarks is None:
            return None
        return np.concatenate([self.keypoints, blazepose_depth(self.landmarks, self.keypoints)[:, None]], 1)


def blazepose_to_evidence(
    landmarks: np.ndarray, image_size: tuple[int, int], min_visibility: float = 0.3
) -> np.ndarray:
    r"""BlazePose landmarks ``(33, >=4)`` (px, z, visibility, ...) -> evidence ``(23, 3)``.

    Points with visibility under ``min_visibility`` or outside the ``(W, H)`` image get
    confidence 0 and coordinates 0.
    """
    landmarks = np.asarray(landmarks, dtype=np.float64)
    index = np.array(BLAZEPOSE_TO_COCO17 + BLAZEPOSE_TO_FEET)
    out = np.zeros((len(EVIDENCE_NAMES), 3))
    present = index >= 0
    picked = landmarks[index[present]]
    out[present] = picked[:, [0, 1, 3]]
    width, height = image_size
    x, y, c = out[:, 0], out[:, 1], out[:, 2]
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    keep = present & inside & (c >= min_visibility) & np.isfinite(out).all(1)
    out[~keep] = 0.0
    return out


def blazepose_depth(landmarks: np.ndarray, evidence: np.ndarray) -> np.ndarray:
    r"""BlazePose landmarks ``(..., 33, >=3)`` (x px, y px, z, ...) -> ``(..., 23)`` each evidence
    keypoint's relative depth, px: BlazePose's ``z`` (0 at the hips' midpoint, positive away
    from the camera, in x's unit), NaN where ``evidence`` ``(..., 23, 3)`` (:func:`blazepose_to_evidence`
    of the same landmarks) has the point missing, BlazePose has no such point or its ``z``
    is not finite (rows of NaN: nobody).

    Example:
        >>> landmarks = np.zeros((33, 5)); landmarks[:, 2] = np.arange(33)
        >>> evidence = np.ones((23, 3)); evidence[1, 2] = 0
        >>> blazepose_depth(landmarks, evidence)[[0, 1, 5, 18]].tolist()
        [0.0, nan, 11.0, nan]
    """
    index = np.array(BLAZEPOSE_TO_COCO17 + BLAZEPOSE_TO_FEET)
    depth = np.asarray(landmarks, dtype=np.float64)[..., np.maximum(index, 0), 2]
    keep = (index >= 0) & (np.asarray(evidence)[..., 2] > 0) & np.isfinite(depth)
    return np.where(keep, depth, np.nan)


def landmark_box(landmarks: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    r"""The box ``(4,)`` ``x0, y0, x1, y1`` px around landmarks ``(N, >=2)`` px, clipped to
    the ``(W, H)`` image.

    Example:
        >>> landmark_box(np.array([[-5.0, 10.0], [30.0, 20.0]]), (25, 40)).tolist()
        [0.0, 10.0, 25.0, 20.0]
    """
    xy = np.asarray(landmarks, dtype=np.float64)[:, :2]
    size = np.asarray(image_size, dtype=np.float64)
    return np.concatenate([np.clip(xy.min(0), 0, size), np.clip(xy.max(0), 0, size)])


def _same_person(kept: Detection, other: Detection, max_iou: float, max_distance: float) -> bool:
    assert kept.box is not None and other.box is not None
    assert kept.keypoints is not None and other.keypoints is not None
    if box_iou(kept.box[None], other.box[None])[0, 0] > max_iou:
        return True
    both = (kept.keypoints[:, 2] > 0) & (other.keypoints[:, 2] > 0)
    if both.sum() < 3:
        return False
    distance = np.linalg.norm(kept.keypoints[both, :2] - other.keypoints[both, :2], axis=-1)
    return bool(np.median(distance) < max_distance * max(kept.box[3] - kept.box[1], 1.0))


def suppress_duplicates(
    detections: list[Detection], max_iou: float = DUPLICATE_IOU, max_distance: float = DUPLICATE_DISTANCE
) -> list[Detection]:
    r"""``detections`` (people, in the order found) without those that repeat an earlier one.

    A detection repeats an earlier one when their boxes overlap with IoU > ``max_iou``, or
    when the keypoints both have (at least 3) lie, in median, within ``max_distance`` times
    the earlier box's height. Detections without a person are dropped.

    Example:
        >>> a = Detection(np.ones((23, 3)), None, (9, 9), 0.0, np.array([0.0, 0, 4, 8]))
        >>> b = Detection(np.ones((23, 3)) * 2, None, (9, 9), 0.0, np.array([1.0, 0, 5, 8]))
        >>> len(suppress_duplicates([a, b]))
        1
    """
    kept: list[Detection] = []
    for detection in detections:
        if detection.keypoints is None or detection.box is None:
            continue
        if not any(_same_person(k, detection, max_iou, max_distance) for k in kept):
            kept.append(detection)
    return kept


def refound(detection: Detection, check: np.ndarray | None, max_distance: float = VERIFY_DISTANCE) -> bool:
    r"""Whether a verification look ``check`` ``(33, 5)`` (full-image px; None: nobody found)
    finds the person of ``detection`` again.

    True when at least 5 landmarks are visible (> 0.3) in both and their median distance is
    under ``max_distance`` times the detection's box height.

    Example:
        >>> landmarks = np.column_stack([np.zeros(33), np.linspace(0, 100, 33), np.zeros(33), np.ones((33, 2))])
        >>> found = Detection(None, landmarks, (200, 200), 0.0, landmark_box(landmarks, (200, 200)))
        >>> refound(found, landmarks + [3, 0, 0, 0, 0]), refound(found, landmarks + [40, 0, 0, 0, 0]), refound(found, None)
        (True, False, False)
    """
    if check is None or detection.landmarks is None or detection.box is None:
        return False
    check, landmarks = np.asarray(check, dtype=np.float64), detection.landmarks
    both = (check[:, 3] > 0.3) & (landmarks[:, 3] > 0.3)
    if both.sum() < 5:
        return False
    distance = np.linalg.norm(check[both, :2] - landmarks[both, :2], axis=-1)
    return bool(np.median(distance) < max_distance * max(detection.box[3] - detection.box[1], 1.0))


def _box_area(detection: Detection) -> float:
    assert detection.box is not None
    return float((detection.box[2] - detection.box[0]) * (detection.box[3] - detection.box[1]))


def _candidates(python: str | os.PathLike[str] | None) -> list[Path]:
    if python is not None:
        return [Path(python)]
    found = []
    if os.environ.get("HMRFLOW_DETECTOR_PYTHON"):
        found.append(Path(os.environ["HMRFLOW_DETECTOR_PYTHON"]))
    if os.environ.get("HMRFLOW_DETECTOR_VENV"):
        found.append(Path(os.environ["HMRFLOW_DETECTOR_VENV"]) / "bin" / "python")
    repo = Path(__file__).resolve().parents[3]  # src/hmrflow/application/detector.py -> repository
    found += [repo / ".venv-detector" / "bin" / "python", Path.cwd() / ".venv-detector" / "bin" / "python"]
    return found


def find_detector_python(python: str | os.PathLike[str] | None = None) -> Path | None:
    """The detector environment's Python (see the module docstring), or None."""
    for candidate in _candidates(python):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


_READ_FRAME = r"""
import sys, cv2, numpy
capture = cv2.VideoCapture(sys.argv[1])
for _ in range(int(sys.argv[2])):
    if not capture.grab():
        sys.exit("the video has fewer frames than asked for")
ok, frame = capture.read()
if not ok:
    sys.exit("the video could not be read, or has fewer frames than asked for")
numpy.save(sys.argv[3], cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
"""


def read_video_frame(
    video: str | os.PathLike[str], index: int, python: str | os.PathLike[str] | None = None
) -> np.ndarray:
    r"""Frame ``index`` (0 = the first) of ``video`` as ``(H, W, 3)`` uint8 RGB, decoded by
    the detector environment's OpenCV (a dependency of mediapipe; hmrflow itself reads no
    video).

    Raises:
        DetectorUnavailable: No detector environment.
        DetectorError: The video could not be read up to that frame.
    """
    executable = find_detector_python(python)
    if executable is None:
        raise DetectorUnavailable(f"reading a video needs the detector environment; {SETUP_HINT}")
    with tempfile.TemporaryDirectory(prefix="hmrflow-frame-") as folder:
        out = Path(folder) / "frame.npy"
        done = subprocess.run(
            [str(executable), "-I", "-c", _READ_FRAME, str(video), str(int(index)), str(out)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or not out.is_file():
            tail = " ".join(done.stderr.strip().splitlines()[-2:])
            raise DetectorError(f"frame {index} of {video} could not be read ({tail or 'no message'})")
        return np.load(out)


class MediaPipeDetector:
    r"""BlazePose in a worker process; use as a context manager, or call :meth:`close`.

    Arguments:
        python: The detector environment's Python (default: :func:`find_detector_python`).
        min_visibility: Landmarks less visible than this are missing.
        timeout: Seconds to wait for the worker to start.

    Raises:
        DetectorUnavailable: No detector environment, or its mediapipe does not start.

    Example (needs the detector environment)::

        with MediaPipeDetector() as detector:
            detection = detector.detect(image)      # (H, W, 3) uint8 RGB
            people = detector.detect_people(image)  # list[Detection], largest box first
        detection.keypoints.shape                   # (23, 3), or None: nobody found
    """

    def __init__(
        self, python: str | os.PathLike[str] | None = None, min_visibility: float = 0.3, timeout: float = 120.0
    ):
        executable = find_detector_python(python)
        if executable is None:
            tried = ", ".join(str(p) for p in _candidates(python))
            raise DetectorUnavailable(f"no keypoint detector found (looked for {tried}); {SETUP_HINT}")
        self.min_visibility = min_visibility
        self._tmp = tempfile.TemporaryDirectory(prefix="hmrflow-detector-")
        worker = Path(__file__).with_name("detect_worker.py")
        start = time.perf_counter()
        self._process = subprocess.Popen(
            [str(executable), "-I", str(worker)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        ready = self._read(timeout)
        if not ready.get("ready"):
            self.close()
            raise DetectorUnavailable(
                f"the detector in {executable} does not start ({ready.get('error')}); {SETUP_HINT}"
            )
        self.version = str(ready.get("mediapipe"))
        self._count = 0
        log.debug("detector ready in %.1f s (mediapipe %s, %s)", time.perf_counter() - start, self.version, executable)

    def __enter__(self) -> MediaPipeDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, timeout: float | None = None) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            error = self._process.stderr.read() if self._process.stderr else ""
            tail = " ".join(error.strip().splitlines()[-3:])
            return {"ready": False, "ok": False, "error": f"the detector process ended ({tail or 'no message'})"}
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            return {"ready": False, "ok": False, "error": f"unexpected output from the detector: {line[:200]!r}"}

    def _request(self, image: np.ndarray, **extra: Any) -> dict[str, Any]:
        if self._process.poll() is not None:
            raise DetectorError("the detector process is not running")
        image = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
        self._count += 1
        path = Path(self._tmp.name) / f"image{self._count}.npy"
        np.save(path, image)
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps({"id": self._count, "array": str(path), **extra}) + "\n")
            self._process.stdin.flush()
        except BrokenPipeError:
            raise DetectorError("the detector process ended") from None
        answer = self._read()
        path.unlink(missing_ok=True)
        if not answer.get("ok"):
            raise DetectorError(f"the detector failed: {answer.get('error')}")
        return answer

    def _detection(self, landmarks: Any, size: tuple[int, int], seconds: float) -> Detection:
        array = np.asarray(landmarks, dtype=np.float64)
        keypoints = blazepose_to_evidence(array, size, self.min_visibility)
        return Detection(keypoints, array, size, seconds, landmark_box(array, size))

    def detect(self, image: np.ndarray) -> Detection:
        r"""Keypoints of the most prominent person in ``image`` ``(H, W, 3)`` uint8 RGB
        (the one BlazePose picks: one look, no masking).

        Raises:
            DetectorError: The worker failed on the image or died.
        """
        answer = self._request(image)
        size = (int(answer["width"]), int(answer["height"]))
        if answer.get("landmarks") is None:
            return Detection(None, None, size, float(answer["seconds"]))
        return self._detection(answer["landmarks"], size, float(answer["seconds"]))

    def detect_people(self, image: np.ndarray, max_people: int = 4, verify: bool = True) -> list[Detection]:
        r"""Every person (at most ``max_people``) in ``image`` ``(H, W, 3)`` uint8 RGB.

        Look, paint the person found over, look again (see the module docstring); repeats
        of a person are dropped (:func:`suppress_duplicates`). Sorted by the area of the
        landmark box (:attr:`Detection.box`), largest first; ``[]``: nobody.

        With ``verify`` each person found after the first gets a verification look (the
        worker's ``verify_person``: the painted image with that person's own pixels restored
        from the original, cropped around them) and is dropped unless it is found there
        again (:func:`refound`): a "ghost" read out of the paint is not. It costs one
        BlazePose run on a crop per extra person (``benchmarks/bench_people_filter.py``).

        Raises:
            MaxPeopleError: ``max_people`` is not an integer >= 1.
            DetectorError: The worker failed on the image or died.

        Example (needs the detector environment)::

            with MediaPipeDetector() as detector:
                people = detector.detect_people(image, max_people=4)
            [p.box for p in people]                  # (4,) x0, y0, x1, y1 px each
        """
        if isinstance(max_people, bool) or not isinstance(max_people, (int, np.integer)) or max_people < 1:
            raise MaxPeopleError(f"max_people must be an integer >= 1, got {max_people!r}")
        if verify:
            answer = self._request(image, looks=int(max_people) + 1, verify=True)
        else:
            answer = self._request(image, looks=int(max_people) + 1)
        size = (int(answer["width"]), int(answer["height"]))
        seconds = float(answer["seconds"])
        found = [self._detection(landmarks, size, seconds) for landmarks in answer["people"]]
        if verify:
            checks = answer.get("checks") or [None] * len(found)
            found = [d for i, (d, c) in enumerate(zip(found, checks)) if i == 0 or refound(d, c)]
        people = suppress_duplicates(found)
        return sorted(people, key=_box_area, reverse=True)[:max_people]

    def close(self) -> None:
        """End the worker process and remove its temporary files."""
        process = getattr(self, "_process", None)
        if process is not None and process.poll() is None:
            try:
                if process.stdin is not None:
                    process.stdin.close()
                process.wait(timeout=10)
            except (subprocess.TimeoutExpired, BrokenPipeError, OSError):
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr) if process is not None else ():
            if stream is not None:
                stream.close()
        if getattr(self, "_tmp", None) is not None:
            self._tmp.cleanup()
            self._tmp = None


class LazyDetector:
    r"""A detector started on first use, and stopped by :meth:`close` only if started here.

    A failed start is remembered: later calls raise the same error at once instead of
    starting the worker again (one attempt per run, however many photos or frames).

    Arguments:
        detector: A running detector to use (its owner closes it); None: start one when needed.
    """

    def __init__(self, detector: MediaPipeDetector | None = None):
        self._detector = detector
        self._own = False
        self._error: DetectorError | None = None

    def __call__(self) -> MediaPipeDetector:
        """The detector. Raises :class:`DetectorError` when there is none (the message says how to install it)."""
        if self._detector is None:
            if self._error is not None:
                raise self._error
            try:
                self._detector, self._own = MediaPipeDetector(), True
            except DetectorError as error:
                self._error = error
                raise
        return self._detector

    def close(self) -> None:
        """Stop the detector if it was started here."""
        if self._own and self._detector is not None:
            self._detector.close()
        self._detector, self._own = None, False
