r"""Fitting time per person on CPU: 30 L-BFGS outer steps (target: under 1 s per person).

Workloads, each on synthetic people with exactly ``--steps`` outer steps (the early stop
rules are switched off so every run does the same work), run interleaved and timed by
the median of ``--repeats``:

* baseline (SMPLify-style, GMM prior), one person -- the reference of the ratios;
* learned prior, one person;
* baseline and learned prior, a batch of ``--batch`` people fitted as one L-BFGS problem
  (the default, ``joint_batch=True``; ProHMR's way).

Fitting each person of a batch alone (``joint_batch=False``) costs the one-person time
per person. An outer step is up to 20 L-BFGS iterations (ProHMR's count), so 30 steps
are about 600 energy evaluations.

Times are per person; the energy evaluations per person and the time per evaluation are
printed too (one evaluation = flow decode + body keypoints + projection, forward and
backward).

    OMP_NUM_THREADS=1 python benchmarks/bench_fitting.py                  # shipped model
    OMP_NUM_THREADS=1 python benchmarks/bench_fitting.py --model run/model.pt --batch 8
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from hmrflow.data.synthetic import SyntheticKeypoints, make_evaluation_set
from hmrflow.fitting.baseline import fit_baseline
from hmrflow.fitting.keypoint_fit import BodyFit, FitConfig, People, fit_keypoints, regress
from hmrflow.fitting.lbfgs import StopRules
from hmrflow.models import ProbabilisticHMR


def load(path: str | None) -> tuple[ProbabilisticHMR, str]:
    from hmrflow.training.checkpoint import CheckpointError, load_model

    try:
        return load_model(path), path or "shipped model"
    except CheckpointError as error:
        if path is not None:
            raise
        from hmrflow.config import load_config
        from hmrflow.training.config import ExperimentConfig
        from hmrflow.cli.train import config_path

        config = load_config(ExperimentConfig, config_path("keypoints"), [])
        return ProbabilisticHMR(config.model).eval(), f"untrained shipped architecture ({error})"


def median_time(fn: Callable[[], BodyFit], repeats: int) -> tuple[float, BodyFit]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fit = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model file (default: the shipped one)")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, name = load(args.model)
    data = make_evaluation_set(SyntheticKeypoints(model.body, None), args.batch, seed=0)
    people = People.from_keypoints(data.clean_2d, data.image_size, data.focal_length)
    start = regress(model, people)
    rules = StopRules(max_steps=args.steps, rel_loss_change=0.0, max_grad=0.0)
    config = FitConfig(rules=rules)
    one, first = people[:1], start[:1]
    B = args.batch
    fit_keypoints(model, one, FitConfig(rules=StopRules(max_steps=1)), first)  # warm-up
    workloads: dict[str, tuple[Callable[[], BodyFit], int]] = {
        "baseline, 1 person": (lambda: fit_baseline(model, one, config, start=first), 1),
        "learned prior, 1 person": (lambda: fit_keypoints(model, one, config, first), 1),
        f"baseline, batch {B}": (lambda: fit_baseline(model, people, config, start=start), B),
        f"learned prior, batch {B}": (lambda: fit_keypoints(model, people, config, start), B),
    }
    print(f"model: {name}; {args.steps} outer steps; threads {torch.get_num_threads()}")
    print(f"{'workload':<40}{'s/person':>10}{'evals/person':>14}{'ms/eval':>9}{'vs baseline':>13}{'of 1 s':>8}")
    reference = None
    for label, (fn, count) in workloads.items():
        seconds, fit = median_time(fn, args.repeats)
        runs = {id(r): r for r in fit.results}.values()
        evaluations = sum(r.evaluations for r in runs)
        per_person = seconds / count
        reference = reference or per_person
        print(f"{label:<40}{per_person:>10.3f}{evaluations / count:>14.1f}{1000 * seconds / evaluations:>9.1f}"
              f"{per_person / reference:>12.2f}x{100 * per_person:>7.0f}%")  # fmt: skip


if __name__ == "__main__":
    main()
