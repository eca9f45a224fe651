"""Synthetic image data: labels agree with the pixels; shards read back exactly; the Dataset."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from hmrflow.render.context import egl_available

AVAILABLE, WHY = egl_available()
pytestmark = pytest.mark.skipif(not AVAILABLE, reason=f"no EGL OpenGL context on this machine: {WHY}")

from hmrflow.body import BodyModel  # noqa: E402
from hmrflow.data.image_shards import (  # noqa: E402
    ImageShards,
    SyntheticImageDataset,
    generate_shards,
    shard_seed,
)
from hmrflow.data.pose_sources import load_cmu_demo  # noqa: E402
from hmrflow.data.synthetic_images import LABEL_FIELDS, SyntheticImageConfig, SyntheticImages  # noqa: E402
from hmrflow.geometry.cameras import perspective_projection  # noqa: E402

CONFIG = SyntheticImageConfig(resolution=96, part_labels=True)
BODY = "anny_lowpoly"


@pytest.fixture(scope="module")
def generator():
    with SyntheticImages(BodyModel.from_name(BODY), load_cmu_demo().rotmats, CONFIG) as gen:
        yield gen


@pytest.fixture(scope="module")
def examples(generator):
    return generator.sample(12, torch.Generator().manual_seed(0))


def test_labels_project_with_the_stored_camera(generator, examples):
    for e in examples:
        lab = {k: torch.from_numpy(np.asarray(v)) for k, v in e.labels.items()}
        out = generator.body(lab["rotmats"], lab["betas"], lab["translation"], keypoints=("coco", "feet"),
                             vertices=False)  # fmt: skip
        keypoints = torch.cat([out.keypoints["coco"], out.keypoints["feet"]])
        torch.testing.assert_close(keypoints, lab["keypoints_3d"], atol=1e-5, rtol=1e-5)
        uv = perspective_projection(keypoints, None, lab["focal_length"], lab["principal_point"])
        visible = lab["clean_2d"][:, 2] > 0
        assert visible.sum() >= CONFIG.min_visible
        torch.testing.assert_close(uv[visible], lab["clean_2d"][visible, :2], atol=2e-3, rtol=1e-4)
        # The normalised box coordinates are those of the keypoint data, in the new pixels.
        expected = (lab["clean_2d"][visible, :2] - lab["box_center"]) / lab["box_size"]
        torch.testing.assert_close(lab["target_2d"][visible, :2], expected, atol=1e-4, rtol=1e-4)
        assert e.image.shape == (96, 96, 3) and e.image.dtype == np.uint8
        assert tuple(lab["image_size"].tolist()) == (96.0, 96.0)


def test_visible_keypoints_lie_on_the_rendered_body(examples):
    hits, total = 0, 0
    for e in examples:
        body = np.pad(e.parts >= 0, 2)  # part labels: -1 where no body
        for x, y, v in e.labels["clean_2d"]:
            if v > 0:
                c, r = int(x) + 2, int(y) + 2
                hits += body[r - 2 : r + 3, c - 2 : c + 3].any()
                total += 1
    assert total > 100
    assert hits / total > 0.97


def test_images_vary_and_show_a_person(examples):
    coverage = np.array([(e.parts >= 0).mean() for e in examples])
    assert (coverage > 0.01).all()
    means = np.array([e.image.reshape(-1, 3).mean(0) for e in examples])
    assert means.std(0).min() > 5  # different backgrounds and colours
    qualities = {e.jpeg_quality for e in examples}
    assert len(qualities) > 1 and min(qualities) >= CONFIG.jpeg_quality[0]


def test_same_generator_state_gives_the_same_examples(generator):
    a = generator.sample(3, torch.Generator().manual_seed(5))
    b = generator.sample(3, torch.Generator().manual_seed(5))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.image, y.image)
        for name in LABEL_FIELDS:
            np.testing.assert_array_equal(x.labels[name], y.labels[name])


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    generate_shards(root, 7, body=BODY, config=CONFIG, seed=3, shard_size=4, workers=0, progress=False)
    return root


def test_shards_read_back_identical_samples(generator, shards):
    from PIL import Image

    from hmrflow.data.synthetic_images import encode_jpeg

    data = ImageShards(shards)
    assert len(data) == 7 and data.keypoint_names == generator.names
    expected = []
    for shard, count in ((0, 4), (1, 3)):
        expected += generator.sample(count, torch.Generator().manual_seed(shard_seed(3, shard)))
    for i, e in enumerate(expected):
        got = data[i]
        assert got.key == f"{i:09d}"
        for name in LABEL_FIELDS:
            np.testing.assert_array_equal(got.labels[name], np.asarray(e.labels[name], np.float32), err_msg=name)
        jpeg = np.asarray(Image.open(io.BytesIO(encode_jpeg(e.image, e.jpeg_quality))).convert("RGB"))
        np.testing.assert_array_equal(got.image, jpeg)
        assert np.abs(got.image.astype(int) - e.image).mean() < 12  # JPEG loss only (noise, textures)
        np.testing.assert_array_equal(got.parts, e.parts)


def test_workers_write_the_same_shards(shards, tmp_path):
    generate_shards(tmp_path, 7, body=BODY, config=CONFIG, seed=3, shard_size=4, workers=2, progress=False)
    for name in ("shard-000000.tar", "shard-000001.tar", "shard-000001.npz", "index.json"):
        assert (tmp_path / name).read_bytes() == (shards / name).read_bytes(), name


def test_dataset_gives_prohmr_samples_with_the_same_augmentation_code(shards):
    from hmrflow.data.prohmr_format import ProHMRSample

    plain = SyntheticImageDataset(shards)
    raw = ImageShards(shards)
    sample = plain[1]
    assert isinstance(sample, ProHMRSample) and sample.image.shape == (3, 224, 224)
    # Without augmentation the crop is the labelled box: evidence = normalised clean keypoints.
    clean = raw.labels["clean_2d"][1]
    visible = torch.from_numpy(clean[:, 2] > 0)
    target = torch.from_numpy(raw.labels["target_2d"][1])
    torch.testing.assert_close(sample.evidence[visible, :2], target[visible, :2], atol=1e-4, rtol=1e-4)
    assert (sample.evidence[~visible] == 0).all()
    torch.testing.assert_close(sample.evidence_3d[:, :3], torch.from_numpy(raw.labels["keypoints_3d"][1]))
    torch.testing.assert_close(sample.rotmats, torch.from_numpy(raw.labels["rotmats"][1]), atol=1e-5, rtol=1e-5)
    augmented = SyntheticImageDataset(shards, train=True, seed=0)
    batch = ProHMRSample.collate([augmented[i] for i in range(len(augmented))])
    assert batch.image.shape == (7, 3, 224, 224) and torch.isfinite(batch.image).all()
    assert not torch.equal(batch.evidence, ProHMRSample.collate([plain[i] for i in range(7)]).evidence)


def test_a_folder_without_an_index_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="index.json"):
        ImageShards(tmp_path)


def test_config_controls_resolution_and_context(generator):
    config = replace(CONFIG, resolution=64, context=2.0, part_labels=False)
    with SyntheticImages(generator.body, None, config, renderer=generator.renderer) as small:
        e = small.sample(1, torch.Generator().manual_seed(1))[0]
    assert e.image.shape == (64, 64, 3) and e.parts is None
    assert float(e.labels["box_size"]) == pytest.approx(32.0)
    np.testing.assert_allclose(e.labels["box_center"], [32.0, 32.0], atol=1e-4)


def test_impossible_settings_are_reported(generator):
    config = replace(CONFIG, min_visible=99)
    with SyntheticImages(generator.body, None, config, renderer=generator.renderer) as strict:
        with pytest.raises(ValueError, match="visible keypoints"):
            strict.sample(1, torch.Generator().manual_seed(0))
