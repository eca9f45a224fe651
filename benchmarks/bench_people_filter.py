"""Ghosts of the several-people detector and the cheap filter that drops some of them.

Frames 0, 4, ..., 96 of the four pose2sim Demo_MultiPerson videos (``bash
scripts/fetch_data.sh``): ``MediaPipeDetector.detect_people`` (max 4), then each detection
is classed against the people of ``real-multiview-v1`` (shipped): real (box IoU > 0.5 with
a person there), ghost (both people are there and it matches neither), unknown (the set
lacks a person in that view). The baseline is no filter; the rows are
:func:`hmrflow.application.inputs.drop_ghosts` with its default and other thresholds.
Needs the detector environment (``bash scripts/setup_detector.sh``).

Run::

    OMP_NUM_THREADS=1 python benchmarks/bench_people_filter.py [--step 4]
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

import numpy as np

from hmrflow.application.detector import MediaPipeDetector, box_iou, read_video_frame
from hmrflow.application.inputs import GHOST_CONFIDENCE, GHOST_INSIDE, drop_ghosts

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT / ".cache" / "data" / "pose2sim" / "Demo_MultiPerson" / "videos"
REAL = Path(str(resources.files("hmrflow") / "assets" / "real" / "real-multiview-v1.npz"))


def detections(step: int) -> list[tuple[np.ndarray, np.ndarray, list[str]]]:
    """Per frame-view: boxes ``(P, 4)``, keypoints ``(P, 23, 3)`` and each detection's class."""
    real = np.load(REAL)
    cameras = list(real["camera_names"])
    found = []
    with MediaPipeDetector() as detector:
        for camera in cameras:
            for frame in range(0, real["detected"].shape[1], step):
                people = detector.detect_people(read_video_frame(VIDEOS / f"{camera}.mp4", frame), max_people=4)
                view = cameras.index(camera)
                truth = [real["boxes"][p, frame, view] for p in range(2) if real["detected"][p, frame, view]]
                kinds = []
                for person in people:
                    iou = max((box_iou(person.box, t) for t in truth), default=0.0)
                    kinds.append("real" if iou > 0.5 else "ghost" if len(truth) == 2 else "unknown")
                boxes = np.array([p.box for p in people]).reshape(-1, 4)
                keypoints = np.array([p.keypoints for p in people]).reshape(-1, 23, 3)
                found.append((boxes, keypoints, kinds))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step", type=int, default=4, help="every STEP-th frame of the 100")
    args = parser.parse_args()
    found = detections(args.step)
    kinds = [k for _, _, ks in found for k in ks]
    print(f"{len(found)} frame-views, {len(kinds)} detections: "
          + ", ".join(f"{kinds.count(k)} {k}" for k in ("real", "ghost", "unknown")))  # fmt: skip
    print(f"{'filter':38}{'ghosts dropped':>16}{'real dropped':>14}{'unknown dropped':>17}")
    settings = [("none (baseline)", None)] + [
        (f"inside > {i}, confidence < {c}" + (" (default)" if (i, c) == (GHOST_INSIDE, GHOST_CONFIDENCE) else ""),
         (i, c)) for i in (0.5, GHOST_INSIDE, 0.7) for c in (GHOST_CONFIDENCE, 0.85, 0.9)
    ]  # fmt: skip
    for name, setting in settings:
        dropped = {"real": 0, "ghost": 0, "unknown": 0}
        for boxes, keypoints, ks in found:
            if setting is None or not len(boxes):
                continue
            keep = drop_ghosts(boxes, keypoints, *setting)
            for k, kept in zip(ks, keep):
                dropped[k] += int(not kept)
        print(f"{name:38}{dropped['ghost']:>10} of {kinds.count('ghost'):<3}{dropped['real']:>8} of "
              f"{kinds.count('real'):<3}{dropped['unknown']:>11} of {kinds.count('unknown')}")  # fmt: skip


if __name__ == "__main__":
    main()
