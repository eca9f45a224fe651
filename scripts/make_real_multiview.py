"""Build the real evaluation set ``real-multiview-v1`` from the pose2sim 0.10.49 wheel.

Source (BSD-3, fetched by ``scripts/fetch_data.sh`` into .cache/data/pose2sim):
``Demo_MultiPerson``: 4 calibrated views (1088 x 1920, 60 fps, 100 frames) of two people,
a man moving on a treadmill and a woman standing in front of it; Qualisys calibration.

Steps (every one deterministic; mediapipe and torch run on the CPU, one thread):

1. Decode each video (OpenCV of the detector environment, a subprocess writing raw RGB).
2. Full frames: detect a person with the bundled BlazePose detector, mask that person (a
   grey skeleton of thick limbs, torso and head), detect again, up to ``MAX_PEOPLE`` times.
3. Per frame, find the two people: of all choices of one detection (or none) per view,
   the one whose points triangulate with the most views agreeing (reprojection error
   under ``ASSOCIATION_PX``) is a person; its detections are removed and the next best
   is the second person, if its pelvis is at least ``MIN_SEPARATION`` m from the first.
   Identities follow the pelvis over time (nearest to the last known one); at the first
   frame person 0 is the one nearer the world's vertical axis (the woman).
4. Crops: each person's 3D skeleton of step 3 (gaps filled over time) is projected into
   every view; the detector runs again on a crop around it with the other person masked,
   and the detection is kept when it lies on the projection (median distance under
   ``GUIDE_FRACTION`` of the person's height). These are the set's 2D keypoints.
5. The calibration as read reprojects poorly in two views (leave-one-view-out errors of
   41 and 32 px for cam01 and cam03 against 16 and 14 px, the same offset for every
   joint: the cameras moved, or the calibration is off); their extrinsics are refined by
   a small bundle adjustment on the step-4 keypoints, cam02 and cam04 fixed (they hold
   the world frame and scale). The set keeps both (``rotation`` and
   ``calibration_rotation``, ...).
6. Triangulate the step-4 keypoints per joint with the refined cameras (confidence-
   weighted DLT, the view with the largest error dropped while it exceeds
   ``TRIANGULATION_PX``, at least 2 views).

Output: ``src/hmrflow/assets/real/real-multiview-v1.npz`` (keypoints, boxes, cameras,
3D joints, errors; no pixels) -- see :mod:`hmrflow.data.real_multiview` for its fields.

    bash scripts/fetch_data.sh && bash scripts/setup_detector.sh
    .venv/bin/python scripts/make_real_multiview.py [--out FILE] [--cache DIR]
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from hmrflow.application.detector import (
    BLAZEPOSE_TO_COCO17,
    BLAZEPOSE_TO_FEET,
    DETECTOR_NAME,
    MediaPipeDetector,
    blazepose_depth,
    blazepose_to_evidence,
    find_detector_python,
)
from hmrflow.data.qualisys import CalibratedCamera, read_qualisys
from hmrflow.geometry.bundle_adjustment import refine_extrinsics
from hmrflow.geometry.triangulation import triangulate_robust

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / ".cache" / "data" / "pose2sim" / "Demo_MultiPerson"
CAMERAS = ("cam01", "cam02", "cam03", "cam04")
FRAMES = 100
MAX_PEOPLE = 3  #: detections per full frame (the two people, and a spare for a duplicate)
MIN_VISIBILITY = 0.3  #: BlazePose visibility under which a point is missing
ASSOCIATION_PX = 30.0  #: a view agrees with a triangulated point within this error
TRIANGULATION_PX = 20.0  #: largest reprojection error of a view used by the 3D joints
MIN_SEPARATION = 0.4  #: metres between the two people's pelvises
GUIDE_FRACTION = 0.1  #: crop detections lie on the projected skeleton within this x height
#: Cameras whose extrinsics are refined (step 5); the others hold the world frame. With the
#: calibration as read, leave-one-view-out reprojection errors were 41 / 16 / 32 / 14 px.
REFINED = ("cam01", "cam03")
GREY = (128, 128, 128)

#: Limbs (pairs in the evidence order: COCO-17, then the feet) and torso of the person mask.
LIMBS = ((5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16), (15, 17), (15, 19),
         (16, 20), (16, 22), (5, 6), (11, 12), (5, 11), (6, 12))  # fmt: skip
TORSO = (5, 6, 12, 11)
HEAD = (0, 1, 2, 3, 4)

DECODE = r"""
import sys, cv2
capture = cv2.VideoCapture(sys.argv[1])
while True:
    ok, frame = capture.read()
    if not ok:
        break
    sys.stdout.buffer.write(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB).tobytes())
"""


def decode_frames(video: Path, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """The frames ``(H, W, 3)`` uint8 RGB of ``video``, decoded by the detector environment's OpenCV."""
    python = find_detector_python()
    if python is None:
        raise SystemExit("no detector environment: run `bash scripts/setup_detector.sh`")
    width, height = size
    count = width * height * 3
    process = subprocess.Popen([str(python), "-I", "-c", DECODE, str(video)], stdout=subprocess.PIPE)
    assert process.stdout is not None
    finished = False
    try:
        while len(raw := process.stdout.read(count)) == count:
            yield np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
        finished = True
    finally:
        if not finished:  # the caller stopped early
            process.kill()
        process.stdout.close()
        code = process.wait()
    if code != 0:
        raise SystemExit(f"decoding {video} failed")


def landmark_points(landmarks: np.ndarray) -> np.ndarray:
    """BlazePose landmarks ``(33, >=2)`` px -> ``(23, 2)`` in the evidence order, all of them
    whatever their visibility (the small toes, which BlazePose lacks, NaN)."""
    index = np.array(BLAZEPOSE_TO_COCO17 + BLAZEPOSE_TO_FEET)
    points = landmarks[np.maximum(index, 0), :2].astype(np.float64)
    points[index < 0] = np.nan
    return points


def person_mask(size: tuple[int, int], points: np.ndarray) -> Image.Image:
    """A mask (mode "L", 255 = the person) ``(W, H)`` of thick limbs, the torso and the head
    drawn from ``(23, 2)`` points px in the evidence order (NaN: unknown)."""
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    known = np.isfinite(points).all(-1)
    if not known.any():
        return mask
    height = float(np.ptp(points[known, 1])) + 1.0
    if known[list(TORSO)].all():
        draw.polygon([tuple(points[i]) for i in TORSO], fill=255)
    for a, b in LIMBS:
        if known[a] and known[b]:
            draw.line([tuple(points[a]), tuple(points[b])], fill=255, width=max(int(0.1 * height), 20))
    head = points[list(HEAD)][known[list(HEAD)]]
    if len(head):
        centre = head.mean(0)
        radius = 1.2 * max(float(np.ptp(head[:, 0])), float(np.ptp(head[:, 1])), 0.07 * height)
        draw.ellipse([centre[0] - radius, centre[1] - radius, centre[0] + radius, centre[1] + radius], fill=255)
    return mask


def grey_out(image: np.ndarray, mask: Image.Image) -> np.ndarray:
    """``image`` with the mask's pixels grey."""
    out = image.copy()
    out[np.asarray(mask) > 0] = GREY
    return out


def detect_people(detector: MediaPipeDetector, image: np.ndarray) -> np.ndarray:
    """Up to ``MAX_PEOPLE`` detections ``(P, 33, 5)``: detect, mask the person, detect again."""
    found = []
    for _ in range(MAX_PEOPLE):
        detection = detector.detect(image)
        if detection.landmarks is None:
            break
        found.append(detection.landmarks)
        size = (image.shape[1], image.shape[0])
        image = grey_out(image, person_mask(size, landmark_points(detection.landmarks)))
    return np.array(found).reshape(-1, 33, 5)


def full_frame_detections(detector: MediaPipeDetector, cameras: list[CalibratedCamera]) -> np.ndarray:
    """Step 2: ``(F, V, MAX_PEOPLE, 33, 5)`` landmarks, NaN where fewer people were found."""
    out = np.full((FRAMES, len(cameras), MAX_PEOPLE, 33, 5), np.nan)
    for v, camera in enumerate(cameras):
        start = time.perf_counter()
        for f, frame in enumerate(decode_frames(SOURCE / "videos" / f"{camera.name}.mp4", camera.image_size)):
            found = detect_people(detector, frame)
            out[f, v, : len(found)] = found
        print(f"{camera.name}: full frames in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return out


# ------------------------------------------------------------------ association (step 3)


def evidence(landmarks: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """BlazePose landmarks ``(..., 33, 5)`` (NaN rows: nobody) -> evidence ``(..., 23, 3)`` px."""
    flat = landmarks.reshape(-1, 33, 5)
    out = np.zeros((flat.shape[0], 23, 3))
    for i, row in enumerate(flat):
        if np.isfinite(row).all():
            out[i] = blazepose_to_evidence(row, image_size, MIN_VISIBILITY)
    return out.reshape(*landmarks.shape[:-2], 23, 3)


def projections(cameras: list[CalibratedCamera]) -> torch.Tensor:
    """``(V, 3, 4)`` float64 projection matrices."""
    return torch.from_numpy(np.stack([c.projection for c in cameras]))


def score_tuples(keypoints: np.ndarray, choices: np.ndarray, P: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    r"""How well each choice of one detection per view triangulates.

    Arguments:
        keypoints: ``(V, D, 23, 3)`` the views' detections (confidence 0: missing).
        choices: ``(T, V)`` detection index per view, -1 for none.
        P: ``(V, 3, 4)``.

    Returns:
        ``(T,)`` the number of observations that agree (error under ``ASSOCIATION_PX``),
        and ``(T, V)`` that number per view.
    """
    V = keypoints.shape[0]
    picked = keypoints[np.arange(V), np.maximum(choices, 0)]  # (T, V, 23, 3)
    picked = picked * (choices >= 0)[..., None, None]
    points = torch.from_numpy(picked.transpose(0, 2, 1, 3))  # (T, 23, V, 3)
    result = triangulate_robust(points[..., :2], points[..., 2], P, ASSOCIATION_PX)
    per_view = result.used.sum(1).numpy()  # (T, V)
    return per_view.sum(1), per_view


def all_choices(counts: list[int]) -> np.ndarray:
    """``(T, V)`` every choice of one detection (or none, -1) per view, two views at least."""
    options = [range(-1, n) for n in counts]
    rows = [c for c in itertools.product(*options) if sum(i >= 0 for i in c) >= 2]
    return np.array(rows, dtype=np.int64).reshape(-1, len(counts))


def best_person(keypoints: np.ndarray, available: np.ndarray, P: torch.Tensor) -> np.ndarray | None:
    r"""The detection per view ``(V,)`` (-1: none) of the best-triangulating person among
    the ``available`` ``(V, D)`` detections; a view keeps its detection only when at
    least half its points agree. None: no two views agree."""
    V, D = available.shape
    choices = all_choices([D] * V)
    allowed = np.all((choices < 0) | available[np.arange(V), np.maximum(choices, 0)], axis=1)
    choices = choices[allowed]
    if len(choices) == 0:
        return None
    total, per_view = score_tuples(keypoints, choices, P)
    best = int(np.argmax(total))
    choice = choices[best].copy()
    confident = (keypoints[np.arange(V), np.maximum(choice, 0), :, 2] > 0).sum(-1)
    choice[per_view[best] < 0.5 * np.maximum(confident, 1)] = -1
    return choice if (choice >= 0).sum() >= 2 else None


def triangulate_choice(keypoints: np.ndarray, choice: np.ndarray, P: torch.Tensor, threshold: float):
    """The robust triangulation ``(23,)`` of one detection per view ``choice`` ``(V,)``."""
    V = keypoints.shape[0]
    picked = keypoints[np.arange(V), np.maximum(choice, 0)] * (choice >= 0)[:, None, None]  # (V, 23, 3)
    points = torch.from_numpy(picked.transpose(1, 0, 2))  # (23, V, 3)
    return triangulate_robust(points[..., :2], points[..., 2], P, threshold)


def centre(points: np.ndarray) -> np.ndarray:
    """``(23, 3)`` joints (NaN: missing) -> ``(3,)`` the mean of the hips, else of every joint."""
    hips = points[[11, 12]]
    chosen = hips if np.isfinite(hips).all() else points
    return np.nanmean(chosen, axis=0) if np.isfinite(chosen).any() else np.full(3, np.nan)


def frame_people(keypoints: np.ndarray, P: torch.Tensor) -> list[np.ndarray]:
    """Step 3 on one frame: up to two choices ``(V,)`` of detections ``(V, D, 23, 3)``, one per person."""
    available = (keypoints[..., 2] > 0).sum(-1) >= 4
    people: list[np.ndarray] = []
    while len(people) < 2:
        choice = best_person(keypoints, available, P)
        if choice is None:
            break
        available[np.arange(len(choice)), np.maximum(choice, 0)] &= choice < 0
        here = centre(triangulate_choice(keypoints, choice, P, ASSOCIATION_PX).points.numpy())
        others = [centre(triangulate_choice(keypoints, c, P, ASSOCIATION_PX).points.numpy()) for c in people]
        if all(np.linalg.norm(here - o) >= MIN_SEPARATION for o in others):
            people.append(choice)
    return people


def _labels(centres: list[np.ndarray], last: list[np.ndarray | None]) -> list[int]:
    """Identities of this frame's people (their ``centres``) given the last known centres."""
    if all(c is None for c in last):  # the first frame: person 0 is the nearer to the world's z axis
        order = np.argsort([np.linalg.norm(c[:2]) for c in centres])
        return [int(np.flatnonzero(order == i)[0]) for i in range(len(centres))]
    known = [c if c is not None else np.full(3, np.inf) for c in last]
    cost = {perm: sum(np.linalg.norm(centres[i] - known[p]) for i, p in enumerate(perm))
            for perm in itertools.permutations(range(2), len(centres))}  # fmt: skip
    return list(min(cost, key=lambda perm: cost[perm]))


def track(keypoints: np.ndarray, P: torch.Tensor) -> np.ndarray:
    """Steps 3: ``(2, F, V)`` the detection of each person per frame and view (-1: none)
    among ``(F, V, D, 23, 3)``."""
    F, V = keypoints.shape[:2]
    out = np.full((2, F, V), -1)
    last: list[np.ndarray | None] = [None, None]
    for f in range(F):
        people = frame_people(keypoints[f], P)
        centres = [centre(triangulate_choice(keypoints[f], c, P, ASSOCIATION_PX).points.numpy()) for c in people]
        for choice, here, label in zip(people, centres, _labels(centres, last), strict=True):
            out[label, f] = choice
            last[label] = here
    return out


def pick(keypoints: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """``(F, V, D, 23, 3)`` and ``(2, F, V)`` indices (-1: none) -> ``(2, F, V, 23, 3)``."""
    F, V = keypoints.shape[:2]
    f, v = np.meshgrid(np.arange(F), np.arange(V), indexing="ij")
    picked = keypoints[f[None], v[None], np.maximum(chosen, 0)]
    return picked * (chosen >= 0)[..., None, None]


def guide_joints(keypoints: np.ndarray, P: torch.Tensor) -> np.ndarray:
    """``(2, F, V, 23, 3)`` -> ``(2, F, 23, 3)`` rough 3D joints, gaps filled over time
    (linear, held at the ends); NaN for a joint never triangulated."""
    points = torch.from_numpy(keypoints.transpose(0, 1, 3, 2, 4))  # (2, F, 23, V, 3)
    joints = triangulate_robust(points[..., :2], points[..., 2], P, ASSOCIATION_PX).points.numpy()
    frames = np.arange(joints.shape[1])
    for person, joint in itertools.product(range(joints.shape[0]), range(joints.shape[2])):
        series = joints[person, :, joint]
        known = np.isfinite(series).all(-1)
        if known.any():
            for axis in range(3):
                series[:, axis] = np.interp(frames, frames[known], series[known, axis])
    return joints


# ------------------------------------------------------------------ crops (step 4)


def project_points(joints: np.ndarray, camera: CalibratedCamera) -> np.ndarray:
    """``(..., 3)`` world -> ``(..., 2)`` px (NaN stays NaN, behind the camera NaN)."""
    homogeneous = np.concatenate([joints, np.ones_like(joints[..., :1])], -1)
    image = homogeneous @ camera.projection.T
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(image[..., 2:] > 0, image[..., :2] / image[..., 2:], np.nan)


def crop_window(points: np.ndarray) -> tuple[int, int, int]:
    """The square crop ``(x0, y0, side)`` px around ``(23, 2)`` projected joints."""
    known = points[np.isfinite(points).all(-1)]
    low, high = known.min(0), known.max(0)
    side = int(round(1.4 * float((high - low).max()))) + 32
    centre = (low + high) / 2
    return int(round(centre[0] - side / 2)), int(round(centre[1] - side / 2)), side


def crop(image: np.ndarray, window: tuple[int, int, int]) -> np.ndarray:
    """The square ``window`` of ``image``, grey outside the image."""
    x0, y0, side = window
    out = np.full((side, side, 3), GREY, dtype=np.uint8)
    H, W = image.shape[:2]
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + side, W), min(y0 + side, H)
    if xa < xb and ya < yb:
        out[ya - y0 : yb - y0, xa - x0 : xb - x0] = image[ya:yb, xa:xb]
    return out


def on_guide(points: np.ndarray, guide: np.ndarray) -> bool:
    """Whether detected evidence ``(23, 3)`` lies on the projected guide ``(23, 2)``."""
    both = (points[:, 2] > 0) & np.isfinite(guide).all(-1)
    if both.sum() < 4:
        return False
    height = float(np.ptp(guide[np.isfinite(guide).all(-1), 1]))
    distance = np.linalg.norm(points[both, :2] - guide[both], axis=-1)
    return bool(np.median(distance) < GUIDE_FRACTION * height)


def detect_in_crop(
    detector: MediaPipeDetector, frame: np.ndarray, guide: np.ndarray, other: np.ndarray
) -> tuple[np.ndarray | None, tuple[int, int, int]]:
    """One person's landmarks ``(33, 5)`` image px (None: not found on the guide) from a
    crop around its projected joints ``guide`` ``(23, 2)``, the ``other`` person masked
    where they do not cover this one; and the crop window."""
    window = crop_window(guide)
    x0, y0, side = window
    shift = np.array([x0, y0], dtype=np.float64)
    size = (side, side)
    others = np.asarray(person_mask(size, other - shift)) > 0
    own = np.asarray(person_mask(size, guide - shift)) > 0
    pixels = crop(frame, window)
    pixels[others & ~own] = GREY
    detection = detector.detect(pixels)
    if detection.landmarks is None:
        return None, window
    landmarks = detection.landmarks.copy()
    landmarks[:, :2] += shift
    found = blazepose_to_evidence(landmarks, (frame.shape[1], frame.shape[0]), MIN_VISIBILITY)
    return (landmarks if on_guide(found, guide) else None), window


def crop_detections(
    detector: MediaPipeDetector, cameras: list[CalibratedCamera], guides: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Step 4: ``(2, F, V, 33, 5)`` landmarks (NaN: none) and ``(2, F, V, 3)`` crop windows."""
    P, F = guides.shape[:2]
    landmarks = np.full((P, F, len(cameras), 33, 5), np.nan)
    windows = np.zeros((P, F, len(cameras), 3), dtype=np.int64)
    for v, camera in enumerate(cameras):
        start = time.perf_counter()
        projected = project_points(guides, camera)  # (2, F, 23, 2)
        for f, frame in enumerate(decode_frames(SOURCE / "videos" / f"{camera.name}.mp4", camera.image_size)):
            for person in range(P):
                if not np.isfinite(projected[person, f]).any():
                    continue
                found, windows[person, f, v] = detect_in_crop(
                    detector, frame, projected[person, f], projected[1 - person, f]
                )
                if found is not None:
                    landmarks[person, f, v] = found
        print(f"{camera.name}: crops in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return landmarks, windows


# ------------------------------------------------------------------ the set (step 5)


def boxes(landmarks: np.ndarray, size: np.ndarray) -> np.ndarray:
    """``(..., V, 33, 5)`` -> ``(..., V, 4)`` x0, y0, x1, y1 of the landmarks, clipped to the
    image ``(V, 2)``; 0 where nobody was detected."""
    xy = landmarks[..., :2]
    low = np.clip(xy.min(-2), 0, size)
    high = np.clip(xy.max(-2), 0, size)
    return np.nan_to_num(np.concatenate([low, high], -1))


def refine_cameras(cameras: list[CalibratedCamera], keypoints: np.ndarray) -> list[CalibratedCamera]:
    """Step 5: the cameras with the extrinsics of ``REFINED`` adjusted to the detections
    ``(2, F, V, 23, 3)`` (:func:`~hmrflow.geometry.bundle_adjustment.refine_extrinsics`)."""
    V = len(cameras)
    observed = torch.from_numpy(keypoints.reshape(-1, V, 23, 3).transpose(0, 2, 1, 3).reshape(-1, V, 3))
    start = triangulate_robust(observed[..., :2], observed[..., 2], projections(cameras), ASSOCIATION_PX)
    rows = start.valid
    arrays = {name: torch.from_numpy(np.stack([getattr(c, name) for c in cameras]))
              for name in ("rotation", "translation", "focal_length", "principal_point")}  # fmt: skip
    free = torch.tensor([c.name in REFINED for c in cameras])
    out = refine_extrinsics(observed[rows, :, :2], observed[rows, :, 2], arrays["rotation"], arrays["translation"],
                            arrays["focal_length"], arrays["principal_point"], free, start.points[rows])  # fmt: skip
    for v in np.flatnonzero(free.numpy()):
        print(f"{cameras[v].name}: turned {float(out.turn_deg[v]):.2f} deg, moved {float(out.shift_m[v]):.3f} m",
              file=sys.stderr)  # fmt: skip
    return [replace(c, rotation=out.rotation[v].numpy(), translation=out.translation[v].numpy())
            for v, c in enumerate(cameras)]  # fmt: skip


def build(detector: MediaPipeDetector, calibrated: list[CalibratedCamera], cache: Path | None) -> dict[str, np.ndarray]:
    """Steps 2-6: the set's arrays (see :mod:`hmrflow.data.real_multiview`)."""
    from hmrflow.data.qualisys import stack_cameras
    from hmrflow.data.real_multiview import FORMAT_VERSION, PERSON_NAMES, SET_NAME

    P = projections(calibrated)
    size = calibrated[0].image_size
    full = cached(cache, "full_frames.npy", lambda: full_frame_detections(detector, calibrated))
    first = pick(evidence(full, size), track(evidence(full, size), P))
    landmarks, windows = crop_detections(detector, calibrated, guide_joints(first, P))
    keypoints = evidence(landmarks, size)  # (2, F, V, 23, 3)
    cameras = refine_cameras(calibrated, keypoints)
    points = torch.from_numpy(keypoints.transpose(0, 1, 3, 2, 4))  # (2, F, 23, V, 3)
    result = triangulate_robust(points[..., :2], points[..., 2], projections(cameras), TRIANGULATION_PX)
    camera_arrays = stack_cameras(cameras)
    original = stack_cameras(calibrated)
    return {
        "name": np.array(SET_NAME),
        "format_version": np.array(FORMAT_VERSION),
        "source": np.array("pose2sim 0.10.49 wheel (BSD-3), Pose2Sim/Demo_MultiPerson"),
        "detector": np.array(DETECTOR_NAME),
        "person_names": np.array(PERSON_NAMES),
        "fps": np.array(60.0),
        "threshold_px": np.array(TRIANGULATION_PX),
        "camera_names": camera_arrays.pop("names"),
        **camera_arrays,
        "calibration_rotation": original["rotation"],
        "calibration_translation": original["translation"],
        "refined": np.array([c.name in REFINED for c in cameras]),
        "keypoints_2d": keypoints.astype(np.float32),
        "keypoints_depth": blazepose_depth(landmarks, keypoints).astype(np.float32),
        "detected": np.isfinite(landmarks[..., 0, 0]),
        "boxes": boxes(landmarks, camera_arrays["image_size"]).astype(np.float32),
        "crops": windows.astype(np.int32),
        "joints_3d": result.points.numpy().astype(np.float32),
        "joints_valid": result.valid.numpy(),
        "joints_views": result.used.numpy(),
        "reprojection_error": result.errors.numpy().transpose(0, 1, 3, 2).astype(np.float32),
    }


def cached(cache: Path | None, name: str, make: Callable[[], np.ndarray]) -> np.ndarray:
    """``make()``, kept in ``cache/name`` when a cache folder is given."""
    if cache is None:
        return make()
    path = cache / name
    if path.exists():
        return np.load(path)
    value = make()
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, value)
    return value


def main() -> int:
    from hmrflow.data.real_multiview import ASSET, RealMultiview, save_real_multiview

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ASSET, help=f"output file (default {ASSET})")
    parser.add_argument("--cache", type=Path, help="keep the full-frame detections here (reruns skip step 2)")
    args = parser.parse_args()
    calibration = SOURCE / "calibration" / "Calib.qca.txt"
    if not calibration.exists():
        raise SystemExit(f"{calibration} is missing: run `bash scripts/fetch_data.sh`")
    torch.set_num_threads(1)
    cameras = read_qualisys(calibration)
    with MediaPipeDetector(min_visibility=MIN_VISIBILITY) as detector:
        arrays = build(detector, cameras, args.cache)
    path = save_real_multiview(args.out, arrays)
    print(RealMultiview.load(path).summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
