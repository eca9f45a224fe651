r"""Write a fitted body's motion as an animated, skinned glTF 2.0 binary (``.glb``).

Written by hand from the glTF 2.0 specification (Khronos), no library. One file holds:

* one skinned mesh: the fitted shape's rest vertices (T-pose, the body's frame: Y up,
  facing +Z), its triangles and vertex normals, ``JOINTS_0``/``WEIGHTS_0`` from the body's
  skinning weights (the 4 largest per vertex, renormalised to sum to 1: glTF viewers blend
  4 joints), and a grey-blue material;
* a skeleton of ``J`` nodes named after the joints (node ``j`` is joint ``j``), each at its
  rest offset from its parent, and inverse bind matrices ``translate(-J_rest_j)``;
* one animation: per joint a rotation sampler (unit quaternions ``x, y, z, w``, kept in
  one hemisphere from frame to frame) and a translation sampler for the root, key ``t`` at
  ``t / fps`` seconds, linear interpolation.

Frame: the Y-up world frame of :mod:`hmrflow.body.animation` (the camera frame turned to
``(x, -y, -z)``, metres), the same as ``mesh.glb`` and the BVH export: at key ``t`` the
skinned mesh is ``F body(rotmats[t], betas, transl[t]).vertices`` up to the 4-joint
truncation of the weights. Pose blend shapes (official SMPL files have them, the shipped
Anny-derived bodies do not) cannot be expressed in glTF skinning and are left out.

Example:
    >>> import torch
    >>> from hmrflow.body import BodyModel
    >>> body = BodyModel.from_name("anny_lowpoly")
    >>> data = animated_glb_bytes(body, torch.zeros(10), torch.eye(3).expand(2, 24, 3, 3), torch.zeros(2, 3), 30.0)
    >>> data[:4], len(data) % 4
    (b'glTF', 0)
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import roma
import torch
from torch import Tensor

from hmrflow.body.animation import BodyAnimation, body_animation
from hmrflow.body.model import BodyModel

__all__ = [
    "INFLUENCES",
    "SkinnedMesh",
    "animated_glb_bytes",
    "glb_from_animation",
    "skin_influences",
    "skinned_mesh",
    "write_animated_glb",
]

#: Joints per vertex in the file (glTF's ``JOINTS_0``/``WEIGHTS_0`` hold 4).
INFLUENCES = 4
#: Base colour of the body (linear RGBA).
BODY_COLOR = (0.45, 0.62, 0.92, 1.0)

_FLOAT, _UBYTE, _USHORT, _UINT = 5126, 5121, 5123, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_TYPES = {1: "SCALAR", 3: "VEC3", 4: "VEC4", 16: "MAT4"}


@dataclass(frozen=True)
class SkinnedMesh:
    r"""A rest mesh with 4 joint influences per vertex.

    Attributes:
        vertices: ``(N, 3)`` float32 rest vertices of the fitted shape (body frame).
        normals: ``(N, 3)`` float32 unit vertex normals.
        faces: ``(F, 3)`` triangles.
        joints: ``(N, 4)`` uint8 (or uint16) joint indices, largest weight first.
        weights: ``(N, 4)`` float32 weights, each row summing to 1.
    """

    vertices: np.ndarray
    normals: np.ndarray
    faces: np.ndarray
    joints: np.ndarray
    weights: np.ndarray


def skin_influences(weights: Tensor, count: int = INFLUENCES) -> tuple[np.ndarray, np.ndarray]:
    r"""The ``count`` largest skinning weights per vertex, renormalised.

    Arguments:
        weights: ``(N, J)`` skinning weights.

    Returns:
        Joint indices ``(N, count)`` (uint8, uint16 beyond 256 joints) and weights ``(N, count)`` float32 summing to 1
        (joints beyond a vertex's nonzero weights get weight 0).

    Example:
        >>> joints, w = skin_influences(torch.tensor([[0.1, 0.6, 0.05, 0.15, 0.1]]), 2)
        >>> joints.tolist(), [[round(float(v), 3) for v in row] for row in w]
        ([[1, 3]], [[0.8, 0.2]])
    """
    top = weights.detach().double().cpu().topk(count, dim=1)
    values = top.values.clamp(min=0.0)
    values = values / values.sum(dim=1, keepdim=True)
    index_type = np.uint8 if weights.shape[1] <= 256 else np.uint16
    return top.indices.numpy().astype(index_type), values.numpy().astype(np.float32)


def _vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals ``(N, 3)``."""
    corners = vertices[faces]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_normals)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return (normals / np.maximum(length, 1e-12)).astype(np.float32)


def skinned_mesh(body: BodyModel, betas: Tensor) -> SkinnedMesh:
    r"""The rest mesh of shape ``betas (S,)`` with its 4 joint influences per vertex."""
    eye = torch.eye(3, dtype=body.template.dtype, device=body.template.device)
    with torch.no_grad():
        rest = body(eye.expand(1, body.num_joints, 3, 3), betas.to(body.template).unsqueeze(0)).vertices[0]
    vertices = rest.detach().cpu().double().numpy()
    faces = body.faces.cpu().numpy()
    joints, weights = skin_influences(body.weights)
    return SkinnedMesh(vertices.astype(np.float32), _vertex_normals(vertices, faces), faces, joints, weights)


class _Binary:
    """The BIN chunk and the JSON's buffer views and accessors, built together."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.length = 0
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def view(self, data: np.ndarray, target: int | None = None) -> int:
        raw = np.ascontiguousarray(data).tobytes()
        entry = {"buffer": 0, "byteOffset": self.length, "byteLength": len(raw)}
        if target is not None:
            entry["target"] = target
        self.views.append(entry)
        padding = -len(raw) % 4
        self.chunks.append(raw + b"\0" * padding)
        self.length += len(raw) + padding
        return len(self.views) - 1

    def accessor(self, view: int, component: int, count: int, width: int, offset: int = 0, **extra: object) -> int:
        entry = {"bufferView": view, "componentType": component, "count": count, "type": _TYPES[width], **extra}
        if offset:
            entry["byteOffset"] = offset
        self.accessors.append(entry)
        return len(self.accessors) - 1

    def array(self, data: np.ndarray, component: int, target: int | None = None, bounds: bool = False) -> int:
        """One accessor over its own view; ``data (count, width)`` or ``(count,)``."""
        width = 1 if data.ndim == 1 else data.shape[1]
        extra = {}
        if bounds:
            low, high = data.min(axis=0), data.max(axis=0)
            extra = {"min": np.atleast_1d(low).tolist(), "max": np.atleast_1d(high).tolist()}
        return self.accessor(self.view(data, target), component, data.shape[0], width, **extra)


def _quaternions(rotations: Tensor) -> np.ndarray:
    """Unit quaternions ``(J, T, 4)`` (x, y, z, w) of ``rotations (T, J, 3, 3)``, sign-continuous in time."""
    quats = roma.rotmat_to_unitquat(rotations.transpose(0, 1).contiguous()).numpy()  # (J, T, 4)
    for t in range(1, quats.shape[1]):
        flip = (quats[:, t] * quats[:, t - 1]).sum(-1) < 0
        quats[flip, t] *= -1
    return quats.astype(np.float32)


def _glb(document: dict, binary: bytes) -> bytes:
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    return (
        struct.pack("<4sII", b"glTF", 2, total)
        + struct.pack("<I4s", len(text), b"JSON")
        + text
        + struct.pack("<I4s", len(binary), b"BIN\0")
        + binary
    )


def glb_from_animation(animation: BodyAnimation, mesh: SkinnedMesh) -> bytes:
    r"""The ``.glb`` bytes of a skeleton animation and its skinned mesh (see the module docstring)."""
    J, T = len(animation.parents), animation.num_frames
    data = _Binary()
    position = data.array(mesh.vertices, _FLOAT, _ARRAY_BUFFER, bounds=True)
    normal = data.array(mesh.normals, _FLOAT, _ARRAY_BUFFER)
    joints = data.array(mesh.joints, _UBYTE if mesh.joints.dtype == np.uint8 else _USHORT, _ARRAY_BUFFER)
    weights = data.array(mesh.weights, _FLOAT, _ARRAY_BUFFER)
    wide = int(mesh.faces.max()) >= 65535
    faces = mesh.faces.reshape(-1).astype(np.uint32 if wide else np.uint16)
    indices = data.array(faces, _UINT if wide else _USHORT, _ELEMENT_ARRAY_BUFFER)
    rest = animation.rest_joints.numpy()
    bind = np.tile(np.eye(4), (J, 1, 1))
    bind[:, :3, 3] = -rest
    inverse_bind = data.array(bind.transpose(0, 2, 1).reshape(J, 16).astype(np.float32), _FLOAT)  # column-major
    times = (np.arange(T) / animation.fps).astype(np.float32)
    time = data.array(times, _FLOAT, bounds=True)
    quats = _quaternions(animation.rotations)  # (J, T, 4)
    rotation_view = data.view(quats)
    rotation = [data.accessor(rotation_view, _FLOAT, T, 4, offset=16 * T * j) for j in range(J)]
    translation = data.array(animation.root_positions.numpy().astype(np.float32), _FLOAT)

    offsets = animation.offsets().numpy()
    nodes: list[dict] = []
    for j, name in enumerate(animation.names):
        node: dict = {"name": name, "translation": offsets[j].tolist()}
        children = [c for c, p in enumerate(animation.parents) if p == j]
        if children:
            node["children"] = children
        nodes.append(node)
    nodes.append({"name": "body", "mesh": 0, "skin": 0})
    root = animation.parents.index(-1)
    samplers = [{"input": time, "output": rotation[j], "interpolation": "LINEAR"} for j in range(J)]
    samplers.append({"input": time, "output": translation, "interpolation": "LINEAR"})
    channels = [{"sampler": j, "target": {"node": j, "path": "rotation"}} for j in range(J)]
    channels.append({"sampler": J, "target": {"node": root, "path": "translation"}})
    attributes = {"POSITION": position, "NORMAL": normal, "JOINTS_0": joints, "WEIGHTS_0": weights}
    document = {
        "asset": {"version": "2.0", "generator": "hmrflow animated body export"},
        "scene": 0,
        "scenes": [{"name": "body", "nodes": [root, J]}],
        "nodes": nodes,
        "meshes": [{"name": "body", "primitives": [{"attributes": attributes, "indices": indices, "material": 0}]}],
        "materials": [{"name": "body", "pbrMetallicRoughness": {"baseColorFactor": list(BODY_COLOR),
                       "metallicFactor": 0.0, "roughnessFactor": 0.7}}],  # fmt: skip
        "skins": [{"name": "body", "joints": list(range(J)), "inverseBindMatrices": inverse_bind, "skeleton": root}],
        "animations": [{"name": f"motion ({T} frames at {animation.fps:g} fps)", "samplers": samplers,
                        "channels": channels}],  # fmt: skip
        "accessors": data.accessors,
        "bufferViews": data.views,
        "buffers": [{"byteLength": data.length}],
    }
    return _glb(document, b"".join(data.chunks))


def animated_glb_bytes(body: BodyModel, betas: Tensor, rotmats: Tensor, transl: Tensor, fps: float) -> bytes:
    r"""The ``.glb`` bytes of saved parameters over ``T`` frames (arguments as :func:`write_animated_glb`)."""
    return glb_from_animation(body_animation(body, betas, rotmats, transl, fps), skinned_mesh(body, betas))


def write_animated_glb(
    path: str | os.PathLike[str], body: BodyModel, betas: Tensor, rotmats: Tensor, transl: Tensor, fps: float
) -> None:
    r"""Write saved parameters of one person over ``T`` frames as an animated, skinned GLB.

    Arguments:
        path: the ``.glb`` file to write.
        body: the body model of the parameters.
        betas: ``(S,)`` the person's shape (the mesh and the bone offsets).
        rotmats: ``(T, J, 3, 3)`` local joint rotations, camera frame.
        transl: ``(T, 3)`` camera-frame translations, metres.
        fps: frames per second (key ``t`` at ``t / fps`` seconds).

    Raises:
        AnimationInputError: inputs of the wrong shape, non-finite, or a bad frame rate.
    """
    Path(path).write_bytes(animated_glb_bytes(body, betas, rotmats, transl, fps))
