"""The 2D keypoint detector's worker process: mediapipe's legacy BlazePose, JSON lines.

This file runs in the detector's own virtual environment (``.venv-detector``, made by
``scripts/setup_detector.sh``: mediapipe 0.10.21 needs numpy < 2 and protobuf < 5, which
hmrflow does not), started by :class:`hmrflow.demo.detector.MediaPipeDetector` as
``.venv-detector/bin/python -I detect_worker.py``. It imports only the standard library,
numpy and mediapipe -- never hmrflow.

Protocol (one JSON object per line, UTF-8):

* on start the worker writes ``{"ready": true, "mediapipe": "0.10.21"}`` (or
  ``{"ready": false, "error": "..."}`` and exits 1);
* requests on stdin: ``{"id": ANY, "array": "/path/image.npy"}``, an ``(H, W, 3)`` uint8
  RGB array saved with ``numpy.save``;
* answers on stdout, one per request, in order: ``{"id": ANY, "ok": true, "width": W,
  "height": H, "landmarks": [[x_px, y_px, z, visibility, presence] * 33] or null,
  "seconds": t}`` (null: no person found) or ``{"id": ANY, "ok": false, "error": "..."}``;
* end of stdin ends the worker.

Only ``model_complexity=1`` works offline (its model file ships in the wheel).
"""

import json
import sys
import time


def _answer(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _detect(pose, np, request):
    image = np.load(request["array"], allow_pickle=False)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError("expected an (H, W, 3) uint8 RGB array, got %s %s" % (image.dtype, image.shape))
    height, width = image.shape[:2]
    start = time.perf_counter()
    result = pose.process(np.ascontiguousarray(image))
    seconds = time.perf_counter() - start
    landmarks = None
    if result.pose_landmarks is not None:
        landmarks = [
            [p.x * width, p.y * height, p.z * width, p.visibility, p.presence] for p in result.pose_landmarks.landmark
        ]
    return {"ok": True, "width": width, "height": height, "landmarks": landmarks, "seconds": seconds}


def main():
    try:
        import mediapipe as mp
        import numpy as np

        pose = mp.solutions.pose.Pose(
            static_image_mode=True, model_complexity=1, enable_segmentation=False, min_detection_confidence=0.5
        )
    except Exception as error:  # noqa: BLE001 - reported to the parent process
        _answer({"ready": False, "error": "%s: %s" % (type(error).__name__, error)})
        return 1
    _answer({"ready": True, "mediapipe": mp.__version__})
    for line in sys.stdin:
        if not line.strip():
            continue
        request_id = None
        try:
            request = json.loads(line)
            request_id = request.get("id")
            answer = _detect(pose, np, request)
        except Exception as error:  # noqa: BLE001 - one bad image must not end the worker
            answer = {"ok": False, "error": "%s: %s" % (type(error).__name__, error)}
        answer["id"] = request_id
        _answer(answer)
    pose.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
