"""The demo's estimated up (params.json ``gravity_up``) against the bundled calibration's.

The bundled demo photos are frames of the cameras of ``assets/demo/multiview/calibration.json``
(world z up); this prints, per photo, the estimated and the calibrated camera pitch, the
calibrated roll (which the estimate, assuming a level camera, cannot see), and the angle
between the estimated and the true up, beside that of the camera frame's own up.

Usage: ``hmrflow demo --out /tmp/demo && python scripts/upright_against_calibration.py /tmp/demo``
"""

from __future__ import annotations

import json
import math
import sys
from importlib import resources
from pathlib import Path

import numpy as np


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    return math.degrees(math.acos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1.0, 1.0)))


def main(out: Path) -> None:
    calibration = resources.files("hmrflow") / "assets" / "demo" / "multiview" / "calibration.json"
    cameras = json.loads(calibration.read_text())["cameras"]
    print("photo        pitch est  true  roll true | up error: estimate  camera frame (degrees)")
    for params in sorted(out.glob("*/person0/params.json")):
        name = params.parent.parent.name
        if name[:5] not in cameras:
            continue
        record = json.loads(params.read_text())["gravity_up"]
        true_up = np.array(cameras[name[:5]]["rotation"]) @ np.array([0.0, 0.0, 1.0])
        pitch = math.degrees(math.atan2(-true_up[2], -true_up[1]))
        roll = math.degrees(math.atan2(true_up[0], -true_up[1]))
        estimate = _angle(np.array(record["up"]), true_up)
        level = _angle(np.array([0.0, -1.0, 0.0]), true_up)
        print(f"{name:12s} {record['camera_pitch_deg']:9.1f} {pitch:5.1f} {roll:10.1f} | {estimate:18.1f} {level:13.1f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
