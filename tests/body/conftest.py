"""A synthetic SMPL-format body model (random arrays, SMPL's joint tree, no licensed file).

Helpers reach the tests as fixtures (``make_body``, ``make_keypoint_set_fn``), never by
``import conftest``, so other test folders may have their own conftest.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from hmrflow.body import COCO_17, SMPL_PARENTS, BodyModel, KeypointSet

NUM_VERTICES = 300
NUM_BETAS = 10
NUM_JOINTS = len(SMPL_PARENTS)


def make_smpl_arrays(seed: int = 0, n: int = NUM_VERTICES, s: int = NUM_BETAS) -> dict[str, np.ndarray]:
    """SMPL's arrays under SMPL's key names, random but shaped and normalised like SMPL."""
    rng = np.random.default_rng(seed)
    j = NUM_JOINTS
    weights = np.zeros((n, j))
    for i in range(n):  # up to 4 influencing joints per vertex, rows sum to 1
        joints = rng.choice(j, size=4, replace=False)
        weights[i, joints] = rng.random(4) + 0.1
    weights /= weights.sum(1, keepdims=True)
    regressor = np.zeros((j, n))
    for k in range(j):  # each joint a convex combination of 8 vertices
        regressor[k, rng.choice(n, size=8, replace=False)] = rng.random(8) + 0.1
    regressor /= regressor.sum(1, keepdims=True)
    return {
        "v_template": rng.normal(scale=0.3, size=(n, 3)),
        "shapedirs": rng.normal(scale=0.02, size=(n, 3, s)),
        "posedirs": rng.normal(scale=0.01, size=(n, 3, 9 * (j - 1))),
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": np.stack([np.array(SMPL_PARENTS), np.arange(j)]),
        "f": rng.integers(0, n, size=(2 * n, 3)),
    }


def make_keypoint_set(names: tuple[str, ...], n: int, seed: int, joint_fraction: float = 0.3) -> KeypointSet:
    """Each keypoint: 3 random vertices, plus a joint for some; rows sum to 1."""
    gen = torch.Generator().manual_seed(seed)
    k = len(names)
    vertex_weights = torch.zeros(k, n, dtype=torch.float64)
    joint_weights = torch.zeros(k, NUM_JOINTS, dtype=torch.float64)
    for row in range(k):
        columns = torch.randperm(n, generator=gen)[:3]
        vertex_weights[row, columns] = torch.rand(3, generator=gen, dtype=torch.float64) + 0.1
        if torch.rand(1, generator=gen).item() < joint_fraction:
            joint_weights[row, torch.randint(NUM_JOINTS, (1,), generator=gen)] = 0.5
    total = vertex_weights.sum(1, keepdim=True) + joint_weights.sum(1, keepdim=True)
    return KeypointSet(names, (vertex_weights / total).float(), (joint_weights / total).float())


FEET = ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel")


def model_from_arrays(arrays: dict[str, np.ndarray], keypoint_sets: dict | None = None) -> BodyModel:
    return BodyModel(
        arrays["v_template"], arrays["shapedirs"], arrays["posedirs"], arrays["J_regressor"],
        arrays["weights"], tuple(arrays["kintree_table"][0]), arrays["f"], keypoint_sets, name="synthetic",
    )  # fmt: skip


@pytest.fixture(scope="session")
def smpl_arrays() -> dict[str, np.ndarray]:
    return make_smpl_arrays()


@pytest.fixture(scope="session")
def keypoint_sets() -> dict[str, KeypointSet]:
    return {
        "coco": make_keypoint_set(COCO_17, NUM_VERTICES, seed=1),
        "feet": make_keypoint_set(FEET, NUM_VERTICES, seed=2, joint_fraction=0.0),
    }


@pytest.fixture()
def body(smpl_arrays: dict[str, np.ndarray], keypoint_sets: dict[str, KeypointSet]) -> BodyModel:
    return model_from_arrays(smpl_arrays, keypoint_sets)


@pytest.fixture(scope="session")
def make_body() -> Callable[..., BodyModel]:
    """``make_body(arrays, keypoint_sets=None)``: a BodyModel from SMPL-keyed arrays."""
    return model_from_arrays


@pytest.fixture(scope="session")
def make_keypoint_set_fn() -> Callable[..., KeypointSet]:
    """``make_keypoint_set(names, n, seed, joint_fraction=0.3)``: random sparse rows summing to 1."""
    return make_keypoint_set


@pytest.fixture(scope="session")
def feet_names() -> tuple[str, ...]:
    return FEET
