"""The animation player: the page's data, and the animated GLB played in headless Chromium (where installed)."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import roma
import torch

from hmrflow.body import BodyModel
from hmrflow.body.gltf_animation import animated_glb_bytes
from hmrflow.render.animation_page import animation_page_html, write_animation_page

CHROMIUM = shutil.which("chromium")
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_viewer.py"


def wave(frames: int = 8) -> dict[str, torch.Tensor]:
    """A body facing the camera, 3 m away, turning a quarter turn, lowering its arms and bending a knee."""
    s = torch.linspace(0, 1, frames)
    rotvecs = torch.zeros(frames, 24, 3)
    rotvecs[:, 0, 0] = torch.pi  # upright in the camera frame (y down)
    rotvecs[:, 0] = roma.rotmat_to_rotvec(
        roma.rotvec_to_rotmat(rotvecs[:, 0]) @ roma.rotvec_to_rotmat(torch.stack([0 * s, s * torch.pi / 2, 0 * s], -1))
    )
    rotvecs[:, 16, 2] = -1.2 * s  # left shoulder
    rotvecs[:, 17, 2] = 1.2 * s  # right shoulder
    rotvecs[:, 4, 0] = 1.0 * s  # left knee
    transl = torch.tensor([0.0, 0.2, 3.0]).expand(frames, 3)
    return {"rotmats": roma.rotvec_to_rotmat(rotvecs), "betas": torch.zeros(10), "transl": transl}


@pytest.fixture(scope="module")
def glb() -> bytes:
    body = BodyModel.from_name("anny_lowpoly")
    motion = wave()
    return animated_glb_bytes(body, motion["betas"], motion["rotmats"], motion["transl"], 24.0)


def test_the_page_embeds_the_glb_and_escapes_the_title(glb):
    page = animation_page_html(glb, "a </script> & b")
    data = page.split('type="application/json">', 1)[1].split("</script>", 1)[0]
    decoded = json.loads(data)
    assert base64.b64decode(decoded["glb"]) == glb
    assert decoded["title"] == "a </script> & b"
    assert "<title>a &lt;/script&gt; &amp; b</title>" in page and "__DATA__" not in page


def test_the_page_refuses_bytes_that_are_not_glb(tmp_path):
    with pytest.raises(ValueError, match="glb"):
        write_animation_page(tmp_path / "x.html", b"PK\x03\x04", "zip")


def _check_viewer():
    spec = importlib.util.spec_from_file_location("check_viewer", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _screenshots(page: Path, frames: list[int]) -> tuple[list[np.ndarray], list[str], int]:
    """Screenshots ``(H, W, 3)`` of the page opened at ``?frame=N`` for each N, the problems seen
    and the page's frame count."""
    from PIL import Image

    check = _check_viewer()
    profile = tempfile.mkdtemp(prefix="hmrflow-chromium-")
    tools = check.DevTools(CHROMIUM, profile, (640, 480))
    shots, count = [], 0
    try:
        session = tools.page_session((640, 480))
        for frame in frames:
            tools.send("Page.navigate", {"url": f"{page.resolve().as_uri()}?frame={frame}"}, session)
            deadline = time.monotonic() + 60
            ready = False
            while not ready and time.monotonic() < deadline:
                tools.wait(0.5)
                answer = tools.send("Runtime.evaluate", {"expression": "[window.hmrflowReady === true, "
                                    "window.hmrflowFrameCount, document.getElementById('frame').value]",
                                    "returnByValue": True}, session)["result"].get("value")  # fmt: skip
                ready = bool(answer and answer[0])
            assert ready, "the page never drew its first frame"
            count = answer[1]
            assert int(answer[2]) == frame  # the slider shows the frame asked for
            png = base64.b64decode(tools.send("Page.captureScreenshot", {"format": "png"}, session)["data"])
            shots.append(np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float32))
    finally:
        tools.close()
        shutil.rmtree(profile, ignore_errors=True)
    return shots, check.problems(tools.events), count


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_chromium_plays_the_animation_two_frames_differ_and_show_the_body(glb, tmp_path):
    page = tmp_path / "animation.html"
    write_animation_page(page, glb, "wave")
    (first, last), problems, count = _screenshots(page, [0, 7])
    assert problems == []
    assert count == 8
    for shot in (first, last):
        body = shot[..., 2] - shot[..., 0] > 40  # the body is blue; the background grey
        assert 0.02 < body.mean() < 0.6, f"{100 * body.mean():.1f} % of the pixels are body-blue"
        rows, columns = np.nonzero(body)
        assert abs(columns.mean() / shot.shape[1] - 0.5) < 0.25  # in the middle of the view
    changed = np.abs(first - last).max(-1) > 30
    assert changed.mean() > 0.01, f"frames 0 and 7 differ in {100 * changed.mean():.2f} % of the pixels"
