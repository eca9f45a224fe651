#!/usr/bin/env bash
# Install everything the tests need into .venv and run the test suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup_env.sh" "dev,train,plot,render,anny"
cd "$root"
export ANNY_CACHE_DIR="${ANNY_CACHE_DIR:-$root/.cache/anny}"
exec "$root/.venv/bin/python" -m pytest -q "$@"
