r"""Fitting time per person on CPU, default stop rules (target: under 1 s per person).

Workloads on the same synthetic people, run interleaved (``timing.median_times``) and
timed by the median of ``--repeats``; the ratios are against the first row, measured in
the same run:

* learned prior, plain energy -- the reference: the energy evaluated the plain way
  (``FitConfig(lean_energy=False)``: the flow's decode, the body model, the projection);
* learned prior -- the default (``hmrflow.fitting.lean_energy``: what does not change
  during a fit computed once);
* baseline (SMPLify-style, GMM prior);

each fitting ``--people`` people one at a time, then the learned prior and the baseline
on the same people fitted as one L-BFGS problem (``joint_batch=True``, the default;
ProHMR's way). Per workload: seconds, energy evaluations and L-BFGS iterations per
person, milliseconds per evaluation (one evaluation = pose + keypoints + projection +
energy, forward and backward; the L-BFGS bookkeeping and the fit's setup included), the
ratio to the reference and the mean PA-MPJPE (mm, 24 joints) against the ground truth.

    OMP_NUM_THREADS=1 python benchmarks/bench_fitting.py                  # shipped model
    OMP_NUM_THREADS=1 python benchmarks/bench_fitting.py --model run/model.pt --people 8
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from timing import median_times
from torch import Tensor

from hmrflow.data.synthetic import SyntheticBatch, SyntheticKeypoints, make_evaluation_set
from hmrflow.evaluation.metrics import pa_mpjpe
from hmrflow.fitting.baseline import fit_baseline
from hmrflow.fitting.keypoint_fit import BodyFit, FitConfig, Start, fit_keypoints, regress
from hmrflow.fitting.lbfgs import StopRules
from hmrflow.fitting.people import People
from hmrflow.models import ProbabilisticHMR

Fitter = Callable[[People, Start], BodyFit]


def load(path: str | None) -> tuple[ProbabilisticHMR, str]:
    from hmrflow import load_model
    from hmrflow.errors import CheckpointError

    try:
        return load_model(path), path or "shipped model"
    except CheckpointError as error:
        if path is not None:
            raise
        from hmrflow.cli.train import config_path
        from hmrflow.config import load_config
        from hmrflow.training.config import ExperimentConfig

        config = load_config(ExperimentConfig, config_path("keypoints"), [])
        return ProbabilisticHMR(config.model).eval(), f"untrained shipped architecture ({error})"


def one_at_a_time(fitter: Fitter, people: People, start: Start) -> Callable[[], BodyFit]:
    """Fit each person alone (one L-BFGS run each)."""
    return lambda: BodyFit.concatenate([fitter(people[i : i + 1], start[i : i + 1]) for i in range(len(people))])


def workloads(model: ProbabilisticHMR, people: People, rules: StopRules) -> dict[str, Callable[[], BodyFit]]:
    """Label -> a fit of ``people`` one at a time or as one problem."""
    start = regress(model, people)
    lean, plain = FitConfig(rules=rules), FitConfig(rules=rules, lean_energy=False)

    def learned(config: FitConfig) -> Fitter:
        return lambda p, s: fit_keypoints(model, p, config, s)

    def baseline(p: People, s: Start) -> BodyFit:
        return fit_baseline(model, p, lean, start=s)

    return {
        "learned prior, plain energy, 1 person": one_at_a_time(learned(plain), people, start),
        "learned prior, 1 person": one_at_a_time(learned(lean), people, start),
        "baseline, 1 person": one_at_a_time(baseline, people, start),
        f"learned prior, batch of {len(people)}": lambda: learned(lean)(people, start),
        f"baseline, batch of {len(people)}": lambda: baseline(people, start),
    }


def report(label: str, seconds: float, fit: BodyFit, truth: Tensor, reference: float) -> str:
    """One table row: per person time, evaluations, iterations, ms/evaluation, ratio, PA-MPJPE."""
    runs = list({id(r): r for r in fit.results}.values())
    count = len(fit.results)
    evaluations = sum(r.evaluations for r in runs)
    iterations = sum(r.iterations for r in runs)
    per_person = seconds / count
    error = float(pa_mpjpe(fit.joints, truth).mean())
    return (f"{label:<40}{per_person:>9.3f}{evaluations / count:>8.1f}{iterations / count:>8.1f}"
            f"{1000 * seconds / evaluations:>9.2f}{per_person / reference:>8.2f}x{error:>9.1f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model file (default: the shipped one)")
    parser.add_argument("--people", type=int, default=12, help="people, fitted one at a time and as one batch")
    parser.add_argument("--steps", type=int, default=30, help="L-BFGS outer steps at most")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, name = load(args.model)
    data: SyntheticBatch = make_evaluation_set(SyntheticKeypoints(model.body, None), args.people, seed=0)
    people = People.from_keypoints(data.clean_2d, data.image_size, data.focal_length)
    jobs = workloads(model, people, StopRules(max_steps=args.steps))
    fits: dict[str, BodyFit] = {}

    def keep(label: str, job: Callable[[], BodyFit]) -> Callable[[], None]:
        return lambda: fits.__setitem__(label, job())

    seconds = median_times([keep(label, job) for label, job in jobs.items()], args.repeats)
    print(f"model: {name}; default stop rules ({args.steps} outer steps at most); threads {torch.get_num_threads()}; "
          f"median of {args.repeats}")  # fmt: skip
    print(f"{'workload':<40}{'s/person':>9}{'evals':>8}{'iters':>8}{'ms/eval':>9}{'vs ref':>9}{'PA mm':>9}")
    reference = seconds[0] / args.people
    for (label, fit), time in zip(fits.items(), seconds):
        print(report(label, time, fit, data.joints_3d, reference))


if __name__ == "__main__":
    main()
