"""Distributed data parallel training on the CPU: two processes, gloo, Lightning's ddp strategy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

SCRIPT = Path(__file__).with_name("ddp_script.py")


def test_two_process_ddp_keeps_the_ranks_weights_identical(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    # Each rank trained on its own data stream ...
    assert ranks[0]["seen"] != ranks[1]["seen"]
    # ... and after 4 averaged-gradient steps every parameter and buffer is the same.
    a, b = ranks[0]["state"], ranks[1]["state"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # The model did train: the head moved away from where both ranks started.
    assert torch.equal(ranks[0]["initial_head"], ranks[1]["initial_head"])
    assert not torch.equal(ranks[0]["initial_head"], a["head.layers.0.weight"])
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
