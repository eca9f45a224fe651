#!/usr/bin/env python
"""Make the shipped DeepMimic pose files from the motion clips inside PyPI `pybullet` 3.2.7.

The pybullet wheel carries DeepMimic's reference motions for its 13-joint humanoid
(pybullet_data/data/motions/humanoid3d_*.txt: walking, running, jumping, kicking, punching,
dancing, crawling, rolling, getting up from lying on the back and on the front, ...). This
script reads each clip, retargets it onto the SMPL 24-joint tree with the built-in rest
skeleton (`hmrflow.data.pose_sources.read_deepmimic`), keeps 60 Hz clips at 30 Hz and
writes one file per clip to src/hmrflow/assets/poses/deepmimic/.

    python scripts/make_deepmimic_poses.py --download          # fetch the wheel with pip first
    python scripts/make_deepmimic_poses.py --motions DIR       # a folder of humanoid3d_*.txt
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch

from hmrflow.data.joint_limits import plausibility
from hmrflow.data.pose_sources.deepmimic import read_deepmimic

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_cmu_poses import report_ranges_of_motion  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "hmrflow" / "assets" / "poses" / "deepmimic"
PYBULLET = "pybullet==3.2.7"
MOTIONS = "pybullet_data/data/motions/"


def download(folder: Path) -> Path:
    """pip download the pybullet wheel into `folder` and unpack its humanoid3d clips."""
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", PYBULLET]
    subprocess.run([*pip, "-d", str(folder)], check=True)
    wheel = next(folder.glob("pybullet-3.2.7-*.whl"))
    print(f"{wheel.name} sha256 {hashlib.sha256(wheel.read_bytes()).hexdigest()}")
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.startswith(MOTIONS + "humanoid3d_"):
                archive.extract(name, folder)
    return folder / MOTIONS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--motions", type=Path, help="folder holding humanoid3d_*.txt")
    parser.add_argument("--download", action="store_true", help="fetch the pybullet wheel with pip")
    parser.add_argument("--fps", type=float, default=30.0, help="keep every k-th frame of faster clips")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    with tempfile.TemporaryDirectory() as tmp:
        if args.download:
            motions = download(Path(tmp))
        elif args.motions:
            motions = args.motions
        else:
            parser.error("give --motions DIR, or --download")
        args.out.mkdir(parents=True, exist_ok=True)
        everything = []
        for path in sorted(motions.glob("humanoid3d_*.txt")):
            seq = read_deepmimic(path, dtype=torch.float64)
            seq.source = f"DeepMimic humanoid3d reference motion {path.name}, from PyPI {PYBULLET}"
            out = seq.subsample(min(args.fps, seq.fps))
            target = args.out / f"{path.stem.removeprefix('humanoid3d_')}.npz"
            out.save(target)
            everything.append(out.rotmats)
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            print(f"{path.name}: {len(seq)} frames at {seq.fps:g} Hz -> {len(out)} at {out.fps:g} Hz, sha256 {sha}")
    rotmats = torch.cat(everything)
    print(f"{len(rotmats)} frames in {len(everything)} files under {args.out}")
    print(f"within joint limits: {100 * plausibility(rotmats).float().mean().item():.1f} % of frames")
    report_ranges_of_motion(rotmats)


if __name__ == "__main__":
    main()
