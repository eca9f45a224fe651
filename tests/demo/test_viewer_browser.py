"""The HTML viewer in headless Chromium (scripts/check_viewer.py), where Chromium is installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hmrflow.application.viewer import ViewerGroup, ViewerMesh, write_viewer

CHROMIUM = shutil.which("chromium")
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_viewer.py"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_the_viewer_draws_in_chromium_without_errors(tmp_path):
    from hmrflow.body import BodyModel

    body = BodyModel.from_name("anny_lowpoly")
    rest = body(torch.eye(3).expand(1, 24, 3, 3), torch.zeros(1, 10)).vertices[0].numpy()
    points = rest * [1, -1, -1] + [0, 0, 3]  # upright in front of the camera
    page = tmp_path / "viewer.html"
    meshes = [ViewerMesh("mode", "mode", points, (0.45, 0.62, 0.92))]
    write_viewer(page, "check", meshes, body.faces.numpy(), [ViewerGroup("mode", "mode", (0.45, 0.62, 0.92))])
    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(page), "--screenshot", str(shot)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 problem(s)" in run.stdout and shot.stat().st_size > 1000


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_the_check_catches_a_broken_page(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!doctype html><canvas></canvas><script>console.error('boom'); undefinedCall();</script>")
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(page), "--settle", "1"], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 1
    assert "boom" in run.stdout and "undefinedCall" in run.stdout and "blank" in run.stdout
