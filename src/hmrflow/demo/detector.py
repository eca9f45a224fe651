r"""The optional 2D keypoint detector: mediapipe's BlazePose in a separate process.

mediapipe 0.10.21 (the last release whose legacy ``mp.solutions.pose`` ships its model
and so runs offline) needs numpy < 2 and protobuf < 5; hmrflow works with numpy 2. The
detector therefore lives in its own virtual environment, ``.venv-detector`` at the
repository root (``scripts/setup_detector.sh`` makes it), and :class:`MediaPipeDetector`
runs :mod:`hmrflow.demo.detect_worker` there as a subprocess that answers JSON lines.
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

__all__ = [
    "BLAZEPOSE_TO_COCO17",
    "BLAZEPOSE_TO_FEET",
    "DETECTOR_NAME",
    "Detection",
    "DetectorError",
    "DetectorUnavailable",
    "MediaPipeDetector",
    "blazepose_to_evidence",
    "find_detector_python",
]

log = logging.getLogger(__name__)

#: BlazePose landmark index of each COCO-17 keypoint, in COCO order.
BLAZEPOSE_TO_COCO17: tuple[int, ...] = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
#: BlazePose landmark of each foot point (left big toe, small toe, heel, right ...); -1: none.
BLAZEPOSE_TO_FEET: tuple[int, ...] = (31, -1, 29, 32, -1, 30)
#: How the detector is named in keypoint files and reports.
DETECTOR_NAME = "mediapipe 0.10.21 BlazePose (legacy solutions.pose, model_complexity=1)"

SETUP_HINT = "install it with `bash scripts/setup_detector.sh` (a separate .venv-detector with mediapipe 0.10.21)"


class DetectorError(RuntimeError):
    """The detector failed on an image or as a process."""


class DetectorUnavailable(DetectorError):
    """No detector environment was found; the message says how to install one."""


@dataclass(frozen=True)
class Detection:
    r"""One image's detection.

    Attributes:
        keypoints: ``(K, 3)`` evidence order (K = 23), px and confidence; None: no person.
        landmarks: ``(33, 5)`` BlazePose ``x px, y px, z, visibility, presence``; or None.
        image_size: ``(W, H)`` px.
        seconds: The detector's time on the image.
    """

    keypoints: np.ndarray | None
    landmarks: np.ndarray | None
    image_size: tuple[int, int]
    seconds: float


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


def _candidates(python: str | os.PathLike[str] | None) -> list[Path]:
    if python is not None:
        return [Path(python)]
    found = []
    if os.environ.get("HMRFLOW_DETECTOR_PYTHON"):
        found.append(Path(os.environ["HMRFLOW_DETECTOR_PYTHON"]))
    if os.environ.get("HMRFLOW_DETECTOR_VENV"):
        found.append(Path(os.environ["HMRFLOW_DETECTOR_VENV"]) / "bin" / "python")
    repo = Path(__file__).resolve().parents[3]  # src/hmrflow/demo/detector.py -> repository
    found += [repo / ".venv-detector" / "bin" / "python", Path.cwd() / ".venv-detector" / "bin" / "python"]
    return found


def find_detector_python(python: str | os.PathLike[str] | None = None) -> Path | None:
    """The detector environment's Python (see the module docstring), or None."""
    for candidate in _candidates(python):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


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

    def detect(self, image: np.ndarray) -> Detection:
        r"""Keypoints of the most prominent person in ``image`` ``(H, W, 3)`` uint8 RGB.

        Raises:
            DetectorError: The worker failed on the image or died.
        """
        if self._process.poll() is not None:
            raise DetectorError("the detector process is not running")
        image = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
        self._count += 1
        path = Path(self._tmp.name) / f"image{self._count}.npy"
        np.save(path, image)
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps({"id": self._count, "array": str(path)}) + "\n")
            self._process.stdin.flush()
        except BrokenPipeError:
            raise DetectorError("the detector process ended") from None
        answer = self._read()
        path.unlink(missing_ok=True)
        if not answer.get("ok"):
            raise DetectorError(f"the detector failed: {answer.get('error')}")
        size = (int(answer["width"]), int(answer["height"]))
        if answer.get("landmarks") is None:
            return Detection(None, None, size, float(answer["seconds"]))
        landmarks = np.asarray(answer["landmarks"], dtype=np.float64)
        keypoints = blazepose_to_evidence(landmarks, size, self.min_visibility)
        return Detection(keypoints, landmarks, size, float(answer["seconds"]))

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
