#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install hmrflow into it.
# Usage: scripts/setup_env.sh EXTRAS      (e.g. "dev,train")
# Idempotent: a second run only checks what is installed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${HMRFLOW_VENV:-$root/.venv}"
extras="${1:-dev}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
py="$venv/bin/python"
"$py" -m pip install -q --disable-pip-version-check --upgrade pip
# torch first, pinned: 2.13.0 is a CPU build here; an unpinned torch would pull a CUDA build.
"$py" -m pip install -q --disable-pip-version-check "torch==2.13.0"
"$py" -m pip install -q --disable-pip-version-check -e "$root[$extras]"
