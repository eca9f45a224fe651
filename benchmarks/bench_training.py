r"""Training throughput on the CPU for the ``keypoints`` configuration (samples per second).

One training step = forward (mode + 1 sample through the flow), the losses, backward and
an AdamW step, on pre-drawn synthetic batches. Against a baseline measured in the same
run: the same step computing the full mesh in the body model (every vertex skinned, the
keypoints taken from it) instead of only the vertices the keypoint regressors use. Also
prints the synthetic data stream's own rate (samples drawn per second) and the end-to-end
rate of stream + step in one process (``data.num_workers=0``). Medians of interleaved
repeats.

    OMP_NUM_THREADS=1 python benchmarks/bench_training.py
    python benchmarks/bench_training.py --threads 2 --batch 64 128 --body anny
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from timing import median_times  # noqa: E402  (benchmarks/timing.py)

from hmrflow.body import BodyModel
from hmrflow.cli.train import config_path
from hmrflow.config import apply_overrides, load_config
from hmrflow.training.config import ExperimentConfig
from hmrflow.training.data import HMRDataModule
from hmrflow.training.module import HMRModule


def full_mesh(body: BodyModel) -> None:
    """Make ``body`` skin every vertex whatever it is asked (the naive training step)."""
    plain = type(body).forward

    def forward(*args, **kwargs):
        kwargs["vertices"] = True
        return plain(body, *args, **kwargs)

    body.forward = forward  # type: ignore[method-assign]


def trainer_step(module: HMRModule, batches: list) -> Callable[[], None]:
    optimizer = module.configure_optimizers()
    state = {"i": 0}

    def step() -> None:
        batch = batches[state["i"] % len(batches)]
        state["i"] += 1
        loss = module.compute_losses(batch).total
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--batch", type=int, nargs="+", default=[128], help="batch sizes (default: the config's 128)")
    parser.add_argument("--repeats", type=int, default=15, help="timed steps per variant (default 15)")
    parser.add_argument("--body", default=None, help="body model (default: the config's anny_lowpoly)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = load_config(ExperimentConfig, config_path("keypoints"))
    if args.body:
        base = apply_overrides(base, [f"model.body_model={args.body}"])
    print(f"keypoints config, body {base.model.body_model}, {args.threads} thread(s), "
          f"encoder width {base.model.encoder.width}, flow H {base.model.flow.hidden_features}")  # fmt: skip
    print(f"{'batch':>5} {'step: keypoint vertices':>24} {'step: full mesh':>16} {'ratio':>6} "
          f"{'data stream':>12} {'stream + step':>14}")  # fmt: skip
    for batch_size in args.batch:
        config = apply_overrides(base, [f"data.batch_size={batch_size}"])
        torch.manual_seed(0)
        fast = HMRModule(config).train()
        naive = HMRModule(config).train()
        naive.load_state_dict(fast.state_dict())
        full_mesh(naive.model.body)
        data = HMRDataModule(config.data, fast.model.body, model=config.model)
        fast.initialize_flow(data.initialization_batch())
        naive.load_state_dict(fast.state_dict())
        stream = data.training_stream()
        batches = [stream.batch(step) for step in range(4)]
        counter = {"step": 100}

        def draw() -> None:
            stream.batch(counter["step"])
            counter["step"] += 1

        fast_step, naive_step = trainer_step(fast, batches), trainer_step(naive, batches)
        t_fast, t_naive, t_data = median_times([fast_step, naive_step, draw], args.repeats)
        rate = lambda t: batch_size / t  # noqa: E731
        print(f"{batch_size:>5} {rate(t_fast):>19.0f} /s {rate(t_naive):>13.0f} /s {t_naive / t_fast:>5.2f}x "
              f"{rate(t_data):>9.0f} /s {rate(t_fast + t_data):>11.0f} /s")  # fmt: skip
    print("ratio = full-mesh step time / keypoint-vertex step time (higher: the saving is larger)")


if __name__ == "__main__":
    main()
