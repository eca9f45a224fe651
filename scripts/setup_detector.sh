#!/usr/bin/env bash
# Create (or reuse) .venv-detector: the optional 2D keypoint detector for `hmrflow demo`.
#
# mediapipe 0.10.21 is the last release whose legacy `mp.solutions.pose` ships its model
# files (it runs offline), but it needs numpy < 2 and protobuf < 5. hmrflow itself works
# with numpy 2, so the detector lives in its own virtual environment and hmrflow talks to
# it through a subprocess (hmrflow/application/detect_worker.py, JSON over stdin/stdout).
# Nothing of hmrflow is installed here: the worker is a standalone script.
# Usage: scripts/setup_detector.sh            (idempotent)
# Override the location with HMRFLOW_DETECTOR_VENV (hmrflow reads the same variable).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${HMRFLOW_DETECTOR_VENV:-$root/.venv-detector}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
py="$venv/bin/python"
if "$py" -c "import mediapipe, numpy; assert mediapipe.__version__ == '0.10.21'" 2>/dev/null; then
    exit 0
fi
"$py" -m pip install -q --disable-pip-version-check --upgrade pip
"$py" -m pip install -q --disable-pip-version-check "mediapipe==0.10.21" "numpy<2" "protobuf<5"
"$py" -c "import mediapipe as mp; mp.solutions.pose.Pose(model_complexity=1).close(); print('detector ready:', mp.__version__)"
