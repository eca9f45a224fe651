"""real-multiview-v1 as an evaluation set: its examples, the torso orientation, and `hmrflow eval` on it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from hmrflow.cli.main import main
from hmrflow.config import apply_overrides
from hmrflow.data.keypoint_files import EVIDENCE_NAMES
from hmrflow.data.real_multiview import LIMB_JOINTS, RealMultiview
from hmrflow.evaluation.real_sets import (
    REAL_SETS,
    real_figures,
    real_multiview_set,
    real_set,
    rotation_angle_deg,
    stray_examples,
    torso_frames,
    view_examples,
)
from hmrflow.evaluation.runner import evaluate_model
from hmrflow.geometry.rotations import rotvec_to_rotmat
from hmrflow.models import ProbabilisticHMR
from hmrflow.models.checkpoint import save_model
from hmrflow.training.config import ExperimentConfig
from tests.tiny import TINY_MODEL


@pytest.fixture(scope="module")
def data() -> RealMultiview:
    return RealMultiview.load()


@pytest.fixture(scope="module")
def tiny_model() -> tuple[ProbabilisticHMR, ExperimentConfig]:
    torch.manual_seed(0)
    config = apply_overrides(ExperimentConfig(), TINY_MODEL)
    return ProbabilisticHMR(config.model).eval(), config


def test_examples_are_detected_views_with_every_joint(data: RealMultiview) -> None:
    examples = view_examples(data)
    assert examples.shape[1] == 3 and 600 < len(examples) <= 800
    person, frame, view = examples.T
    assert data.detected[person, frame, view].all()
    limb = [EVIDENCE_NAMES.index(n) for n in LIMB_JOINTS]
    assert data.joints_valid[person, frame][:, limb].all()
    assert (np.diff(np.ravel_multi_index(tuple(examples.T), data.detected.shape)) > 0).all()  # in order


def test_the_evaluation_set(data: RealMultiview) -> None:
    evaluation = real_set("real-multiview-v1", EVIDENCE_NAMES)
    B = len(view_examples(data))
    assert evaluation.evidence.shape == (B, 23, 4) and evaluation.joints_3d.shape == (B, 12, 3)
    assert evaluation.info.joint_names == LIMB_JOINTS and evaluation.info.pelvis == (6, 7)
    assert evaluation.info.details["file_fingerprint"] == data.fingerprint
    assert evaluation.info.fingerprint == real_multiview_set(EVIDENCE_NAMES, data).info.fingerprint
    confident = evaluation.evidence[..., 2] > 0
    assert evaluation.evidence[..., :2][confident].abs().max() <= 0.5 / 1.2 + 1e-6  # inside the box
    # BlazePose's relative depth, in box sides, wherever a point was detected and nowhere else
    depth = evaluation.evidence[..., 3]
    assert not (depth.isfinite() & ~confident).any()
    assert depth.isfinite().sum() > 0.9 * confident[:, :17].sum() and depth[depth.isfinite()].abs().max() < 2
    assert (evaluation.joints_3d[..., 2] > 1.0).all()  # camera frame: in front of the camera
    # The ground truth is the triangulation seen from the example's camera.
    person, frame, view = view_examples(data)[0]
    limb = [EVIDENCE_NAMES.index(n) for n in LIMB_JOINTS]
    world = data.joints_3d[person, frame, limb].astype(np.float64)
    expected = world @ data.rotation[view].T + data.translation[view]
    np.testing.assert_allclose(evaluation.joints_3d[0].numpy(), expected, atol=1e-5)


def test_evidence_follows_the_models_names(data: RealMultiview) -> None:
    names = ("right_ankle", "left_wrist", "head_top")
    evaluation = real_multiview_set(names, data)
    full = real_multiview_set(EVIDENCE_NAMES, data)
    torch.testing.assert_close(evaluation.evidence[:, 0], full.evidence[:, EVIDENCE_NAMES.index("right_ankle")],
                               rtol=0, atol=0, equal_nan=True)  # fmt: skip
    assert (evaluation.evidence[:, 2, :3] == 0).all()  # a point the set lacks: confidence 0


def test_real_set_names() -> None:
    assert "real-multiview-v1" in REAL_SETS
    with pytest.raises(KeyError, match="no real set"):
        real_set("real-multiview-v9", EVIDENCE_NAMES)


def test_torso_frames_of_a_turned_skeleton() -> None:
    # A body in SMPL's frame (left +x, up +y, facing +z), with a crooked shoulder line.
    points = torch.tensor([[0.2, 0.5, 0.0], [-0.2, 0.45, 0.02], [0.1, 0.0, 0.0], [-0.1, 0.0, 0.0]])
    names = ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]
    upright = torso_frames(points, names)
    assert torch.allclose(upright @ upright.T, torch.eye(3), atol=1e-6)
    assert rotation_angle_deg(upright, torch.eye(3)) < 5.0
    turn = rotvec_to_rotmat(torch.tensor([0.3, -2.0, 0.5]))
    turned = torso_frames(points @ turn.T, names)
    assert torch.allclose(turned, turn @ upright, atol=1e-5)
    assert math.isclose(rotation_angle_deg(upright, turned).item(), math.degrees(torch.linalg.norm(
        torch.tensor([0.3, -2.0, 0.5])).item()), abs_tol=1e-2)  # fmt: skip


def test_eval_on_a_tiny_model_runs(tiny_model, data: RealMultiview) -> None:
    model, _ = tiny_model
    evaluation = real_multiview_set(EVIDENCE_NAMES, data)
    result, predictor = evaluate_model(model, evaluation, hypotheses=3, min_of_n=(1, 3), batch_size=256)
    assert result.count == len(evaluation) and predictor.names == LIMB_JOINTS and not predictor.missing
    assert all(math.isfinite(v) for v in result.figures.values())
    strays = stray_examples(data)
    figures, torso, root = real_figures(model, evaluation, strays, batch_size=256)
    assert torso.shape == root.shape == (len(evaluation),)
    assert 0 <= figures["torso_orientation_median_deg"] <= figures["torso_orientation_p90_deg"] <= 180
    assert 0 <= figures["torso_flip_rate"] <= 1
    # The mode's PA-MPJPE apart on the views with and without strays averages to the whole set's.
    rate = figures["stray_view_rate"]
    assert 0 < rate < 0.5 and math.isclose(rate, float(strays.double().mean()))
    whole = rate * figures["pa_mpjpe_stray_views"] + (1 - rate) * figures["pa_mpjpe_clean_views"]
    assert math.isclose(whole, result.figures["pa_mpjpe"], rel_tol=1e-4)
    with pytest.raises(ValueError, match="strays has shape"):
        real_figures(model, evaluation, strays[:-1], batch_size=256)


def test_a_keypoint_moved_off_the_person_makes_its_view_stray(data: RealMultiview) -> None:
    from dataclasses import replace

    k = data.keypoint_names.index("left_wrist")
    judged = data.detected & (data.keypoints_2d[..., k, 2] > 0) & data.joints_valid[:, :, None, k]
    person, frame, view = np.argwhere(~data.stray_views() & judged)[0]
    height = data.boxes[person, frame, view, 3] - data.boxes[person, frame, view, 1]
    for shift, stray in ((0.05, False), (0.3, True)):
        moved = data.keypoints_2d.copy()
        moved[person, frame, view, k, 0] = data.projected()[person, frame, view, k, 0] + shift * height
        moved[person, frame, view, k, 1] = data.projected()[person, frame, view, k, 1]
        assert replace(data, keypoints_2d=moved).stray_views()[person, frame, view] == stray
    # A keypoint the detector did not find is not judged.
    hidden = data.keypoints_2d.copy()
    hidden[person, frame, view, k] = [1e4, 1e4, 0.0]
    assert not replace(data, keypoints_2d=hidden).stray_views()[person, frame, view]


def test_eval_command_on_the_real_set(tiny_model, tmp_path, capsys) -> None:
    model, config = tiny_model
    path = tmp_path / "tiny.pt"
    save_model(model, config, path)
    out = tmp_path / "out"
    argv = ["eval", str(path), "--data", "real-multiview-v1", "--hypotheses", "3", "--batch-size", "300",
            "--out", str(out), "--no-plots", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "real-multiview-v1" in printed and "torso orientation error, median" in printed and " deg" in printed
    assert "PA-MPJPE (mode), views with" in printed
    document = json.loads((out / "results.json").read_text())
    assert document["set"]["name"] == "real-multiview-v1" and document["set"]["fingerprint"]
    assert document["units"]["torso_orientation_p90_deg"] == "deg" and document["units"]["torso_flip_rate"] == ""
    assert document["result"]["joint_names"] == list(LIMB_JOINTS)
    assert document["run"]["flip_test"] is False
    # --flip-test: the flip-tested mode's figures, as the library gives them.
    assert main([*argv[:-3], str(tmp_path / "flip"), "--no-plots", "--no-progress", "--flip-test"]) == 0
    flipped = json.loads((tmp_path / "flip" / "results.json").read_text())
    assert flipped["run"]["flip_test"] is True
    evaluation = real_multiview_set(EVIDENCE_NAMES)
    figures, _, _ = real_figures(model, evaluation, stray_examples(), batch_size=300, flip_test=True)
    assert math.isclose(flipped["result"]["figures"]["torso_orientation_median_deg"],
                        figures["torso_orientation_median_deg"], rel_tol=1e-6)  # fmt: skip
    assert flipped["result"]["figures"]["pa_mpjpe"] != document["result"]["figures"]["pa_mpjpe"]
