"""Synthetic keypoint generation throughput on CPU (samples per second).

Times :meth:`SyntheticKeypoints.sample` (pose sampler with the CMU clip, shape, camera,
body model posing of the 23 evidence keypoints, projection, detector-like corruption) at
several batch sizes, with one thread and with the default thread count, and splits one
batch into its parts measured in the same run: the pose sampler alone, and the body model
alone (keypoint vertices only, the fast path, and the full mesh for comparison).
Figures are medians over repeats.

Run::

    python benchmarks/bench_synthetic.py [--batch-sizes 64 256 1024] [--repeats 7] [--threads N]

One thread is the default (on small shared machines multi-threading can be far slower);
``--threads`` sets the "default threads" row (default: torch's count at start-up, which
``OMP_NUM_THREADS`` controls).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from hmrflow.body import BodyModel
from hmrflow.data.pose_sources import load_cmu_demo
from hmrflow.data.synthetic import SyntheticKeypoints

#: torch's thread count at start-up (before this script sets one thread).
DEFAULT_THREADS = torch.get_num_threads()


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def throughput(gen: SyntheticKeypoints, batch_sizes: list[int], repeats: int) -> dict[int, float]:
    rng = torch.Generator().manual_seed(0)
    return {b: b / median_seconds(lambda b=b: gen.sample(b, rng), repeats) for b in batch_sizes}


def parts(gen: SyntheticKeypoints, batch: int, repeats: int) -> dict[str, float]:
    rng = torch.Generator().manual_seed(1)
    poses = gen.sampler.sample(batch, rng)
    betas = torch.randn(batch, 10, generator=rng)
    sets = gen.config.evidence_sets
    with torch.no_grad():
        return {
            "full sample()": median_seconds(lambda: gen.sample(batch, rng), repeats),
            "pose sampler": median_seconds(lambda: gen.sampler.sample(batch, rng), repeats),
            "body, keypoints only": median_seconds(
                lambda: gen.body(poses, betas, keypoints=sets, vertices=False), repeats
            ),
            "body, full mesh": median_seconds(lambda: gen.body(poses, betas, keypoints=sets, vertices=True), repeats),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="the multi-thread row")
    args = parser.parse_args()
    torch.set_num_threads(1)

    gen = SyntheticKeypoints(BodyModel.from_name("anny_lowpoly"), load_cmu_demo().rotmats)
    print(f"body anny_lowpoly ({gen.body.num_vertices} vertices), {len(gen.names)} evidence keypoints, CPU")
    print(f"{'threads':>8}" + "".join(f"{f'B={b}':>12}" for b in args.batch_sizes) + "   (samples/s)")
    rows = {}
    for threads in dict.fromkeys([1, args.threads]):
        torch.set_num_threads(threads)
        rows[threads] = throughput(gen, args.batch_sizes, args.repeats)
        print(f"{threads:>8}" + "".join(f"{rows[threads][b]:12.0f}" for b in args.batch_sizes))
    if args.threads != 1:
        ratio = [rows[args.threads][b] / rows[1][b] for b in args.batch_sizes]
        print(f"{'ratio':>8}" + "".join(f"{r:12.2f}" for r in ratio) + f"   ({args.threads} threads / 1 thread)")
    torch.set_num_threads(1)
    batch = max(args.batch_sizes)
    split = parts(gen, batch, args.repeats)
    total = split["full sample()"]
    print(f"\none batch of {batch}, 1 thread:")
    for name, seconds in split.items():
        print(f"  {name:<22}{seconds * 1e3:9.1f} ms  {seconds / total:6.1%} of sample()")
    speedup = split["body, full mesh"] / split["body, keypoints only"]
    print(f"  keypoint-only posing is {speedup:.1f}x faster than posing the full mesh")


if __name__ == "__main__":
    main()
