"""Remake the README's demo pictures in docs/images/ from the bundled example.

Runs `hmrflow demo` and `hmrflow demo-multiview` (default model unless --model), then
copies, downscaled, into docs/images/:

* demo_overlay.jpg    the keypoints and the fitted body over a photo (cam01_f074)
* demo_samples.jpg    mode and samples from the front and the side, and their spread (cam04_f019)
* demo_multiview.jpg  the four views: keypoints, each alone, refinement, calibrated fit
* demo_viewer.jpg     the HTML viewer in headless Chromium (when `chromium` is installed)

    .venv/bin/python scripts/make_demo_pictures.py [--model FILE]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "images"


def shrink(source: Path, target: Path, width: int, quality: int = 85) -> None:
    image = Image.open(source).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    if target.suffix == ".png":
        image.save(target, optimize=True)
    else:
        image.save(target, quality=quality, optimize=True, progressive=True)
    print(f"{target.relative_to(ROOT)}: {image.width}x{image.height}, {target.stat().st_size / 1024:.0f} KB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model file (default: the shipped model)")
    args = parser.parse_args()
    from hmrflow.cli.main import main as hmrflow

    model = ["--model", args.model] if args.model else []
    DOCS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        if hmrflow(["demo", "--out", str(out / "demo"), *model]) != 0:
            return 1
        from argparse import ArgumentParser

        from hmrflow.cli import demo_multiview

        multiview = ArgumentParser()
        demo_multiview.register(multiview.add_subparsers())
        options = multiview.parse_args(["demo-multiview", "--out", str(out / "mv"), "--no-fit", *model])
        if options.func(options) != 0:
            return 1
        shrink(out / "demo" / "cam01_f074" / "overlay.jpg", DOCS / "demo_overlay.jpg", 720)
        shrink(out / "demo" / "cam04_f019" / "person0" / "samples.png", DOCS / "demo_samples.jpg", 960)
        shrink(out / "mv" / "views.jpg", DOCS / "demo_multiview.jpg", 720, quality=80)
        if shutil.which("chromium"):
            shot = out / "viewer.png"
            page = out / "demo" / "cam02_f089" / "person0" / "viewer.html"
            subprocess.run(
                [sys.executable, str(ROOT / "scripts" / "check_viewer.py"), str(page), "--screenshot", str(shot)],
                check=True,
            )
            shrink(shot, DOCS / "demo_viewer.jpg", 720)
    return 0


if __name__ == "__main__":
    sys.exit(main())
