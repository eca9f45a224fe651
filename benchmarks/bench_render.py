"""Renderer and synthetic image speed, with baselines measured in the same run.

Renderer: frames per second at 256x256 with a NEW mesh every frame (the body in a new
pose: smooth normals, upload, draw, read back), for the 13.7k-vertex ``anny`` mesh and
the 1.5k-vertex ``anny_lowpoly`` one, plain and anti-aliased (2x supersampling, 4x MSAA).
The baseline is the same renderer drawing the same mesh again (nothing new to compute
or upload): the ratio says what a new mesh costs. Target: >= 100 frames/s on the CPU.

Synthetic images: images per second of :class:`SyntheticImages` (pose, shape, camera,
appearance, background, render, noise) at the stored 320 px, in this process, and of
:func:`generate_shards` with worker processes (JPEG encoding and writing included): by
the wall clock, and while generating (the workers' own timings, their start-up of
imports, body model and EGL context left out).

Run::

    OMP_NUM_THREADS=1 python benchmarks/bench_render.py [--frames 200] [--images 64] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import torch

from hmrflow.body import BodyModel
from hmrflow.data.pose_sources import load_cmu_demo
from hmrflow.render.camera import Camera
from hmrflow.render.mesh import Mesh, Topology
from hmrflow.render.renderer import Renderer


def posed_vertices(body: BodyModel, count: int) -> np.ndarray:
    """``count`` different poses of the CMU trial, 3 m in front of the camera: ``(count, N, 3)``."""
    rotmats = load_cmu_demo().rotmats[:count].clone()
    rotmats[:, 0] = torch.diag(torch.tensor([1.0, -1.0, -1.0])) @ rotmats[:, 0]
    with torch.no_grad():
        out = body(rotmats, torch.zeros(count, 10))
    return (out.vertices - out.joints[:, :1] + torch.tensor([0.0, 0.0, 3.0])).numpy()


def frames_per_second(
    renderer: Renderer, frames: list[np.ndarray], topology: Topology, new: bool, repeats: int
) -> tuple[float, float]:
    """Frames per second of wall clock, and per second of this process's CPU time (all
    threads, llvmpipe's included: what an otherwise idle single core would give)."""
    camera = Camera.from_focal(256 * 1.6, (256, 256))
    for i in range(5):
        renderer.render(Mesh(frames[i], topology), camera)
    fixed = Mesh(frames[0], topology)
    wall, cpu = [], []
    for _ in range(3):
        start, start_cpu = time.perf_counter(), time.process_time()
        for i in range(repeats):
            renderer.render(Mesh(frames[i % len(frames)], topology) if new else fixed, camera)
        wall.append(repeats / (time.perf_counter() - start))
        cpu.append(repeats / (time.process_time() - start_cpu))
    return statistics.median(wall), statistics.median(cpu)


def bench_renderer(frames_count: int) -> None:
    print(f"renderer: 256x256, median of 3 runs of {frames_count} frames")
    print(f"{'mesh':>13} {'vertices':>8} {'anti-aliasing':>14} {'new mesh/s':>11} {'same mesh/s':>12} {'ratio':>6}"
          f" {'new mesh/CPU-s':>15}")  # fmt: skip
    for name in ("anny", "anny_lowpoly"):
        body = BodyModel.from_name(name)
        frames = list(posed_vertices(body, 64))
        topology = Topology(body.faces.numpy(), body.num_vertices)
        for label, kwargs in (("none", {}), ("2x supersample", {"supersample": 2}), ("4x MSAA", {"samples": 4})):
            if kwargs and name == "anny_lowpoly":
                continue
            with Renderer(**kwargs) as renderer:
                new, new_cpu = frames_per_second(renderer, frames, topology, True, frames_count)
                same, _ = frames_per_second(renderer, frames, topology, False, frames_count)
                info = renderer.info
            print(f"{name:>13} {body.num_vertices:>8} {label:>14} {new:>11.1f} {same:>12.1f} {new / same:>6.2f}"
                  f" {new_cpu:>15.1f}")  # fmt: skip
    load = os.getloadavg()[0]
    print(f"OpenGL: {info}; target >= 100 new meshes/s on the CPU; load average {load:.1f} on {os.cpu_count()} cores")
    print("(wall-clock figures drop with other work on the machine; CPU-time figures much less)")


def bench_images(count: int, workers: int) -> None:
    from hmrflow.data.image_shards import generate_shards
    from hmrflow.data.synthetic_images import SyntheticImageConfig, SyntheticImages

    print(f"\nsynthetic images: {count} images, 320 px, anny")
    with SyntheticImages(BodyModel.from_name("anny"), load_cmu_demo().rotmats, SyntheticImageConfig()) as gen:
        gen.sample(4, torch.Generator().manual_seed(0))
        start = time.perf_counter()
        gen.sample(count, torch.Generator().manual_seed(1))
        in_process = count / (time.perf_counter() - start)
    print(f"  in this process (no files):        {in_process:7.1f} images/s")
    total_images = count * workers
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        results = generate_shards(root, total_images, shard_size=max(1, count // 4), workers=workers, progress=False)
        wall = time.perf_counter() - start
    per_worker = total_images / sum(r.seconds for r in results) * workers  # while generating
    print(f"  generate_shards, {workers} workers, {total_images} images (JPEG + tar written):")
    print(f"    wall clock incl. worker start-up:  {total_images / wall:7.1f} images/s")
    print(f"    while generating (all workers):    {per_worker:7.1f} images/s")
    print(f"  ratio workers / in-process:         {per_worker / in_process:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    bench_renderer(args.frames)
    bench_images(args.images, args.workers)


if __name__ == "__main__":
    main()
