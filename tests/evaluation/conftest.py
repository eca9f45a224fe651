"""Shared fixtures: the default body model and fake ProHMR-format arrays.

Reach them as fixtures, never by importing this file.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from hmrflow.body import BodyModel
from hmrflow.body.derived_keypoints import derive_keypoint_set
from hmrflow.body.keypoints import BODY_25, EVAL_14
from hmrflow.data.synthetic import SyntheticBatch, SyntheticConfig, SyntheticKeypoints
from hmrflow.geometry.rotations import rotmat_to_rotvec


@pytest.fixture(scope="session")
def body() -> BodyModel:
    return BodyModel.from_name("anny_lowpoly")


def fake_prohmr_arrays(body: BodyModel, size: int = 16) -> tuple[dict[str, np.ndarray], SyntheticBatch]:
    """ProHMR-format arrays made from a synthetic batch (its evidence and joints)."""
    config = SyntheticConfig()
    batch = SyntheticKeypoints(body, None, config).sample(size, torch.Generator().manual_seed(3))
    names = [n for key in config.evidence_sets for n in body.keypoint_sets[key].names]
    body25 = np.zeros((size, 25, 3), np.float32)
    for k, name in enumerate(names):
        body25[:, BODY_25.index(name)] = batch.keypoints_2d[:, k].numpy()
    eval_set = derive_keypoint_set(body, EVAL_14).keypoint_set
    posed = body.with_keypoint_sets({"e14": eval_set})(batch.rotmats, batch.betas, batch.translation, keypoints=("e14",))
    extra = np.zeros((size, 19, 4), np.float32)
    extra[:, :14, :3] = posed.keypoints["e14"].numpy()
    extra[:, 18, :3] = posed.joints[:, 15].numpy()  # the "H36M head": the head joint here
    extra[..., 3] = 1.0
    arrays = {
        "center": batch.box_center.numpy(),
        "scale": (batch.box_size / 200).numpy(),
        "body_keypoints_2d": body25,
        "extra_keypoints_2d": np.zeros((size, 19, 3), np.float32),
        "extra_keypoints_3d": extra,
        "body_pose": rotmat_to_rotvec(batch.rotmats).reshape(size, 72).numpy(),
        "has_body_pose": np.array([1] * (size // 2) + [0] * (size - size // 2)),
        "imgname": np.array([f"img_{i:03d}.jpg" for i in range(size)]),
    }
    return arrays, batch


@pytest.fixture
def make_prohmr_arrays() -> Callable[..., tuple[dict[str, np.ndarray], SyntheticBatch]]:
    return fake_prohmr_arrays
