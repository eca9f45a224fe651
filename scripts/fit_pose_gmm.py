"""Fit the shipped Gaussian-mixture pose prior of the baseline (SMPLify-style) fitter.

Data: the bundled CMU trial (688 frames, mirrored too) and poses of the pose sampler
(the joint-limit sampler mixed with CMU limbs), as axis-angle of the 23 body joints
(69 values). EM, 8 full-covariance components as in SMPLify. Deterministic (seeded).

    .venv/bin/python scripts/fit_pose_gmm.py            # writes src/hmrflow/assets/priors/pose_gmm.npz
    .venv/bin/python scripts/fit_pose_gmm.py --out /tmp/gmm.npz --samples 5000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from hmrflow.body.joints import mirror_poses
from hmrflow.data.pose_sampler import PoseSampler
from hmrflow.data.pose_sources import load_cmu_demo
from hmrflow.fitting.gmm import fit_gaussian_mixture
from hmrflow.geometry import rotmat_to_rotvec

OUT = Path(__file__).resolve().parents[1] / "src" / "hmrflow" / "assets" / "priors" / "pose_gmm.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--samples", type=int, default=20000, help="pose-sampler poses")
    parser.add_argument("--components", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    generator = torch.Generator().manual_seed(args.seed)
    cmu = load_cmu_demo().rotmats
    sampled = PoseSampler(cmu).sample(args.samples, generator)
    rotmats = torch.cat([cmu, mirror_poses(cmu), sampled])[:, 1:]  # the 23 body joints
    data = rotmat_to_rotvec(rotmats.double()).flatten(-2)  # (N, 69)
    gmm = fit_gaussian_mixture(data, args.components, args.iterations, generator).pruned(1e-3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    gmm.save(args.out)
    nll = gmm.to(data).nll(data)
    print(f"{len(data)} poses, {len(gmm.weights)} components (of {args.components}) -> {args.out}")
    print(f"weights {[round(w, 3) for w in gmm.weights.tolist()]}; nll median {nll.median():.1f}")


if __name__ == "__main__":
    main()
