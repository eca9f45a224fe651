"""Animated GLB: parsed back by a small reader here (and trimesh), skinned, compared with the body model."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import roma
import torch

from hmrflow.body import SMPL_JOINT_NAMES, BodyModel
from hmrflow.body.animation import AnimationInputError
from hmrflow.body.gltf_animation import skin_influences, write_animated_glb

#: Skinned vertices of frame t agree with the body model's to this (metres) where a vertex
#: has at most 4 joints, to float32 rounding.
EXACT_M = 1e-5
#: Over all vertices, with the weights cut to the 4 largest (3.6 % of the vertices have more):
#: the mean, the 99th percentile and the worst vertex (measured: 2.5e-5, 7e-4 and 1.4e-2 m).
MEAN_M, P99_M, WORST_M = 1e-4, 1e-3, 2e-2
Y_UP = np.array([1.0, -1.0, -1.0])
COMPONENTS = {5126: np.float32, 5121: np.uint8, 5123: np.uint16, 5125: np.uint32}
WIDTH = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def read_glb(data: bytes) -> tuple[dict, list[np.ndarray]]:
    """The JSON document and every accessor as an array ``(count, width)``."""
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    json_length, json_type = struct.unpack_from("<I4s", data, 12)
    assert json_type == b"JSON"
    document = json.loads(data[20 : 20 + json_length])
    bin_length, bin_type = struct.unpack_from("<I4s", data, 20 + json_length)
    assert bin_type == b"BIN\0" and bin_length >= document["buffers"][0]["byteLength"]
    binary = data[28 + json_length : 28 + json_length + bin_length]
    arrays = []
    for accessor in document["accessors"]:
        view = document["bufferViews"][accessor["bufferView"]]
        start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
        width = WIDTH[accessor["type"]]
        dtype = np.dtype(COMPONENTS[accessor["componentType"]]).newbyteorder("<")
        count = accessor["count"] * width
        assert start + count * dtype.itemsize <= view.get("byteOffset", 0) + view["byteLength"]
        arrays.append(np.frombuffer(binary, dtype, count, start).reshape(accessor["count"], width))
    return document, arrays


def trs(node: dict, rotation: np.ndarray | None = None, translation: np.ndarray | None = None) -> np.ndarray:
    """A node's local 4x4 matrix, with animated values where given (quaternion x, y, z, w)."""
    t = np.asarray(translation if translation is not None else node.get("translation", [0, 0, 0]), np.float64)
    x, y, z, w = np.asarray(rotation if rotation is not None else node.get("rotation", [0, 0, 0, 1]), np.float64)
    matrix = np.eye(4)
    matrix[:3, :3] = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    matrix[:3, 3] = t
    return matrix


def skin_frame(document: dict, arrays: list[np.ndarray], frame: int) -> np.ndarray:
    """Vertices ``(N, 3)`` of the skinned mesh at key ``frame``, as a glTF viewer computes them."""
    animation = document["animations"][0]
    animated: dict[tuple[int, str], np.ndarray] = {}
    for channel in animation["channels"]:
        sampler = animation["samplers"][channel["sampler"]]
        times = arrays[sampler["input"]][:, 0]
        key = int(np.argmin(np.abs(times - times[frame])))
        animated[(channel["target"]["node"], channel["target"]["path"])] = arrays[sampler["output"]][key]
    nodes = document["nodes"]
    world: dict[int, np.ndarray] = {}

    def visit(index: int, parent: np.ndarray) -> None:
        local = trs(nodes[index], animated.get((index, "rotation")), animated.get((index, "translation")))
        world[index] = parent @ local
        for child in nodes[index].get("children", []):
            visit(child, world[index])

    for root in document["scenes"][document["scene"]]["nodes"]:
        visit(root, np.eye(4))
    skin = document["skins"][0]
    inverse_bind = arrays[skin["inverseBindMatrices"]].reshape(-1, 4, 4).transpose(0, 2, 1)  # column-major
    joint_matrices = np.stack([world[j] @ inverse_bind[i] for i, j in enumerate(skin["joints"])])
    primitive = document["meshes"][0]["primitives"][0]
    positions = arrays[primitive["attributes"]["POSITION"]].astype(np.float64)
    joints = arrays[primitive["attributes"]["JOINTS_0"]].astype(np.int64)
    weights = arrays[primitive["attributes"]["WEIGHTS_0"]].astype(np.float64)
    blended = np.einsum("nk,nkij->nij", weights, joint_matrices[joints])
    return np.einsum("nij,nj->ni", blended[:, :3, :3], positions) + blended[:, :3, 3]


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.from_name("anny")


@pytest.fixture(scope="module")
def motion() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(5)
    frames = 4
    rotvecs = 0.4 * torch.randn(frames, 24, 3, generator=gen)
    rotvecs[:, 0] = torch.tensor([torch.pi, 0.0, 0.0]) + 0.3 * torch.randn(frames, 3, generator=gen)
    transl = torch.tensor([0.0, 0.3, 4.0]) + 0.3 * torch.randn(frames, 3, generator=gen)
    return {"rotmats": roma.rotvec_to_rotmat(rotvecs), "betas": torch.randn(10, generator=gen), "transl": transl}


@pytest.fixture(scope="module")
def glb(tmp_path_factory, body, motion):
    path = tmp_path_factory.mktemp("glb") / "motion.glb"
    write_animated_glb(path, body, motion["betas"], motion["rotmats"], motion["transl"], 30.0)
    return path


def test_skinning_the_file_reproduces_the_body_model_at_every_frame(body, motion, glb):
    document, arrays = read_glb(glb.read_bytes())
    frames = motion["rotmats"].shape[0]
    expected = body(motion["rotmats"], motion["betas"].expand(frames, -1), motion["transl"]).vertices
    expected = expected.double().numpy() * Y_UP
    few = ((body.weights > 0).sum(1) <= 4).numpy()  # vertices the truncation leaves alone
    assert 0.5 < few.mean() < 1.0
    for frame in range(frames):
        error = np.linalg.norm(skin_frame(document, arrays, frame) - expected[frame], axis=1)
        assert error[few].max() < EXACT_M
        assert error.mean() < MEAN_M and np.percentile(error, 99) < P99_M and error.max() < WORST_M


def test_the_document_holds_skeleton_skin_and_animation(body, motion, glb):
    document, arrays = read_glb(glb.read_bytes())
    assert [n["name"] for n in document["nodes"][:24]] == list(SMPL_JOINT_NAMES)
    animation = document["animations"][0]
    times = arrays[animation["samplers"][0]["input"]][:, 0]
    np.testing.assert_allclose(times, np.arange(4) / 30.0, atol=1e-7)
    paths = sorted((c["target"]["node"], c["target"]["path"]) for c in animation["channels"])
    assert paths == sorted([(j, "rotation") for j in range(24)] + [(0, "translation")])
    primitive = document["meshes"][0]["primitives"][0]
    weights = arrays[primitive["attributes"]["WEIGHTS_0"]]
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-6)
    assert len(arrays[primitive["attributes"]["POSITION"]]) == body.num_vertices
    assert len(arrays[primitive["indices"]]) == 3 * body.faces.shape[0]
    for sampler in animation["samplers"][:24]:  # unit quaternions
        np.testing.assert_allclose(np.linalg.norm(arrays[sampler["output"]], axis=1), 1.0, atol=1e-6)


def test_trimesh_loads_the_file(body, glb):
    trimesh = pytest.importorskip("trimesh", reason="the render extra (trimesh) is not installed")
    scene = trimesh.load(glb, process=False)
    meshes = list(scene.geometry.values()) if hasattr(scene, "geometry") else [scene]
    assert len(meshes) == 1
    assert meshes[0].vertices.shape == (body.num_vertices, 3) and meshes[0].faces.shape == tuple(body.faces.shape)


def test_four_influences_keep_the_largest_weights():
    weights = torch.tensor([[0.1, 0.5, 0.05, 0.2, 0.15, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]])
    joints, values = skin_influences(weights)
    assert joints[0].tolist() == [1, 3, 4, 0]
    np.testing.assert_allclose(values[0], np.array([0.5, 0.2, 0.15, 0.1]) / 0.95, rtol=1e-6)
    assert joints[1, 0] == 2 and values[1].tolist() == [1.0, 0.0, 0.0, 0.0]


def test_bad_parameters_raise_before_writing(body, tmp_path):
    with pytest.raises(AnimationInputError, match="fps"):
        write_animated_glb(tmp_path / "x.glb", body, torch.zeros(10), torch.eye(3).expand(2, 24, 3, 3),
                           torch.zeros(2, 3), -1.0)  # fmt: skip
    assert not (tmp_path / "x.glb").exists()
