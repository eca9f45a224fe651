from __future__ import annotations

import pytest
import torch

from hmrflow.body import BodyModel
from hmrflow.body.upright import gravity_up, upright_rotation
from hmrflow.data.pose_families import sample_families
from hmrflow.data.synthetic import camera_from_world
from hmrflow.geometry import angle_to_rotmat


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.from_name("anny_lowpoly")


def seen_from_pitched_cameras(body: BodyModel, families: list[str], n: int, seed: int, roll_deg: float = 0.0):
    """Joints in the frames of cameras pitched -10..60 degrees (rolled within +-roll_deg),
    and the true up in each."""
    g = torch.Generator().manual_seed(seed)
    poses = sample_families(n, g, families).rotmats
    view = camera_from_world(torch.deg2rad(torch.rand(n, generator=g) * 70 - 10))
    view = angle_to_rotmat(torch.deg2rad((2 * torch.rand(n, generator=g) - 1) * roll_deg), "z") @ view
    rotmats = torch.cat([(view @ poses[:, 0])[:, None], poses[:, 1:]], 1)
    joints = body(rotmats, torch.zeros(n, 10), vertices=False).joints
    return joints, view @ torch.tensor([0.0, 1.0, 0.0])  # world +Y in camera coordinates


def degrees(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.rad2deg(torch.acos((a * b).sum(-1).clamp(-1, 1)))


def test_upright_people_give_the_gravity_of_the_camera_that_saw_them(body):
    joints, truth = seen_from_pitched_cameras(body, ["stand", "gait"], 200, seed=0)
    error = degrees(gravity_up(joints), truth)
    camera_frame = degrees(torch.tensor([0.0, -1.0, 0.0]).expand_as(truth), truth)
    assert error.median() < 6.0 and error.quantile(0.9) < 12.0
    assert camera_frame.median() > 3 * error.median()


def test_lying_people_fall_back_to_about_the_camera_frame(body):
    joints, truth = seen_from_pitched_cameras(body, ["lie"], 200, seed=1)
    error = degrees(gravity_up(joints), truth)
    camera_frame = degrees(torch.tensor([0.0, -1.0, 0.0]).expand_as(truth), truth)
    assert error.median() < camera_frame.median() + 5.0


def test_the_upright_rotation_levels_up_and_keeps_left_and_right():
    pitch = torch.deg2rad(torch.tensor([-20.0, 0.0, 35.0, 60.0]))
    up = torch.stack([torch.zeros(4), -pitch.cos(), -pitch.sin()], -1)
    R = upright_rotation(up)
    torch.testing.assert_close(R @ up[..., None], torch.tensor([0.0, -1.0, 0.0]).expand(4, 3)[..., None])
    torch.testing.assert_close(R @ R.transpose(-1, -2), torch.eye(3).expand(4, 3, 3))
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(4))
    torch.testing.assert_close(R[:, :, 0], torch.tensor([1.0, 0.0, 0.0]).expand(4, 3))  # x stays


def test_a_torso_along_the_image_x_axis_keeps_the_camera_frame():
    joints = torch.zeros(24, 3)
    joints[12] = torch.tensor([1.0, 0.0, 0.0])  # neck to the right of the pelvis: lying across
    torch.testing.assert_close(gravity_up(joints), torch.tensor([0.0, -1.0, 0.0]))
    joints[12] = torch.tensor([0.0, 0.0, -1.0])  # torso pointing at the camera: not a 90 degree camera
    assert degrees(gravity_up(joints), torch.tensor([0.0, -1.0, 0.0])) < 1e-3


def test_a_tilted_photo_is_levelled_by_the_roll_read_from_the_torso(body):
    joints, truth = seen_from_pitched_cameras(body, ["stand", "gait"], 200, seed=2, roll_deg=25.0)
    with_roll = degrees(gravity_up(joints), truth)
    level_only = degrees(gravity_up(joints, roll=False), truth)
    assert with_roll.median() < 0.75 * level_only.median()


def test_the_upright_rotation_turns_any_up_to_the_cameras_up():
    g = torch.Generator().manual_seed(3)
    up = torch.nn.functional.normalize(torch.randn(64, 3, generator=g), dim=-1)
    up = torch.cat([up, torch.tensor([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0]])])  # upside down, already up
    R = upright_rotation(up)
    target = torch.tensor([0.0, -1.0, 0.0]).expand(len(up), 3)
    torch.testing.assert_close((R @ up[..., None])[..., 0], target, atol=1e-5, rtol=0)
    torch.testing.assert_close(R @ R.transpose(-1, -2), torch.eye(3).expand(len(up), 3, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(len(up)), atol=1e-5, rtol=0)
