"""Body model speed: hmrflow's BodyModel against a dense, straightforward LBS in the same run.

A synthetic SMPL-sized model (6,890 vertices, 24 joints, 10 betas, 207 pose blend shapes,
random arrays) is posed at B = 1 and B = 64. The baseline is the textbook computation
(blend shapes by einsum, forward kinematics with 4x4 matrices one joint at a time,
per-vertex 4x4 transforms ``T_i = sum_j w_ij G_j`` over the full (B, N, 4, 4) tensor).
Figures are medians over repeats; ratios are baseline time / our time (> 1: faster).

Run::

    OMP_NUM_THREADS=1 python benchmarks/bench_body.py [--threads 1] [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor

from hmrflow.body import COCO_17, SMPL_PARENTS, BodyModel, KeypointSet
from hmrflow.geometry import rotvec_to_rotmat

N, J, S = 6890, 24, 10


def synthetic_model(gen: torch.Generator) -> BodyModel:
    """Random SMPL-sized arrays; 4 skinning joints per vertex; 17 keypoints on 4 vertices each."""
    weights = torch.zeros(N, J)
    weights.scatter_(1, torch.randint(J, (N, 4), generator=gen), torch.rand(N, 4, generator=gen))
    weights /= weights.sum(1, keepdim=True)
    regressor = torch.rand(J, N, generator=gen) * (torch.rand(J, N, generator=gen) < 0.005)
    regressor /= regressor.sum(1, keepdim=True)
    vertex_weights = torch.zeros(len(COCO_17), N)
    vertex_weights.scatter_(1, torch.randint(N, (len(COCO_17), 4), generator=gen), 0.25)
    coco = KeypointSet(COCO_17, vertex_weights, torch.zeros(len(COCO_17), J))
    return BodyModel(
        template=0.3 * torch.randn(N, 3, generator=gen),
        shapedirs=0.02 * torch.randn(N, 3, S, generator=gen),
        posedirs=0.01 * torch.randn(N, 3, 9 * (J - 1), generator=gen),
        joint_regressor=regressor,
        weights=weights,
        parents=SMPL_PARENTS,
        faces=torch.randint(N, (13776, 3), generator=gen),
        keypoint_sets={"coco": coco},
    )


def plain_arrays(body: BodyModel) -> dict[str, Tensor]:
    """The model's arrays as fresh contiguous tensors in SMPL's layout, for the baseline."""
    keys = ("template", "shapedirs", "posedirs", "joint_regressor", "weights")
    return {key: getattr(body, key).contiguous().clone() for key in keys}


def baseline_lbs(arrays: dict[str, Tensor], rotmats: Tensor, betas: Tensor) -> tuple[Tensor, Tensor]:
    """Straightforward dense LBS: vertices (B, N, 3) and joints (B, J, 3)."""
    b = rotmats.shape[0]
    v_shaped = arrays["template"] + torch.einsum("ncs,bs->bnc", arrays["shapedirs"], betas)
    rest = torch.einsum("jn,bnc->bjc", arrays["joint_regressor"], v_shaped)
    feature = (rotmats[:, 1:] - torch.eye(3)).reshape(b, -1)
    v_posed = v_shaped + (feature @ arrays["posedirs"].reshape(N * 3, -1).T).view(b, N, 3)
    relative = rest.clone()
    relative[:, 1:] -= rest[:, list(SMPL_PARENTS[1:])]
    local = torch.zeros(b, J, 4, 4)
    local[..., :3, :3], local[..., :3, 3], local[..., 3, 3] = rotmats, relative, 1.0
    chain = [local[:, 0]]
    for j in range(1, J):
        chain.append(chain[SMPL_PARENTS[j]] @ local[:, j])
    world = torch.stack(chain, dim=1)
    rest_h = torch.cat([rest, torch.zeros(b, J, 1)], dim=-1).unsqueeze(-1)
    skinning = world.clone()
    skinning[..., :, 3:] -= world @ rest_h
    per_vertex = torch.einsum("nj,bjxy->bnxy", arrays["weights"], skinning)
    v_h = torch.cat([v_posed, torch.ones(b, N, 1)], dim=-1).unsqueeze(-1)
    return (per_vertex @ v_h)[..., :3, 0], world[..., :3, 3]


def paired_median_ms(
    ours: Callable[[], object], baseline: Callable[[], object], repeats: int
) -> tuple[float, float]:
    """Medians in ms, the two timed alternately so that machine load hits both alike."""
    ours(), baseline()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, out in zip((ours, baseline), times):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times[0]), 1e3 * statistics.median(times[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    body = synthetic_model(gen)
    coco = body.keypoint_sets["coco"]
    arrays = plain_arrays(body)
    print(f"torch {torch.__version__}, threads {args.threads}, N={N} J={J} S={S} P={9 * (J - 1)}")
    print(f"{'case':<44}{'ours ms':>10}{'baseline ms':>13}{'ratio':>8}")
    for b in (1, 64):
        rotmats = rotvec_to_rotmat(0.5 * torch.randn(b, J, 3, generator=gen))
        betas = torch.randn(b, S, generator=gen)
        ours, reference = body(rotmats, betas), baseline_lbs(arrays, rotmats, betas)
        error = (ours.vertices - reference[0]).abs().max().item()
        assert error < 1e-4, f"baseline and model disagree by {error}"

        def full_mesh() -> None:
            with torch.no_grad():
                body(rotmats, betas)

        def baseline_mesh() -> None:
            with torch.no_grad():
                baseline_lbs(arrays, rotmats, betas)

        def keypoints_only() -> None:
            with torch.no_grad():
                body(rotmats, betas, keypoints=("coco",), vertices=False)

        def baseline_keypoints() -> None:
            with torch.no_grad():
                vertices, joints = baseline_lbs(arrays, rotmats, betas)
                coco.vertex_weights @ vertices + coco.joint_weights @ joints

        def train_step() -> None:
            r, s = rotmats.clone().requires_grad_(), betas.clone().requires_grad_()
            body(r, s, keypoints=("coco",), vertices=False).keypoints["coco"].square().sum().backward()

        def baseline_train_step() -> None:
            r, s = rotmats.clone().requires_grad_(), betas.clone().requires_grad_()
            vertices, joints = baseline_lbs(arrays, r, s)
            (coco.vertex_weights @ vertices + coco.joint_weights @ joints).square().sum().backward()

        cases = [
            ("vertices, no grad", full_mesh, baseline_mesh),
            ("keypoints only (vertices=False), no grad", keypoints_only, baseline_keypoints),
            ("keypoints only, forward + backward", train_step, baseline_train_step),
        ]
        for name, fn, base in cases:
            t_ours, t_base = paired_median_ms(fn, base, args.repeats)
            print(f"{f'B={b} {name}':<44}{t_ours:>10.3f}{t_base:>13.3f}{t_base / t_ours:>7.1f}x")


if __name__ == "__main__":
    main()
