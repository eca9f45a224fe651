r"""How the keypoint model's mode depends on the camera's distance, and why.

Synthetic people (``synthetic-keypoints-v1``'s poses, shapes and corruption) seen from
bands of distances, each band twice: in the training data's 1280 x 960 picture, where a
near camera cuts the body off at the picture's edge, and in a picture large enough that
nothing is cut off (the person centred). Printed per band: the mode's PA-MPJPE (mm, the 21
body joints below the hands) and the keypoints inside the picture. The same poses, shapes
and corruption in every band (one seed), so the rows differ only by the camera.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_camera_distance.py [--model FILE]``
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import torch

from hmrflow import load_model
from hmrflow.data.pose_sources import load_cmu_demo
from hmrflow.data.synthetic import SyntheticKeypoints
from hmrflow.evaluation.metrics import pa_mpjpe
from hmrflow.evaluation.sets import SYNTHETIC_SETS

BANDS = ((2.0, 3.0), (3.0, 4.5), (4.5, 6.0), (6.0, 8.0), (10.0, 12.0))
UNCUT = (6000, 6000)  #: a picture no body at 2 m with f <= 2200 px leaves


@torch.no_grad()
def mode_error(model: torch.nn.Module, generator: SyntheticKeypoints, count: int, seed: int) -> tuple[float, float]:
    """The mode's mean PA-MPJPE (mm, joints 1-21) and the keypoints' inside fraction."""
    stream = torch.Generator().manual_seed(seed)
    errors, inside = [], []
    for start in range(0, count, 256):
        batch = generator.sample(min(256, count - start), stream)
        out = model(batch.evidence)
        joints = model.body(out.mode.rotmats, out.betas[:, None], vertices=False).joints[:, 0]
        errors.append(pa_mpjpe(joints[:, 1:22], batch.joints_3d[:, 1:22]))
        inside.append(batch.clean_2d[..., 2].mean(-1))
    return float(torch.cat(errors).mean()), float(torch.cat(inside).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="model file (default: the shipped one)")
    parser.add_argument("--count", type=int, default=2048, help="people per band")
    args = parser.parse_args()
    model = load_model(args.model).eval()
    base = SYNTHETIC_SETS["synthetic-keypoints-v1"].synthetic_config(model.config.encoder.keypoint_sets)
    poses = load_cmu_demo().rotmats
    print(f"model: {args.model or 'shipped'}; {args.count} people per band; mode PA-MPJPE mm (keypoints inside)")
    print(f"{'distance m':>12} {'1280 x 960 picture':>20} {'nothing cut off':>18}")
    for band in BANDS:
        row = []
        for size, spread in ((base.camera.image_size, base.camera.center_spread), (UNCUT, 0.0)):
            camera = replace(base.camera, distance=band, image_size=size, center_spread=spread)
            generator = SyntheticKeypoints(model.body, poses, replace(base, camera=camera))
            error, inside = mode_error(model, generator, args.count, seed=0)
            row.append(f"{error:5.1f} ({100 * inside:3.0f} %)")
        print(f"{band[0]:5.1f}-{band[1]:<5.1f} {row[0]:>20} {row[1]:>18}")


if __name__ == "__main__":
    main()
