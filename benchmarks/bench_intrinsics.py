r"""Known intrinsics with non-square pixels: the fit given (f_x, f_y, c) against f_x alone.

Synthetic people (``make_evaluation_set``, ``--people``), their 3D keypoints seen by a
camera with ``f = (1400, 1000)`` px and ``c = (600, 420)`` px in a 1280 x 960 image, moved
``--closer`` metres towards the camera, to a pelvis depth of 3.5 m at the least (larger
people: the stretch costs more pixels).
Each fitter (learned prior, baseline; ``--steps`` L-BFGS steps) fits them four ways, all
in the same run:

* square pixels -- the same people seen with ``f = (1400, 1400)``, fitted with that camera
  (the reference: what a fit achieves when the camera is right and isotropic);
* true -- the stretched keypoints fitted with the true camera (what the fitters do now);
* f_x only -- the stretched keypoints fitted with ``f = (1400, 1400)`` and the true
  principal point (the fitters before issue 19);
* centred -- the stretched keypoints fitted with the true focals and the principal point
  at the image centre.

Columns: the final reprojection error the fit reports (mean px over the people, in its
own camera), the same body seen through the true camera (what the camera record and the
pictures show), and PA-MPJPE / MPJPE (mm, 24 joints, root-aligned) against the truth.

    OMP_NUM_THREADS=1 python benchmarks/bench_intrinsics.py                  # shipped model
    OMP_NUM_THREADS=1 python benchmarks/bench_intrinsics.py --people 16 --steps 30
"""

from __future__ import annotations

import argparse

import torch
from torch import Tensor

from hmrflow.data.synthetic import SyntheticKeypoints, make_evaluation_set
from hmrflow.evaluation.metrics import pa_mpjpe
from hmrflow.fitting.baseline import fit_baseline
from hmrflow.fitting.keypoint_fit import BodyFit, FitConfig, fit_keypoints, project_keypoints
from hmrflow.fitting.lbfgs import StopRules
from hmrflow.fitting.people import People
from hmrflow.geometry.pinhole import PinholeCamera
from hmrflow.models import ProbabilisticHMR

SIZE = torch.tensor([1280.0, 960.0])
CENTRE = SIZE / 2
PRINCIPAL = torch.tensor([600.0, 420.0])
#: Metres: nobody is moved closer than this (pelvis depth).
MIN_DEPTH = 3.5


def camera(fx: float, fy: float, principal: Tensor, count: int) -> PinholeCamera:
    return PinholeCamera(torch.tensor([fx, fy]), principal, SIZE).expand(count)


def seen(points: Tensor, cameras: PinholeCamera) -> Tensor:
    """``(B, K, 3)`` keypoints px with confidence 1."""
    uv = cameras.project(points)
    return torch.cat([uv, torch.ones_like(uv[..., :1])], -1)


def row(model: ProbabilisticHMR, fit: BodyFit, keypoints: Tensor, true: PinholeCamera, joints: Tensor) -> str:
    with torch.no_grad():
        uv = project_keypoints(model, fit.rotmats, fit.betas, fit.translation, true.focal_length,
                               true.principal_point)  # fmt: skip
    in_true = (uv - keypoints[..., :2]).norm(dim=-1).mean()
    aligned = (fit.joints - fit.joints[:, :1]) - (joints - joints[:, :1])
    mpjpe = aligned.norm(dim=-1).mean() * 1000
    pa = pa_mpjpe(fit.joints, joints).mean()
    return f"{float(fit.reprojection_error.mean()):9.1f} {float(in_true):12.1f} {float(pa):8.1f} / {float(mpjpe):6.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="model file (default: the shipped model)")
    parser.add_argument("--people", type=int, default=16)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--closer", type=float, default=2.5, help="metres the people are moved towards the camera")
    args = parser.parse_args()
    from hmrflow import load_model

    model = load_model(args.model)
    data = make_evaluation_set(SyntheticKeypoints(model.body, None), args.people, seed=11)
    closer = (data.joints_3d[:, 0, 2] - MIN_DEPTH).clamp(0, args.closer)  # (B,)
    shift = torch.stack([torch.zeros_like(closer), torch.zeros_like(closer), closer], -1)[:, None]
    points, joints = data.keypoints_3d - shift, data.joints_3d - shift
    B = len(points)
    true = camera(1400.0, 1000.0, PRINCIPAL, B)
    square = camera(1400.0, 1400.0, PRINCIPAL, B)
    stretched = seen(points, true)
    cases = {
        "square pixels": (seen(points, square), square, square),
        "true (fx, fy, c)": (stretched, true, true),
        "f_x only": (stretched, square, true),
        "centred c": (stretched, camera(1400.0, 1000.0, CENTRE, B), true),
    }
    config = FitConfig(rules=StopRules(max_steps=args.steps))
    print(f"{B} synthetic people, {args.steps} L-BFGS steps, f = (1400, 1000), c = (600, 420), 1280 x 960")
    print(f"{'fitter':14} {'fitted with':18} {'own px':>9} {'true-cam px':>12} {'PA-MPJPE / MPJPE mm':>20}")
    for name, fitter in (("learned prior", fit_keypoints), ("baseline", fit_baseline)):
        for case, (keypoints, given, seen_by) in cases.items():
            fit = fitter(model, People.from_camera(keypoints, given), config)
            print(f"{name:14} {case:18} {row(model, fit, keypoints, seen_by, joints)}")


if __name__ == "__main__":
    main()
