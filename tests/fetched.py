"""Public data that ``scripts/fetch_data.sh`` (run by ``scripts/test.sh``) puts in .cache/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("HMRFLOW_DATA", ROOT / ".cache" / "data"))


def fetched(relative: str) -> Path:
    """The fetched file ``relative`` (under .cache/data); fails, saying how to fetch it."""
    path = DATA / relative
    if not path.exists():
        pytest.fail(f"{path} is missing: run `bash scripts/fetch_data.sh` (scripts/test.sh does)")
    return path
