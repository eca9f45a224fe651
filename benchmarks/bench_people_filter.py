"""Ghosts of the several-people detector and the cheap filter that drops some of them.

Frames 0, 4, ..., 96 of the four pose2sim Demo_MultiPerson videos (``bash
scripts/fetch_data.sh``): ``MediaPipeDetector.detect_people`` (max 4), then each detection
is classed against the people of ``real-multiview-v1`` (shipped): real (box IoU > 0.5 with
a person there), ghost (both people are there and it matches neither), unknown (the set
lacks a person in that view). The baseline is no filter; the rows are
:func:`hmrflow.application.inputs.drop_ghosts` with its default and other thresholds.

The second table compares the detector without and with its verification look
(``detect_people(verify=False / True)``, :func:`hmrflow.application.detector.refound`),
each alone and followed by the default ``drop_ghosts``: ghosts and real people kept,
people of the set missed (no detection with box IoU > 0.5), and the detector's time per
image (the worker's own clock, all looks; mean over the frame-views, same run).
Needs the detector environment (``bash scripts/setup_detector.sh``).

Run::

    OMP_NUM_THREADS=1 python benchmarks/bench_people_filter.py [--step 4]
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

import numpy as np

from hmrflow.application.detector import Detection, MediaPipeDetector, read_video_frame
from hmrflow.application.inputs import GHOST_CONFIDENCE, GHOST_INSIDE, drop_ghosts
from hmrflow.geometry.boxes import box_iou

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT / ".cache" / "data" / "pose2sim" / "Demo_MultiPerson" / "videos"
REAL = Path(str(resources.files("hmrflow") / "assets" / "real" / "real-multiview-v1.npz"))


Found = tuple[np.ndarray, np.ndarray, list[str], int, float]


def classify(people: list[Detection], truth: list[np.ndarray], seconds: float) -> Found:
    """Boxes ``(P, 4)``, keypoints ``(P, 23, 3)``, each detection's class, people missed, seconds."""
    boxes = np.array([p.box for p in people]).reshape(-1, 4)
    ious = box_iou(boxes, np.array(truth).reshape(-1, 4))  # (P, T)
    best = ious.max(1, initial=0.0)
    kinds = ["real" if iou > 0.5 else "ghost" if len(truth) == 2 else "unknown" for iou in best]
    missed = int((~(ious > 0.5).any(0)).sum())
    keypoints = np.array([p.keypoints for p in people]).reshape(-1, 23, 3)
    return boxes, keypoints, kinds, missed, seconds


def detections(step: int) -> dict[bool, list[Found]]:
    """Per frame-view, without and with verification (key ``verify``): :func:`classify`."""
    real = np.load(REAL)
    cameras = list(real["camera_names"])
    found: dict[bool, list[Found]] = {False: [], True: []}
    with MediaPipeDetector() as detector:
        for camera in cameras:
            for frame in range(0, real["detected"].shape[1], step):
                image = read_video_frame(VIDEOS / f"{camera}.mp4", frame)
                view = cameras.index(camera)
                truth = [real["boxes"][p, frame, view] for p in range(2) if real["detected"][p, frame, view]]
                for verify in (False, True):
                    people = detector.detect_people(image, max_people=4, verify=verify)
                    seconds = people[0].seconds if people else float("nan")
                    found[verify].append(classify(people, truth, seconds))
    return found


def compare(found: dict[bool, list[Found]]) -> None:
    """Print ghosts and real people kept, people missed and time per image, per rule."""
    print(f"\n{'detector rule':40}{'ghosts kept':>12}{'real kept':>11}{'missed':>8}{'s / image':>11}")
    for verify in (False, True):
        for use_filter in (False, True):
            kept = {"real": 0, "ghost": 0}
            missed = 0
            for boxes, keypoints, kinds, miss, _ in found[verify]:
                keep = drop_ghosts(boxes, keypoints) if use_filter and len(boxes) else np.ones(len(kinds), bool)
                for kind, k in zip(kinds, keep):
                    kept[kind] = kept.get(kind, 0) + int(k)
                missed += miss  # drop_ghosts dropped no real person here: see the first table
            seconds = np.nanmean([f[4] for f in found[verify]])
            name = ("verify" if verify else "no verification (old)") + (" + drop_ghosts" if use_filter else "")
            print(f"{name:40}{kept['ghost']:>12}{kept['real']:>11}{missed:>8}{seconds:>11.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step", type=int, default=4, help="every STEP-th frame of the 100")
    args = parser.parse_args()
    both = detections(args.step)
    found = both[False]
    kinds = [k for _, _, ks, _, _ in found for k in ks]
    print(f"{len(found)} frame-views, {len(kinds)} detections: "
          + ", ".join(f"{kinds.count(k)} {k}" for k in ("real", "ghost", "unknown")))  # fmt: skip
    print(f"{'filter':38}{'ghosts dropped':>16}{'real dropped':>14}{'unknown dropped':>17}")
    settings = [("none (baseline)", None)] + [
        (f"inside > {i}, confidence < {c}" + (" (default)" if (i, c) == (GHOST_INSIDE, GHOST_CONFIDENCE) else ""),
         (i, c)) for i in (0.5, GHOST_INSIDE, 0.7) for c in (GHOST_CONFIDENCE, 0.85, 0.9)
    ]  # fmt: skip
    for name, setting in settings:
        dropped = {"real": 0, "ghost": 0, "unknown": 0}
        for boxes, keypoints, ks, _, _ in found:
            if setting is None or not len(boxes):
                continue
            keep = drop_ghosts(boxes, keypoints, *setting)
            for k, kept in zip(ks, keep):
                dropped[k] += int(not kept)
        print(f"{name:38}{dropped['ghost']:>10} of {kinds.count('ghost'):<3}{dropped['real']:>8} of "
              f"{kinds.count('real'):<3}{dropped['unknown']:>11} of {kinds.count('unknown')}")  # fmt: skip
    compare(both)


if __name__ == "__main__":
    main()
