from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hmrflow.body import BodyModel
from hmrflow.body.keypoints import BODY_25
from hmrflow.data.keypoint_files import EVIDENCE_NAMES
from hmrflow.data.prohmr_format import EXTRA_19
from hmrflow.data.synthetic import CameraConfig, SyntheticConfig, SyntheticKeypoints
from hmrflow.geometry import rotmat_to_rotvec
from tests.tiny import TINY_MODEL


def write_prohmr_dataset(root: Path, count: int = 12, seed: int = 0, without_pose: int = 4) -> Path:
    """A ProHMR-format ``.npz`` with PNG images, labels from the synthetic keypoint data.

    2D keypoints sit at their BODY_25 names; 3D keypoints at BODY_25 and EXTRA_19 names
    (BODY_25 body joints are masked by the reader, as ProHMR does, so the hips come from
    the extra points). The first ``without_pose`` rows have no pose and no betas.
    """
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    camera = CameraConfig(image_size=(320, 240), focal_length=(250.0, 500.0))
    data = SyntheticKeypoints(BodyModel.from_name("anny_lowpoly"), None, SyntheticConfig(camera=camera))
    batch = data.sample(count, torch.Generator().manual_seed(seed))
    body_2d, extra_2d = np.zeros((count, 25, 3), np.float32), np.zeros((count, 19, 3), np.float32)
    body_3d, extra_3d = np.zeros((count, 25, 4), np.float32), np.zeros((count, 19, 4), np.float32)
    points_3d = torch.cat([batch.keypoints_3d, torch.ones(count, len(EVIDENCE_NAMES), 1)], -1).numpy()
    for k, name in enumerate(EVIDENCE_NAMES):
        if name in BODY_25:
            body_2d[:, BODY_25.index(name)] = batch.clean_2d[:, k].numpy()
            body_3d[:, BODY_25.index(name)] = points_3d[:, k]
        if name in EXTRA_19:
            extra_3d[:, EXTRA_19.index(name)] = points_3d[:, k]
    has_pose = np.arange(count) >= without_pose
    rng = np.random.default_rng(seed)
    names = []
    for i in range(count):
        names.append(f"images/{i:03d}.png")
        pixels = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
        (root / "images").mkdir(exist_ok=True)
        Image.fromarray(pixels).save(root / names[-1])
    path = root / "tiny_train.npz"
    np.savez(
        path,
        imgname=np.array(names),
        center=batch.box_center.numpy(),
        scale=(batch.box_size / 200.0).numpy(),
        body_pose=rotmat_to_rotvec(batch.rotmats).reshape(count, 72).numpy(),
        has_body_pose=has_pose,
        betas=batch.betas.numpy(),
        has_betas=has_pose,
        body_keypoints_2d=body_2d,
        extra_keypoints_2d=extra_2d,
        body_keypoints_3d=body_3d,
        extra_keypoints_3d=extra_3d,
    )
    return path


@pytest.fixture(scope="session")
def tiny() -> list[str]:
    """Overrides of the default experiment for a tiny keypoint model."""
    return [
        *TINY_MODEL,
        "data.batch_size=16",
        "data.val_size=32",
        "trainer.accelerator=cpu",
        "trainer.devices=1",
    ]


@pytest.fixture(scope="session")
def prohmr_file(tmp_path_factory) -> Path:
    return write_prohmr_dataset(tmp_path_factory.mktemp("prohmr"))
