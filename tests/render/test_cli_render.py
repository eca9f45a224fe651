"""``hmrflow render sheet`` and ``hmrflow render images``."""

from __future__ import annotations

import numpy as np
import pytest

from hmrflow.cli.main import main
from hmrflow.render.context import egl_available

AVAILABLE, WHY = egl_available()
pytestmark = pytest.mark.skipif(not AVAILABLE, reason=f"no EGL OpenGL context on this machine: {WHY}")


def test_sheet_writes_a_grid_of_images(tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "sheet.png"
    args = ["render", "sheet", str(out), "--count", "3", "--columns", "2", "--resolution", "64",
            "--body", "anny_lowpoly"]  # fmt: skip
    assert main(args) == 0
    image = np.asarray(Image.open(out))
    assert image.shape == (2 * 64 + 3 * 2, 2 * 64 + 3 * 2, 3)  # 2 x 2 tiles, 2 px apart and around
    assert (image[2:66, 2:66] != 255).any() and (image[68:132, 68:132] == 255).all()  # 4th tile empty
    assert "3 synthetic images" in capsys.readouterr().out


def test_images_writes_shards_with_an_index(tmp_path):
    from hmrflow.data.image_shards import ImageShards

    args = ["render", "images", str(tmp_path), "--num", "3", "--shard-size", "2", "--resolution", "48",
            "--body", "anny_lowpoly", "--part-labels", "--no-progress", "--seed", "4"]  # fmt: skip
    assert main(args) == 0
    data = ImageShards(tmp_path)
    assert len(data) == 3 and data.index["seed"] == 4 and data.index["config"]["resolution"] == 48
    assert data[2].image.shape == (48, 48, 3) and data[2].parts is not None


def test_render_without_a_subcommand_prints_help(capsys):
    assert main(["render"]) == 2
    assert "sheet" in capsys.readouterr().out
