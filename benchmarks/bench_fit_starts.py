r"""Does the learned-prior fit depend on where it starts? (``real-multiview-v1``, single views)

The keypoint fit (:func:`~hmrflow.fitting.keypoint_fit.fit_keypoints`) starts every person
at ``z = 0``, the mode. If its energy had other, lower minima (an elbow bent the other way,
a leg crossed in front instead of behind) a fit started elsewhere could find them. Printed,
on the views ``hmrflow fit --evaluate --data real-multiview-v1`` fits (``--size``, 320):

* the PA-MPJPE (mm, 12 limb joints) of the fit from the mode, and of the lowest-energy fit
  among the mode and ``--starts`` random latents ``z ~ N(0, temperature^2)``;
* how often another start ends lower, and by how much (the energy's median drop).

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_fit_starts.py [--model FILE]``
"""

from __future__ import annotations

import argparse

import torch
from torch import Tensor

from hmrflow import load_model
from hmrflow.data.real_multiview import LIMB_JOINTS, RealMultiview
from hmrflow.evaluation.metrics import pa_mpjpe
from hmrflow.evaluation.real_sets import view_examples
from hmrflow.evaluation.runner import JointPredictor
from hmrflow.fitting.evaluate_real import _HIPS, _people, spread
from hmrflow.fitting.keypoint_fit import (
    FitConfig,
    Start,
    fit_bodies,
    frozen,
    latent_pose,
    learned_prior_energy,
    regress,
)
from hmrflow.fitting.lbfgs import StopRules
from hmrflow.fitting.people import People


def fit_from(model, people: People, start: Start, config: FitConfig, z0: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The learned-prior fit started at latents ``z0`` ``(B, D)``: rotations, betas and energy ``(B,)``."""
    weight = config.pose_prior_weight**2
    z = z0.clone().requires_grad_(True)
    with frozen(model):
        decode = latent_pose(model, start.context, config.lean_energy, start.to_camera)
    fit = fit_bodies(model, people, config, start, [z], lambda: decode(z), lambda: weight * z.square().sum(-1))
    with torch.no_grad(), frozen(model):
        energy = learned_prior_energy(model, people, config, start)(z.detach(), fit.betas, fit.translation)
    return fit.rotmats, fit.betas, energy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="model file (default: the shipped one)")
    parser.add_argument("--size", type=int, default=320, help="views (spread over the set; default 320)")
    parser.add_argument("--starts", type=int, default=4, help="random starts besides the mode (default 4)")
    parser.add_argument("--temperature", type=float, default=0.7, help="of the random starts (default 0.7)")
    parser.add_argument("--steps", type=int, default=30, help="L-BFGS outer steps (default 30)")
    args = parser.parse_args()
    model = load_model(args.model).eval()
    data = RealMultiview.load()
    examples = view_examples(data)
    examples = examples[spread(len(examples), args.size)]
    index = [data.keypoint_names.index(name) for name in LIMB_JOINTS]
    truth = torch.from_numpy(data.camera_joints()[tuple(examples.T)][:, index]).float()
    predictor = JointPredictor(model.body, LIMB_JOINTS, _HIPS)
    config = FitConfig(rules=StopRules(max_steps=args.steps))
    generator = torch.Generator().manual_seed(0)
    from_mode, best, drops = [], [], []
    for first in range(0, len(examples), 64):
        rows = examples[first : first + 64]
        people = _people(data, *rows.T, torch.device("cpu"))
        start = regress(model, people)
        shape = (len(rows), model.latent_features)
        z0s = [torch.zeros(shape)] + [args.temperature * torch.randn(shape, generator=generator)
                                      for _ in range(args.starts)]  # fmt: skip
        fits = [fit_from(model, people, start, config, z0) for z0 in z0s]
        with torch.no_grad():
            joints = torch.stack([predictor(rotmats[:, None], betas)[:, 0] for rotmats, betas, _ in fits])
        energy = torch.stack([e for _, _, e in fits])  # (starts + 1, B)
        pick = energy.argmin(0)
        from_mode.append(joints[0])
        best.append(joints[pick, torch.arange(len(rows))])
        drops.append(energy[0] - energy.min(0).values)
    drop = torch.cat(drops)
    print(f"real-multiview-v1, {len(examples)} views, {args.steps} L-BFGS steps; model: {args.model or 'shipped'}")
    print(f"  fit from the mode: PA-MPJPE {pa_mpjpe(torch.cat(from_mode), truth).mean():.1f} mm")
    print(f"  lowest energy of the mode and {args.starts} random starts (temperature {args.temperature}): "
          f"{pa_mpjpe(torch.cat(best), truth).mean():.1f} mm")  # fmt: skip
    lower = drop > 0.1  # energy units: the data term is in (1000 px / image side)^2
    print(f"  another start ends lower for {int(lower.sum())} of {len(drop)} views "
          f"(median drop {drop[lower].median() if lower.any() else 0.0:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
