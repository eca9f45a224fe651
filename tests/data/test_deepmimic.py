"""Tests for the DeepMimic reader (hmrflow.data.pose_sources.deepmimic) and the shipped real motion.

The motion files are written here by hand (rest frames, one bent joint at a time), so the
conventions (quaternion order, hinge signs, axes) are checked against poses worked out on
paper; the shipped clips against the limits and the loader's names.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import roma
import torch

from hmrflow.body.joints import SMPL_JOINT_NAMES
from hmrflow.config import apply_overrides, config_from_dict
from hmrflow.data.joint_limits import plausibility
from hmrflow.data.pose_sampler import PoseSamplerConfig
from hmrflow.data.pose_sources import REAL_MOTION, load_deepmimic_clips, load_real_motion, read_deepmimic
from hmrflow.data.pose_sources.deepmimic import (
    DEEPMIMIC_TO_OURS,
    FRAME_WIDTH,
    HUMANOID3D,
    DeepMimicMotion,
    share_rotations,
)
from hmrflow.data.skeleton import forward_kinematics, rest_joints
from hmrflow.errors import ConfigError

F64 = torch.float64
J = SMPL_JOINT_NAMES.index


def rest_frame() -> list[float]:
    """One frame of the rest pose: 30 Hz, root 0.9 m up, every quaternion the identity."""
    frame = [1 / 30, 0.0, 0.9, 0.0]
    for joint in HUMANOID3D[:13]:
        frame += {7: [1.0, 0.0, 0.0, 0.0], 4: [1.0, 0.0, 0.0, 0.0], 1: [0.0]}[joint.dofs]
    return frame


def column(joint: str) -> int:
    """Index of a joint's rotation in a frame (the root's: its quaternion, after its position)."""
    index = 1
    for j in HUMANOID3D:
        if j.name == joint:
            return index + (3 if j.dofs == 7 else 0)
        index += j.dofs
    raise KeyError(joint)


def quaternion_wxyz(axis: tuple[float, float, float], degrees: float) -> list[float]:
    half = math.radians(degrees) / 2
    return [math.cos(half), *(math.sin(half) * a for a in axis)]


def write(tmp_path: Path, frames: list[list[float]], name: str = "m.txt") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"Loop": "wrap", "Frames": frames}))
    return path


def angle_deg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    cos = (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))
    return torch.rad2deg(torch.acos(cos.clamp(-1.0, 1.0)))


@pytest.fixture
def bends(tmp_path: Path) -> Path:
    """Frame 0 at rest; frames 1..4 bend the right knee 0..120 deg (negative hinge angles),
    the left elbow 0..120 deg (positive), the chest forward 30 deg (about DeepMimic's -Z)
    and turn the root 90 deg to its left about +Y."""
    frames = [rest_frame()]
    for k, degrees in enumerate((30.0, 60.0, 90.0, 120.0)):
        frame = rest_frame()
        frame[column("right_knee")] = -math.radians(degrees)
        frame[column("left_elbow")] = math.radians(degrees)
        if k == 3:
            frame[column("chest") : column("chest") + 4] = quaternion_wxyz((0.0, 0.0, -1.0), 30.0)
            frame[4:8] = quaternion_wxyz((0.0, 1.0, 0.0), 90.0)
        frames.append(frame)
    return write(tmp_path, frames)


def test_frame_layout_matches_the_humanoid() -> None:
    assert FRAME_WIDTH == 44 == len(rest_frame())
    assert [j.name for j in HUMANOID3D][:13] == [
        "root", "chest", "neck", "right_hip", "right_knee", "right_ankle", "right_shoulder", "right_elbow",
        "left_hip", "left_knee", "left_ankle", "left_shoulder", "left_elbow",
    ]  # fmt: skip
    assert column("right_knee") == 20 and column("left_elbow") == 43


def test_rest_frame_is_our_standing_pose_facing_forward(bends: Path) -> None:
    seq = read_deepmimic(bends, dtype=F64)
    assert seq.rotmats.shape == (5, 24, 3, 3) and abs(seq.fps - 30.0) < 1e-9
    assert seq.source == "deepmimic:m.txt"
    ours = forward_kinematics(seq.rotmats, rest_joints(F64), seq.transl).positions[0]
    down = torch.tensor([0.0, -1.0, 0.0], dtype=F64)
    for upper, lower in (("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("left_shoulder", "left_elbow")):
        assert angle_deg(ours[J(lower)] - ours[J(upper)], down) < 6.0, (upper, lower)  # legs straight, arms hang
    assert torch.allclose(seq.rotmats[0, 0], torch.eye(3, dtype=F64), atol=1e-6)  # the pelvis faces +Z
    assert torch.allclose(seq.rotmats[0, [J("spine1"), J("neck"), J("head")]], torch.eye(3, dtype=F64), atol=1e-6)
    assert abs(float(ours[0, 1]) - 0.9) < 1e-9  # the pelvis on the root


def test_hinges_bend_knees_and_elbows_forward(bends: Path) -> None:
    seq = read_deepmimic(bends, dtype=F64)
    knee, elbow = seq.rotvecs[1:, J("right_knee")], seq.rotvecs[1:, J("left_elbow")]
    expected = torch.deg2rad(torch.tensor([30.0, 60.0, 90.0, 120.0], dtype=F64))
    # Our knee flexion is about +X, the left elbow's about -Y (hmrflow.data.pose_sources.retarget.HINGES).
    assert (knee[:, 0] - expected).abs().max() < math.radians(8) and knee[:, 1:].norm(dim=-1).max() < 0.15
    assert (elbow[:, 1] + expected).abs().max() < math.radians(8) and elbow[:, [0, 2]].norm(dim=-1).max() < 0.15
    # The shin and forearm point where the source's do.
    source = DeepMimicMotion.from_file(bends).pose().rotated(DEEPMIMIC_TO_OURS)
    ours = forward_kinematics(seq.rotmats, rest_joints(F64), seq.transl).positions
    for (a, b), (i, k) in (
        (("right_knee", "right_ankle"), ("right_knee", "right_ankle")),
        (("left_elbow", "left_wrist"), ("left_elbow", "left_wrist")),
    ):
        err = angle_deg(ours[:, J(k)] - ours[:, J(i)], source.position(b) - source.position(a))
        assert err.max() < 1.0
    shin = ours[3, J("right_ankle")] - ours[3, J("right_knee")]
    assert shin[2] < -0.3 and abs(float(shin[1])) < 0.1  # bent 90 deg: the foot behind the knee (ours face +Z)


def test_root_turn_and_chest_bend(bends: Path) -> None:
    seq = read_deepmimic(bends, dtype=F64)
    world = forward_kinematics(seq.rotmats, rest_joints(F64)).world_rotmats[4]
    # 90 deg about +Y turns the character's +X (its forward) to -Z; ours turns +Z to +X.
    forward = world[0] @ torch.tensor([0.0, 0.0, 1.0], dtype=F64)
    assert torch.allclose(forward, torch.tensor([1.0, 0.0, 0.0], dtype=F64), atol=1e-6)
    # The chest's 30 deg forward bend is shared equally by spine1..3 and ends where the source's does.
    local = seq.rotmats[4, [J("spine1"), J("spine2"), J("spine3")]]
    assert torch.allclose(local[0], local[1], atol=1e-9) and torch.allclose(local[1], local[2], atol=1e-9)
    assert abs(math.degrees(float(roma.rotmat_to_rotvec(local[0]).norm())) - 10.0) < 0.5
    bend = world[0].T @ world[J("spine3")]
    assert abs(math.degrees(float(roma.rotmat_to_rotvec(bend)[0])) - 30.0) < 0.5  # about our +X: forward


def test_share_rotations_keeps_the_chains_ends() -> None:
    rotmats = torch.eye(3, dtype=F64).repeat(3, 24, 1, 1)
    whole = roma.random_rotmat(6, dtype=F64, device="cpu")
    rotmats[:, J("spine3")], rotmats[:, J("neck")] = whole[:3], whole[3:]
    shared = share_rotations(rotmats)
    before = forward_kinematics(rotmats, rest_joints(F64)).world_rotmats
    after = forward_kinematics(shared, rest_joints(F64)).world_rotmats
    for name in ("spine3", "head", "left_wrist"):
        assert torch.allclose(before[:, J(name)], after[:, J(name)], atol=1e-9), name
    assert not torch.allclose(shared[:, J("spine1")], rotmats[:, J("spine1")])


def test_bad_files_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="44 numbers"):
        read_deepmimic(write(tmp_path, [rest_frame()[:40]]))
    with pytest.raises(ValueError, match="not a DeepMimic motion file"):
        (tmp_path / "x.txt").write_text("HIERARCHY")
        read_deepmimic(tmp_path / "x.txt")
    with pytest.raises(ValueError, match="no frames"):
        read_deepmimic(write(tmp_path, []))


def test_shipped_deepmimic_clips() -> None:
    clips = load_deepmimic_clips()
    assert {"walk", "run", "crawl", "getup_faceup", "getup_facedown", "roll", "kick"} <= set(clips)
    frames = torch.cat([c.rotmats for c in clips.values()])
    assert frames.shape == (969, 24, 3, 3)
    assert all(c.source.startswith("DeepMimic") for c in clips.values())
    assert plausibility(frames).float().mean() > 0.9
    # Getting up from the floor passes through deep knee bends (over 100 deg), which the CMU trial lacks.
    getup = torch.cat([clips["getup_faceup"].rotvecs, clips["getup_facedown"].rotvecs])
    assert torch.rad2deg(getup[:, [J("left_knee"), J("right_knee")], 0]).max() > 100


def test_load_real_motion_names() -> None:
    assert REAL_MOTION == ("cmu", "deepmimic")
    assert load_real_motion(("cmu",)).shape == (688, 24, 3, 3)
    assert load_real_motion(("cmu", "deepmimic", "cmu")).shape == (688 + 969, 24, 3, 3)
    assert load_real_motion(()).shape == (0, 24, 3, 3)
    with pytest.raises(ValueError, match="'mixamo'"):
        load_real_motion(("mixamo",))


def test_sampler_config_names_the_real_motion() -> None:
    assert PoseSamplerConfig().real_motion == ("cmu",)
    config = apply_overrides(PoseSamplerConfig(), ["real_motion=[cmu,deepmimic]"])
    assert config.real_motion == ("cmu", "deepmimic")
    with pytest.raises(ConfigError, match="real_motion"):
        config_from_dict(PoseSamplerConfig, {"real_motion": ["amass"]})
