r"""Triangle meshes for the renderer: smooth normals, per-vertex colours, part labels, markers.

Every array is converted to numpy once, in :class:`Mesh`; torch tensors are accepted
(detached, moved to the CPU). Points are in the camera frame (OpenCV: x right, y down,
+Z forward), in metres.

Example:
    >>> sphere = icosphere(1)
    >>> sphere.vertices.shape, sphere.faces.shape
    ((42, 3), (80, 3))
    >>> m = Mesh(sphere.vertices + [0, 0, 3], sphere.faces, color=(1.0, 0.0, 0.0))
    >>> bool(np.allclose(np.linalg.norm(m.normals, axis=1), 1))
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["Mesh", "Topology", "Icosphere", "icosphere", "smooth_normals", "markers", "part_labels", "part_colors"]


def _array(value: Any, dtype: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.ascontiguousarray(np.asarray(value), dtype=dtype)


def _face_normals(v: torch.Tensor, f0: torch.Tensor, f1: torch.Tensor, f2: torch.Tensor) -> torch.Tensor:
    """Area-weighted face normals ``(F, 3)`` (twice the area long)."""
    a = v.index_select(0, f0)
    return torch.linalg.cross(v.index_select(0, f1) - a, v.index_select(0, f2) - a)


def _unit(normals: torch.Tensor) -> np.ndarray:
    return (normals / normals.norm(dim=1, keepdim=True).clamp_min(1e-12)).numpy()


def smooth_normals(vertices: np.ndarray, faces: np.ndarray | Topology) -> np.ndarray:
    r"""Area-weighted vertex normals ``(N, 3)`` (unit length; 0 for unused vertices).

    Arguments:
        vertices: ``(N, 3)`` float32.
        faces: ``(F, 3)`` vertex indices, or a :class:`Topology` (faster when reused).
    """
    if isinstance(faces, Topology):
        return faces.normals(vertices)
    v = torch.from_numpy(np.ascontiguousarray(vertices, dtype=np.float32))
    f = torch.from_numpy(np.ascontiguousarray(faces, dtype=np.int64))
    face_normals = _face_normals(v, f[:, 0].contiguous(), f[:, 1].contiguous(), f[:, 2].contiguous())
    normals = torch.zeros_like(v)
    for k in range(3):
        normals.index_add_(0, f[:, k], face_normals)
    return _unit(normals)


class Topology:
    r"""The faces ``(F, 3)`` of a mesh, with what computing its normals needs, made once.

    A mesh drawn again and again with new vertices (a body in motion) should pass one
    :class:`Topology` as the ``faces`` of each :class:`Mesh`: its normals then cost one
    gather, one cross product and one sparse product, and the renderer skips comparing
    the faces with those already on the GPU.

    Arguments:
        faces: ``(F, 3)`` vertex indices.
        num_vertices: ``N`` (default: the largest index + 1).
    """

    def __init__(self, faces: Any, num_vertices: int | None = None):
        import warnings

        self.faces = _array(faces, np.int32).reshape(-1, 3)
        self.num_vertices = int(num_vertices if num_vertices is not None else self.faces.max() + 1)
        f = torch.from_numpy(self.faces.astype(np.int64))
        self._corners = tuple(f[:, k].contiguous() for k in range(3))
        rows = f.reshape(-1)
        cols = torch.arange(len(f)).repeat_interleave(3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
            incidence = torch.sparse_coo_tensor(
                torch.stack([rows, cols]), torch.ones(len(rows)), (self.num_vertices, len(f))
            )
            self._incidence = incidence.coalesce().to_sparse_csr()  # (N, F): vertex in face

    def __len__(self) -> int:
        return len(self.faces)

    def normals(self, vertices: Any) -> np.ndarray:
        """Unit area-weighted vertex normals ``(N, 3)`` of ``vertices (N, 3)``."""
        v = torch.from_numpy(_array(vertices, np.float32))
        return _unit(self._incidence @ _face_normals(v, *self._corners))


@dataclass
class Mesh:
    r"""One mesh to draw.

    Arguments:
        vertices: ``(N, 3)`` camera-frame points in metres.
        faces: ``(F, 3)`` vertex indices, or a :class:`Topology` to reuse across frames.
        colors: ``(N, 3)`` per-vertex RGB in ``[0, 1]``, or None to use ``color``.
        color: One RGB colour for every vertex (used when ``colors`` is None).
        alpha: Opacity; meshes with ``alpha < 1`` are drawn translucent, after the opaque
            ones, and do not enter the depth and label images.
        labels: ``(N,)`` integer per-vertex labels for the label image (each triangle takes
            one of its vertices' labels, never a blend); None for label 0.
        normals: ``(N, 3)`` vertex normals, computed (smooth) when None.
        shading: 1 for lit (Lambert + Blinn-Phong), 0 for the flat colour (markers).
    """

    vertices: Any
    faces: Any
    colors: Any = None
    color: tuple[float, float, float] = (0.7, 0.7, 0.7)
    alpha: float = 1.0
    labels: Any = None
    normals: Any = None
    shading: float = 1.0
    topology: Topology | None = field(default=None, init=False, repr=False)
    _packed: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.vertices = _array(self.vertices, np.float32).reshape(-1, 3)
        n = len(self.vertices)
        if isinstance(self.faces, Topology):
            self.topology = self.faces
            self.faces = self.topology.faces
            if self.topology.num_vertices > n:
                raise ValueError(f"the topology indexes {self.topology.num_vertices} vertices, the mesh has {n}")
        else:
            self.faces = _array(self.faces, np.int32).reshape(-1, 3)
            if len(self.faces) and (self.faces.min() < 0 or self.faces.max() >= n):
                raise ValueError(f"faces index vertices outside [0, {n})")
        if self.colors is None:
            self.colors = np.broadcast_to(np.asarray(self.color, dtype=np.float32), (n, 3))
        self.colors = _array(self.colors, np.float32).reshape(n, 3)
        if self.normals is None:
            self.normals = smooth_normals(self.vertices, self.topology or self.faces)
        self.normals = _array(self.normals, np.float32).reshape(n, 3)
        if self.labels is not None:
            self.labels = _array(self.labels, np.int32).reshape(n)

    @property
    def opaque(self) -> bool:
        return self.alpha >= 1.0

    def packed(self) -> np.ndarray:
        """``(N, 9)`` float32 rows ``[position, normal, colour]`` as the shaders read them."""
        if self._packed is None:
            self._packed = np.concatenate([self.vertices, self.normals, self.colors], axis=1)
        return self._packed


@dataclass(frozen=True)
class Icosphere:
    """A unit sphere: ``vertices (N, 3)``, ``faces (F, 3)``."""

    vertices: np.ndarray
    faces: np.ndarray


def icosphere(subdivisions: int = 1) -> Icosphere:
    """A unit icosphere (subdivided icosahedron); 12, 42, 162 vertices for 0, 1, 2 subdivisions."""
    t = (1 + 5**0.5) / 2
    vertices = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t),
                (0, -1, -t), (0, 1, -t), (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]  # fmt: skip
    faces = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4),
             (11, 10, 2), (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8),
             (3, 8, 9), (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1)]  # fmt: skip
    points = [np.array(v, dtype=np.float64) / np.linalg.norm(v) for v in vertices]
    for _ in range(subdivisions):
        midpoint: dict[tuple[int, int], int] = {}

        def middle(a: int, b: int) -> int:
            key = (min(a, b), max(a, b))
            if key not in midpoint:
                m = points[a] + points[b]
                points.append(m / np.linalg.norm(m))
                midpoint[key] = len(points) - 1
            return midpoint[key]

        new_faces = []
        for a, b, c in faces:
            ab, bc, ca = middle(a, b), middle(b, c), middle(c, a)
            new_faces += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = new_faces
    return Icosphere(np.array(points, dtype=np.float32), np.array(faces, dtype=np.int32))


def markers(
    points: Any,
    radius: float = 0.02,
    color: tuple[float, float, float] = (1.0, 0.1, 0.1),
    colors: Any = None,
    subdivisions: int = 1,
    shading: float = 1.0,
) -> Mesh:
    r"""Small spheres at ``points (K, 3)`` (camera frame), one mesh; vertex labels are ``k + 1``.

    Arguments:
        colors: ``(K, 3)`` per-marker colours, or None for ``color``.
    """
    centers = _array(points, np.float32).reshape(-1, 3)
    sphere = icosphere(subdivisions)
    k, n = len(centers), len(sphere.vertices)
    vertices = (centers[:, None] + radius * sphere.vertices[None]).reshape(-1, 3)
    faces = (sphere.faces[None] + n * np.arange(k, dtype=np.int32)[:, None, None]).reshape(-1, 3)
    normals = np.broadcast_to(sphere.vertices, (k, n, 3)).reshape(-1, 3)
    if colors is None:
        per_marker = np.broadcast_to(np.asarray(color, np.float32), (k, 3))
    else:
        per_marker = _array(colors, np.float32).reshape(k, 3)
    return Mesh(
        vertices,
        faces,
        colors=np.repeat(per_marker, n, axis=0),
        labels=np.repeat(np.arange(1, k + 1, dtype=np.int32), n),
        normals=normals,
        shading=shading,
    )


def part_labels(weights: Any) -> np.ndarray:
    """Per-vertex part label ``(N,)``: the joint with the largest skinning weight ``(N, J)``."""
    return _array(weights, np.float32).argmax(axis=1).astype(np.int32)


def part_colors(num_parts: int = 24, seed: int = 0) -> np.ndarray:
    """``(num_parts, 3)`` distinct colours (golden-ratio hues), for viewing label images."""
    hues = (seed * 0.13 + np.arange(num_parts) * 0.618034) % 1.0
    return _hsv_to_rgb(hues, np.full(num_parts, 0.65), np.full(num_parts, 0.95))


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    i = np.floor(h * 6).astype(int) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    table = np.stack([np.stack(c, -1) for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))])
    return table[i, np.arange(len(h))].astype(np.float32)
