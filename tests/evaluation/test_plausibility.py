"""Sample plausibility: the share of samples inside the ranges of motion and free of self-intersection."""

from __future__ import annotations

import math

import pytest
import roma
import torch

from hmrflow.body.joints import SMPL_JOINT_NAMES
from hmrflow.evaluation.runner import SamplePlausibility


def test_rest_poses_are_plausible_and_a_bent_back_knee_is_not():
    poses = torch.eye(3).expand(2, 4, 24, 3, 3).clone()
    knee = SMPL_JOINT_NAMES.index("left_knee")
    poses[1, :2, knee] = roma.rotvec_to_rotmat(torch.tensor([-math.radians(60), 0.0, 0.0]))  # hyperextended
    check = SamplePlausibility()
    check.update(poses)
    figures = check.figures()
    assert check.count == 8
    assert figures["sample_within_rom_rate"] == pytest.approx(6 / 8)
    assert figures["sample_contact_free_rate"] == 1.0
    assert figures["sample_plausible_rate"] == pytest.approx(6 / 8)


def test_a_hand_inside_the_chest_is_a_self_intersection():
    pose = torch.eye(3).expand(1, 1, 24, 3, 3).clone()
    shoulder, elbow = SMPL_JOINT_NAMES.index("left_shoulder"), SMPL_JOINT_NAMES.index("left_elbow")
    # The arm forward across the chest, the elbow folded back: the hand ends inside the chest.
    pose[0, 0, shoulder] = roma.rotvec_to_rotmat(torch.tensor([0.0, -math.radians(90), 0.0]))
    pose[0, 0, elbow] = roma.rotvec_to_rotmat(torch.tensor([0.0, -math.radians(140), 0.0]))
    check = SamplePlausibility()
    check.update(pose)
    assert check.figures()["sample_contact_free_rate"] == 0.0
