r"""A converted full-size ProHMR checkpoint: exactness against the maths, and CPU speed.

1. Writes a synthetic checkpoint in the released file's layout at ProHMR's size
   (ResNet-50 backbone, flow D = 144, C = 2048, H = 1024, head 1024; plus discriminator,
   SMPL and bookkeeping keys, pickled yacs/Lightning objects), with random weights from
   the first-principles builders of ``tests/models/test_prohmr_convert.py``.
2. Converts it with :func:`hmrflow.models.prohmr_convert.convert_prohmr` and loads the
   result with :func:`hmrflow.models.checkpoint.load_model`.
3. Check: the converted model's context, mode, samples (for given z), log-probabilities,
   betas and camera against the independent numpy float64 reference of the same test
   file; prints the max abs differences, once with the model in float64 (the mapping
   itself; must be <= 1e-5) and once in float32 (as it runs: float32 rounding).
4. Speed on CPU: image forward at 224 x 224, mode + S samples, against a baseline in the
   same run: the same model with the flow decoded by the nflows-style repeated-context
   path (``hmrflow.flows.decode_repeated``, the way the original samples). The flow
   alone is timed both ways too. Timings are medians of interleaved repeats.

    OMP_NUM_THREADS=1 python benchmarks/bench_prohmr.py
    python benchmarks/bench_prohmr.py --threads 2 --batch 1 8 --repeats 7
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "models"))

import test_prohmr_convert as synthetic  # noqa: E402  (first-principles builders and reference)
from timing import median_times  # noqa: E402  (benchmarks/timing.py)

from hmrflow.flows import decode_repeated  # noqa: E402
from hmrflow.models import ProbabilisticHMR  # noqa: E402
from hmrflow.models.checkpoint import load_model  # noqa: E402
from hmrflow.models.prohmr_convert import convert_prohmr  # noqa: E402

TOLERANCE = 1e-5


def max_abs(a: torch.Tensor, b: np.ndarray) -> float:
    return float(np.abs(a.detach().double().numpy() - b).max())


@torch.no_grad()
def check(model: ProbabilisticHMR, reference: synthetic.ReferenceProHMR, samples: int) -> bool:
    """Print max abs differences to the reference; True when float64 is within TOLERANCE."""
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(2, 3, 224, 224, generator=gen, dtype=torch.float64)
    z = torch.randn(2, samples, 144, generator=gen, dtype=torch.float64)
    context = reference.backbone(images)
    ref_x, ref_lp = reference.decode(z.numpy(), context)
    ref_mode, ref_mode_lp = reference.decode(np.zeros((2, 1, 144)), context)
    poses = torch.from_numpy(ref_x) + 0.005 * torch.randn(ref_x.shape, generator=gen, dtype=torch.float64)
    ref_pose_lp = reference.log_prob(poses.reshape(-1, 144).numpy(), np.repeat(context, samples, axis=0))
    ref_betas, ref_camera = reference.head(context)
    print(f"reference: |context| max {np.abs(context).max():.3g}, |samples| max {np.abs(ref_x).max():.3g}, "
          f"log-probs in [{ref_lp.min():.1f}, {ref_lp.max():.1f}]")  # fmt: skip
    ok = True
    for dtype in (torch.float64, torch.float32):
        m = model.to(dtype)
        out = m(images.to(dtype), z=z.to(dtype))
        pose_lp = m.flow.log_prob(poses.to(dtype), out.context).reshape(-1)
        diffs = {
            "context": max_abs(out.context, context),
            "mode": max_abs(out.mode.sixd, ref_mode),
            "mode log p": max_abs(out.mode.log_prob, ref_mode_lp),
            "samples": max_abs(out.samples.sixd, ref_x),
            "samples log p": max_abs(out.samples.log_prob, ref_lp),
            "poses log p": max_abs(pose_lp, ref_pose_lp),
            "betas": max_abs(out.betas, ref_betas),
            "camera": max_abs(out.camera, ref_camera),
        }
        name = str(dtype).replace("torch.", "")
        print(f"max |converted - reference|, model in {name}:")
        for key, value in diffs.items():
            print(f"  {key:14s} {value:.3e}")
        if dtype == torch.float64:
            ok = max(diffs.values()) <= TOLERANCE
        else:
            rel = float(np.abs(pose_lp.double().numpy() - ref_pose_lp).max() / np.abs(ref_pose_lp).max())
            print(f"  poses log p, relative to max |log p|: {rel:.2e}")
    model.float()
    print(f"float64 check (all <= {TOLERANCE:g}): {'PASS' if ok else 'FAIL'}")
    return ok


@torch.no_grad()
def speed(model: ProbabilisticHMR, batches: list[int], samples: int, repeats: int) -> None:
    print(f"\nspeed, CPU, {torch.get_num_threads()} thread(s), float32, median of {repeats}:")
    print("  B   model fwd (ms)  baseline (ms)  ratio |  flow fast (ms)  flow repeated (ms)  ratio")
    gen = torch.Generator().manual_seed(1)
    for b in batches:
        images = torch.randn(b, 3, 224, 224, generator=gen)
        z = torch.randn(b, samples, 144, generator=gen)
        latents = torch.cat([torch.zeros(b, 1, 144), z], dim=1)  # the mode first, as the model

        def baseline() -> object:
            context = model.encoder(images)
            decoded = decode_repeated(model.flow, latents, context)
            return decoded, model.head(context)

        context = model.encoder(images)
        fast_model, slow_model, fast_flow, slow_flow = median_times(
            [lambda: model(images, z=z), baseline,
             lambda: model.flow.decode(latents, context),
             lambda: decode_repeated(model.flow, latents, context)],
            repeats,
        )  # fmt: skip
        model_part = f"{1e3 * fast_model:13.1f}  {1e3 * slow_model:13.1f}  {slow_model / fast_model:5.2f}"
        flow_part = f"{1e3 * fast_flow:14.1f}  {1e3 * slow_flow:18.1f}  {slow_flow / fast_flow:5.2f}"
        print(f"  {b:<3d} {model_part} |  {flow_part}")
    print("  (model fwd: encoder + flow decode of the mode and the samples + head; baseline: the same "
          "with the flow decoded by the repeated-context path; ratio = baseline / ours)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--samples", type=int, default=32, help="S, samples besides the mode (default 32)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4], help="batch sizes to time")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (median)")
    parser.add_argument("--no-speed", action="store_true", help="only the conversion check")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    start = time.perf_counter()
    state = synthetic.prohmr_state(depth=50, hidden=1024, head_hidden=1024, seed=0)
    reference = synthetic.ReferenceProHMR(state)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint, out = Path(tmp) / "checkpoint.pt", Path(tmp) / "prohmr_converted.pt"
        synthetic.write_lightning_checkpoint(state, checkpoint)
        size = checkpoint.stat().st_size / 2**20
        print(f"synthetic full-size checkpoint: {len(state)} keys, {size:.0f} MiB "
              f"(built in {time.perf_counter() - start:.1f} s)")  # fmt: skip
        start = time.perf_counter()
        converted = convert_prohmr(checkpoint, out)
        print(f"converted in {time.perf_counter() - start:.1f} s: {len(converted.state_dict)} tensors, "
              f"left out {len(converted.skipped)}")  # fmt: skip
        model = load_model(out)
    flow_params = sum(p.numel() for p in model.flow.parameters())
    print(f"loaded: ResNet-{model.config.encoder.backbone_depth}, flow {flow_params / 1e6:.1f} M parameters, "
          f"body model {model.body.name!r}")  # fmt: skip
    ok = check(model, reference, args.samples)
    if not args.no_speed:
        speed(model, args.batch, args.samples, args.repeats)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
