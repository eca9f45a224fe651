"""Tests for the "rom" joint limits, the pose families, the capsule test and coverage."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import roma
import torch

from hmrflow.body.joints import SMPL_JOINT_NAMES, mirror_poses
from hmrflow.config import ConfigError, config_from_dict
from hmrflow.data.coverage import hip_knee_flexion, nearest_neighbour, nearest_position_index, root_aligned_positions
from hmrflow.data.joint_limits import (
    ROM_JOINT_LIMITS_DEG,
    clamp_to_limits,
    joint_limits,
    limit_excess,
    sample_within_limits,
    swing_twist,
)
from hmrflow.data.pose_families import (
    FAMILIES,
    FAMILY_GROUPS,
    anatomical_to_rotmats,
    family_names,
    sample_families,
)
from hmrflow.data.pose_sampler import PoseSampler, PoseSamplerConfig
from hmrflow.data.pose_sources import load_cmu_demo
from hmrflow.data.self_contact import capsule_penetration, self_intersections

F64 = torch.float64
ROM = joint_limits("rom")


def pose_with(**rotvecs_deg: tuple[float, float, float]) -> torch.Tensor:
    """The rest pose with some joints rotated (rotation vectors in degrees), shape (1, 24, 3, 3)."""
    rotvecs = torch.zeros(24, 3, dtype=F64)
    for joint, value in rotvecs_deg.items():
        rotvecs[SMPL_JOINT_NAMES.index(joint)] = torch.deg2rad(torch.tensor(value, dtype=F64))
    return roma.rotvec_to_rotmat(rotvecs)[None]


def angles(**values: float) -> torch.Tensor:
    """Anatomical angles (1, C) in degrees, the named channels set."""
    from hmrflow.data.pose_families import CHANNELS

    out = torch.zeros(1, len(CHANNELS), dtype=F64)
    for name, value in values.items():
        out[0, CHANNELS.index(name)] = value
    return out


# ------------------------------------------------------------------------ limits


def test_rom_ranges_contain_the_rest_pose_and_are_ordered() -> None:
    for name, (axis, *ranges) in ROM_JOINT_LIMITS_DEG.items():
        assert axis in (0, 1, 2), name
        for low, high in ranges:
            assert low <= 0.0 <= high and low < high, name
    assert limit_excess(torch.eye(3, dtype=F64).expand(1, 24, 3, 3), ROM).max() == 0


def test_deep_crouch_is_inside_the_rom_hip_and_knee_limits_but_not_v1() -> None:
    # Hip flexion 125 with the knees 30 degrees apart, 20 degrees of external rotation;
    # knee flexion 150 and 155 (with a little varus from the knee's axis).
    crouch = anatomical_to_rotmats(angles(l_hip_flex=125, l_hip_abd=30, l_hip_rot=20, r_hip_flex=125,
                                          r_hip_abd=30, r_hip_rot=20, l_knee_flex=150, r_knee_flex=155))  # fmt: skip
    legs = [SMPL_JOINT_NAMES.index(n) for n in ("left_hip", "right_hip", "left_knee", "right_knee")]
    assert limit_excess(crouch, ROM)[0, legs].max() < 1e-6
    assert limit_excess(pose_with(left_knee=(150.0, 0.0, 8.0)), ROM).max() < 1e-6
    assert limit_excess(crouch, joint_limits("v1"))[0, legs].max() > math.radians(5)  # v1 left it out


@pytest.mark.parametrize(
    ("joint", "rotvec", "inside"),
    [
        ("left_hip", (-128, 0, 0), True),  # flexion
        ("left_hip", (35, 0, 0), False),  # extension beyond 30
        ("left_hip", (0, 0, 60), False),  # abduction of a straight leg beyond 45
        ("right_hip", (0, 0, -40), True),  # right abduction mirrors the left
        ("left_knee", (-20, 0, 0), False),  # hyperextension
        ("left_elbow", (0, -145, 0), True),
        ("left_elbow", (0, 30, 0), False),
        ("left_ankle", (-35, 0, 0), True),  # weight-bearing dorsiflexion
        ("spine1", (40, 0, 0), False),  # the lumbar share of flexion is 36
        ("left_shoulder", (0, 0, -90), True),  # the arm hanging down
        ("left_shoulder", (0, 100, 0), False),  # the arm far behind the back
    ],
)
def test_rom_limits_encode_anatomical_signs(joint: str, rotvec: tuple[float, float, float], inside: bool) -> None:
    excess = limit_excess(pose_with(**{joint: rotvec}), ROM).max()
    assert bool(excess < math.radians(0.5)) is inside


def test_sampling_within_rom_limits_stays_inside_and_mirrors() -> None:
    poses = sample_within_limits(3000, torch.Generator().manual_seed(0), ROM, dtype=F64)
    assert limit_excess(poses, ROM).max() < 1e-6
    assert limit_excess(mirror_poses(poses), ROM).max() < 1e-6


def test_narrowed_limits_lie_inside_by_the_margin_and_keep_the_rest_pose() -> None:
    assert ROM.narrowed(0.0) is ROM
    narrow = ROM.narrowed(3.0)
    poses = roma.rotvec_to_rotmat(1.5 * torch.randn(3000, 24, 3, generator=torch.Generator().manual_seed(1), dtype=F64))
    inside = clamp_to_limits(poses, narrow)
    assert limit_excess(inside, narrow).max() < 1e-6
    assert limit_excess(inside, ROM).max() < 1e-6
    # the original limits' edges lie outside the narrowed ones: twists by the margin exactly
    on_edges = clamp_to_limits(poses, ROM)
    twist_gap = swing_twist(on_edges, ROM).twist.abs().amax(0) - swing_twist(inside, narrow).twist.abs().amax(0)
    margin = torch.full_like(twist_gap[ROM.active], math.radians(3.0))
    torch.testing.assert_close(twist_gap[ROM.active], margin, atol=math.radians(0.3), rtol=0)
    assert limit_excess(on_edges, narrow).amax(0)[ROM.active].min() > math.radians(2.5)
    rest = torch.eye(3, dtype=F64).expand(1, 24, 3, 3)
    torch.testing.assert_close(limit_excess(rest, narrow), torch.zeros(1, 24, dtype=F64))
    with pytest.raises(ValueError, match="margin_deg"):
        ROM.narrowed(-1.0)


def test_a_limit_margin_keeps_generated_poses_off_the_edges() -> None:
    config = PoseSamplerConfig(limits="rom", family_fraction=0.5, limit_margin_deg=3.0, candidates=2)
    poses = PoseSampler(None, config=config).sample(2000, torch.Generator().manual_seed(0), dtype=F64)
    assert limit_excess(poses, ROM.narrowed(2.5)).max() < 1e-6  # 3 degrees in (polygon corners a little less)
    on_edges = PoseSampler(None, config=replace(config, limit_margin_deg=0.0)).sample(
        2000, torch.Generator().manual_seed(0), dtype=F64)
    assert (limit_excess(on_edges, ROM.narrowed(2.5)) > math.radians(1.0)).any()
    families = sample_families(500, torch.Generator().manual_seed(0), dtype=F64, margin_deg=3.0).rotmats
    assert limit_excess(families, ROM.narrowed(2.5)).max() < 1e-6
    with pytest.raises(ConfigError, match="limit_margin_deg"):
        PoseSampler(None, config=replace(config, limit_margin_deg=-1.0))


def test_a_contact_tolerance_keeps_generated_poses_clear_of_the_evaluated_threshold() -> None:
    config = PoseSamplerConfig(limits="rom", family_fraction=0.5, candidates=3)
    generator = torch.Generator().manual_seed(0)
    default = capsule_penetration(PoseSampler(None, config=config).sample(3000, generator)).amax(-1)
    strict = PoseSampler(None, config=replace(config, contact_tolerance=0.015)).sample(3000, generator)
    strict = capsule_penetration(strict).amax(-1)
    assert (default > 0.03).float().mean() < 0.01  # the evaluated threshold (some draws fail every try)
    assert (default > 0.015).float().mean() > 0.02  # ... but many poses lie just under it
    assert (strict > 0.015).float().mean() < 0.5 * (default > 0.015).float().mean()
    with pytest.raises(ConfigError, match="contact_tolerance"):
        PoseSampler(None, config=replace(config, contact_tolerance=-0.01))
    for name, impossible in (("contact_tolerance", -0.01), ("limit_margin_deg", -1.0), ("candidates", 0)):
        with pytest.raises(ConfigError, match=f"poses.{name}: .* out of range"):  # a config file, loaded
            config_from_dict(PoseSamplerConfig, {name: impossible}, path="poses")


# ----------------------------------------------------------------------- families


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_family_samples_finite_deterministic_poses_inside_the_limits(name: str) -> None:
    first = sample_families(24, torch.Generator().manual_seed(3), [name])
    again = sample_families(24, torch.Generator().manual_seed(3), [name])
    other = sample_families(24, torch.Generator().manual_seed(4), [name])
    R = first.rotmats
    assert R.shape == (24, 24, 3, 3) and R.dtype == torch.float32 and torch.isfinite(R).all()
    assert torch.allclose(R.transpose(-1, -2) @ R, torch.eye(3), atol=1e-4)
    assert torch.equal(R, again.rotmats) and not torch.allclose(R, other.rotmats)
    assert limit_excess(R.double(), ROM).max() < math.radians(0.1)
    assert not self_intersections(R).any()
    assert first.names == (name,) and (first.family == 0).all()


def test_families_are_made_on_the_generators_device(elsewhere: None) -> None:
    sample = sample_families(6, torch.Generator(device="cpu").manual_seed(0))
    assert sample.rotmats.device.type == "cpu" and sample.family.device.type == "cpu"
    config = PoseSamplerConfig(limits="rom", clamp_real=False, family_fraction=0.5)
    poses = PoseSampler(None, config=config).sample(6, torch.Generator(device="cpu").manual_seed(0))
    assert poses.device.type == "cpu"


def test_lying_bodies_are_horizontal_and_standing_ones_upright() -> None:
    generator = torch.Generator().manual_seed(1)
    up = {name: sample_families(64, generator, [name]).rotmats[:, 0, :, 1] for name in ("lie", "stand")}
    assert up["lie"][:, 1].abs().max() < math.cos(math.radians(60))  # the body's up axis near horizontal
    assert up["stand"][:, 1].min() > math.cos(math.radians(35))


def test_the_deep_crouch_family_reaches_deep_hip_and_knee_flexion() -> None:
    poses = sample_families(400, torch.Generator().manual_seed(2), ["crouch_toes"]).rotmats
    hip, knee = hip_knee_flexion(poses.double())
    assert hip.quantile(0.9) > 100 and knee.quantile(0.9) > 140  # hip: the sagittal part of the swing
    assert hip.max() <= 131 and knee.max() <= 160.5


def test_the_side_lunge_stands_wide_to_the_side_and_the_lunge_long_to_the_front() -> None:
    def ankle_spread(name: str) -> tuple[torch.Tensor, torch.Tensor]:
        poses = sample_families(200, torch.Generator().manual_seed(0), [name], heading=False).rotmats
        joints = root_aligned_positions(poses)
        apart = joints[:, SMPL_JOINT_NAMES.index("left_ankle")] - joints[:, SMPL_JOINT_NAMES.index("right_ankle")]
        return apart[:, 0].abs(), apart[:, 2].abs()  # sideways (x), front to back (z)

    sideways, forward = ankle_spread("side_lunge")
    assert (sideways > forward).all() and sideways.median() > 0.6
    sideways, forward = ankle_spread("lunge")
    assert (forward > sideways).all() and forward.median() > 0.6


def test_mixing_gives_family_legs_arms_from_other_draws() -> None:
    """Sitting legs with both hands above the head: rare in a sitting family, common when mixed."""

    def sitting_and_overhead(mix: float) -> tuple[float, float]:
        generator = torch.Generator().manual_seed(0)
        poses = sample_families(400, generator, ["sit_chair", "arms_overhead"], mix_probability=mix).rotmats
        hip, _ = hip_knee_flexion(poses)
        sitting = hip.view(2, -1).amin(0) > 60  # both thighs forward
        joints = root_aligned_positions(poses)
        head = joints[:, SMPL_JOINT_NAMES.index("head"), 1]
        wrists = joints[:, [SMPL_JOINT_NAMES.index("left_wrist"), SMPL_JOINT_NAMES.index("right_wrist")], 1]
        overhead = (wrists > head[:, None] + 0.05).all(-1)
        return sitting.float().mean().item(), (sitting & overhead).float().mean().item()

    sitting, both = sitting_and_overhead(0.0)
    sitting_mixed, both_mixed = sitting_and_overhead(1.0)
    assert both < 0.08 and both_mixed > 0.18
    assert sitting_mixed == pytest.approx(sitting, abs=0.05)  # the legs stay the family's
    unmixed = sample_families(50, torch.Generator().manual_seed(0), mix_probability=0.0).rotmats
    assert torch.equal(unmixed, sample_families(50, torch.Generator().manual_seed(0)).rotmats)  # nothing drawn


def test_family_names_resolve_groups_and_reject_unknown_names() -> None:
    names, weights = family_names({"lie": 3.0, "stand": 1.0})
    assert set(names) == {"stand", *FAMILY_GROUPS["lie"]} and sum(weights) == pytest.approx(4.0)
    assert family_names(None)[0] == tuple(FAMILIES)
    with pytest.raises(KeyError, match="known"):
        family_names(["yoga"])


def test_rejection_keeps_poses_free_of_self_intersection() -> None:
    sample = sample_families(512, torch.Generator().manual_seed(5))
    assert not self_intersections(sample.rotmats).any()
    assert 0.0 < sample.rejected.float().mean() < 0.3  # the first draws do intersect at times
    assert sample.fallback.float().mean() < 0.02


# ------------------------------------------------------------------- capsule test


def test_capsules_pass_the_rest_pose_and_flag_a_hand_inside_the_torso() -> None:
    rest = torch.eye(3, dtype=F64).expand(1, 24, 3, 3)
    assert not self_intersections(rest).any() and capsule_penetration(rest).max() < 0
    # The arm forward across the chest, the elbow folded back: the hand ends inside the chest.
    hand_in_chest = pose_with(left_shoulder=(0.0, -90.0, 0.0), left_elbow=(0.0, -140.0, 0.0))
    assert self_intersections(hand_in_chest).all()
    # The legs crossed through each other.
    assert self_intersections(pose_with(left_hip=(0.0, 0.0, -40.0), right_hip=(0.0, 0.0, 40.0))).all()
    # Hands on the thighs and the knees bent are contact, not interpenetration.
    assert not self_intersections(anatomical_to_rotmats(angles(l_knee_flex=90, r_knee_flex=90))).any()


# ------------------------------------------------------------------ the sampler


def test_default_sampler_output_is_unchanged() -> None:
    """Values of the v1 sampler recorded before the families and the rom limits existed."""
    real = load_cmu_demo().rotmats
    poses = PoseSampler(real).sample(256, torch.Generator().manual_seed(0))
    recorded = [0.9700741171836853, -0.2413831204175949, 0.026274926960468292, 0.1527845412492752,
                0.6909267902374268, 0.7065953612327576, -0.18871423602104187, -0.6814354658126831]  # fmt: skip
    assert torch.allclose(poses[:2, 1:4].reshape(-1)[:8], torch.tensor(recorded), atol=1e-6)
    assert poses.double().sum().item() == pytest.approx(15423.41631349273, abs=1e-3)
    alone = PoseSampler(None).sample(256, torch.Generator().manual_seed(1))
    assert alone.double().sum().item() == pytest.approx(15016.707267489272, abs=1e-3)
    # The new options at their defaults draw nothing more.
    same = PoseSamplerConfig(limits="v1", clamp_real=True, family_fraction=0.0, families={"lie": 1.0})
    assert torch.equal(PoseSampler(real, config=same).sample(256, torch.Generator().manual_seed(0)), poses)


def test_real_frames_are_kept_outside_the_limits_when_asked() -> None:
    real = load_cmu_demo(dtype=F64).rotmats
    config = PoseSamplerConfig(real_fraction=1.0, mix_probability=0.0, mirror_probability=0.0, noise_deg=0.0,
                               limits="rom", clamp_real=False)  # fmt: skip
    poses = PoseSampler(real, config=config).sample(200, torch.Generator().manual_seed(0), dtype=F64)
    flat = real[:, 1:].reshape(len(real), -1)
    assert torch.cdist(poses[:, 1:].reshape(200, -1), flat).min(dim=1).values.max() < 1e-6
    assert (limit_excess(poses, ROM) > math.radians(2)).any()  # some real joints lie outside and stay


def test_family_fraction_mixes_family_poses_into_the_sampler() -> None:
    config = PoseSamplerConfig(limits="rom", clamp_real=False, family_fraction=1.0, families={"lie": 1.0})
    poses = PoseSampler(None, config=config).sample(64, torch.Generator().manual_seed(0))
    assert poses[:, 0, 1, 1].abs().max() < math.cos(math.radians(60))  # all lying


# ----------------------------------------------------------------------- coverage


def test_nearest_neighbours_of_the_cmu_clip_are_smaller_in_a_set_holding_its_frames() -> None:
    real = load_cmu_demo().rotmats
    frames = real[::20]
    families = sample_families(300, torch.Generator().manual_seed(0)).rotmats
    with_clip = torch.cat([families, real])
    for metric in ("position", "angle"):
        apart, inside = nearest_neighbour(frames, families, metric), nearest_neighbour(frames, with_clip, metric)
        assert torch.isfinite(apart).all() and (apart > 0).all()
        assert inside.max() < 0.05 and (inside <= apart).all()
    # The index finds each frame itself among the set's (after the 300 family poses), in chunks.
    points = root_aligned_positions(with_clip)
    assert torch.equal(nearest_position_index(points[300::20], points, chunk=7), torch.arange(300, len(with_clip), 20))
