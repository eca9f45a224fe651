#!/usr/bin/env bash
# Install everything the demo needs and run the main job on the bundled example.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup_env.sh" "render"
# The 2D detector (mediapipe) lives in its own environment so the core keeps numpy 2.
bash "$root/scripts/setup_detector.sh" \
    || echo "detector not installed; the bundled example uses its precomputed keypoints"
cd "$root"
exec "$root/.venv/bin/hmrflow" demo "$@"
