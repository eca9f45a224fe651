"""The shipped real set: its shapes, its fingerprint, and that its 3D joints fit its 2D keypoints."""

from __future__ import annotations

import numpy as np
import pytest

from hmrflow.data.keypoint_files import EVIDENCE_NAMES
from hmrflow.data.qualisys import read_qualisys
from hmrflow.data.real_multiview import (
    ASSET,
    FORMAT_VERSION,
    LIMB_JOINTS,
    RealMultiview,
    array_fingerprint,
    save_real_multiview,
)
from tests.fetched import fetched

P, F, V, K = 2, 100, 4, 23


@pytest.fixture(scope="module")
def data() -> RealMultiview:
    return RealMultiview.load()


def test_the_file_is_small_and_named(data: RealMultiview) -> None:
    assert ASSET.stat().st_size < 2_000_000
    assert data.name == "real-multiview-v1" and data.format_version == FORMAT_VERSION == 2
    assert data.person_names == ("woman", "man") and data.camera_names == ("cam01", "cam02", "cam03", "cam04")
    assert data.keypoint_names == EVIDENCE_NAMES and data.fps == 60.0 and data.threshold_px == 20.0
    assert len(data.fingerprint) == 16


def test_documented_shapes(data: RealMultiview) -> None:
    shapes = {
        "keypoints_2d": (P, F, V, K, 3), "keypoints_depth": (P, F, V, K), "detected": (P, F, V),
        "boxes": (P, F, V, 4), "crops": (P, F, V, 3),
        "image_size": (V, 2), "focal_length": (V, 2), "principal_point": (V, 2), "rotation": (V, 3, 3),
        "translation": (V, 3), "distortion": (V, 5), "calibration_rotation": (V, 3, 3),
        "calibration_translation": (V, 3), "refined": (V,), "joints_3d": (P, F, K, 3), "joints_valid": (P, F, K),
        "joints_views": (P, F, K, V), "reprojection_error": (P, F, V, K),
    }  # fmt: skip
    for name, shape in shapes.items():
        assert getattr(data, name).shape == shape, name
    assert data.image_size.tolist() == [[1088, 1920]] * V


def test_keypoints_and_detections_agree(data: RealMultiview) -> None:
    confident = data.keypoints_2d[..., 2] > 0
    assert not confident[~data.detected].any()  # no keypoint where nobody was detected
    assert data.detected.mean() > 0.9
    xy = data.keypoints_2d[..., :2][confident]
    assert (xy >= 0).all() and (xy[:, 0] < 1088).all() and (xy[:, 1] < 1920).all()
    assert not confident[..., [EVIDENCE_NAMES.index("left_small_toe"), EVIDENCE_NAMES.index("right_small_toe")]].any()
    box = data.boxes[data.detected]
    assert (box[:, 2] > box[:, 0]).all() and (box[:, 3] > box[:, 1]).all()


def test_cameras_are_rotations_and_two_were_refined(data: RealMultiview) -> None:
    for rotation in (*data.rotation, *data.calibration_rotation):
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-9)
        assert np.isclose(np.linalg.det(rotation), 1.0)
    assert data.refined.tolist() == [True, False, True, False]
    kept = ~data.refined
    np.testing.assert_array_equal(data.rotation[kept], data.calibration_rotation[kept])
    np.testing.assert_array_equal(data.translation[kept], data.calibration_translation[kept])
    turn = np.einsum("vij,vkj->vik", data.rotation, data.calibration_rotation)
    angles = np.degrees(np.arccos(np.clip((np.trace(turn, axis1=1, axis2=2) - 1) / 2, -1, 1)))
    assert angles[data.refined].max() < 5.0  # a small correction, not another camera


def test_joints_reproject_onto_the_keypoints_within_the_threshold(data: RealMultiview) -> None:
    projected = data.projected()  # (P, F, V, K, 2)
    used = data.joints_views.transpose(0, 1, 3, 2)  # (P, F, V, K)
    errors = np.linalg.norm(projected - data.keypoints_2d[..., :2], axis=-1)
    assert used.any() and np.isfinite(errors[used]).all()
    assert errors[used].max() <= data.threshold_px + 1e-3
    np.testing.assert_allclose(errors[used], data.reprojection_error[used], atol=1e-2)
    limb = [EVIDENCE_NAMES.index(n) for n in LIMB_JOINTS]
    assert np.median(errors[..., limb][used[..., limb]]) < 10.0
    assert (used.sum(2)[data.joints_valid] >= 2).all()  # every valid joint from two views at least
    assert data.joints_valid[..., limb].mean() > 0.95
    assert np.isnan(data.joints_3d[~data.joints_valid]).all() and np.isfinite(data.joints_3d[data.joints_valid]).all()


def test_joints_are_in_front_of_every_camera_and_people_are_people(data: RealMultiview) -> None:
    depth = data.camera_joints()[..., 2]
    assert (depth[np.isfinite(depth)] > 1.0).all()
    thigh = np.linalg.norm(data.joints_3d[..., EVIDENCE_NAMES.index("left_hip"), :]
                           - data.joints_3d[..., EVIDENCE_NAMES.index("left_knee"), :], axis=-1)  # fmt: skip
    assert 0.25 < np.nanmedian(thigh) < 0.5


def test_summary_and_errors(data: RealMultiview) -> None:
    summary = data.error_summary()
    assert 0 < summary["median_px"] <= summary["p90_px"] <= summary["max_px"] <= 20.0
    assert data.fingerprint in data.summary()


def test_a_changed_file_is_refused(data: RealMultiview, tmp_path) -> None:
    with np.load(ASSET) as file:
        arrays = {name: file[name] for name in file.files if name != "fingerprint"}
    assert array_fingerprint(arrays) == data.fingerprint
    path = save_real_multiview(tmp_path / "copy.npz", arrays)
    assert RealMultiview.load(path).fingerprint == data.fingerprint
    arrays["joints_3d"] = arrays["joints_3d"] + 0.001
    np.savez(tmp_path / "edited.npz", **arrays, fingerprint=np.array(data.fingerprint))
    with pytest.raises(ValueError, match="fingerprint"):
        RealMultiview.load(tmp_path / "edited.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(1))
    with pytest.raises(ValueError, match="not a real multi-view set"):
        RealMultiview.load(tmp_path / "other.npz")


def test_the_set_keeps_the_fetched_calibration(data: RealMultiview) -> None:
    cameras = read_qualisys(fetched("pose2sim/Demo_MultiPerson/calibration/Calib.qca.txt"))
    np.testing.assert_allclose(data.calibration_rotation, np.stack([c.rotation for c in cameras]))
    np.testing.assert_allclose(data.calibration_translation, np.stack([c.translation for c in cameras]))
    np.testing.assert_allclose(data.focal_length, np.stack([c.focal_length for c in cameras]))
    np.testing.assert_allclose(data.principal_point, np.stack([c.principal_point for c in cameras]))


def test_depth_is_blazeposes_where_a_point_was_found_and_follows_the_truth(data: RealMultiview) -> None:
    found = data.keypoints_2d[..., 2] > 0
    depth = data.keypoints_depth
    assert not (np.isfinite(depth) & ~found).any() and np.isfinite(depth[found]).all()
    hips = [EVIDENCE_NAMES.index("left_hip"), EVIDENCE_NAMES.index("right_hip")]
    both = found[..., hips].all(-1)
    assert np.abs(depth[..., hips][both].sum(-1)).max() < 5.0  # BlazePose's origin: the hips' midpoint (px)
    joints = data.camera_joints()
    truth = joints[..., 2] - joints[..., hips, 2].mean(-1, keepdims=True)
    limb = [EVIDENCE_NAMES.index(n) for n in LIMB_JOINTS]
    rows = found[..., limb] & np.isfinite(truth[..., limb])
    assert np.corrcoef(truth[..., limb][rows], depth[..., limb][rows])[0, 1] > 0.5  # farther = larger
    kept = data.keypoints_with_depth()
    assert kept.shape == (P, F, V, K, 4) and np.array_equal(kept[..., 3], depth, equal_nan=True)
