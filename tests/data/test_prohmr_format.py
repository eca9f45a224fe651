from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from hmrflow.body.keypoints import BODY_25
from hmrflow.data.augment import Augmentation, AugmentConfig, augment_rotmats
from hmrflow.data.keypoint_files import EVIDENCE_NAMES
from hmrflow.data.mixing import MixedDataset, allocate
from hmrflow.data.prohmr_format import (
    EXTRA_19,
    KEYPOINT_NAMES_44,
    ProHMRDataset,
    ProHMRDatasetConfig,
    ProHMRFormatError,
    ProHMRSample,
    read_prohmr_npz,
)
from hmrflow.geometry.rotations import rotvec_to_rotmat
from hmrflow.models.resnet import IMAGENET_MEAN, IMAGENET_STD

Image = pytest.importorskip("PIL.Image")

N, W, H = 3, 320, 260


def _fields(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """ProHMR-format fields of N people; keypoints inside their boxes, some unconfident."""
    center = np.array([[150.0, 130.0], [170.0, 120.0], [140.0, 140.0]])
    scale = np.array([224.0, 150.0, 200.0]) / 200.0
    body_2d = np.zeros((N, 25, 3))
    body_2d[..., :2] = center[:, None] + (rng.random((N, 25, 2)) - 0.5) * 0.7 * scale[:, None, None] * 200
    body_2d[..., :2] = np.floor(body_2d[..., :2]) + 0.5
    body_2d[..., 2] = 1.0
    body_2d[0, BODY_25.index("left_wrist"), 2] = 0.0  # undetected: comes from the extra points
    extra_2d = np.zeros((N, 19, 3))
    extra_2d[:, :14, :2] = center[:, None] + 5.0
    extra_2d[:, :14, 2] = 1.0
    body_3d = np.concatenate([rng.normal(size=(N, 25, 3)), np.ones((N, 25, 1))], -1)
    extra_3d = np.concatenate([rng.normal(size=(N, 19, 3)), np.ones((N, 19, 1))], -1)
    return {
        "imgname": np.array([b"images/a.png", b"images/b.png", b"images/a.png"]),
        "center": center,
        "scale": scale,
        "body_pose": rng.normal(size=(N, 72)) * 0.3,
        "has_body_pose": np.array([1.0, 0.0, 1.0]),
        "betas": rng.normal(size=(N, 10)),
        "has_betas": np.array([1, 1, 0]),
        "body_keypoints_2d": body_2d,
        "extra_keypoints_2d": extra_2d,
        "body_keypoints_3d": body_3d,
        "extra_keypoints_3d": extra_3d,
        "gender": np.array(["m", "f", "x"]),
    }


def _dot_pixels(fields: dict[str, np.ndarray], row: int) -> np.ndarray:
    """An image with white 3x3 dots on row ``row``'s BODY_25 keypoints, on dim noise."""
    rng = np.random.default_rng(row)
    pixels = rng.integers(0, 40, (H, W, 3), dtype=np.uint8)
    for x, y, c in fields["body_keypoints_2d"][row]:
        if c > 0:
            pixels[int(y) - 1 : int(y) + 2, int(x) - 1 : int(x) + 2] = 255
    return pixels


@pytest.fixture()
def dataset_file(tmp_path):
    fields = _fields(np.random.default_rng(0))
    (tmp_path / "images").mkdir()
    Image.fromarray(_dot_pixels(fields, 0)).save(tmp_path / "images" / "a.png")
    Image.fromarray(_dot_pixels(fields, 1)).save(tmp_path / "images" / "b.png")
    path = tmp_path / "tiny.npz"
    np.savez(path, **fields)
    return path, fields


def _pixels(sample: ProHMRSample) -> np.ndarray:
    """The crop back in 0..255, (R, R, 3)."""
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    return ((sample.image * std + mean) * 255).permute(1, 2, 0).numpy()


def test_read_arrays(dataset_file):
    path, fields = dataset_file
    a = read_prohmr_npz(path)
    assert len(a) == N and a.imgname.tolist() == ["images/a.png", "images/b.png", "images/a.png"]
    np.testing.assert_allclose(a.box_size, [224.0, 150.0, 200.0], rtol=1e-6)
    assert a.has_body_pose.tolist() == [True, False, True] and a.has_betas.tolist() == [True, True, False]
    assert a.keypoints_2d.shape == (N, 44, 3) and a.keypoints_3d.shape == (N, 44, 4)
    assert a.keypoints_2d.dtype == np.float32
    assert a.gender.tolist() == [0, 1, -1]
    assert a.has_keypoints_2d.all() and a.has_keypoints_3d.all()
    assert len(a.subset(slice(1, 3))) == 2
    # Optional fields may be absent: zeros, no labels.
    minimal = path.with_name("minimal.npz")
    np.savez(minimal, imgname=fields["imgname"], center=fields["center"], scale=fields["scale"])
    m = read_prohmr_npz(minimal)
    assert not m.has_body_pose.any() and not m.has_betas.any() and not m.has_keypoints_2d.any()
    assert m.body_pose.shape == (N, 72) and m.extra_keypoints_3d.shape == (N, 19, 4) and m.gender is None


def test_bad_files_name_the_file_and_field(dataset_file, tmp_path):
    path, fields = dataset_file
    with pytest.raises(FileNotFoundError, match="absent.npz"):
        read_prohmr_npz(tmp_path / "absent.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ProHMRFormatError, match="junk.npz"):
        read_prohmr_npz(tmp_path / "junk.npz")
    nan_x = np.where(np.arange(4) == 0, np.nan, fields["extra_keypoints_3d"])  # x of confident points
    cases = {
        "no_center": ({k: v for k, v in fields.items() if k != "center"}, "missing field.*center"),
        "short_pose": ({**fields, "body_pose": fields["body_pose"][:, :69]}, r"'body_pose' has shape \(3, 69\)"),
        "bad_kp": ({**fields, "body_keypoints_2d": fields["body_keypoints_2d"][:, :18]}, "body_keypoints_2d"),
        "nan_kp": ({**fields, "extra_keypoints_3d": nan_x}, "NaN"),
        "zero_scale": ({**fields, "scale": np.array([1.0, 0.0, 1.0])}, "non-positive"),
    }  # fmt: skip
    for name, (data, message) in cases.items():
        np.savez(tmp_path / f"{name}.npz", **data)
        with pytest.raises(ProHMRFormatError, match=message) as info:
            read_prohmr_npz(tmp_path / f"{name}.npz")
        assert f"{name}.npz" in str(info.value)
    # NaN where there is no label is harmless: it reads as 0.
    pose = fields["body_pose"].copy()
    pose[1] = np.nan
    np.savez(tmp_path / "nan_unlabelled.npz", **{**fields, "body_pose": pose})
    assert (read_prohmr_npz(tmp_path / "nan_unlabelled.npz").body_pose[1] == 0).all()


def test_plain_crop_is_the_box(dataset_file):
    path, fields = dataset_file
    data = ProHMRDataset.from_file(path)
    sample = data[0]
    assert sample.image.shape == (3, 224, 224) and sample.keypoints_2d.shape == (44, 3)
    # Box 0 is 224 px centred on (150, 130): the crop is the image's pixels themselves.
    x0, y0 = 150 - 112, 130 - 112
    expected = np.asarray(Image.open(path.parent / "images" / "a.png"))[y0 : y0 + 224, x0 : x0 + 224]
    np.testing.assert_allclose(_pixels(sample), expected, atol=0.01)
    # Keypoints in normalised crop coordinates; unconfident ones zeroed.
    kp = fields["body_keypoints_2d"][0]
    norm = (kp[:, :2] - fields["center"][0]) / 224.0
    conf = kp[:, 2] > 0
    np.testing.assert_allclose(sample.keypoints_2d[:25, :2].numpy()[conf], norm[conf], atol=1e-5)
    assert (sample.keypoints_2d[:25][~torch.from_numpy(conf)] == 0).all()
    torch.testing.assert_close(
        sample.rotmats, rotvec_to_rotmat(torch.from_numpy(fields["body_pose"][0]).float().view(24, 3))
    )
    assert sample.has_pose == 1 and data[1].has_pose == 0 and data[2].has_betas == 0
    assert sample.image_size.tolist() == [W, H] and sample.box_size == 224 and not sample.flipped
    # Evidence: COCO-17 + feet from BODY_25; the undetected left wrist comes from the extra points.
    wrist = EVIDENCE_NAMES.index("left_wrist")
    extra_wrist = 25 + EXTRA_19.index("left_wrist")
    torch.testing.assert_close(sample.evidence[wrist], sample.keypoints_2d[extra_wrist])
    nose = EVIDENCE_NAMES.index("left_big_toe")
    torch.testing.assert_close(sample.evidence[nose], sample.keypoints_2d[BODY_25.index("left_big_toe")])
    # ProHMR ignores BODY_25 3D points 1..14; the evidence 3D falls back to the LSP ones.
    assert (sample.keypoints_3d[1:15, 3] == 0).all() and (sample.keypoints_3d[15:25, 3] == 1).all()
    assert (sample.evidence_3d[EVIDENCE_NAMES.index("right_knee"), 3] == 1).all()


@pytest.mark.parametrize("row", [0, 1])
def test_augmented_keypoints_land_on_their_dots(dataset_file, row):
    path, fields = dataset_file
    config = ProHMRDatasetConfig(augment=replace(AugmentConfig(), extreme_crop_probability=0.0))
    data = ProHMRDataset.from_file(path, config=config, train=True, seed=5)
    rotated = flipped = 0
    for epoch in range(6):
        data.set_epoch(epoch)
        sample = data[row]
        rotated += bool(sample.rotation_deg != 0)
        flipped += bool(sample.flipped)
        crop = _pixels(sample)
        inside = (sample.keypoints_2d[:25, 2] > 0) & (sample.keypoints_2d[:25, :2].abs() < 0.48).all(-1)
        for k in torch.nonzero(inside)[:, 0].tolist():
            x, y = ((sample.keypoints_2d[k, :2] + 0.5) * 224).tolist()
            # The dot (white, colour-scaled by >= 0.8) is under the keypoint; noise is below 40.
            assert crop[int(y), int(x)].min() > 120, (epoch, KEYPOINT_NAMES_44[k], crop[int(y), int(x)])
    assert rotated > 0 and flipped > 0


def test_augmentation_is_reproducible_and_consistent(dataset_file):
    path, fields = dataset_file
    data = ProHMRDataset.from_file(path, train=True, seed=1)
    a, b = data[0], data[0]
    torch.testing.assert_close(a.image, b.image)
    data.set_epoch(1)
    assert not torch.equal(data[0].image, a.image)
    # The pose follows the same augmentation as the image.
    plain = ProHMRDataset.from_file(path)[2]
    aug = Augmentation(rotation_deg=30.0, flip=True)
    sample = data.make_sample(2, aug)
    torch.testing.assert_close(sample.rotmats, augment_rotmats(plain.rotmats, aug))
    assert sample.flipped and sample.rotation_deg == 30.0


def test_batches_through_a_dataloader(dataset_file):
    path, _ = dataset_file
    data = ProHMRDataset.from_file(path, train=True, seed=0)
    loader = DataLoader(data, batch_size=2, collate_fn=ProHMRSample.collate)
    batch = next(iter(loader))
    assert batch.image.shape == (2, 3, 224, 224) and batch.evidence.shape == (2, 23, 3)
    assert batch.rotmats.shape == (2, 24, 3, 3) and batch.has_pose.shape == (2,)
    assert batch.to("cpu").index.tolist() == [0, 1]


def test_mixing_by_weights_gives_the_proportions():
    weights = [0.3, 0.1, 0.4, 0.2]  # ProHMR's H36M / MPII / COCO / MPI-INF-3DHP mix
    datasets = [[(d, i) for i in range(n)] for d, n in enumerate([500, 40, 3000, 7])]
    mixed = MixedDataset(datasets, weights, length=1000, seed=0)
    items = [mixed[i] for i in range(len(mixed))]
    counts = Counter(d for d, _ in items)
    assert [counts[d] for d in range(4)] == [300, 100, 400, 200] == allocate(weights, 1000)
    # Within a dataset, no repeats before it is used up; the small one is cycled evenly.
    assert len({i for d, i in items if d == 0}) == 300
    small = Counter(i for d, i in items if d == 3)
    assert set(small.values()) <= {28, 29}
    # Shuffled, reproducible, new plan per epoch.
    assert Counter(d for d, _ in items[:100])[2] not in (0, 100)
    assert [MixedDataset(datasets, weights, length=1000, seed=0)[i] for i in range(50)] == items[:50]
    mixed.set_epoch(1)
    assert [mixed[i] for i in range(50)] != items[:50]
    with pytest.raises(ValueError, match="empty"):
        MixedDataset([[], [1]], [0.5, 0.5])
    with pytest.raises(IndexError):
        mixed[1000]
