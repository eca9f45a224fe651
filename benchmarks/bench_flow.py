r"""Speed of the conditional Glow at ProHMR size against the repeated-context baseline.

Each workload times the fast path (the context projected once per context and broadcast
over its samples) against the plain nflows-style path through the same modules (the
context repeated per sample, coupling nets on ``cat(x_I, context)``:
``hmrflow.flows.decode_repeated`` / ``encode_repeated``), interleaved in the same run;
read the ratios. The machine's float32 GEMM rate is measured too, and the sampling
throughput (FLOPs of the matrix products, counted analytically) is printed as a share
of it.

    OMP_NUM_THREADS=1 python benchmarks/bench_flow.py            # one thread (default)
    python benchmarks/bench_flow.py --threads 2 --repeats 9
    python benchmarks/bench_flow.py --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from hmrflow.flows import ConditionalGlow, FlowConfig, decode_repeated, encode_repeated

Work = Callable[[], object]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_times(fns: list[Work], repeats: int, device: torch.device) -> list[float]:
    """Median wall time in seconds of each function, the functions run interleaved.

    Interleaving makes other load on the machine hit every function alike.
    """
    for fn in fns:  # warm-up
        fn()
    _sync(device)
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            start = time.perf_counter()
            fn()
            _sync(device)
            ts.append(time.perf_counter() - start)
    return [statistics.median(ts) for ts in times]


def gemm_rate(device: torch.device, repeats: int, n: int = 2048) -> float:
    """float32 FLOP/s of an ``n x n`` by ``n x n`` matrix product."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    return 2.0 * n**3 / median_times([lambda: a @ b], repeats, device)[0]


def decode_flops(config: FlowConfig, contexts: int, rows: int, context_once: bool) -> float:
    """FLOPs of the matrix products that decode ``rows`` latents under ``contexts`` contexts."""
    d, h, c = config.features, config.hidden_features, config.context_features
    outputs_per_feature = 1 if config.coupling == "additive" else 2
    total = 0.0
    for k in range(config.num_layers):
        n_transform = d // 2 if k % 2 == 0 else d - d // 2
        per_row = 2 * (d - n_transform) * h + config.num_blocks * 2 * (2 * h * h)
        per_row += 2 * h * n_transform * outputs_per_feature + 2 * d * d
        total += rows * per_row + (contexts if context_once else rows) * 2 * c * h
    return total


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats (median)")
    parser.add_argument("--batch", type=int, default=64, help="B, contexts per call")
    parser.add_argument("--samples", type=int, default=32, help="S, samples per context")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--small", action="store_true", help="a small flow, for a smoke run")
    return parser.parse_args()


def main() -> None:
    args = _parse()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    config = FlowConfig(hidden_features=64, context_features=128) if args.small else FlowConfig()
    flow = ConditionalGlow(config).to(device)
    B, S, D, C = args.batch, args.samples, config.features, config.context_features
    g = torch.Generator(device=device).manual_seed(0)
    context = torch.randn(B, C, device=device, generator=g)
    x = 0.3 * torch.randn(B, D, device=device, generator=g)
    flow.train().initialize(x, context)
    z = torch.randn(B, S, D, device=device, generator=g)

    n_params = sum(p.numel() for p in flow.parameters())
    print(f"device {device}, threads {torch.get_num_threads()}, medians of {args.repeats}")
    print(f"flow: D {D}, C {C}, H {config.hidden_features}, {config.num_layers} layers, "
          f"{config.coupling} coupling, {n_params:,} parameters")
    rate = gemm_rate(device, args.repeats)
    print(f"float32 GEMM 2048^3: {rate / 1e9:.1f} GFLOP/s")
    print(f"{'workload':46s} {'fast ms':>9s} {'baseline ms':>12s} {'speed-up':>9s}")

    def row(name: str, fast: Work, baseline: Work) -> tuple[float, float]:
        t_fast, t_base = median_times([fast, baseline], args.repeats, device)
        print(f"{name:46s} {1e3 * t_fast:9.2f} {1e3 * t_base:12.2f} {t_base / t_fast:8.2f}x")
        return t_fast, t_base

    flow.eval()
    with torch.no_grad():
        row(f"log_prob, B={B} (eval)",
            lambda: flow.log_prob(x, context), lambda: encode_repeated(flow, x[:, None], context))
        xs = flow.decode(z, context).x
        row(f"log_prob of {B}x{S} samples (eval)",
            lambda: flow.log_prob(xs, context), lambda: encode_repeated(flow, xs, context))
        t_fast, t_base = row(f"sample {B} contexts x {S} (eval, given z)",
                             lambda: flow.decode(z, context),
                             lambda: decode_repeated(flow, z, context))
        row(f"sample {B} contexts x {S} (eval, drawing z)",
            lambda: flow.sample(context, S, generator=g),
            lambda: decode_repeated(flow, torch.randn_like(z).normal_(generator=g), context))
        z0 = torch.zeros(B, 1, D, device=device)
        row(f"mode, B={B} (eval)", lambda: flow.mode(context),
            lambda: decode_repeated(flow, z0, context))

    flow.train()
    ctx = context.clone().requires_grad_(True)
    row(f"log_prob forward+backward, B={B} (train)",
        lambda: flow.log_prob(x, ctx).sum().backward(),
        lambda: encode_repeated(flow, x[:, None], ctx).log_prob.sum().backward())
    z2 = z[:, :2]  # a ProHMR training step decodes the mode and one sample per input
    row(f"decode fwd+bwd, {B} contexts x 2 (train)",
        lambda: flow.decode(z2, ctx).x.square().sum().backward(),
        lambda: decode_repeated(flow, z2, ctx).x.square().sum().backward())
    flow.eval()

    flops_fast = decode_flops(config, B, B * S, context_once=True)
    flops_base = decode_flops(config, B, B * S, context_once=False)
    print(f"sampling FLOPs: fast {flops_fast / 1e9:.1f} G, baseline {flops_base / 1e9:.1f} G "
          f"(ideal speed-up {flops_base / flops_fast:.2f}x)")
    for name, flops, seconds in (("fast", flops_fast, t_fast), ("baseline", flops_base, t_base)):
        print(f"sampling throughput, {name}: {flops / seconds / 1e9:.1f} GFLOP/s = "
              f"{100 * flops / seconds / rate:.0f}% of the GEMM rate")

    # Why the layers' context projections are separate products rather than one product
    # with weights concatenated at call time: on CPU the copy costs more than the product.
    nets = [coupling.transform_net for _, _, coupling in flow.steps()]
    weights = [net.initial_layer.weight[:, net.in_features :] for net in nets]
    biases = [net.initial_layer.bias for net in nets]
    with torch.no_grad():
        row(f"context projection, B={B}: per layer vs concat",
            lambda: [F.linear(context, w, b) for w, b in zip(weights, biases)],
            lambda: F.linear(context, torch.cat(weights), torch.cat(biases)))

if __name__ == "__main__":
    main()
