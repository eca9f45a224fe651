"""BVH export: read back by our own parser, the project's BVH reader and the `bvh` package (MIT)."""

from __future__ import annotations

import numpy as np
import pytest
import roma
import torch

from hmrflow.body import SMPL_JOINT_NAMES, SMPL_PARENTS, BodyModel
from hmrflow.body.animation import AnimationInputError, body_animation
from hmrflow.body.bvh_export import euler_zxy, read_bvh_joints, write_bvh
from hmrflow.errors import InputError

#: Joint positions read back from the file agree with the body model's to this (metres);
#: the file holds 6 decimals (1 micrometre, 1e-6 degree).
TOLERANCE_M = 1e-4
Y_UP = torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64)


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.from_name("anny_lowpoly")


@pytest.fixture(scope="module")
def motion() -> dict[str, torch.Tensor]:
    """Six frames of random poses (about 30 degrees per joint), a random shape, moving translations."""
    gen = torch.Generator().manual_seed(3)
    frames = 6
    rotvecs = 0.5 * torch.randn(frames, 24, 3, generator=gen)
    rotvecs[:, 0] = torch.tensor([torch.pi, 0.0, 0.0]) + 0.3 * torch.randn(frames, 3, generator=gen)  # upright
    transl = torch.tensor([0.1, 0.2, 3.0]) + 0.2 * torch.randn(frames, 3, generator=gen)
    return {"rotmats": roma.rotvec_to_rotmat(rotvecs), "betas": torch.randn(10, generator=gen), "transl": transl}


def expected_joints(body: BodyModel, motion: dict[str, torch.Tensor]) -> torch.Tensor:
    """The body model's joints ``(T, 24, 3)`` for the parameters, turned to the Y-up frame."""
    frames = motion["rotmats"].shape[0]
    out = body(motion["rotmats"], motion["betas"].expand(frames, -1), motion["transl"])
    return out.joints.double() * Y_UP


@pytest.fixture(scope="module")
def written(tmp_path_factory, body, motion) -> str:
    path = tmp_path_factory.mktemp("bvh") / "motion.bvh"
    write_bvh(path, body, motion["betas"], motion["rotmats"], motion["transl"], 25.0)
    return str(path)


def test_our_parser_reads_back_the_body_joints(body, motion, written):
    joints = read_bvh_joints(written)
    assert sorted(joints.names) == sorted(SMPL_JOINT_NAMES)
    order = [joints.names.index(name) for name in SMPL_JOINT_NAMES]
    error = (joints.positions[:, order] - expected_joints(body, motion)).abs().max()
    assert error < TOLERANCE_M


def test_the_animation_reproduces_the_body_joints_in_the_y_up_frame(body, motion):
    animation = body_animation(body, motion["betas"], motion["rotmats"], motion["transl"], 25.0)
    assert (animation.world_joints() - expected_joints(body, motion)).abs().max() < 1e-5
    rest = body(torch.eye(3).expand(1, 24, 3, 3), motion["betas"][None]).rest_joints[0].double()
    assert torch.allclose(animation.rest_joints, rest)  # bone offsets of the fitted shape


def test_the_bvh_package_reads_the_same_joints(body, motion, written):
    """An independent parser (PyPI `bvh`, MIT) and scipy's Euler angles: R = Rz Rx Ry, intrinsic."""
    from bvh import Bvh
    from scipy.spatial.transform import Rotation

    with open(written) as handle:
        parsed = Bvh(handle.read())
    assert parsed.nframes == motion["rotmats"].shape[0]
    assert parsed.frame_time == pytest.approx(1 / 25.0)
    names = parsed.get_joints_names()
    assert names[0] == "pelvis" and sorted(names) == sorted(SMPL_JOINT_NAMES)
    expected = expected_joints(body, motion).numpy()
    for frame in range(parsed.nframes):
        world: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in names:  # parents come first in the file
            channels = parsed.joint_channels(name)
            values = np.array(parsed.frame_joint_channels(frame, name, channels), dtype=np.float64)
            rotation_channels = [c for c in channels if c.endswith("rotation")]
            axes = "".join(c[0] for c in rotation_channels)
            local = Rotation.from_euler(axes, values[-3:], degrees=True).as_matrix()
            offset = np.array(parsed.joint_offset(name), dtype=np.float64)
            parent = parsed.joint_parent(name)
            if parent is None:
                world[name] = (local, values[:3])
            else:
                rotation, position = world[parent.name]
                world[name] = (rotation @ local, position + rotation @ offset)
        positions = np.stack([world[name][1] for name in SMPL_JOINT_NAMES])
        assert np.abs(positions - expected[frame]).max() < TOLERANCE_M


def test_the_projects_bvh_reader_reads_the_file(body, motion, written):
    from hmrflow.data.pose_sources.bvh import BvhMotion, read_bvh

    source = BvhMotion.from_file(written).pose(scale=1.0)
    order = [source.names.index(name) for name in SMPL_JOINT_NAMES]
    expected = expected_joints(body, motion)
    assert (source.positions[:, order] - expected).abs().max() < TOLERANCE_M
    # Retargeted onto our tree with our own names (each joint: its bone to its first child).
    children = {j: [c for c, p in enumerate(SMPL_PARENTS) if p == j] for j in range(24)}
    joint_map = {
        name: (name, SMPL_JOINT_NAMES[children[j][0]] if children[j] else f"{name}_end")
        for j, name in enumerate(SMPL_JOINT_NAMES)
    }
    joint_map["pelvis"] = ("pelvis", None)
    rest = body_animation(body, motion["betas"], motion["rotmats"], motion["transl"], 25.0).rest_joints
    sequence = read_bvh(written, rest=rest, joint_map=joint_map, scale=1.0)
    assert len(sequence) == motion["rotmats"].shape[0] and sequence.fps == pytest.approx(25.0)
    # The retargeting aims every bone along the file's bone and reads the pelvis's path: posing
    # the body with its output (Y-up world frame) gives back every joint.
    posed = body(sequence.rotmats, motion["betas"].expand(len(sequence), -1), sequence.transl).joints.double()
    assert (posed - expected).abs().max() < TOLERANCE_M


def test_the_header_states_frames_and_frame_time(body, motion, tmp_path):
    path = tmp_path / "short.bvh"
    write_bvh(path, body, motion["betas"], motion["rotmats"][:3], motion["transl"][:3], 30.0)
    text = path.read_text()
    assert "Frames: 3\n" in text and "Frame Time: 0.03333333\n" in text
    assert text.count("End Site") == 5  # feet, head, hands
    assert "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" in text


def test_euler_angles_round_trip_also_at_gimbal_lock():
    gen = torch.Generator().manual_seed(0)
    rotations = roma.special_procrustes(torch.randn(500, 3, 3, generator=gen, dtype=torch.float64))
    locked = torch.tensor([[0.3, torch.pi / 2, 0.4], [-1.0, -torch.pi / 2, 2.0]], dtype=torch.float64)
    rotations = torch.cat([rotations, roma.euler_to_rotmat("ZXY", locked)])
    angles = euler_zxy(rotations)
    assert (roma.euler_to_rotmat("ZXY", angles) - rotations).abs().max() < 1e-6
    assert (angles[:, 1].abs() <= torch.pi / 2 + 1e-12).all()


def test_a_turning_body_gives_continuous_angles(body, tmp_path):
    """Half a turn per 4 frames about Y: no channel jumps by 180 degrees or more between frames."""
    frames = 17
    angles = torch.linspace(0, 4 * torch.pi, frames, dtype=torch.float64)
    rotvecs = torch.zeros(frames, 24, 3, dtype=torch.float64)
    rotvecs[:, 0, 1] = angles
    rotmats = roma.rotvec_to_rotmat(rotvecs).float()
    write_bvh(tmp_path / "turn.bvh", body, torch.zeros(10), rotmats, torch.zeros(frames, 3), 10.0)
    lines = (tmp_path / "turn.bvh").read_text().splitlines()
    values = np.array([[float(v) for v in line.split()] for line in lines[-frames:]])
    assert np.abs(np.diff(values[:, 3:], axis=0)).max() < 180.0
    assert np.ptp(values[:, 3:6]) > 360.0  # the root really turned twice round


@pytest.mark.parametrize(
    "change, message",
    [
        ({"rotmats": torch.eye(3).expand(4, 23, 3, 3)}, "rotmats must have shape"),
        ({"transl": torch.zeros(3, 3)}, "transl must have shape"),
        ({"betas": torch.zeros(4, 10)}, "betas must have shape"),
        ({"fps": 0.0}, "fps must be a positive number"),
        ({"transl": torch.full((4, 3), float("nan"))}, "non-finite"),
        ({"rotmats": 2 * torch.eye(3).expand(4, 24, 3, 3)}, "not rotation matrices"),
    ],
)
def test_bad_inputs_raise_input_errors_that_name_the_problem(body, tmp_path, change, message):
    arguments = {"betas": torch.zeros(10), "rotmats": torch.eye(3).expand(4, 24, 3, 3), "transl": torch.zeros(4, 3),
                 "fps": 30.0, **change}  # fmt: skip
    with pytest.raises(AnimationInputError, match=message) as caught:
        write_bvh(tmp_path / "bad.bvh", body, **arguments)
    assert isinstance(caught.value, InputError)
    assert not (tmp_path / "bad.bvh").exists()
