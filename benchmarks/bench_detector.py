"""Detector speed: one person (``detect``, one BlazePose look) against several people
(``detect_people``: look, paint the person over, look again) in the same run.

Images: a bundled demo photo (one person) and frame 0 of pose2sim Demo_MultiPerson cam04
(two people; ``bash scripts/fetch_data.sh`` fetches it). Figures are medians over
repeats of the time per image seen by the caller (the worker round trip included), with
the number of people found; the baseline is ``detect`` on the same image.
Needs the detector environment (``bash scripts/setup_detector.sh``).

Run::

    OMP_NUM_THREADS=1 python benchmarks/bench_detector.py [--repeats 10] [--max-people 4]
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image
from timing import median_times

from hmrflow.application.detector import MediaPipeDetector, read_video_frame

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT / ".cache" / "data" / "pose2sim" / "Demo_MultiPerson" / "videos" / "cam04.mp4"


def images() -> dict[str, np.ndarray]:
    """The benchmark's images ``(H, W, 3)`` uint8 RGB by name."""
    bundled = sorted(Path(str(resources.files("hmrflow") / "assets" / "demo" / "images")).glob("*.jpg"))[0]
    out = {f"bundled {bundled.name} (1 person)": np.asarray(Image.open(bundled).convert("RGB"))}
    if VIDEO.is_file():
        out["Demo_MultiPerson cam04 frame 0 (2 people)"] = read_video_frame(VIDEO, 0)
    else:
        print(f"{VIDEO} missing (bash scripts/fetch_data.sh): the two-person image is left out")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--max-people", type=int, default=4)
    args = parser.parse_args()
    with MediaPipeDetector() as detector:
        print(f"{'image':<45} {'people':>6} {'detect ms':>10} {'detect_people ms':>17} {'ratio':>6}")
        for name, image in images().items():
            found = len(detector.detect_people(image, max_people=args.max_people))
            one, several = median_times(
                [lambda: detector.detect(image), lambda: detector.detect_people(image, max_people=args.max_people)],
                args.repeats,
            )
            print(f"{name:<45} {found:>6} {1e3 * one:>10.0f} {1e3 * several:>17.0f} {several / one:>6.2f}")


if __name__ == "__main__":
    main()
