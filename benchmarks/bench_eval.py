"""Evaluation speed: the cost of the figures against the model's own forward pass, same run.

A model of the shipped keypoint configuration (untrained weights: speed does not depend on
them) evaluates a synthetic set with 25 hypotheses per example. Timed per batch (medians):
the model (encoder, flow for the mode and 24 samples, joints of every hypothesis, the
likelihood of the ground-truth pose) and the :class:`~hmrflow.evaluation.Evaluator` update
(errors, Procrustes of every hypothesis, diversity, calibration). The ratio is evaluator
time / model time: the evaluation's overhead.

Run::

    OMP_NUM_THREADS=1 python benchmarks/bench_eval.py [--batch 128] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from importlib import resources

import torch

from hmrflow.config import load_config
from hmrflow.evaluation.evaluator import Evaluator
from hmrflow.evaluation.runner import JointPredictor
from hmrflow.evaluation.sets import synthetic_set
from hmrflow.models import ProbabilisticHMR
from hmrflow.training.config import ExperimentConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--hypotheses", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    config_file = resources.files("hmrflow") / "configs" / "keypoints.yaml"
    config = load_config(ExperimentConfig, str(config_file))
    model = ProbabilisticHMR(config.model).eval()
    data = synthetic_set("synthetic-keypoints-v1", model.body, size=args.batch)
    batch = next(data.batches(args.batch))
    predictor = JointPredictor(model.body, data.info.joint_names, data.info.pelvis)
    generator = torch.Generator().manual_seed(0)

    def run_model():
        with torch.no_grad():
            out = model(batch.evidence, num_samples=args.hypotheses - 1, generator=generator)
            mode = predictor(out.mode.rotmats, out.betas)[:, 0]
            samples = predictor(out.samples.rotmats, out.betas)
            log_prob = model.log_prob(batch.evidence, batch.rotmats)
        return mode, samples, log_prob

    mode, samples, log_prob = run_model()
    model_times, eval_times = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        run_model()
        model_times.append(time.perf_counter() - start)
        evaluator = Evaluator(predictor.names, predictor.pelvis)
        start = time.perf_counter()
        evaluator.update(batch.joints_3d, mode, samples, log_prob)
        evaluator.compute()
        eval_times.append(time.perf_counter() - start)
    t_model, t_eval = statistics.median(model_times), statistics.median(eval_times)
    print(f"batch {args.batch}, {args.hypotheses} hypotheses, {torch.get_num_threads()} thread(s)")
    print(f"model + joints + likelihood: {1000 * t_model:8.1f} ms/batch  ({args.batch / t_model:7.1f} examples/s)")
    print(f"evaluator update + compute:  {1000 * t_eval:8.1f} ms/batch  ({args.batch / t_eval:7.1f} examples/s)")
    print(f"evaluation overhead (evaluator / model): {t_eval / t_model:.2f}")
    print(f"end to end: {args.batch / (t_model + t_eval):.1f} examples/s")


if __name__ == "__main__":
    main()
