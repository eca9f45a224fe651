"""Tests for the real frames of the pose sampler: which joints make the shipped trial
implausible, clamping only those (``clamp_real_joints``) and redrawing self-intersecting
poses (``candidates``)."""

from __future__ import annotations

import math

import pytest
import torch

from hmrflow.body.joints import SMPL_JOINT_NAMES
from hmrflow.data.joint_limits import joint_limits, limit_excess, plausibility
from hmrflow.data.pose_sampler import UNRELIABLE_REAL_JOINTS, PoseSampler, PoseSamplerConfig
from hmrflow.data.pose_sources import load_cmu_demo
from hmrflow.data.self_contact import self_intersections
from hmrflow.errors import InputError

ROM = joint_limits("rom")
TOLERANCE = math.radians(2.0)  # the tolerance of plausibility() and of `hmrflow eval`
UNRELIABLE = [SMPL_JOINT_NAMES.index(name) for name in UNRELIABLE_REAL_JOINTS]
KEPT = [j for j in range(1, 24) if j not in UNRELIABLE]


@pytest.fixture(scope="module")
def real_poses() -> torch.Tensor:
    return load_cmu_demo().rotmats


def real_only(**options: object) -> PoseSamplerConfig:
    """Every sample from real frames (mixed, mirrored, perturbed), "rom" limits, no families."""
    return PoseSamplerConfig(real_fraction=1.0, limits="rom", clamp_real=False, **options)  # type: ignore[arg-type]


def test_shipped_trial_is_implausible_only_at_the_unreliable_joints(real_poses: torch.Tensor) -> None:
    excess = limit_excess(real_poses, ROM)
    outside = excess > TOLERANCE
    assert outside.any(dim=-1).float().mean() > 0.5  # most frames break some range of motion...
    assert outside[:, KEPT].any(dim=-1).float().mean() < 0.02  # ...but not at hips, knees, arms
    left, right = SMPL_JOINT_NAMES.index("left_wrist"), SMPL_JOINT_NAMES.index("right_wrist")
    assert outside[:, left].float().mean() > 0.8 and outside[:, right].float().mean() < 0.05


def test_clamp_real_joints_bounds_the_named_joints_and_keeps_the_others(real_poses: torch.Tensor) -> None:
    raw = PoseSampler(real_poses, config=real_only()).sample(512, torch.Generator().manual_seed(0))
    fixed_sampler = PoseSampler(real_poses, config=real_only(clamp_real_joints=UNRELIABLE_REAL_JOINTS))
    fixed = fixed_sampler.sample(512, torch.Generator().manual_seed(0))
    assert torch.equal(fixed[:, [0, *KEPT]], raw[:, [0, *KEPT]])  # same draws, real hips and knees untouched
    assert limit_excess(fixed, ROM)[:, UNRELIABLE].max() < 1e-4
    assert limit_excess(raw, ROM)[:, UNRELIABLE].max() > math.radians(10.0)  # the clamp did something
    rate_raw, rate_fixed = (plausibility(p, ROM).float().mean().item() for p in (raw, fixed))
    assert rate_raw < 0.1 and rate_fixed > 0.75  # the rest: the 4-degree noise at knees and elbows


def test_candidates_redraw_self_intersecting_poses(real_poses: torch.Tensor) -> None:
    def contact_free(candidates: int) -> float:
        config = PoseSamplerConfig(limits="rom", clamp_real=False, candidates=candidates)
        poses = PoseSampler(real_poses, config=config).sample(1024, torch.Generator().manual_seed(1))
        return (~self_intersections(poses)).float().mean().item()

    one, three = contact_free(1), contact_free(3)
    assert one < 0.97 and three > 0.99


def test_redrawn_samples_are_deterministic_given_the_generator(real_poses: torch.Tensor) -> None:
    sampler = PoseSampler(real_poses, config=real_only(clamp_real_joints=UNRELIABLE_REAL_JOINTS, candidates=3))
    a, b = (sampler.sample(64, torch.Generator().manual_seed(2)) for _ in range(2))
    c = sampler.sample(64, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.allclose(a, c)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"clamp_real_joints": ("left_wrist", "left_pinky")}, "left_pinky"), ({"candidates": 0}, "candidates")],
)
def test_bad_options_are_named(real_poses: torch.Tensor, options: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        PoseSampler(real_poses, config=PoseSamplerConfig(**options))  # type: ignore[arg-type]
