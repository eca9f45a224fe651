import json

import numpy as np
import pytest
import torch

from hmrflow.application.records import camera_arrays, camera_record, pose_record, rounded
from hmrflow.application.style import labelled
from hmrflow.geometry import rotvec_to_rotmat
from hmrflow.geometry.pinhole import PinholeCamera


def test_pose_record_writes_the_same_rotations_twice() -> None:
    rotvecs = torch.tensor([[0.0, 0.0, 0.0], [0.3, -1.2, 0.5], [2.0, 0.1, -0.4]], dtype=torch.float64)
    record = json.loads(json.dumps(pose_record(rotvec_to_rotmat(rotvecs).numpy(), -12.345678)))
    assert record["log_prob"] == pytest.approx(-12.3457)
    np.testing.assert_allclose(record["axis_angle"], rotvecs.numpy(), atol=1e-6)
    np.testing.assert_allclose(rotvec_to_rotmat(torch.tensor(record["axis_angle"])), record["rotmats"], atol=1e-6)


def test_camera_record_and_arrays_agree() -> None:
    camera = PinholeCamera(
        focal_length=torch.tensor([1000.123456, 990.5]),
        principal_point=torch.tensor([640.0, 360.25]),
        image_size=torch.tensor([1280.0, 720.0]),
        rotation=torch.eye(3),
        translation=torch.tensor([0.1, -0.2, 3.0]),
    )
    record, arrays = camera_record(camera), camera_arrays(camera)
    assert set(record) == set(arrays) == {"focal_length", "principal_point", "image_size", "rotation", "translation"}
    assert record["focal_length"] == [1000.1235, 990.5] and record["image_size"] == [1280, 720]
    assert arrays["image_size"].dtype == np.int64
    for name in ("principal_point", "rotation", "translation"):
        np.testing.assert_allclose(record[name], arrays[name], atol=1e-6)
    intrinsic_only = camera_record(PinholeCamera.centred(torch.tensor([64.0, 48.0])))
    assert "rotation" not in intrinsic_only and intrinsic_only["principal_point"] == [32.0, 24.0]


def test_rounded_gives_plain_lists() -> None:
    assert rounded(np.float32(0.1), 3) == 0.1 and rounded(torch.tensor([1.23456]), 2) == [1.23]


def test_labelled_writes_text_and_keeps_the_picture() -> None:
    image = np.full((40, 120, 3), 128, np.uint8)
    out = labelled(image, "mode")
    assert out.shape == image.shape and out.dtype == np.uint8
    assert (out != 128).any() and (image == 128).all()  # written on a copy
    assert (out[30:] == 128).all()  # only near the position
