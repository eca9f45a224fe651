r"""Export Anny into the SMPL file format: the open default body model.

Anny (PyPI ``anny``, Apache-2.0 code, CC0 MakeHuman assets) is a phenotype-driven body
model with a 104-bone rig. :func:`export_anny` turns it into a
:class:`~hmrflow.body.model.BodyModel` with SMPL's 24-joint tree:

* rest pose: Anny's T-pose (posed with Anny's own rig, :func:`~hmrflow.body.anny_pose.tpose_rotations`)
  in SMPL's frame (Y up, facing +Z, +X the body's left), root joint at the origin;
* skinning weights: each Anny bone's weight summed onto the joint of its segment
  (:func:`~hmrflow.body.anny_pose.bone_segments`);
* shape: ``S`` linear components by PCA over sampled ADULT phenotypes (both genders,
  drawn in gender-mirrored pairs so the mean is gender-neutral), every shape in the same
  T-pose; ``betas`` are in units of the population's standard deviation;
* joint regressor ``(J, N)``: per joint, weights (summing to 1) over its 1,000 nearest
  vertices, fitted so that it reproduces Anny's bone heads over the sampled shapes: the
  best convex combination, then the nearest least-squares solution (ridge towards it,
  :func:`fit_regressor`), because no convex combination of the skin follows Anny's
  interior joints (spine, knees) within 10 mm;
* pose blend shapes: ZEROS (Anny has none; our LBS differs from Anny's only where weights
  of bones of different segments blend, see :mod:`hmrflow.body.anny_report`);
* keypoint sets ``"coco"`` (COCO-17) and ``"feet"`` (big toe, small toe, heel, left then
  right) from Anny's own COCO keypoint regressor.

A low-poly variant (about 1,500 vertices) is made by quadric decimation of the mean mesh;
its vertices are embedded in the full surface (barycentric), so template, shape
directions and weights follow the full model; its joint and keypoint regressors are
re-fitted so that both models agree on joints and keypoints under shapes and poses.

Needs ``pip install 'hmrflow[anny]'`` (anny, fast-simplification, scipy). Example::

    from hmrflow.body.anny_export import export_anny
    result = export_anny("src/hmrflow/assets/body", num_samples=1000)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from hmrflow.body.anny_pose import (
    ANNY_TO_SMPL_FRAME,
    SMPL_TO_ANNY_BONE,
    AnnyRig,
    bone_segments,
    encode_local_ref,
    tpose_bone_poses,
)
from hmrflow.body.joints import SMPL_JOINT_NAMES, SMPL_PARENTS
from hmrflow.body.keypoints import COCO_17, KeypointSet
from hmrflow.body.model import BodyModel
from hmrflow.geometry.rotations import rotvec_to_rotmat

__all__ = [
    "FEET",
    "AnnyExport",
    "AnnyShapes",
    "build_full_model",
    "export_anny",
    "fit_regressor",
    "load_anny",
    "merged_weights",
    "project_betas",
    "sample_adult_phenotypes",
    "tposed_shapes",
]

logger = logging.getLogger(__name__)

#: The ``"feet"`` keypoint set (OpenPose BODY_25's foot order).
FEET: tuple[str, ...] = (
    "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)  # fmt: skip

_INSTALL = "pip install 'hmrflow[anny]'"


def _import(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ImportError(f"the Anny exporter needs {name!r}: {_INSTALL}") from error


def load_anny(cache_dir: str | os.PathLike[str] | None = None) -> Any:
    """``anny.Anny()`` (default rig and topology, float64, plain LBS).

    ``cache_dir`` overrides Anny's cache (default: ``$ANNY_CACHE_DIR`` or
    ``~/.cache/anny``); the first construction builds about 830 MB there (about 100 s).
    """
    anny = _import("anny")
    if cache_dir is not None:
        _import("anny.paths").set_anny_cache_path(cache_dir)
    return anny.Anny(skinning_method="lbs")


# ---------------------------------------------------------------------- shapes


class _MirroredGender:
    """Gender sampler for ``SimpleShapeDistribution``: pairs ``g, 1 - g`` so the sample
    is balanced between the genders."""

    def __init__(self, generator: torch.Generator, dtype: torch.dtype) -> None:
        self.generator, self.dtype = generator, dtype

    def sample(self, shape: tuple[int]) -> Tensor:
        half = torch.rand((shape[0] + 1) // 2, generator=self.generator, dtype=self.dtype)
        return torch.cat([half, 1 - half])[: shape[0]]


def sample_adult_phenotypes(
    model: Any, count: int, seed: int = 0, age_range: tuple[float, float] = (20.0, 70.0)
) -> Tensor:
    """``(count, 6)`` realistic adult phenotypes (Anny's ``SimpleShapeDistribution``,
    morphological age uniform in ``age_range`` years), in ``model.phenotype_labels`` order."""
    distribution_module = _import("anny.shape_distribution")
    generator = torch.Generator().manual_seed(seed)
    ages = torch.distributions.Uniform(
        torch.tensor(age_range[0], dtype=model.dtype), torch.tensor(age_range[1], dtype=model.dtype)
    )
    distribution = distribution_module.SimpleShapeDistribution(
        model, morphological_age_distribution=ages, gender_distribution=_MirroredGender(generator, model.dtype)
    )
    with torch.random.fork_rng(devices=[]):  # the distribution draws from the global RNG
        torch.manual_seed(seed)
        _, kwargs = distribution.sample(count)
    return torch.stack([kwargs[label] for label in model.phenotype_labels], dim=1)


@dataclass(frozen=True)
class AnnyShapes:
    """Anny shapes in the T-pose, SMPL frame.

    Attributes:
        phenotypes: ``(S, 6)``.
        vertices: ``(S, N, 3)``.
        joints: ``(S, J, 3)`` the heads of the bones in ``SMPL_TO_ANNY_BONE``.
    """

    phenotypes: Tensor
    vertices: Tensor
    joints: Tensor


def tposed_shapes(model: Any, phenotypes: Tensor, chunk: int = 64) -> AnnyShapes:
    """Pose Anny (its own rig and skinning) into the T-pose for each of ``(S, 6)`` phenotypes."""
    frame = ANNY_TO_SMPL_FRAME.to(model.dtype)
    index = [list(model.bone_labels).index(SMPL_TO_ANNY_BONE[name]) for name in SMPL_JOINT_NAMES]
    vertices, joints = [], []
    with torch.no_grad():
        for start in range(0, len(phenotypes), chunk):
            batch = phenotypes[start : start + chunk].to(model.dtype)
            rig = AnnyRig.from_anny(model, batch)
            tpose = tpose_bone_poses(rig)
            out = model(pose_parameters=encode_local_ref(tpose, rig), phenotype_kwargs=batch)
            vertices.append((out["vertices"] @ frame.T).float())
            joints.append(tpose[:, index, :3, 3] @ frame.T)
    return AnnyShapes(phenotypes.to(model.dtype), torch.cat(vertices), torch.cat(joints).float())


def merged_weights(model: Any) -> Tensor:
    """``(N, J)`` skinning weights: Anny's per-bone weights summed per SMPL segment."""
    segments = torch.tensor(bone_segments(model.bone_labels, model.bone_parents))
    weights = torch.zeros(model.template_vertices.shape[0], len(SMPL_JOINT_NAMES), dtype=torch.float64)
    joint = segments[model.vertex_bone_indices]  # (N, 9)
    weights.scatter_add_(1, joint, model.vertex_bone_weights.to(torch.float64))
    return weights / weights.sum(1, keepdim=True)


def _principal_components(vertices: Tensor, count: int) -> tuple[Tensor, Tensor]:
    """Mean ``(N, 3)`` and components ``(N, 3, count)`` scaled by their standard deviation."""
    s, n = vertices.shape[:2]
    data = vertices.reshape(s, -1).double()
    mean = data.mean(0)
    centred = data - mean
    eigval, eigvec = torch.linalg.eigh(centred @ centred.T)  # Gram matrix, ascending
    eigval, eigvec = eigval.flip(0)[:count], eigvec.flip(1)[:, :count]
    directions = (centred.T @ eigvec) / eigval.sqrt()  # unit columns (3N, count)
    directions = directions * (eigval / (s - 1)).sqrt()
    # Deterministic signs: a positive coefficient stretches the body upwards (else the
    # largest entry is positive).
    height = (mean.view(n, 3)[:, 1] - mean.view(n, 3)[:, 1].mean()).repeat_interleave(3) * torch.tensor(
        [0.0, 1.0, 0.0], dtype=data.dtype
    ).repeat(n)
    for k in range(count):
        column = directions[:, k]
        stretch = (column * height).sum()
        key = stretch if stretch.abs() > 1e-3 * column.norm() * height.norm() else column[column.abs().argmax()]
        directions[:, k] = column * torch.sign(key)
    return mean.view(n, 3), directions.view(n, 3, count)


def project_betas(template: Tensor, shapedirs: Tensor, vertices: Tensor) -> Tensor:
    """Least-squares ``betas (..., S)`` of T-posed ``vertices (..., N, 3)`` in a shape space."""
    basis = shapedirs.reshape(-1, shapedirs.shape[-1]).to(vertices.dtype)
    offsets = (vertices - template.to(vertices.dtype)).flatten(-2)
    return torch.linalg.solve(basis.T @ basis, (offsets @ basis).unsqueeze(-1)).squeeze(-1)


# ---------------------------------------------------------------------- regressors


def fit_regressor(points: Tensor, targets: Tensor, candidates: Sequence[int], ridge: float | None = None) -> Tensor:
    """Weights ``(M,)`` over the ``candidates`` of ``M`` points, summing to 1, such that
    ``weights @ points[s] ~= targets[s]`` in the least-squares sense.

    First the best convex combination (nonnegative weights, NNLS). With ``ridge``, then
    the least-squares solution closest to it: ``min |A w - b|^2 / len(b) + ridge |w - w_convex|^2``
    subject to ``sum(w) = 1``, where ``A w`` stacks ``weights @ points[s]``. The signed
    correction reaches targets that no convex combination can (Anny's interior joints
    move with shape in ways the skin around them does not).

    Arguments:
        points: ``(S, M, 3)`` point sets (vertices, possibly with joints appended).
        targets: ``(S, 3)``.
        candidates: indices of the points allowed a nonzero weight.
        ridge: strength of the pull towards the convex solution (None: convex only).
    """
    optimize = _import("scipy.optimize")
    index = torch.as_tensor(candidates)
    a = points[:, index].double().permute(0, 2, 1).reshape(-1, len(index))  # (3S, C)
    b = targets.double().reshape(-1)
    scale = 100.0 * max(1.0, float(np.sqrt(len(b))))
    a_np = np.vstack([a.numpy(), np.full((1, len(index)), scale)])
    b_np = np.concatenate([b.numpy(), [scale]])
    solution, _ = optimize.nnls(a_np, b_np, maxiter=50 * len(index))
    solution[solution < 1e-6 * solution.max()] = 0.0
    convex = torch.from_numpy(solution / solution.sum())
    if ridge is not None:
        c = len(index)
        a, b = a / np.sqrt(len(b)), b / np.sqrt(len(b))
        kkt = torch.zeros(c + 1, c + 1, dtype=torch.float64)
        kkt[:c, :c] = a.T @ a + ridge * torch.eye(c, dtype=torch.float64)
        kkt[:c, c] = kkt[c, :c] = 1.0
        rhs = torch.cat([a.T @ b + ridge * convex, torch.ones(1, dtype=torch.float64)])
        convex = torch.linalg.solve(kkt, rhs)[:c]
    weights = torch.zeros(points.shape[1], dtype=torch.float64)
    weights[index] = convex
    return weights


def _nearest(points: Tensor, query: Tensor, count: int) -> Tensor:
    """``(Q, count)`` indices of the nearest of ``points (M, 3)`` to each of ``query (Q, 3)``."""
    return torch.cdist(query.double(), points.double()).topk(count, largest=False).indices


def _joint_regressor(meshes: Tensor, joints: Tensor, count: int, ridge: float = 1e-5) -> Tensor:
    """``(J, N)``: per joint, weights over its ``count`` nearest mean-shape vertices
    (:func:`fit_regressor` with ``ridge``) fitted on ``meshes (S, N, 3)``, ``joints (S, J, 3)``."""
    nearest = _nearest(meshes.mean(0), joints.mean(0), count)
    rows = [fit_regressor(meshes, joints[:, j], nearest[j].tolist(), ridge) for j in range(joints.shape[1])]
    return torch.stack(rows)


# ---------------------------------------------------------------------- low poly


def _boundary_vertices(faces: np.ndarray) -> np.ndarray:
    """Indices of the vertices on edges used by one face only."""
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    return np.unique(unique[counts == 1])


def _decimate(
    vertices: Tensor, faces: Tensor, target_vertices: int, midline: float = 1e-4
) -> tuple[Tensor, Tensor, Tensor]:
    """Left/right symmetric quadric decimation of a symmetric mesh: positions ``(M, 3)``,
    faces ``(F', 3)`` and the mirrored vertices' twins ``(M - H,)`` among the first ``H``.

    The left half (``x >= 0``; no face of Anny's mesh crosses the midline) is decimated,
    its open border (the midline) snapped to ``x = 0``, then mirrored: vertices ``H..M-1``
    are the mirror images of the left-half vertices ``twins``.
    """
    fast_simplification = _import("fast_simplification")
    points, triangles = vertices.double().numpy(), faces.numpy()
    half = triangles[(points[triangles, 0] >= -midline).all(1)]
    used = np.unique(half)
    remap = np.full(len(points), -1)
    remap[used] = np.arange(len(used))
    half_points, half_faces = points[used], remap[half].astype(np.int32)
    target_faces = target_vertices  # a closed half mesh has about twice as many faces as vertices
    for _ in range(5):  # the vertex count follows the face count roughly: adjust
        new_points, new_faces = fast_simplification.simplify(half_points, half_faces, target_count=target_faces)
        border = _boundary_vertices(new_faces)
        total = 2 * len(new_points) - len(border)
        if abs(total - target_vertices) < 0.03 * target_vertices:
            break
        target_faces = int(target_faces * target_vertices / total)
    new_points[border, 0] = 0.0
    mirrored = np.setdiff1d(np.arange(len(new_points)), border)
    mirror_of = np.arange(len(new_points))
    mirror_of[mirrored] = len(new_points) + np.arange(len(mirrored))
    all_points = np.concatenate([new_points, new_points[mirrored] * np.array([-1.0, 1.0, 1.0])])
    all_faces = np.concatenate([new_faces, mirror_of[new_faces][:, [0, 2, 1]]])
    return torch.from_numpy(all_points), torch.from_numpy(all_faces.astype(np.int64)), torch.from_numpy(mirrored)


def _closest_on_triangles(point: Tensor, a: Tensor, b: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """Closest points of triangles ``(..., 3)`` to ``point (..., 3)``: squared distance
    ``(...)`` and barycentric coordinates ``(..., 3)``."""
    ab, ac, ap = b - a, c - a, point - a
    d00, d01, d11 = (ab * ab).sum(-1), (ab * ac).sum(-1), (ac * ac).sum(-1)
    d20, d21 = (ap * ab).sum(-1), (ap * ac).sum(-1)
    denom = (d00 * d11 - d01 * d01).clamp_min(1e-20)
    v = (d11 * d20 - d01 * d21) / denom
    w = (d00 * d21 - d01 * d20) / denom
    options = [torch.stack([1 - v - w, v, w], -1)]
    inside = (v >= 0) & (w >= 0) & (v + w <= 1)
    # On the edges: segment (p, q) with barycentric placement.
    for i, j in ((0, 1), (0, 2), (1, 2)):
        corners = (a, b, c)
        p, q = corners[i], corners[j]
        t = (((point - p) * (q - p)).sum(-1) / ((q - p) * (q - p)).sum(-1).clamp_min(1e-20)).clamp(0, 1)
        bary = torch.zeros(*t.shape, 3, dtype=t.dtype)
        bary[..., i], bary[..., j] = 1 - t, t
        options.append(bary)
    stacked = torch.stack(options, -2)  # (..., 4, 3)
    corner_stack = torch.stack([a, b, c], -2)  # (..., 3, 3)
    closest = stacked @ corner_stack  # (..., 4, 3)
    dist = ((closest - point.unsqueeze(-2)) ** 2).sum(-1)
    dist[..., 0] = torch.where(inside, dist[..., 0], torch.full_like(dist[..., 0], float("inf")))
    best = dist.argmin(-1)
    return dist.gather(-1, best.unsqueeze(-1)).squeeze(-1), stacked.gather(
        -2, best[..., None, None].expand(*best.shape, 1, 3)
    ).squeeze(-2)


def _embed(points: Tensor, vertices: Tensor, faces: Tensor, neighbours: int = 12) -> tuple[Tensor, Tensor]:
    """Closest surface points of ``points (M, 3)`` on the mesh: vertex indices ``(M, 3)``
    and barycentric weights ``(M, 3)``."""
    incident: list[list[int]] = [[] for _ in range(len(vertices))]
    for f, face in enumerate(faces.tolist()):
        for v in face:
            incident[v].append(f)
    nearest = _nearest(vertices, points, neighbours)
    index_rows, bary_rows = [], []
    for m in range(len(points)):
        candidates = torch.tensor(sorted({f for v in nearest[m].tolist() for f in incident[v]}))
        tri = faces[candidates]
        corners = vertices[tri].double()
        dist, bary = _closest_on_triangles(points[m].double().expand(len(tri), 3),
                                           corners[:, 0], corners[:, 1], corners[:, 2])  # fmt: skip
        best = dist.argmin()
        index_rows.append(tri[best])
        bary_rows.append(bary[best])
    return torch.stack(index_rows), torch.stack(bary_rows)


def _vertex_twins(vertices: Tensor) -> Tensor:
    """``(N,)``: the vertex nearest to each vertex's mirror image (``x -> -x``)."""
    vertices = vertices.double()
    mirrored = vertices * vertices.new_tensor([-1.0, 1.0, 1.0])
    return torch.cat([torch.cdist(chunk, vertices).argmin(1) for chunk in mirrored.split(2048)])


def _gather(values: Tensor, index: Tensor, bary: Tensor) -> Tensor:
    """``(M, ...)``: interpolation of per-vertex ``values (N, ...)`` with weights ``bary (M, K)``
    on vertices ``index (M, K)``."""
    picked = values[index]  # (M, K, ...)
    shape = bary.shape + (1,) * (picked.dim() - 2)
    return (picked * bary.view(shape).to(picked.dtype)).sum(1)


def _random_poses(count: int, scale: float, generator: torch.Generator) -> Tensor:
    """``(count, J, 3, 3)`` random local rotations (axis-angle ~ N(0, scale^2)), root included."""
    rotvec = torch.randn(count, len(SMPL_PARENTS), 3, generator=generator, dtype=torch.float64) * scale
    return rotvec_to_rotmat(rotvec).float()


def _lowpoly(
    full: BodyModel,
    train_betas: Tensor,
    target_vertices: int,
    seed: int,
    num_poses: int = 24,
) -> BodyModel:
    """The low-poly variant of ``full``; regressors fitted on ``train_betas (S, S_b)``."""
    points, faces, twins = _decimate(full.template.double(), full.faces, target_vertices)
    # Embed the left half in the full surface; the mirrored vertices take the mirror
    # images of those embeddings (the full mesh's vertex twins), so the low-poly is as
    # symmetric as the full mesh.
    # Midline vertices average their embedding with its mirror image.
    left = len(points) - len(twins)
    index, bary = _embed(points[:left], full.template.double(), full.faces)
    full_twins = _vertex_twins(full.template)
    index, bary = torch.cat([index, index], 1), torch.cat([bary, bary], 1) / 2  # (left, 6)
    midline = points[:left, 0] == 0
    index[midline, 3:] = full_twins[index[midline, 3:]]
    index = torch.cat([index, full_twins[index[twins]]])
    bary = torch.cat([bary, bary[twins]])
    template = _gather(full.template.double(), index, bary)
    shapedirs = _gather(full.shapedirs.double(), index, bary)
    weights = _gather(full.weights.double(), index, bary)
    weights = weights / weights.sum(1, keepdim=True)
    n_low = len(template)
    zeros_pose = torch.zeros(n_low, 3, full.posedirs.shape[-1])
    # Joint regressor: reproduce the full model's joints over the training shapes.
    betas = train_betas.float()
    rest = full(torch.eye(3).expand(len(betas), 24, 3, 3), betas, vertices=True)
    low_meshes = template.float() + torch.einsum("nds,bs->bnd", shapedirs.float(), betas)
    regressor = _joint_regressor(low_meshes, rest.rest_joints, count=300, ridge=1e-7)
    low = BodyModel(template, shapedirs, zeros_pose, regressor, weights, SMPL_PARENTS, faces, name="anny_lowpoly")
    sets = _fit_lowpoly_keypoints(full, low, betas, num_poses, seed)
    return BodyModel(template, shapedirs, zeros_pose, regressor, weights, SMPL_PARENTS, faces, sets, "anny_lowpoly")


def _fit_lowpoly_keypoints(full: BodyModel, low: BodyModel, betas: Tensor, num_poses: int, seed: int) -> dict:
    """Keypoint sets of ``low`` fitted to ``full``'s over shapes and poses: per keypoint a
    convex combination of its 32 nearest low-poly vertices and 3 nearest joints."""
    generator = torch.Generator().manual_seed(seed)
    shapes = betas[torch.randperm(len(betas), generator=generator)[:16]]
    poses = torch.cat([torch.eye(3).expand(1, 24, 3, 3), _random_poses(num_poses, 0.35, generator)])
    rot = poses[:, None].expand(-1, len(shapes), -1, -1, -1).reshape(-1, 24, 3, 3)
    bet = shapes[None].expand(len(poses), -1, -1).reshape(-1, shapes.shape[-1])
    names = list(full.keypoint_sets)
    target = full(rot, bet, keypoints=names, vertices=False).keypoints
    posed = low(rot, bet)
    stacked = torch.cat([posed.vertices, posed.joints], dim=1)  # (B, M + J, 3)
    # Candidates from the mean shape in the rest pose (the first rows of the batch are the
    # identity pose): nearest low-poly vertices and joints to each full-model keypoint.
    rest_vertices, rest_joints = posed.vertices[0], posed.joints[0]
    sets = {}
    for name, ks in full.keypoint_sets.items():
        rest_keypoints = target[name][0]
        near_v = _nearest(rest_vertices, rest_keypoints, 32)
        near_j = _nearest(rest_joints, rest_keypoints, 3) + low.num_vertices
        rows = torch.stack([
            fit_regressor(stacked, target[name][:, k], torch.cat([near_v[k], near_j[k]]).tolist())
            for k in range(len(ks.names))
        ])  # fmt: skip
        sets[name] = KeypointSet(ks.names, rows[:, : low.num_vertices].float(), rows[:, low.num_vertices :].float())
    return sets


# ---------------------------------------------------------------------- export


@dataclass(frozen=True)
class AnnyExport:
    """What :func:`export_anny` built.

    Attributes:
        full: the full-resolution model (Anny's 13,718 vertices).
        lowpoly: the low-poly variant, or None.
        paths: the files written.
        train_phenotypes: ``(S, 6)`` the phenotypes of the PCA.
    """

    full: BodyModel
    lowpoly: BodyModel | None
    paths: tuple[Path, ...]
    train_phenotypes: Tensor


def _keypoint_sets(model: Any) -> dict[str, KeypointSet]:
    """``"coco"`` and ``"feet"`` from Anny's COCO regressor (labels matched by name)."""
    anny = _import("anny")
    regressor = anny.KeypointsRegressor.coco(model)
    rows = {label: regressor.regression_weights[k].double() for k, label in enumerate(regressor.labels)}
    j = len(SMPL_JOINT_NAMES)
    sets = {}
    for name, labels in (("coco", COCO_17), ("feet", FEET)):
        weights = torch.stack([rows[label] for label in labels])
        sets[name] = KeypointSet(labels, (weights / weights.sum(1, keepdim=True)).float(), torch.zeros(len(labels), j))
    return sets


def build_full_model(model: Any, shapes: AnnyShapes, num_betas: int, regressor_vertices: int = 1000) -> BodyModel:
    """The full-resolution :class:`BodyModel` from T-posed Anny ``shapes``."""
    template, shapedirs = _principal_components(shapes.vertices, num_betas)
    betas = project_betas(template, shapedirs, shapes.vertices.double())
    reconstructed = template + torch.einsum("nds,bs->bnd", shapedirs, betas)
    regressor = _joint_regressor(reconstructed.float(), shapes.joints, regressor_vertices)
    n, j = template.shape[0], len(SMPL_JOINT_NAMES)
    faces = torch.as_tensor(model.faces).long()
    return BodyModel(
        template, shapedirs, torch.zeros(n, 3, 9 * (j - 1)), regressor, merged_weights(model),
        SMPL_PARENTS, faces, _keypoint_sets(model), name="anny",
    )  # fmt: skip


def export_anny(
    out_dir: str | os.PathLike[str],
    *,
    num_betas: int = 10,
    num_samples: int = 1000,
    seed: int = 0,
    lowpoly_vertices: int | None = 1500,
    age_range: tuple[float, float] = (20.0, 70.0),
    cache_dir: str | os.PathLike[str] | None = None,
    name: str = "anny",
) -> AnnyExport:
    """Export Anny to ``{out_dir}/{name}.npz`` and ``{out_dir}/{name}_lowpoly.npz``.

    Arguments:
        out_dir: output folder (created).
        num_betas: number of linear shape components ``S``.
        num_samples: number of adult phenotypes sampled for the PCA and the regressors.
        seed: seed of the phenotype sample and of the low-poly fit.
        lowpoly_vertices: target vertex count of the low-poly variant (None: skip it).
        age_range: morphological age range in years of the sampled adults.
        cache_dir: Anny's cache folder (see :func:`load_anny`).
        name: file name stem.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = load_anny(cache_dir)
    logger.info("sampling %d adult phenotypes and posing them into the T-pose", num_samples)
    phenotypes = sample_adult_phenotypes(model, num_samples, seed, age_range)
    shapes = tposed_shapes(model, phenotypes)
    full = build_full_model(model, shapes, num_betas)
    full.name = name
    paths = [out / f"{name}.npz"]
    full.save(paths[0])
    lowpoly = None
    if lowpoly_vertices:
        logger.info("building the low-poly variant (%d vertices)", lowpoly_vertices)
        betas = project_betas(full.template, full.shapedirs, shapes.vertices)
        lowpoly = _lowpoly(full, betas, lowpoly_vertices, seed)
        lowpoly.name = f"{name}_lowpoly"
        paths.append(out / f"{name}_lowpoly.npz")
        lowpoly.save(paths[1])
    for path in paths:
        logger.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return AnnyExport(full, lowpoly, tuple(paths), phenotypes)
