from __future__ import annotations

import pytest
import torch

from hmrflow.body import BodyModel
from hmrflow.data.pose_sources import load_cmu_demo
from hmrflow.data.synthetic import SyntheticConfig, SyntheticKeypoints, make_evaluation_set
from hmrflow.geometry.cameras import perspective_projection


def _noiseless(**corruption: object) -> tuple[SyntheticConfig, SyntheticConfig]:
    """A configuration without jitter, dropped points or swaps, and the same with ``corruption`` set."""
    from dataclasses import replace

    from hmrflow.data.synthetic import CorruptionConfig

    clean = replace(CorruptionConfig(), jitter=(0.0, 0.0), drop_probability=(0.0, 0.0), part_drop_probability=0.0,
                    swap_probability=0.0)  # fmt: skip
    plain = SyntheticConfig(corruption=clean)
    return plain, replace(plain, corruption=replace(clean, **corruption))


@pytest.fixture(scope="module")
def generator() -> SyntheticKeypoints:
    return SyntheticKeypoints(BodyModel.from_name("anny_lowpoly"), load_cmu_demo().rotmats)


def test_a_seed_gives_an_identical_set(generator):
    a = make_evaluation_set(generator, 50, seed=3, chunk=16)
    b = make_evaluation_set(generator, 50, seed=3, chunk=16)
    c = make_evaluation_set(generator, 50, seed=4, chunk=16)
    for name in vars(a):
        torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=0, atol=0)
    assert not torch.equal(a.evidence, c.evidence)
    assert len(a) == 50


def test_labels_are_consistent(generator):
    batch = generator.sample(64, torch.Generator().manual_seed(0))
    # The labels pose the body onto the 3D keypoints, which project onto the clean 2D ones.
    out = generator.body(batch.rotmats, batch.betas, batch.translation, keypoints=("coco", "feet"), vertices=False)
    keypoints = torch.cat([out.keypoints["coco"], out.keypoints["feet"]], dim=1)
    torch.testing.assert_close(keypoints, batch.keypoints_3d, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.joints, batch.joints_3d, atol=1e-5, rtol=1e-5)
    projected = perspective_projection(keypoints, None, batch.focal_length[:, None].expand(-1, 2), batch.image_size / 2)
    torch.testing.assert_close(projected, batch.clean_2d[..., :2], atol=1e-3, rtol=1e-4)
    # Bodies stand upright in the image: the nose is above the ankles (image y down).
    assert (batch.clean_2d[:, 0, 1] < batch.clean_2d[:, 15:17, 1].mean(-1)).float().mean() > 0.9
    # Evidence lies in the box, dropped points carry zero confidence and coordinates.
    kept = batch.evidence[..., 2] > 0
    assert batch.evidence[..., :2][kept].abs().max() < 0.6
    assert batch.evidence[..., :2][~kept].abs().max() == 0


def test_corruption_can_be_switched_off(generator):
    gen = SyntheticKeypoints(generator.body, None, _noiseless()[0])
    batch = gen.sample(32, torch.Generator().manual_seed(1))
    visible = batch.clean_2d[..., 2] > 0
    torch.testing.assert_close(batch.keypoints_2d[..., :2][visible], batch.clean_2d[..., :2][visible])
    assert torch.equal(batch.keypoints_2d[..., 2] > 0, visible)


def test_missing_keypoint_sets_are_named():
    body = BodyModel.from_name("anny_lowpoly")
    with pytest.raises(ValueError, match="hands"):
        SyntheticKeypoints(body, None, SyntheticConfig(evidence_sets=("coco", "hands")))


def test_camera_roll_and_mirrored_labels_when_asked():
    from dataclasses import replace

    from hmrflow.body import BodyModel
    from hmrflow.body.keypoints import flip_permutation
    from hmrflow.data.synthetic import CameraConfig, SyntheticKeypoints

    body = BodyModel.from_name("anny_lowpoly")
    plain, mirrored = _noiseless(mirror_probability=1.0)
    a = SyntheticKeypoints(body, None, plain).sample(8, torch.Generator().manual_seed(0))
    b = SyntheticKeypoints(body, None, mirrored).sample(8, torch.Generator().manual_seed(0))
    flip = flip_permutation(SyntheticKeypoints(body, None, plain).names)
    assert torch.equal(b.clean_2d, a.clean_2d)  # the labels stay true
    visible = a.keypoints_2d[..., 2] > 0
    assert torch.allclose(b.keypoints_2d[..., :2][visible[:, flip]], a.keypoints_2d[:, flip, :2][visible[:, flip]])
    rolled = replace(plain, camera=replace(CameraConfig(), roll_deg=(30.0, 30.0)))
    c = SyntheticKeypoints(body, None, rolled).sample(8, torch.Generator().manual_seed(0))
    up = lambda batch: batch.keypoints_3d[:, 0] - batch.keypoints_3d[:, 15]  # noqa: E731  nose minus left ankle
    angle = lambda v: torch.atan2(v[:, 0], -v[:, 1])  # noqa: E731  in the image, from "up"
    turned = torch.rad2deg(angle(up(c)) - angle(up(a)))
    assert torch.allclose((turned + 180) % 360 - 180, torch.full_like(turned, 30.0), atol=1.0)  # clockwise


def test_segment_noise_moves_keypoints_along_their_segments_only_when_asked():
    from hmrflow.data.synthetic import segment_parents

    body = BodyModel.from_name("anny_lowpoly")
    plain, noisy = _noiseless(segment_noise=(0.1, 0.1))
    a = SyntheticKeypoints(body, None, plain).sample(64, torch.Generator().manual_seed(0))
    b = SyntheticKeypoints(body, None, noisy).sample(64, torch.Generator().manual_seed(0))
    torch.testing.assert_close(b.clean_2d, a.clean_2d)  # same examples; the labels stay true
    names = SyntheticKeypoints(body, None, plain).names
    parents = segment_parents(names)
    seen = (a.keypoints_2d[..., 2] > 0) & (b.keypoints_2d[..., 2] > 0)
    shift = b.keypoints_2d[..., :2] - a.keypoints_2d[..., :2]
    for k, parent in enumerate(parents):
        if parent < 0:  # the face keeps its place
            assert torch.equal(shift[seen[:, k], k], torch.zeros_like(shift[seen[:, k], k])), names[k]
            continue
        segment = a.clean_2d[:, k, :2] - a.clean_2d[:, parent, :2]
        rows = seen[:, k] & seen[:, parent] & (segment.norm(dim=-1) > 5)
        cross = shift[rows, k, 0] * segment[rows, 1] - shift[rows, k, 1] * segment[rows, 0]
        assert cross.abs().max() < 1e-2 * segment[rows].norm(dim=-1).square().max(), names[k]  # parallel
        ratio = (shift[rows, k] * segment[rows]).sum(-1) / segment[rows].norm(dim=-1).square()
        assert 0.05 < ratio.std() < 0.15, names[k]  # std 0.1 of the segment
    assert parents[names.index("left_knee")] == names.index("left_hip")


def test_other_person_limb_comes_from_the_neighbouring_example_only_when_asked():
    body = BodyModel.from_name("anny_lowpoly")
    plain, mixed = _noiseless(other_person_probability=1.0)
    a = SyntheticKeypoints(body, None, plain).sample(64, torch.Generator().manual_seed(0))
    generator = SyntheticKeypoints(body, None, mixed)
    b = generator.sample(64, torch.Generator().manual_seed(0))
    torch.testing.assert_close(b.clean_2d, a.clean_2d)  # same examples; the labels stay true
    seen = (a.keypoints_2d[..., 2] > 0) & (b.keypoints_2d[..., 2] > 0)
    moved = ((b.keypoints_2d[..., :2] - a.keypoints_2d[..., :2]).norm(dim=-1) > 1e-3) & seen
    limbs = generator.limb_members
    for i in range(64):
        changed = moved[i]
        assert changed.any()  # probability 1: every example has a foreign limb
        owners = [limb for limb in limbs if bool((changed & ~limb).logical_not().all())]
        assert owners, "the moved points belong to one limb"
        limb = owners[0] & seen[i] & a.keypoints_2d[i - 1, :, 2].gt(0)
        # The limb keeps the neighbour's shape: same shape up to scale and shift.
        ours, theirs = b.keypoints_2d[i, limb, :2], a.keypoints_2d[i - 1, limb, :2]
        if limb.sum() >= 2:
            ours, theirs = ours - ours.mean(0), theirs - theirs.mean(0)
            scale = ours.norm() / theirs.norm()
            torch.testing.assert_close(ours, theirs * scale, atol=1e-2 * float(ours.norm()) + 1e-3, rtol=0)


def test_missing_keypoints_are_always_dropped_and_unknown_names_fail():
    from dataclasses import replace

    from hmrflow.data.synthetic import CorruptionConfig

    body = BodyModel.from_name("anny_lowpoly")
    plain = SyntheticConfig()
    toes = replace(plain, corruption=replace(CorruptionConfig(), missing=("left_small_toe", "right_small_toe")))
    a = SyntheticKeypoints(body, None, plain).sample(256, torch.Generator().manual_seed(0))
    generator = SyntheticKeypoints(body, None, toes)
    b = generator.sample(256, torch.Generator().manual_seed(0))
    gone = [generator.names.index("left_small_toe"), generator.names.index("right_small_toe")]
    assert a.keypoints_2d[:, gone, 2].gt(0).any()  # without the option the toes are seen
    assert torch.equal(b.keypoints_2d[:, gone], torch.zeros_like(b.keypoints_2d[:, gone]))
    kept = [k for k in range(len(generator.names)) if k not in gone]
    torch.testing.assert_close(b.keypoints_2d[:, kept, 2].gt(0), a.keypoints_2d[:, kept, 2].gt(0))  # same stream
    with pytest.raises(ValueError, match="small_toe_typo"):
        SyntheticKeypoints(body, None, replace(plain, corruption=CorruptionConfig(missing=("small_toe_typo",))))


def test_examples_with_fewer_than_two_kept_keypoints_stay_on_scale(generator):
    """An example with one kept keypoint once got a 1-pixel box: evidence and 2D targets in
    the hundreds, which blew up the encoder's batch-norm statistics and the 2D loss."""
    from dataclasses import replace

    from hmrflow.data.synthetic import CorruptionConfig

    sparse = replace(SyntheticConfig(), corruption=replace(CorruptionConfig(), drop_probability=(0.9, 1.0)))
    batch = SyntheticKeypoints(generator.body, None, sparse).sample(256, torch.Generator().manual_seed(0))
    kept = (batch.evidence[..., 2] > 0).sum(-1)
    assert (kept == 1).any() and (kept == 0).any() and (kept >= 2).any()
    assert batch.evidence[..., :2].abs().max() < 0.6  # the one point placed in its person's box
    few = batch.target_2d[kept < 2]
    assert few[..., :2][few[..., 2] > 0].abs().max() < 0.6  # boxed around the visible points


def test_detector_placement_moves_the_named_points_only():
    body = BodyModel.from_name("anny_lowpoly")
    plain, placed = _noiseless(detector_shift={"hip": -0.05, "knee": -0.1}, detector_hip_width=0.8)
    a = SyntheticKeypoints(body, None, plain).sample(32, torch.Generator().manual_seed(0))
    generator = SyntheticKeypoints(body, None, placed)
    b = generator.sample(32, torch.Generator().manual_seed(0))
    torch.testing.assert_close(b.clean_2d, a.clean_2d)  # same examples; the labels stay the body's points
    names = generator.names
    at = {name: k for k, name in enumerate(names)}
    seen = (a.keypoints_2d[..., 2] > 0) & (b.keypoints_2d[..., 2] > 0)
    point = lambda batch, name: batch.clean_2d[:, at[name], :2]  # noqa: E731
    moved = lambda name: (b.keypoints_2d[:, at[name], :2] - a.keypoints_2d[:, at[name], :2])  # noqa: E731
    torso = ((point(a, "left_shoulder") + point(a, "right_shoulder")) / 2
             - (point(a, "left_hip") + point(a, "right_hip")) / 2).norm(dim=-1)  # fmt: skip
    rows = seen[:, at["left_knee"]] & seen[:, at["left_hip"]]
    thigh = point(a, "left_knee") - point(a, "left_hip")
    expected = -0.1 * torso[:, None] * thigh / thigh.norm(dim=-1, keepdim=True)
    torch.testing.assert_close(moved("left_knee")[rows], expected[rows], atol=1e-3, rtol=1e-3)
    rows = seen[:, at["left_hip"]] & seen[:, at["right_hip"]]
    hips = [at["left_hip"], at["right_hip"]]
    width = lambda batch: batch.keypoints_2d[:, hips[0], :2] - batch.keypoints_2d[:, hips[1], :2]  # noqa: E731
    ratio = width(b)[rows].norm(dim=-1) / (width(a)[rows].norm(dim=-1))
    # The hips move alike along the torso, so their width scales by the ratio alone.
    torch.testing.assert_close(ratio, torch.full_like(ratio, 0.8), atol=1e-3, rtol=1e-3)
    up = (point(a, "left_shoulder") + point(a, "right_shoulder") - point(a, "left_hip") - point(a, "right_hip")) / 2
    mid_moved = (moved("left_hip") + moved("right_hip")) / 2  # hips 0.05 torso lengths up the torso
    torch.testing.assert_close(mid_moved[rows], 0.05 * up[rows], atol=1e-3, rtol=1e-3)
    for name in ("nose", "left_shoulder", "left_elbow", "left_wrist", "left_ankle", "right_heel"):
        rows = seen[:, at[name]]
        assert torch.equal(moved(name)[rows], torch.zeros_like(moved(name)[rows])), name
    with pytest.raises(ValueError, match="wrist_tip"):
        _noiseless(detector_shift={"wrist_tip": 0.1})


def test_outliers_move_far_and_take_their_own_confidences_only_when_asked():
    body = BodyModel.from_name("anny_lowpoly")
    plain, strays = _noiseless(outlier_probability=0.2, outlier_reach=(0.2, 0.3), outlier_confidence=(0.1, 0.3),
                               confidence=(0.8, 1.0))  # fmt: skip
    a = SyntheticKeypoints(body, None, plain).sample(64, torch.Generator().manual_seed(0))
    b = SyntheticKeypoints(body, None, strays).sample(64, torch.Generator().manual_seed(0))
    torch.testing.assert_close(b.clean_2d, a.clean_2d)  # same examples; the labels stay true
    from hmrflow.geometry.boxes import keypoint_box

    kept = b.keypoints_2d[..., 2] > 0
    _, extent = keypoint_box(b.clean_2d[..., :2], b.clean_2d[..., 2] > 0)  # the reach's unit: the true extent
    error = (b.keypoints_2d[..., :2] - b.clean_2d[..., :2]).norm(dim=-1)[kept] / extent[:, None].expand_as(kept)[kept]
    confidence = b.keypoints_2d[..., 2][kept]
    low = confidence < 0.5
    assert 0.1 < low.float().mean() < 0.3  # about a fifth of the points
    assert error[~low].abs().max() < 1e-4  # the others stay on their points (no jitter here)
    assert (error[low] > 0.2 - 1e-4).all() and (error[low] < 0.3 + 1e-4).all()
    with pytest.raises(ValueError, match="outlier_reach"):
        _noiseless(outlier_reach=(0.5, 0.1))


def test_depth_hints_are_the_true_relative_depths_only_when_asked():
    from dataclasses import replace

    from hmrflow.body.keypoints import flip_permutation

    body = BodyModel.from_name("anny_lowpoly")
    plain, exact = _noiseless(depth_probability=1.0, depth_scale=(2.0, 2.0), depth_noise=(0.0, 0.0))
    a = SyntheticKeypoints(body, None, plain).sample(16, torch.Generator().manual_seed(0))
    b = SyntheticKeypoints(body, None, exact).sample(16, torch.Generator().manual_seed(0))
    assert a.evidence.shape[-1] == 3 and b.evidence.shape[-1] == 4
    assert torch.equal(b.evidence[..., :3], a.evidence)  # drawn after everything else: the rest is unchanged
    # Noiseless, scale 2: twice (depth - pelvis depth) in box sides, the pelvis depth seen with the focal length.
    pelvis = b.joints_3d[:, :1, 2]
    expected = 2 * (b.keypoints_3d[..., 2] - pelvis) * (b.focal_length[:, None] / pelvis) / b.box_size[:, None]
    torch.testing.assert_close(b.evidence[..., 3], expected)
    assert (b.evidence[..., 3].abs() < 2).all() and b.evidence[..., 3].std() > 0.05
    # A mirrored detection's depths follow its labels, as a detector's do.
    _, mirrored = _noiseless(depth_probability=1.0, depth_scale=(2.0, 2.0), depth_noise=(0.0, 0.0),
                             mirror_probability=1.0)  # fmt: skip
    c = SyntheticKeypoints(body, None, mirrored).sample(16, torch.Generator().manual_seed(0))
    flip = flip_permutation(SyntheticKeypoints(body, None, plain).names)
    torch.testing.assert_close(c.evidence[..., 3], expected[:, flip])
    # Examples without depth carry NaN; noise and scale are drawn per example.
    _, some = _noiseless(depth_probability=0.5, depth_noise=(0.1, 0.1))
    d = SyntheticKeypoints(body, None, some).sample(256, torch.Generator().manual_seed(0))
    given = d.evidence[..., 3].isfinite().all(-1)
    assert d.evidence[..., 3][~given].isnan().all() and 0.35 < given.float().mean() < 0.65
    for field, value in (("depth_probability", 1.5), ("depth_scale", (2.0, 1.0)), ("depth_noise", (-0.1, 0.1))):
        with pytest.raises(ValueError, match=field):
            replace(plain.corruption, **{field: value})


def test_depth_errors_add_up_from_the_hips_out():
    from hmrflow.data.synthetic import DEPTH_PARENTS, segment_parents

    body = BodyModel.from_name("anny_lowpoly")
    plain, exact = _noiseless(depth_probability=1.0, depth_scale=(1.0, 1.0), depth_noise=(0.0, 0.0))
    _, noisy = _noiseless(depth_probability=1.0, depth_scale=(1.0, 1.0), depth_noise=(0.1, 0.1))
    names = SyntheticKeypoints(body, None, plain).names
    a = SyntheticKeypoints(body, None, exact).sample(2048, torch.Generator().manual_seed(0))
    b = SyntheticKeypoints(body, None, noisy).sample(2048, torch.Generator().manual_seed(0))
    error = b.evidence[..., 3] - a.evidence[..., 3]
    std = {name: float(error[:, k].std()) for k, name in enumerate(names)}
    # 0.1 per step: hip 1 step, knee 2, ankle 3; shoulder 2, elbow 3, wrist 4; the nose its own.
    for name, steps in (("left_hip", 1), ("left_knee", 2), ("right_ankle", 3), ("left_elbow", 3), ("right_wrist", 4),
                        ("nose", 1)):  # fmt: skip
        assert abs(std[name] - 0.1 * steps**0.5) < 0.01, name
    wrist, elbow = names.index("left_wrist"), names.index("left_elbow")
    assert abs(float((error[:, wrist] - error[:, elbow]).std()) - 0.1) < 0.01  # one bone: its own error only
    assert segment_parents(names, DEPTH_PARENTS)[wrist] == elbow
