"""Tests for hmrflow.data.pose_sampler: joint limits, plausibility and the pose sampler."""

from __future__ import annotations

import math

import pytest
import roma
import torch

from hmrflow.body.joints import SMPL_JOINT_NAMES, mirror_index, mirror_poses
from hmrflow.data.joint_limits import (
    JointLimits,
    clamp_to_limits,
    limit_excess,
    plausibility,
    sample_within_limits,
    swing_twist,
)
from hmrflow.data.pose_sampler import (
    LIMB_GROUPS,
    PoseSampler,
    PoseSamplerConfig,
    mix_limbs,
    random_global_orientation,
)
from hmrflow.data.pose_sources import load_cmu_demo

F64 = torch.float64


@pytest.fixture(scope="module")
def real_poses() -> torch.Tensor:
    return load_cmu_demo(dtype=F64).rotmats


def pose_with(joint: str, rotvec_deg: tuple[float, float, float]) -> torch.Tensor:
    """The rest pose with one joint rotated, shape (24, 3, 3)."""
    rotvecs = torch.zeros(24, 3, dtype=F64)
    rotvecs[SMPL_JOINT_NAMES.index(joint)] = torch.deg2rad(torch.tensor(rotvec_deg, dtype=F64))
    return roma.rotvec_to_rotmat(rotvecs)


@pytest.mark.parametrize(
    ("joint", "rotvec", "plausible"),
    [
        ("left_knee", (90, 0, 0), True),  # knee flexion: shin goes back
        ("right_knee", (120, 0, 0), True),
        ("left_knee", (-60, 0, 0), False),  # hyperextension
        ("left_hip", (-90, 0, 0), True),  # thigh forward
        ("left_hip", (90, 0, 0), False),  # thigh 90 degrees backward
        ("left_hip", (0, 0, 45), True),  # abduction of the left leg (towards +x)
        ("right_hip", (0, 0, -45), True),  # abduction of the right leg (towards -x)
        ("right_hip", (0, 0, 45), False),  # right leg crossing far over to the left
        ("left_elbow", (0, -100, 0), True),  # forearm forward
        ("right_elbow", (0, 100, 0), True),
        ("left_elbow", (0, 70, 0), False),  # elbow bent backwards
        ("left_shoulder", (0, 0, -80), True),  # arm down by the side
        ("spine2", (0, 0, 0), True),
        ("spine1", (0, 120, 0), False),  # torso twisted by 120 degrees at one joint
        ("head", (0, 150, 0), False),
        ("pelvis", (170, 40, 0), True),  # the global orientation is free
    ],
)
def test_limits_encode_anatomical_signs(joint: str, rotvec: tuple[float, float, float], plausible: bool) -> None:
    assert bool(plausibility(pose_with(joint, rotvec))) is plausible


def test_swing_twist_roundtrip_and_mirror_symmetry() -> None:
    limits = JointLimits.from_table()
    R = roma.random_rotmat((500, 24), dtype=F64, generator=torch.Generator().manual_seed(0))
    st = swing_twist(R, limits.to(R))
    axes = torch.nn.functional.one_hot(limits.twist_axis, 3).to(R)
    assert (st.swing * axes).abs().max() < 1e-12
    back = roma.rotvec_to_rotmat(st.swing) @ roma.rotvec_to_rotmat(axes * st.twist[..., None])
    assert torch.allclose(back, R, atol=1e-9)
    # Limits are left-right symmetric: mirroring preserves every joint's excess.
    swap = mirror_index(SMPL_JOINT_NAMES)
    assert torch.allclose(limit_excess(mirror_poses(R)), limit_excess(R)[:, swap], atol=1e-9)
    assert torch.allclose(mirror_poses(mirror_poses(R)), R)


def test_clamp_projects_into_limits_and_keeps_plausible_poses(real_poses: torch.Tensor) -> None:
    R = roma.random_rotmat((300, 24), dtype=F64, generator=torch.Generator().manual_seed(1))
    clamped = clamp_to_limits(R)
    assert limit_excess(clamped).max() < 1e-6
    assert torch.equal(clamped[:, 0], R[:, 0])
    inside = sample_within_limits(300, torch.Generator().manual_seed(2), dtype=F64)
    assert torch.allclose(clamp_to_limits(inside), inside, atol=1e-9)


def test_sampler_output_is_plausible_and_uniform_rotations_are_not(real_poses: torch.Tensor) -> None:
    generator = torch.Generator().manual_seed(0)
    for sampler in (PoseSampler(real_poses), PoseSampler(None)):
        poses = sampler.sample(2000, generator)
        assert poses.shape == (2000, 24, 3, 3) and poses.dtype == torch.float32
        assert torch.allclose(poses.transpose(-1, -2) @ poses, torch.eye(3), atol=1e-5)
        assert plausibility(poses).all()
    uniform = roma.random_rotmat((2000, 24), generator=generator)
    assert plausibility(uniform).float().mean() < 0.01
    # Per joint, a uniform rotation is still mostly outside the limits.
    assert (limit_excess(uniform)[:, 1:] > 0).float().mean() > 0.8


def test_sampler_is_deterministic_given_the_generator(real_poses: torch.Tensor) -> None:
    sampler = PoseSampler(real_poses)
    a = sampler.sample(64, torch.Generator().manual_seed(7))
    b = sampler.sample(64, torch.Generator().manual_seed(7))
    c = sampler.sample(64, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_real_based_samples_stay_close_to_real_frames(real_poses: torch.Tensor) -> None:
    """With no noise and no mixing, samples are real frames (or their mirror images)."""
    config = PoseSamplerConfig(real_fraction=1.0, mix_probability=0.0, mirror_probability=0.0, noise_deg=0.0)
    poses = PoseSampler(real_poses, config=config).sample(50, torch.Generator().manual_seed(3), dtype=F64)
    real = clamp_to_limits(real_poses)[:, 1:].reshape(len(real_poses), -1)
    distance = torch.cdist(poses[:, 1:].reshape(50, -1), real).min(dim=1).values
    assert distance.max() < 1e-4


def test_mix_limbs_takes_each_group_from_one_real_frame(real_poses: torch.Tensor) -> None:
    mixed = mix_limbs(real_poses, 40, torch.Generator().manual_seed(4), mix_probability=0.5)
    sources = []
    for joints in LIMB_GROUPS.values():
        part = mixed[:, list(joints)].reshape(40, -1)
        d = torch.cdist(part, real_poses[:, list(joints)].reshape(len(real_poses), -1))
        assert d.min(dim=1).values.max() < 1e-6
        sources.append(d.argmin(dim=1))
    # Some samples mix frames (groups from different frames), some do not.
    distinct = torch.stack(sources, dim=1).unique(dim=0)
    assert len(distinct) > 1
    unmixed = mix_limbs(real_poses, 40, torch.Generator().manual_seed(4), mix_probability=0.0)
    frame = torch.cdist(unmixed.reshape(40, -1), real_poses.reshape(len(real_poses), -1)).min(dim=1).values
    assert frame.max() < 1e-6


def test_global_orientation_is_upright_with_random_heading() -> None:
    R = random_global_orientation(4000, torch.Generator().manual_seed(5), tilt_deg=10.0, dtype=F64)
    up = R[:, :, 1]  # where the body's up axis goes
    assert (up[:, 1] > math.cos(math.radians(40))).float().mean() > 0.99
    heading = torch.atan2(R[:, 0, 2], R[:, 2, 2])  # where the body's forward (+Z) goes
    counts = torch.histc(heading, bins=8, min=-math.pi, max=math.pi)
    assert counts.min() > 0.7 * 4000 / 8
    lying = random_global_orientation(4000, torch.Generator().manual_seed(5), uniform_fraction=1.0, dtype=F64)
    assert (lying[:, 1, 1] < 0).float().mean() > 0.4  # uniform: half upside down


def test_shipped_trial_mostly_within_limits(real_poses: torch.Tensor) -> None:
    ok = plausibility(real_poses)
    assert ok.float().mean() > 0.9
    assert limit_excess(real_poses).max() < math.radians(20)
