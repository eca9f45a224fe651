#!/usr/bin/env bash
# Install everything the demo needs into .venv and run the main job on bundled data.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup_env.sh" "train,plot,render"
cd "$root"
exec "$root/.venv/bin/hmrflow" demo "$@"
