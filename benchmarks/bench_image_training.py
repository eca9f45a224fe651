r"""Image-model training steps per second: ResNet + ProHMR's flow, precision and memory layout.

One step = the image model's forward (the mode and the samples through the flow), the
losses, backward and an AdamW step, on one pre-made batch of random 224 px crops with
synthetic labels (the loader is not timed: ``hmrflow train`` logs the end-to-end rate).
Variants, interleaved, medians of ``--repeats`` steps:

* float32, NCHW -- the baseline of the ratios;
* bf16 autocast on the backbone (``trainer.precision=bf16-mixed``), channels_last
  (what ``hmrflow train`` does on a GPU), fused AdamW on CUDA.

    python benchmarks/bench_image_training.py --device cuda --batch 256 --depth 50
    OMP_NUM_THREADS=1 python benchmarks/bench_image_training.py --batch 4 --depth 18   # a CPU smoke run
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import nullcontext
from dataclasses import replace

import torch

from hmrflow.cli.train import config_path
from hmrflow.config import load_config
from hmrflow.data.synthetic import SyntheticKeypoints
from hmrflow.training.batch import TrainingBatch
from hmrflow.training.config import ExperimentConfig
from hmrflow.training.module import HMRModule


def make_module(depth: int, device: torch.device) -> HMRModule:
    overrides = [f"model.encoder.backbone_depth={depth}", "model.body_model=anny_lowpoly"]
    if depth >= 50:
        overrides.append("model.flow.context_features=2048")
    config = load_config(ExperimentConfig, config_path("image-synthetic"), overrides)
    return HMRModule(config).to(device)


def make_batch(module: HMRModule, size: int, device: torch.device) -> TrainingBatch:
    generator = SyntheticKeypoints(module.model.body, None).on(device)
    labels = generator.sample(size, torch.Generator(device=device).manual_seed(0))
    images = torch.rand(size, 3, 224, 224, generator=torch.Generator(device=device).manual_seed(1), device=device)
    return replace(TrainingBatch.from_synthetic(labels), images=images)


def step_timer(module: HMRModule, batch: TrainingBatch, fast: bool):
    """A function running one training step; ``fast``: bf16 backbone, channels_last, fused AdamW."""
    cuda = batch.evidence.device.type == "cuda"
    images = batch.images.contiguous(memory_format=torch.channels_last) if fast else batch.images
    batch = replace(batch, images=images)
    if fast:
        module.model.encoder.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-4, fused=True if fast and cuda else None)
    dtype = torch.bfloat16
    autocast = torch.autocast(batch.evidence.device.type, dtype=dtype) if fast else nullcontext()

    def step() -> float:
        start = time.perf_counter()
        with autocast:
            loss = module.compute_losses(batch).total
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--depth", type=int, default=50, choices=(18, 34, 50))
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    device = torch.device(args.device)
    modules = [make_module(args.depth, device) for _ in range(2)]
    batch = make_batch(modules[0], args.batch, device)
    for module in modules:
        module.initialize_flow(batch)
        module.train()
    variants = {
        "float32 NCHW": step_timer(modules[0], batch, fast=False),
        "bf16 channels_last fused": step_timer(modules[1], batch, fast=True),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for name, step in variants.items():  # warm-up (cuDNN autotuning, allocations)
        step(), step()
    for _ in range(args.repeats):
        for name, step in variants.items():
            times[name].append(step())
    base = statistics.median(times["float32 NCHW"])
    print(f"ResNet-{args.depth} + flow, batch {args.batch}, {device}:")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:26s} {median * 1e3:8.1f} ms/step  {args.batch / median:8.0f} samples/s  "
              f"x{base / median:.2f} vs float32")  # fmt: skip


if __name__ == "__main__":
    main()
