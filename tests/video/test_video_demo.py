"""The video demo end to end on a real clip: pose2sim Demo_MultiPerson cam01 (fetched), its first
frames, with the BlazePose keypoints of real-multiview-v1 (view 0 is this video) or the detector."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from hmrflow.application.animation_files import read_parameter_file
from hmrflow.application.calibration import Intrinsics
from hmrflow.application.detector import find_detector_python
from hmrflow.application.video_pipeline import VideoPipeline
from hmrflow.application.video_results import VideoConfig, VideoResult
from hmrflow.body.bvh_export import read_bvh_joints
from hmrflow.body.joints import SMPL_JOINT_NAMES
from hmrflow.body.parameters import camera_to_y_up
from hmrflow.cli.export import export
from hmrflow.cli.main import main
from hmrflow.data.pose_sources.bvh import BvhMotion
from hmrflow.data.real_multiview import RealMultiview
from hmrflow.fitting.keypoint_fit import FitConfig, fit_keypoints
from hmrflow.fitting.lbfgs import StopRules
from hmrflow.fitting.people import People
from hmrflow.fitting.temporal import acceleration
from hmrflow.models.checkpoint import load_model
from hmrflow.render.context import egl_available
from tests.fetched import fetched

VIDEO = "pose2sim/Demo_MultiPerson/videos/cam01.mp4"
VIEW = 0  # cam01 in real-multiview-v1
FRAMES = 8
STEPS = 5
RENDER, WHY = egl_available()


@pytest.fixture(scope="module")
def real() -> RealMultiview:
    return RealMultiview.load()


@pytest.fixture(scope="module")
def model():
    return load_model()


def clip_keypoints(real: RealMultiview, frames: int) -> np.ndarray:
    """``(F, P, 23, 3)`` the set's detections in the video's px, zero where a person was not found."""
    detected = real.detected[:, :frames, VIEW, None, None]
    return (real.keypoints_2d[:, :frames, VIEW] * detected).transpose(1, 0, 2, 3)


def config(real: RealMultiview, **changes) -> VideoConfig:
    intrinsics = Intrinsics(*real.focal_length[VIEW], *real.principal_point[VIEW])
    return VideoConfig(max_frames=FRAMES, fit_steps=STEPS, intrinsics=intrinsics, progress=False, **changes)


def run(model, real: RealMultiview, out: Path | None, **changes) -> VideoResult:
    with VideoPipeline(model, config(real, **changes)) as pipeline:
        return pipeline.run(fetched(VIDEO), out, clip_keypoints(real, FRAMES))


@pytest.fixture(scope="module")
def clip(model, real, tmp_path_factory) -> VideoResult:
    return run(model, real, tmp_path_factory.mktemp("video") / "cam01")


def test_two_people_are_tracked_apart(clip: VideoResult, real: RealMultiview) -> None:
    assert clip.frames == FRAMES and clip.fps == pytest.approx(60.0) and clip.size == (1088, 1920)
    assert len(clip.tracks) == 2
    keypoints = clip_keypoints(real, FRAMES)
    people = set()
    for fit in clip.tracks:
        seen = fit.observed.numpy()
        frames = fit.frames[seen]
        # every detection of the track is one and the same real person's
        match = [p for p in range(2) if np.allclose(fit.keypoints.numpy()[seen], keypoints[frames, p], atol=1e-3)]
        assert len(match) == 1
        people.add(match[0])
        assert seen.sum() == real.detected[match[0], :FRAMES, VIEW].sum()
        assert fit.fitted.all() and torch.isfinite(fit.vertices).all()
        assert float(fit.reprojection_error[fit.observed].mean()) < 25.0
    assert people == {0, 1}


def test_every_frame_has_parameters_that_export_reads(clip: VideoResult, model, real: RealMultiview,
                                                      tmp_path: Path) -> None:
    for fit in clip.tracks:
        path = clip.folder / f"track{fit.id}" / "params.npz"
        with np.load(path) as npz:
            assert npz["frame"].tolist() == list(range(fit.frames[0], fit.frames[-1] + 1))
            T = len(npz["frame"])
            assert npz["global_orient"].shape == (T, 1, 3) and npz["body_pose"].shape == (T, 23, 3)
            assert npz["transl"].shape == (T, 3) and npz["betas"].shape == (T, model.body.num_betas)
            assert npz["focal_length"].tolist() == pytest.approx(real.focal_length[VIEW].tolist())  # (fx, fy)
            np.testing.assert_allclose(npz["transl"], fit.translation.numpy(), atol=1e-6)
        saved = read_parameter_file(path)
        assert saved.transl.shape == (T, 3) and saved.fps == pytest.approx(60.0)
        assert saved.body_model == model.body.name
        # hmrflow export of the saved file gives the demo's own animation
        (bvh,) = export(saved, model.body, tmp_path, f"track{fit.id}", ["bvh"], saved.fps)
        ours = read_bvh_joints(clip.folder / f"track{fit.id}" / "animation.bvh").positions
        torch.testing.assert_close(read_bvh_joints(bvh).positions, ours, atol=1e-5, rtol=0)


def test_the_bvh_reads_back_as_the_fitted_joints(clip: VideoResult, model) -> None:
    for fit in clip.tracks:
        path = clip.folder / f"track{fit.id}" / "animation.bvh"
        motion = BvhMotion.from_file(path)  # the project's BVH reader
        assert motion.frame_time == pytest.approx(1 / 60) and len(motion.values) == len(fit)
        joints = read_bvh_joints(path)
        order = [joints.names.index(name) for name in SMPL_JOINT_NAMES]
        expected = camera_to_y_up(fit.joints.double())
        torch.testing.assert_close(joints.positions[:, order], expected, atol=1e-4, rtol=0)


def glb_json(path: Path) -> dict:
    data = path.read_bytes()
    magic, _, _ = struct.unpack_from("<4sII", data, 0)
    length, kind = struct.unpack_from("<I4s", data, 12)
    assert magic == b"glTF" and kind == b"JSON"
    return json.loads(data[20 : 20 + length])


def test_animated_glb_player_and_index(clip: VideoResult) -> None:
    index = (clip.folder / "index.html").read_text()
    summary = json.loads((clip.folder / "video.json").read_text())
    assert [t["track"] for t in summary["tracks"]] == [0, 1] and summary["frames"] == FRAMES
    for fit in clip.tracks:
        folder = clip.folder / f"track{fit.id}"
        document = glb_json(folder / "animation.glb")
        sampler = document["animations"][0]["samplers"][0]
        assert document["accessors"][sampler["input"]]["count"] == len(fit)
        assert (folder / "animation.html").stat().st_size > (folder / "animation.glb").stat().st_size
        for name in ("params.npz", "animation.bvh", "animation.glb", "animation.html"):
            assert f"track{fit.id}/{name}" in index


@pytest.mark.skipif(not RENDER, reason=f"no EGL OpenGL context: {WHY}")
def test_the_overlay_video_has_every_frame_with_the_bodies(clip: VideoResult) -> None:
    import cv2

    capture = cv2.VideoCapture(str(clip.folder / "overlay.mp4"))
    images = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        images.append(image)
    assert len(images) == FRAMES and images[0].shape[:2] == (1280, 724)  # 1088 x 1920 scaled to 1280, even
    # the bodies change the frames where they are: compare with the clip itself, scaled alike
    source = cv2.VideoCapture(str(fetched(VIDEO)))
    ok, first = source.read()
    plain = cv2.resize(first, (725, 1280), interpolation=cv2.INTER_AREA)[:, :724]
    changed = np.abs(images[0].astype(int) - plain.astype(int)).sum(-1) > 60
    assert 0.02 < changed.mean() < 0.6


def test_temporal_weight_zero_is_per_frame_fitting(model, real: RealMultiview, clip: VideoResult) -> None:
    alone = run(model, real, None, temporal_weight=0.0)
    assert alone.folder is None and len(alone.tracks) == 2
    for fit in alone.tracks:
        seen = fit.observed
        keypoints = fit.keypoints[seen]
        people = People.from_camera(keypoints, alone.camera.expand(len(keypoints)))  # fx, fy, principal point
        reference = fit_keypoints(model, people, FitConfig(rules=StopRules(max_steps=STEPS)))
        torch.testing.assert_close(fit.rotmats[seen], reference.rotmats, atol=1e-5, rtol=0)
        torch.testing.assert_close(fit.translation[seen], reference.translation, atol=1e-5, rtol=0)
        torch.testing.assert_close(fit.betas[seen], reference.betas, atol=1e-5, rtol=0)
        assert not fit.fitted[~seen].any()
    # the temporal fit of the same detections moves the joints more smoothly
    own = lambda f: acceleration(f.joints - f.joints[:, :1]).norm(dim=-1).mean()  # noqa: E731
    for smooth, rough in zip(clip.tracks, alone.tracks):
        assert rough.fitted.all()  # both people were detected in every frame of their track
        assert float(own(smooth)) < float(own(rough))


def test_a_folder_of_frames_with_given_keypoints(real: RealMultiview, tmp_path: Path) -> None:
    import cv2

    frames, capture = tmp_path / "frames", cv2.VideoCapture(str(fetched(VIDEO)))
    frames.mkdir()
    for i in range(6):
        ok, image = capture.read()
        cv2.imwrite(str(frames / f"frame{i + 1}.jpg"), image)
    keypoints = tmp_path / "keypoints.npy"
    np.save(keypoints, clip_keypoints(real, 6))
    out = tmp_path / "out"
    args = ["demo", str(frames), "--video", "--fps", "60", "--keypoints", str(keypoints), "--steps", "3",
            "--temporal-weight", "0.5", "--no-overlay-video", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    summary = json.loads((out / "frames" / "video.json").read_text())
    assert summary["fps"] == 60 and summary["frames"] == 6 and summary["temporal_weight"] == 0.5
    assert len(summary["tracks"]) == 2 and summary["overlay"] is None
    assert BvhMotion.from_file(out / "frames" / "track0" / "animation.bvh").frame_time == pytest.approx(1 / 60)


def test_unreadable_and_empty_clips_give_one_line(tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 10)
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, words in (([str(broken)], ("broken.mp4", "not a video")), ([str(empty), "--video"], ("empty", "no pictures")),
                        ([str(broken), "--temporal-weight", "-1"], ("--temporal-weight",))):  # fmt: skip
        assert main(["demo", *args, "--out", str(tmp_path / "out")]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and all(w in lines[0] for w in words), lines
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(find_detector_python() is None, reason="the detector environment is not installed")
def test_the_detector_path_on_the_video(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["demo", str(fetched(VIDEO)), "--frames", "6", "--steps", "3", "--max-people", "2", "--out", str(out)]
    assert main(args) == 0
    summary = json.loads((out / "cam01" / "video.json").read_text())
    assert summary["keypoints"].startswith("detector") and summary["frames"] == 6
    # two people walk in front of the camera; a track needs 5 detections (TrackingConfig.min_length)
    assert 1 <= len(summary["tracks"]) <= 2 and all(t["detected"] >= 5 for t in summary["tracks"])
    if RENDER:
        import cv2

        assert int(cv2.VideoCapture(str(out / "cam01" / "overlay.mp4")).get(cv2.CAP_PROP_FRAME_COUNT)) == 6
