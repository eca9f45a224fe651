"""Tests for the named synthetic sets and the ProHMR-format adapter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hmrflow.body.keypoints import EVAL_14
from hmrflow.data.prohmr_format import read_prohmr_npz
from hmrflow.evaluation.prohmr_sets import EVAL_14_FROM_EXTRA, ProHMRImageSet, prohmr_keypoint_set
from hmrflow.evaluation.sets import SYNTHETIC_SETS, EvaluationSet, SetInfo, synthetic_set


def test_a_name_gives_an_identical_set(body) -> None:
    first = synthetic_set("synthetic-keypoints-v1", body, size=48)
    second = synthetic_set("synthetic-keypoints-v1", body, size=48)
    for key in ("evidence", "joints_3d", "rotmats"):
        assert torch.equal(getattr(first, key), getattr(second, key)), key
    assert first.info.fingerprint == second.info.fingerprint != ""
    other = synthetic_set("synthetic-keypoints-v1", body, size=48, seed=7)
    assert other.info.fingerprint != first.info.fingerprint
    assert not other.info.details["named_set"] and not first.info.details["named_set"]


def test_registry_names_are_versioned_and_distinct(body) -> None:
    assert {"synthetic-keypoints-v1", "synthetic-keypoints-clean-v1", "synthetic-keypoints-occluded-v1"} <= set(
        SYNTHETIC_SETS
    )
    assert all(name.rsplit("-", 1)[-1].startswith("v") for name in SYNTHETIC_SETS)
    assert SYNTHETIC_SETS["synthetic-keypoints-v1"].size == 2000
    prints = {synthetic_set(name, body, size=16).info.fingerprint for name in SYNTHETIC_SETS}
    assert len(prints) == len(SYNTHETIC_SETS)
    with pytest.raises(KeyError, match="known"):
        synthetic_set("synthetic-keypoints-v0", body)


def test_the_sets_corrupt_as_they_say(body) -> None:
    size = 300
    clean = synthetic_set("synthetic-keypoints-clean-v1", body, size=size)
    occluded = synthetic_set("synthetic-keypoints-occluded-v1", body, size=size)
    default = synthetic_set("synthetic-keypoints-v1", body, size=size)
    assert set(clean.evidence[..., 2].unique().tolist()) <= {0.0, 1.0}  # confidence 1 or outside
    missing = {name: (data.evidence[..., 2] == 0).float().mean().item()
               for name, data in (("clean", clean), ("occluded", occluded), ("default", default))}  # fmt: skip
    assert missing["clean"] < 0.05  # only points outside the image
    assert 0.27 < missing["occluded"] - missing["clean"] < 0.36
    assert missing["clean"] < missing["default"] < missing["occluded"]
    assert clean.info.joint_names[0] == "pelvis" and clean.info.pelvis == 0 and clean.info.protocol is None


def test_evaluation_set_batches_and_checks(body) -> None:
    data = synthetic_set("synthetic-keypoints-v1", body, size=10)
    sizes = [len(b) for b in data.batches(4)]
    assert sizes == [4, 4, 2]
    assert torch.equal(torch.cat([b.joints_3d for b in data.batches(4)]), data.joints_3d)
    with pytest.raises(ValueError, match="joints"):
        EvaluationSet(SetInfo("x", "", ("a",), 0), data.evidence, data.joints_3d)


def test_prohmr_arrays_become_an_evaluation_set(body, make_prohmr_arrays, tmp_path) -> None:
    arrays, batch = make_prohmr_arrays(body)
    path = tmp_path / "3dpw_test.npz"
    np.savez(path, **arrays)
    names = [n for key in ("coco", "feet") for n in body.keypoint_sets[key].names]
    data = prohmr_keypoint_set(read_prohmr_npz(path), names, protocol="3dpw-test")
    torch.testing.assert_close(data.evidence, batch.evidence, atol=1e-5, rtol=0)
    assert data.info.joint_names == EVAL_14 and data.info.pelvis == (2, 3)
    expected = torch.from_numpy(arrays["extra_keypoints_3d"][:, list(EVAL_14_FROM_EXTRA), :3])
    torch.testing.assert_close(data.joints_3d, expected)
    torch.testing.assert_close(data.rotmats, batch.rotmats, atol=1e-5, rtol=0)
    assert data.pose_valid.sum().item() == 8
    with pytest.raises(ValueError, match="no 2D keypoints"):
        prohmr_keypoint_set(read_prohmr_npz(path), names, keypoints="extra")


def test_examples_without_ground_truth_joints_are_left_out(body, make_prohmr_arrays, tmp_path) -> None:
    arrays, _ = make_prohmr_arrays(body)
    arrays["extra_keypoints_3d"][3, 0, 3] = 0.0  # row 3 lost its right ankle
    path = tmp_path / "h36m_val_p2.npz"
    np.savez(path, **arrays)
    data = prohmr_keypoint_set(read_prohmr_npz(path), ["left_knee"], name="x")
    assert len(data) == 15 and data.info.details["left_out"] == 1


def test_image_evidence_is_the_plain_crop(body, make_prohmr_arrays, tmp_path) -> None:
    pytest.importorskip("PIL", reason="reading images needs Pillow (the 'render' extra)")
    from PIL import Image

    arrays, _ = make_prohmr_arrays(body, size=3)
    for i, name in enumerate(arrays["imgname"]):
        pixels = np.zeros((960, 1280, 3), np.uint8)
        pixels[..., i] = 200  # one colour per image
        Image.fromarray(pixels).save(tmp_path / name)
    path = tmp_path / "3dpw_test.npz"
    np.savez(path, **arrays)
    data = ProHMRImageSet(read_prohmr_npz(path), tmp_path, crop_size=32, protocol="3dpw-test")
    assert len(data) == 3 and data.info.protocol == "3dpw-test" and data.info.fingerprint
    (batch,) = list(data.batches(4))
    assert batch.evidence.shape == (3, 3, 32, 32)
    channel = batch.evidence.mean(dim=(2, 3)).argmax(dim=1)  # ImageNet-normalised: still the brightest
    assert channel.tolist() == [0, 1, 2]
    expected = torch.from_numpy(arrays["extra_keypoints_3d"][:, list(EVAL_14_FROM_EXTRA), :3])
    torch.testing.assert_close(batch.joints_3d, expected)
    assert batch.pose_valid.tolist() == [True, False, False]


def test_a_box_frame_model_is_evaluated_in_each_examples_camera_frame(body) -> None:
    """The set carries each box's ray: a model giving box-frame poses is scored on them turned onto
    it (the aligned error cannot tell, the pelvis-aligned one does); with identity rays it is the
    camera-frame model."""
    from dataclasses import replace

    from hmrflow.evaluation.runner import evaluate_model
    from hmrflow.flows import FlowConfig
    from hmrflow.models import ProbabilisticHMR
    from hmrflow.models.config import EncoderConfig, ModelConfig

    torch.manual_seed(0)
    config = ModelConfig(encoder=EncoderConfig(width=32), head_hidden=32,
                         flow=FlowConfig(context_features=32, hidden_features=32))  # fmt: skip
    camera_model = ProbabilisticHMR(config, body).eval()
    box_model = ProbabilisticHMR(replace(config, orientation_frame="box"), body).eval()
    box_model.load_state_dict(camera_model.state_dict())
    data = synthetic_set("synthetic-keypoints-v1", body, size=24)
    assert data.box_rotation is not None and data.box_rotation.shape == (24, 3, 3)

    def figures(model, data):
        result, _ = evaluate_model(model, data, hypotheses=3, generator=torch.Generator().manual_seed(1))
        return result.figures

    camera, box = figures(camera_model, data), figures(box_model, data)
    assert box["pa_mpjpe"] == pytest.approx(camera["pa_mpjpe"], rel=1e-5)
    assert box["mpjpe"] != pytest.approx(camera["mpjpe"], rel=1e-5)
    straight = replace(data, box_rotation=torch.eye(3).expand(24, 3, 3))
    assert figures(box_model, straight) == pytest.approx(camera)


def test_an_evaluation_batch_turns_poses_by_the_frame_it_is_told():
    from hmrflow.evaluation.sets import EvaluationBatch
    from hmrflow.geometry import rotvec_to_rotmat

    turn = rotvec_to_rotmat(torch.randn(2, 3))
    batch = EvaluationBatch(torch.zeros(2, 23, 3), torch.zeros(2, 12, 3), box_rotation=turn)
    poses = rotvec_to_rotmat(torch.randn(2, 24, 3))
    assert torch.equal(batch.pose_to_camera(poses, "camera"), poses)
    turned = batch.pose_to_camera(poses, "box")
    torch.testing.assert_close(turned[:, 0], turn @ poses[:, 0])
    assert torch.equal(turned[:, 1:], poses[:, 1:])
    torch.testing.assert_close(batch.pose_to_model(turned, "box"), poses)
    with pytest.raises(ValueError, match="frame must be 'camera' or 'box', got 'world'"):
        batch.pose_to_camera(poses, "world")
