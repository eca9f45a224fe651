from __future__ import annotations

import numpy as np
import pytest
import torch

from hmrflow.body.joints import SMPL_JOINT_NAMES, mirror_index
from hmrflow.data.augment import (
    Augmentation,
    AugmentConfig,
    augment_points_3d,
    augment_rotmats,
    crop_matrix,
    extreme_crop_box,
    flip_points,
    transform_points,
    warp_image,
)
from hmrflow.data.pose_sampler import PoseSampler
from hmrflow.data.skeleton import forward_kinematics, rest_joints

Image = pytest.importorskip("PIL.Image")

JOINT_FLIP = mirror_index(SMPL_JOINT_NAMES)


def _dot_image(size: tuple[int, int], points: np.ndarray, colors: np.ndarray, radius: int = 1) -> Image.Image:
    """Black image (W, H) with square dots of the given colours centred on the points (pixel centres)."""
    W, H = size
    pixels = np.zeros((H, W, 3), np.uint8)
    for (x, y), color in zip(points, colors):
        col, row = int(x), int(y)
        pixels[row - radius : row + radius + 1, col - radius : col + radius + 1] = color
    return Image.fromarray(pixels)


def _centroid(crop: np.ndarray, at: np.ndarray, radius: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Brightness-weighted centroid (pixel centres at +0.5) and mean colour near ``at``."""
    x0, y0 = int(at[0]) - radius, int(at[1]) - radius
    window = crop[y0 : y0 + 2 * radius + 1, x0 : x0 + 2 * radius + 1].astype(float)
    weight = window.sum(-1)
    ys, xs = np.mgrid[y0 : y0 + window.shape[0], x0 : x0 + window.shape[1]] + 0.5
    centre = np.array([(weight * xs).sum(), (weight * ys).sum()]) / weight.sum()
    color = (window * weight[..., None]).sum((0, 1)) / weight.sum()
    return centre, color


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("antialias_case", [False, True])
def test_rotated_image_keypoints_land_on_the_rotated_pixels(flip, antialias_case):
    # Keypoints in an image; red dots on the left-labelled ones, green on the right ones.
    rng = np.random.default_rng(1)
    zoom = 4.0 if antialias_case else 1.0  # 4x larger image and box: the crop reduces blocks first
    box_center, box_size = np.array([210.0, 160.0]) * zoom, 180.0 * zoom
    names = ("left_wrist", "right_wrist", "nose", "left_knee", "right_knee")
    points = box_center + (rng.random((len(names), 2)) - 0.5) * 0.6 * box_size
    points = np.floor(points) + 0.5  # dot centres on pixel centres
    side = {"left": [255, 0, 0], "right": [0, 255, 0]}
    colors = np.array([side.get(n.split("_")[0], [255, 255, 255]) for n in names])
    # Dots grow with the zoom so that they survive the block reduction.
    image = _dot_image((int(420 * zoom), int(330 * zoom)), points, colors, radius=int(1.5 * zoom))
    aug = Augmentation(scale=1.15, rotation_deg=37.0, translation=(0.02, -0.015), flip=flip)
    matrix = crop_matrix(box_center, box_size, 224, aug)
    crop = warp_image(image, matrix, 224, antialias=True)
    moved = transform_points(matrix, points)
    labels = list(names)
    if flip:  # label swap: the point now labelled left is the former right one
        labels = [{"left_wrist": "right_wrist", "right_wrist": "left_wrist", "left_knee": "right_knee",
                   "right_knee": "left_knee"}.get(n, n) for n in names]  # fmt: skip
    for point, name, label in zip(moved, names, labels):
        centre, color = _centroid(crop, point)
        np.testing.assert_allclose(centre, point, atol=0.35)
        # The dot's colour is that of the original (physical) point.
        expected = colors[names.index(name)]
        assert np.abs(color / color.max() * 255 - expected).max() < 40
        if flip and name != label:
            assert label.split("_")[0] != name.split("_")[0]


def test_a_double_flip_is_the_identity():
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (224, 224, 3), dtype=np.uint8))
    flip = Augmentation(flip=True)
    matrix = crop_matrix(np.array([112.0, 112.0]), 224.0, 224, flip)
    once = warp_image(image, matrix, 224)
    twice = warp_image(Image.fromarray(once), matrix, 224)
    assert not np.array_equal(once, np.asarray(image))
    np.testing.assert_array_equal(once, np.asarray(image)[:, ::-1])
    np.testing.assert_array_equal(twice, np.asarray(image))
    # Keypoints, 3D points and poses under two flips.
    flip_index = mirror_index(SMPL_JOINT_NAMES)
    points = torch.randn(24, 4, dtype=torch.float64)
    once = augment_points_3d(points, flip, flip_index)
    assert not torch.allclose(once, points)
    torch.testing.assert_close(augment_points_3d(once, flip, flip_index), points)
    poses = PoseSampler(None).sample(4, torch.Generator().manual_seed(0)).double()
    torch.testing.assert_close(augment_rotmats(augment_rotmats(poses, flip), flip), poses)
    torch.testing.assert_close(flip_points(flip_points(points, flip_index), flip_index), points)


@pytest.mark.parametrize("flip", [False, True])
def test_pose_and_3d_points_move_together(flip):
    # Joints posed by the augmented rotations = augmented joints (the rest skeleton is symmetric).
    poses = PoseSampler(None).sample(8, torch.Generator().manual_seed(2)).double()
    rest = rest_joints(torch.float64)
    joints = forward_kinematics(poses, rest).positions
    aug = Augmentation(rotation_deg=-48.0, flip=flip)
    expected = augment_points_3d(joints - joints[:, :1], aug, JOINT_FLIP)
    posed = forward_kinematics(augment_rotmats(poses, aug), rest).positions
    torch.testing.assert_close(posed - posed[:, :1], expected, atol=1e-9, rtol=0)


@pytest.mark.parametrize("flip", [False, True])
def test_3d_rotation_matches_the_image_rotation(flip):
    # Points seen by a camera whose principal point is the box centre: projecting the
    # augmented 3D points gives the augmented 2D points in the crop.
    rng = np.random.default_rng(3)
    X = torch.from_numpy(rng.normal(size=(24, 3)) * [0.4, 0.6, 0.2] + [0, 0, 6.0])
    f, c, box = 1500.0, np.array([640.0, 360.0]), 400.0
    project = lambda P: (f * P[:, :2] / P[:, 2:]).numpy() + c  # noqa: E731
    aug = Augmentation(scale=0.9, rotation_deg=25.0, flip=flip)
    matrix = crop_matrix(c, box, 224, aug)
    crop_2d = transform_points(matrix, project(X))
    if flip:
        crop_2d = crop_2d[JOINT_FLIP]
    X_aug = augment_points_3d(X, aug, JOINT_FLIP)
    plain = crop_matrix(c, box, 224, Augmentation(scale=0.9))
    np.testing.assert_allclose(transform_points(plain, project(X_aug)), crop_2d, atol=1e-6)


def test_sampled_augmentations_follow_prohmr():
    rng = torch.Generator().manual_seed(0)
    draws = [Augmentation.sample(AugmentConfig(), rng) for _ in range(3000)]
    scale = np.array([a.scale for a in draws])
    rotation = np.array([a.rotation_deg for a in draws])
    translation = np.array([a.translation for a in draws])
    color = np.array([a.color for a in draws])
    assert 0.7 - 1e-6 <= scale.min() < 0.75 and 1.25 < scale.max() <= 1.3 + 1e-6
    assert np.abs(rotation).max() <= 60.0 + 1e-6 and np.abs(rotation).max() > 55.0
    assert abs((rotation != 0).mean() - 0.6) < 0.04
    assert np.abs(translation).max() <= 0.02 + 1e-9
    assert abs(np.mean([a.flip for a in draws]) - 0.5) < 0.04
    assert 0.8 <= color.min() < 0.82 and 1.18 < color.max() <= 1.2
    crops = [a.extreme_crop for a in draws if a.extreme_crop is not None]
    assert abs(len(crops) / len(draws) - 0.1) < 0.02
    assert crops.count("hips") > crops.count("shoulders") > crops.count("head") > 0
    assert Augmentation() == Augmentation(1.0, 0.0, (0.0, 0.0), False, (1.0, 1.0, 1.0), None)


def test_extreme_crop_boxes_keep_the_region():
    names = ("nose", "left_eye", "right_eye", "left_shoulder", "right_shoulder", "left_hip", "right_hip",
             "left_knee", "right_knee", "left_ankle", "right_ankle")  # fmt: skip
    y = np.array([10, 8, 8, 30, 30, 80, 80, 120, 120, 160, 160], float)
    x = np.array([50, 47, 53, 35, 65, 40, 60, 40, 60, 40, 60], float)
    kp = np.stack([x, y, np.ones_like(x)], -1)
    tops = {}
    for region in ("hips", "shoulders", "head"):
        center, side = extreme_crop_box(kp, names, region)
        tops[region] = center[1] + side / 2  # lowest y the box reaches
    assert 80 < tops["hips"] < 120  # reaches the hips, not the knees
    assert 30 < tops["shoulders"] < 80
    assert 10 < tops["head"] < 30
    kp[:3, 2] = 0  # the face is not detected: no head crop
    assert extreme_crop_box(kp, names, "head") is None
