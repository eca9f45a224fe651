"""The 2D keypoint detector's worker process: mediapipe's legacy BlazePose, JSON lines.

This file runs in the detector's own virtual environment (``.venv-detector``, made by
``scripts/setup_detector.sh``: mediapipe 0.10.21 needs numpy < 2 and protobuf < 5, which
hmrflow does not), started by :class:`hmrflow.application.detector.MediaPipeDetector` as
``.venv-detector/bin/python -I detect_worker.py``. It imports only the standard library,
numpy, mediapipe and OpenCV (``cv2``, which mediapipe itself depends on) -- never hmrflow.

Protocol (one JSON object per line, UTF-8):

* on start the worker writes ``{"ready": true, "mediapipe": "0.10.21"}`` (or
  ``{"ready": false, "error": "..."}`` and exits 1);
* requests on stdin: ``{"id": ANY, "array": "/path/image.npy"}``, an ``(H, W, 3)`` uint8
  RGB array saved with ``numpy.save``, optionally with ``"looks": N`` (an integer >= 1) and
  ``"verify": true`` (with looks);
* answers on stdout, one per request, in order: ``{"id": ANY, "ok": true, "width": W,
  "height": H, "landmarks": [[x_px, y_px, z, visibility, presence] * 33] or null,
  "seconds": t}`` (null: no person found) or ``{"id": ANY, "ok": false, "error": "..."}``;
* with ``"looks": N`` (several people) the answer has ``"people": [landmarks, ...]``
  instead of ``"landmarks"``: BlazePose finds one person, the worker paints that person
  over (:func:`mask_person`: a grey skeleton of thick limbs, the torso and the head) and
  looks again, at most N times, stopping at the first look that finds nobody. People are
  in the order found (the same person can come back when the paint missed part of them:
  the parent removes duplicates); ``"seconds"`` is the time of all looks together;
* with ``"looks": N`` and ``"verify": true`` the answer also has ``"checks"``, one per
  person: null for the first (found in the unpainted image) and, for each later one, the
  landmarks (33 x 5, full-image px) of a verification look, or null when it finds nobody.
  The verification look (:func:`verify_person`) sees the image as painted before that
  person was found, with the person's own limbs, torso and head (:func:`person_mask`)
  restored from the original, cropped to the person's landmark box plus
  :data:`VERIFY_MARGIN` of its longer side. A real person partly hidden by paint comes
  back where they were; a "ghost" read out of the paint loses the paint it was made of
  (the parent compares the two, ``hmrflow.application.detector.refound``);
* end of stdin ends the worker.

Only ``model_complexity=1`` works offline (its model file ships in the wheel).
"""

import json
import sys
import time

#: BlazePose landmark pairs painted as thick lines (arms, legs, feet, shoulders, hips, sides).
LIMBS = ((11, 13), (13, 15), (12, 14), (14, 16), (23, 25), (25, 27), (24, 26), (26, 28), (27, 29), (29, 31),
         (27, 31), (28, 30), (30, 32), (28, 32), (11, 12), (23, 24), (11, 23), (12, 24))  # fmt: skip
TORSO = (11, 12, 24, 23)
HEAD = tuple(range(11))
GREY = (128, 128, 128)
#: The verification crop: the landmark box grown by this fraction of its longer side.
VERIFY_MARGIN = 0.15


def _answer(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _landmarks(result, width, height):
    if result.pose_landmarks is None:
        return None
    return [[p.x * width, p.y * height, p.z * width, p.visibility, p.presence] for p in result.pose_landmarks.landmark]


def person_mask(cv2, np, shape, landmarks):
    """``(H, W)`` bool: the pixels of an image of ``shape`` (H, W, ...) that :func:`mask_person`
    paints for the person of ``landmarks`` (33, >=2) px.

    Limbs are lines 10 % of the person's height thick (at least 20 px); the head is a disc
    1.2 times the spread of the face landmarks.
    """
    points = np.asarray(landmarks, dtype=np.float64)[:, :2]
    height = float(np.ptp(points[:, 1])) + 1.0
    width = max(int(0.1 * height), 20)
    out = np.zeros(tuple(shape[:2]), np.uint8)
    cv2.fillPoly(out, [np.round(points[list(TORSO)]).astype(np.int32)], 1)
    for a, b in LIMBS:
        start = tuple(int(v) for v in np.round(points[a]))
        end = tuple(int(v) for v in np.round(points[b]))
        cv2.line(out, start, end, 1, width)
    head = points[list(HEAD)]
    radius = 1.2 * max(float(np.ptp(head[:, 0])), float(np.ptp(head[:, 1])), 0.07 * height)
    centre = tuple(int(v) for v in np.round(head.mean(0)))
    cv2.circle(out, centre, int(round(radius)), 1, -1)
    return out.astype(bool)


def mask_person(cv2, np, image, landmarks):
    """``image`` (H, W, 3) uint8 with the person of ``landmarks`` (33, >=2) px painted grey
    (the pixels of :func:`person_mask`)."""
    out = image.copy()
    out[person_mask(cv2, np, image.shape, landmarks)] = GREY
    return out


def verify_person(cv2, np, pose, original, painted, landmarks):
    """Landmarks (33 x 5, full-image px) of a verification look at the person of ``landmarks``
    found in ``painted`` (H, W, 3) uint8, or None: nobody found.

    The look sees ``painted`` with the person's own pixels (:func:`person_mask`) taken from
    ``original``, cropped to the landmark box grown by :data:`VERIFY_MARGIN` of its longer side.
    """
    height, width = original.shape[:2]
    points = np.asarray(landmarks, dtype=np.float64)[:, :2]
    low = np.clip(points.min(0), 0, [width, height])
    high = np.clip(points.max(0), 0, [width, height])
    grow = VERIFY_MARGIN * float(max(high - low))
    x0, y0 = (int(v) for v in np.maximum(low - grow, 0))
    x1, y1 = int(min(width, high[0] + grow)), int(min(height, high[1] + grow))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    own = person_mask(cv2, np, original.shape, landmarks)
    revealed = np.where(own[..., None], original, painted)
    found = _landmarks(pose.process(np.ascontiguousarray(revealed[y0:y1, x0:x1])), x1 - x0, y1 - y0)
    if found is None:
        return None
    return [[x + x0, y + y0, z, v, p] for x, y, z, v, p in found]


def _detect(pose, np, request):
    image = np.load(request["array"], allow_pickle=False)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError("expected an (H, W, 3) uint8 RGB array, got %s %s" % (image.dtype, image.shape))
    looks = request.get("looks")
    if looks is not None and (not isinstance(looks, int) or isinstance(looks, bool) or looks < 1):
        raise ValueError("looks must be an integer >= 1, got %r" % (looks,))
    height, width = image.shape[:2]
    image = np.ascontiguousarray(image)
    start = time.perf_counter()
    if looks is None:
        landmarks = _landmarks(pose.process(image), width, height)
        seconds = time.perf_counter() - start
        return {"ok": True, "width": width, "height": height, "landmarks": landmarks, "seconds": seconds}
    import cv2

    verify = request.get("verify", False)
    if not isinstance(verify, bool):
        raise ValueError("verify must be true or false, got %r" % (verify,))
    original, people, checks = image, [], []
    for _ in range(looks):
        landmarks = _landmarks(pose.process(image), width, height)
        if landmarks is None:
            break
        people.append(landmarks)
        if verify:
            checks.append(verify_person(cv2, np, pose, original, image, landmarks) if len(people) > 1 else None)
        image = mask_person(cv2, np, image, landmarks)
    seconds = time.perf_counter() - start
    answer = {"ok": True, "width": width, "height": height, "people": people, "seconds": seconds}
    if verify:
        answer["checks"] = checks
    return answer


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
