r"""SMPL-format body model: linear blend skinning on SMPL's arrays, plus keypoint sets.

The maths is SMPL's (Loper et al., SIGGRAPH Asia 2015), as the reference ``smplx`` code
computes it, for ``N`` vertices, ``J`` joints and ``S`` shape components:

1. shape blend: ``v_shaped = template + shapedirs @ betas``                  (N, 3)
2. rest joints regressed from the shaped rest mesh: ``J_rest = J_regressor @ v_shaped``
3. pose blend: ``v_posed = v_shaped + posedirs @ vec(R_j - I, j = 1..J-1)``, each
   ``R_j - I`` flattened row-major                                           (N, 3)
4. forward kinematics along ``parents``: ``G_j = G_parent(j) [R_j | J_j - J_parent(j)]``;
   the posed joints are the translations of ``G_j``
5. skinning: ``v = sum_j w_ij (G_j - [0 | R^G_j J_rest_j]) [v_posed_i; 1]``

Rotations act on column vectors; joint 0 carries the global orientation.

Speed: step 2 uses ``J_regressor @ template`` and ``J_regressor @ shapedirs``
precomputed (the same linear map), forward kinematics runs one batched product per
tree depth (9 for SMPL instead of 24), the skinning transforms are blended with one
matrix product, vertices are computed coordinate-major (``(B, 3, N)``, so every step is
a plain matrix product or a broadcast over ``N``; ``shapedirs`` and ``posedirs`` are
stored coordinate-major for this, still seen as ``(N, 3, K)``), and with
``vertices=False`` only the vertices that the requested keypoint sets use are computed.
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from hmrflow.body.io import (
    BodyModelArrays,
    BodyModelFileError,
    check_body_arrays,
    read_body_file,
    write_body_file,
)
from hmrflow.body.keypoints import KeypointSet

__all__ = ["BodyModel", "BodyOutput"]


@dataclass(frozen=True)
class BodyOutput:
    r"""Result of :meth:`BodyModel.forward`; ``...`` are the input's batch dimensions.

    Attributes:
        joints: ``(..., J, 3)`` posed joint positions (forward kinematics) + transl.
        vertices: ``(..., N, 3)`` posed vertices + transl, or None if not requested.
        keypoints: set name -> ``(..., K, 3)`` posed keypoints (translated too).
        rest_joints: ``(..., J, 3)`` joints of the shaped mesh in the rest pose.
    """

    joints: Tensor
    vertices: Tensor | None
    keypoints: dict[str, Tensor]
    rest_joints: Tensor


@dataclass(frozen=True)
class _VertexSubset:
    """Arrays restricted to the ``L`` vertices some keypoint sets use."""

    index: Tensor  # (L,)
    template: Tensor  # (3, L)
    shapedirs: Tensor  # (3 * L, S), coordinate-major
    posedirs: Tensor  # (3 * L, P), coordinate-major
    weights: Tensor  # (L, J)
    set_weights: dict[str, Tensor]  # name -> (K, L)


def _float_tensor(value: Any) -> Tensor:
    """A fresh contiguous float32 CPU tensor from an array or tensor."""
    tensor = value.detach() if isinstance(value, Tensor) else torch.as_tensor(np.asarray(value))
    return tensor.to(dtype=torch.float32, device="cpu", copy=True).contiguous()


def _coordinate_major(blend: Tensor) -> Tensor:
    """``(N, 3, K)`` with memory laid out as ``(3, N, K)``."""
    return blend.permute(1, 0, 2).contiguous().permute(1, 0, 2)


def _flat_coordinate_major(blend: Tensor) -> Tensor:
    """``(N, 3, K)`` -> ``(3 N, K)``, row ``c N + n``; a view for coordinate-major storage."""
    return blend.permute(1, 0, 2).reshape(3 * blend.shape[0], blend.shape[-1])


def _tree_levels(parents: Sequence[int]) -> list[tuple[list[int], list[int]]]:
    """Joints grouped by depth: per level, the joints and their parents' positions in
    the previous level's list."""
    depth: list[int] = []
    for parent in parents:
        depth.append(0 if parent < 0 else depth[parent] + 1)
    levels: list[tuple[list[int], list[int]]] = []
    for d in range(max(depth) + 1):
        joints = [j for j in range(len(parents)) if depth[j] == d]
        previous = levels[-1][0] if levels else []
        levels.append((joints, [previous.index(parents[j]) for j in joints] if d else []))
    return levels


class BodyModel(torch.nn.Module):
    r"""SMPL-format linear blend skinning with named keypoint sets.

    Arguments:
        template: ``(N, 3)`` rest-pose vertices.
        shapedirs: ``(N, 3, S)`` shape blend shapes.
        posedirs: ``(N, 3, 9 (J - 1))`` pose blend shapes, as in the SMPL pkl.
        joint_regressor: ``(J, N)``.
        weights: ``(N, J)`` skinning weights.
        parents: ``J`` ints, ``-1`` for joint 0, otherwise ``0 <= parents[j] < j``.
        faces: ``(F, 3)`` triangles.
        keypoint_sets: name -> :class:`KeypointSet`.
        name: a label saved with the model.

    Arrays are stored as float32 buffers (not in the ``state_dict``: a body model is an
    asset read from its file), so ``.to(device, dtype)`` works.

    Example (with a file of your own)::
        body = BodyModel.from_file("SMPL_NEUTRAL.pkl")
        out = body(torch.eye(3).expand(2, 24, 3, 3), torch.zeros(2, 10))
        out.vertices.shape
        torch.Size([2, 6890, 3])
    """

    template: Tensor
    shapedirs: Tensor
    posedirs: Tensor
    joint_regressor: Tensor
    weights: Tensor
    faces: Tensor

    def __init__(
        self,
        template: Any,
        shapedirs: Any,
        posedirs: Any,
        joint_regressor: Any,
        weights: Any,
        parents: Sequence[int],
        faces: Any,
        keypoint_sets: Mapping[str, KeypointSet] | None = None,
        name: str = "body",
    ) -> None:
        super().__init__()
        self.name = name
        self._parents = tuple(int(p) for p in parents)
        arrays = {
            "template": _float_tensor(template),
            "shapedirs": _float_tensor(shapedirs),
            "posedirs": _float_tensor(posedirs),
            "joint_regressor": _float_tensor(joint_regressor),
            "weights": _float_tensor(weights),
        }
        faces_tensor = torch.as_tensor(np.asarray(faces) if not isinstance(faces, Tensor) else faces)
        sets = {key: self._set_tensors(ks) for key, ks in (keypoint_sets or {}).items()}
        check_body_arrays(*arrays.values(), self._parents, faces_tensor, sets)
        for key, value in arrays.items():
            self.register_buffer(key, _coordinate_major(value) if value.ndim == 3 else value, persistent=False)
        self.register_buffer("faces", faces_tensor.to(torch.long).contiguous(), persistent=False)
        self._set_names: dict[str, tuple[str, ...]] = {}
        for i, (key, (names, vw, jw)) in enumerate(sets.items()):
            self._set_names[key] = names
            self.register_buffer(f"_set{i}_vertex_weights", vw, persistent=False)
            self.register_buffer(f"_set{i}_joint_weights", jw, persistent=False)
        # Forward kinematics runs level by level (joints of equal depth in the tree).
        levels = _tree_levels(self._parents)
        self._level_sizes = [len(joints) for joints, _ in levels]
        order = torch.tensor([j for joints, _ in levels for j in joints])
        self.register_buffer("_level_order", order, persistent=False)
        self.register_buffer("_level_inverse", torch.argsort(order), persistent=False)
        for d, (_, parent_positions) in enumerate(levels):
            self.register_buffer(f"_level{d}_parents", torch.tensor(parent_positions, dtype=torch.long),
                                 persistent=False)  # fmt: skip
        self.register_buffer("_parent_index", torch.tensor(self._parents[1:], dtype=torch.long), persistent=False)
        self._subsets: dict[tuple[str, ...], _VertexSubset] = {}
        self._refresh_derived()

    @staticmethod
    def _set_tensors(ks: KeypointSet) -> tuple[tuple[str, ...], Tensor, Tensor]:
        return tuple(ks.names), _float_tensor(ks.vertex_weights), _float_tensor(ks.joint_weights)

    # ------------------------------------------------------------------ properties

    @property
    def num_joints(self) -> int:
        """``J``."""
        return len(self._parents)

    @property
    def num_vertices(self) -> int:
        """``N``."""
        return self.template.shape[0]

    @property
    def num_betas(self) -> int:
        """``S``, the number of shape components."""
        return self.shapedirs.shape[-1]

    @property
    def parents(self) -> tuple[int, ...]:
        """Parent of each joint (``-1`` for the root)."""
        return self._parents

    @property
    def keypoint_sets(self) -> dict[str, KeypointSet]:
        """Name -> :class:`KeypointSet` (tensors on the model's device and dtype)."""
        return {
            key: KeypointSet(names, getattr(self, f"_set{i}_vertex_weights"), getattr(self, f"_set{i}_joint_weights"))
            for i, (key, names) in enumerate(self._set_names.items())
        }

    def _set_joint_weights(self, key: str) -> Tensor:
        return getattr(self, f"_set{list(self._set_names).index(key)}_joint_weights")

    def extra_repr(self) -> str:
        return (
            f"name={self.name!r}, vertices={self.num_vertices}, joints={self.num_joints}, "
            f"betas={self.num_betas}, keypoint_sets={list(self._set_names)}"
        )

    # ------------------------------------------------------------------ derived arrays

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> BodyModel:
        super()._apply(fn, recurse)
        self._refresh_derived()
        return self

    def _refresh_derived(self) -> None:
        """Joint regressor applied to template and shapedirs, in the current dtype; blend
        shapes kept coordinate-major."""
        for key in ("shapedirs", "posedirs"):
            blend = getattr(self, key)
            if not blend.permute(1, 0, 2).is_contiguous():
                setattr(self, key, _coordinate_major(blend))
        n, s = self.num_vertices, self.num_betas
        self._joint_template = self.joint_regressor @ self.template  # (J, 3)
        regressed = self.joint_regressor @ self.shapedirs.reshape(n, 3 * s)  # (J, 3 S)
        self._joint_shapedirs = regressed.reshape(self.num_joints * 3, s)  # row 3 j + c
        self._pose_blend = bool(self.posedirs.any())
        self._subsets = {}

    def _subset(self, set_names: tuple[str, ...]) -> _VertexSubset:
        """Arrays restricted to the union of the vertices the given sets use (cached)."""
        cached = self._subsets.get(set_names)
        if cached is not None:
            return cached
        sets = self.keypoint_sets
        used = torch.zeros(self.num_vertices, dtype=torch.bool, device=self.template.device)
        for key in set_names:
            used |= (sets[key].vertex_weights != 0).any(dim=0)
        index = used.nonzero().squeeze(1)
        subset = _VertexSubset(
            index=index,
            template=self.template[index].T,
            shapedirs=_flat_coordinate_major(self.shapedirs[index]),
            posedirs=_flat_coordinate_major(self.posedirs[index]),
            weights=self.weights[index],
            set_weights={key: sets[key].vertex_weights[:, index] for key in set_names},
        )
        self._subsets[set_names] = subset
        return subset

    # ------------------------------------------------------------------ forward

    def forward(
        self,
        rotmats: Tensor,
        betas: Tensor,
        transl: Tensor | None = None,
        *,
        keypoints: Sequence[str] = (),
        vertices: bool = True,
    ) -> BodyOutput:
        r"""Pose and shape the body.

        Arguments:
            rotmats: ``(..., J, 3, 3)`` local joint rotations, joint 0 the global orientation.
            betas: ``(..., S')``, ``S' <= S`` (missing components are zero).
            transl: ``(..., 3)`` added to every output point, or None.
            keypoints: names of keypoint sets to compute.
            vertices: compute the full mesh; if False only the vertices the requested
                keypoint sets use are computed (the fast path for training).

        Leading dimensions of the inputs broadcast against each other.
        """
        set_names = (keypoints,) if isinstance(keypoints, str) else tuple(keypoints)
        batch_shape = self._check_inputs(rotmats, betas, transl, set_names)
        b = int(np.prod(batch_shape))
        J, S = self.num_joints, betas.shape[-1]
        rotmats = rotmats.expand(*batch_shape, J, 3, 3).reshape(b, J, 3, 3)
        betas = betas.expand(*batch_shape, S).reshape(b, S)

        rest_joints = self._joint_template + (betas @ self._joint_shapedirs[:, :S].T).view(b, J, 3)
        rotations, joints = self._forward_kinematics(rotmats, rest_joints)
        # Skinning transforms relative to the rest joints: [R | t - R j_rest], (B, J, 3, 4).
        skin_t = joints - (rotations @ rest_joints.unsqueeze(-1)).squeeze(-1)
        transforms = torch.cat([rotations, skin_t.unsqueeze(-1)], dim=-1)
        identity = torch.eye(3, dtype=rotmats.dtype, device=rotmats.device)
        pose_feature = (rotmats[:, 1:] - identity).reshape(b, 9 * (J - 1))  # row-major R - I
        subset = self._subset(tuple(sorted(set_names))) if set_names else None
        mesh, points = self._posed_vertices(subset, vertices, betas, pose_feature, transforms)

        if transl is not None:
            shift = transl.expand(*batch_shape, 3).reshape(b, 1, 3)
            joints, mesh, points = (x + shift if x is not None else None for x in (joints, mesh, points))
        keypoint_out = {}
        for key in set_names:
            value = self._set_joint_weights(key) @ joints
            if points is not None:
                value = value + subset.set_weights[key] @ points  # type: ignore[union-attr]
            keypoint_out[key] = value.view(*batch_shape, value.shape[-2], 3)
        return BodyOutput(
            joints=joints.view(*batch_shape, J, 3),  # type: ignore[union-attr]
            vertices=mesh.view(*batch_shape, self.num_vertices, 3) if mesh is not None else None,
            keypoints=keypoint_out,
            rest_joints=rest_joints.view(*batch_shape, J, 3),
        )

    def _posed_vertices(
        self,
        subset: _VertexSubset | None,
        vertices: bool,
        betas: Tensor,
        pose_feature: Tensor | None,
        transforms: Tensor,
    ) -> tuple[Tensor | None, Tensor | None]:
        """The full mesh ``(B, N, 3)`` if ``vertices``, and the subset's vertices ``(B, L, 3)``."""
        if not self._pose_blend:  # a model without pose blend shapes (Anny's) skips them
            pose_feature = None
        if vertices:
            mesh = self._skin(self.template.T, _flat_coordinate_major(self.shapedirs),
                              _flat_coordinate_major(self.posedirs), self.weights, betas, pose_feature,
                              transforms).contiguous()  # fmt: skip
            return mesh, (mesh[:, subset.index] if subset is not None else None)
        if subset is None or not len(subset.index):
            return None, None
        points = self._skin(subset.template, subset.shapedirs, subset.posedirs, subset.weights,
                            betas, pose_feature, transforms)  # fmt: skip
        return None, points

    def _check_inputs(
        self, rotmats: Tensor, betas: Tensor, transl: Tensor | None, set_names: tuple[str, ...]
    ) -> torch.Size:
        J = self.num_joints
        if rotmats.shape[-3:] != (J, 3, 3):
            raise ValueError(f"rotmats must have shape (..., {J}, 3, 3), got {tuple(rotmats.shape)}")
        if betas.ndim < 1 or betas.shape[-1] > self.num_betas:
            raise ValueError(f"betas must have shape (..., S') with S' <= {self.num_betas}, got {tuple(betas.shape)}")
        if transl is not None and transl.shape[-1:] != (3,):
            raise ValueError(f"transl must have shape (..., 3), got {tuple(transl.shape)}")
        for tensor in (rotmats, betas, transl):
            if tensor is not None and tensor.dtype != self.template.dtype:
                raise TypeError(f"inputs are {tensor.dtype} but the model is {self.template.dtype}; use .to(dtype)")
        unknown = [key for key in set_names if key not in self._set_names]
        if unknown:
            raise KeyError(f"unknown keypoint sets {unknown}; this model has {list(self._set_names)}")
        shapes = [rotmats.shape[:-3], betas.shape[:-1]] + ([transl.shape[:-1]] if transl is not None else [])
        return torch.broadcast_shapes(*shapes)

    def _forward_kinematics(self, rotmats: Tensor, rest_joints: Tensor) -> tuple[Tensor, Tensor]:
        """World rotations ``(B, J, 3, 3)`` and positions ``(B, J, 3)``, one product per depth."""
        b, J = rotmats.shape[:2]
        relative = torch.cat([rest_joints[:, :1], rest_joints[:, 1:] - rest_joints[:, self._parent_index]], dim=1)
        bottom = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=rotmats.dtype, device=rotmats.device)
        local = torch.cat([torch.cat([rotmats, relative.unsqueeze(-1)], dim=-1), bottom.expand(b, J, 1, 4)], dim=-2)
        local = local[:, self._level_order]  # (B, J, 4, 4), level by level
        world = [local[:, : self._level_sizes[0]]]
        start = self._level_sizes[0]
        for d, size in enumerate(self._level_sizes[1:], start=1):
            parents = world[-1][:, getattr(self, f"_level{d}_parents")]
            world.append(parents @ local[:, start : start + size])
            start += size
        transforms = torch.cat(world, dim=1)[:, self._level_inverse]
        return transforms[..., :3, :3], transforms[..., :3, 3]

    @staticmethod
    def _skin(
        template: Tensor,
        shapedirs: Tensor,
        posedirs: Tensor,
        weights: Tensor,
        betas: Tensor,
        pose_feature: Tensor | None,
        transforms: Tensor,
    ) -> Tensor:
        """Posed vertices ``(B, L, 3)`` of ``L`` vertices, computed coordinate-major.

        ``template (3, L)``, ``shapedirs (3 L, S)``, ``posedirs (3 L, P)`` (coordinate-major),
        ``weights (L, J)``, ``betas (B, S')``, ``pose_feature (B, P)`` (None: no pose
        blend shapes), ``transforms (B, J, 3, 4)``.
        """
        b, L = betas.shape[0], template.shape[1]
        shaped = torch.addmm(template.reshape(-1), betas, shapedirs[:, : betas.shape[1]].T)  # (B, 3 L)
        if pose_feature is not None:
            shaped = torch.addmm(shaped, pose_feature, posedirs.T)
        v = shaped.view(b, 3, L)
        # Per-vertex blended transforms, (B, 3, 4, L): one matrix product over the joints.
        t = (transforms.reshape(b, weights.shape[1], 12).transpose(1, 2) @ weights.T).view(b, 3, 4, L)
        posed = torch.addcmul(t[:, :, 3], t[:, :, 0], v[:, :1])
        posed.addcmul_(t[:, :, 1], v[:, 1:2]).addcmul_(t[:, :, 2], v[:, 2:])
        return posed.transpose(1, 2)

    # ------------------------------------------------------------------ files

    def to_arrays(self) -> BodyModelArrays:
        """The model's arrays as float32 numpy (what :meth:`save` writes)."""

        def cpu(tensor: Tensor) -> np.ndarray:
            return tensor.detach().to("cpu", torch.float32).numpy()

        return BodyModelArrays(
            template=cpu(self.template),
            shapedirs=cpu(self.shapedirs),
            posedirs=cpu(self.posedirs),
            joint_regressor=cpu(self.joint_regressor),
            weights=cpu(self.weights),
            parents=self._parents,
            faces=self.faces.cpu().numpy(),
            keypoint_sets={
                key: (ks.names, cpu(ks.vertex_weights), cpu(ks.joint_weights)) for key, ks in self.keypoint_sets.items()
            },
            name=self.name,
        )

    @classmethod
    def from_arrays(cls, arrays: BodyModelArrays) -> BodyModel:
        """Build from :class:`~hmrflow.body.io.BodyModelArrays`."""
        sets = {
            key: KeypointSet(names, torch.from_numpy(vw), torch.from_numpy(jw))
            for key, (names, vw, jw) in arrays.keypoint_sets.items()
        }
        return cls(
            arrays.template, arrays.shapedirs, arrays.posedirs, arrays.joint_regressor,
            arrays.weights, arrays.parents, arrays.faces, sets, arrays.name,
        )  # fmt: skip

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> BodyModel:
        """Load an official SMPL ``.pkl`` (no chumpy needed) or an ``.npz`` file.

        Raises:
            BodyModelFileError: the file is missing, corrupt, incomplete or inconsistent.
        """
        arrays = read_body_file(path)
        try:
            return cls.from_arrays(arrays)
        except ValueError as error:
            raise BodyModelFileError(f"{path}: {error}") from error

    @classmethod
    def from_name(cls, name: str) -> BodyModel:
        """Load a model shipped in ``hmrflow/assets/body/{name}.npz``."""
        root = importlib.resources.files("hmrflow") / "assets" / "body"
        resource = root / f"{name}.npz"
        if not resource.is_file():
            available = sorted(r.name[:-4] for r in root.iterdir() if r.name.endswith(".npz")) if root.is_dir() else []
            raise ValueError(f"no body model named {name!r}; available: {available or 'none'}")
        with importlib.resources.as_file(resource) as path:
            return cls.from_file(path)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write our ``.npz`` format (round-trips exactly, keypoint sets included)."""
        write_body_file(Path(path), self.to_arrays())

    def with_keypoint_sets(self, keypoint_sets: Mapping[str, KeypointSet]) -> BodyModel:
        """A copy with sets added (or replaced by name), on this model's device and dtype."""
        arrays = self.to_arrays()
        sets = {key: KeypointSet(names, torch.from_numpy(vw), torch.from_numpy(jw))
                for key, (names, vw, jw) in arrays.keypoint_sets.items()}  # fmt: skip
        sets.update(keypoint_sets)
        model = type(self)(
            arrays.template, arrays.shapedirs, arrays.posedirs, arrays.joint_regressor,
            arrays.weights, arrays.parents, arrays.faces, sets, arrays.name,
        )  # fmt: skip
        return model.to(self.template.device, self.template.dtype)
