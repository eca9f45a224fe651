"""The Anny exporter, pose conversion and fidelity against Anny itself (needs ``anny``).

Runs in CI (``pip install 'hmrflow[anny,plot]'``): a reduced export (120 phenotypes, an
800-vertex low-poly) compared with the shipped files; Anny's cache is built on first use
(about 100 s, ``$ANNY_CACHE_DIR``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from hmrflow.body import SMPL_JOINT_NAMES, BodyModel
from hmrflow.body.anny_export import AnnyExport, export_anny, load_anny, sample_adult_phenotypes, tposed_shapes
from hmrflow.body.anny_pose import (
    AnnyRig,
    anny_to_smpl,
    bone_segments,
    decode_local_ref,
    encode_local_ref,
    smpl_to_anny,
)
from hmrflow.body.anny_report import fidelity_report, render_pictures
from hmrflow.geometry.rotations import rotvec_to_rotmat

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def anny_model() -> Any:
    return load_anny()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, anny_model: Any) -> AnnyExport:
    del anny_model  # built once (cache) before the export loads it again
    return export_anny(tmp_path_factory.mktemp("anny"), num_samples=120, lowpoly_vertices=800)


def test_export_writes_loadable_files(exported: AnnyExport) -> None:
    assert [p.name for p in exported.paths] == ["anny.npz", "anny_lowpoly.npz"]
    for path, model in zip(exported.paths, (exported.full, exported.lowpoly)):
        loaded = BodyModel.from_file(path)
        assert torch.equal(loaded.template, model.template)
        assert torch.equal(loaded.joint_regressor, model.joint_regressor)
    ages = exported.train_phenotypes[:, 1]
    assert (ages > 0.5).all()  # adults only (Anny's age 0.5 is a young adult)
    assert abs(exported.train_phenotypes[:, 0].mean().item() - 0.5) < 1e-6  # gender-balanced


def test_export_matches_shipped_file(exported: AnnyExport) -> None:
    shipped, new = BodyModel.from_name("anny"), exported.full
    assert torch.equal(shipped.faces, new.faces)
    assert torch.allclose(shipped.weights, new.weights, atol=1e-6)
    for name in ("coco", "feet"):
        assert torch.allclose(shipped.keypoint_sets[name].vertex_weights, new.keypoint_sets[name].vertex_weights)
    # Fewer phenotypes: the mean shape and joints agree within a few mm, the leading shape
    # components span the same space.
    gap = (shipped.template - new.template).norm(dim=-1)
    assert gap.mean() < 3e-3 and gap.max() < 1e-2
    eye, zero = torch.eye(3).expand(1, 24, 3, 3), torch.zeros(1, 10)
    assert (shipped(eye, zero).joints - new(eye, zero).joints).norm(dim=-1).max() < 5e-3
    basis, _ = torch.linalg.qr(new.shapedirs.reshape(-1, 10).double())
    leading = shipped.shapedirs.reshape(-1, 10)[:, :5].double()
    residual = leading - basis @ (basis.T @ leading)
    assert (residual.norm(dim=0) / leading.norm(dim=0)).max() < 0.15


def test_exported_lowpoly(exported: AnnyExport) -> None:
    low, full = exported.lowpoly, exported.full
    assert low is not None and 750 <= low.num_vertices <= 850
    template = low.template.double()
    mirrored = torch.cdist(template * template.new_tensor([-1.0, 1.0, 1.0]), template).min(1).values
    assert mirrored.max() < 3e-4
    gen = torch.Generator().manual_seed(1)
    betas = torch.randn(4, 10, generator=gen)
    rotmats = rotvec_to_rotmat(0.3 * torch.randn(4, 24, 3, generator=gen))
    a = full(rotmats, betas, keypoints=("coco", "feet"), vertices=False)
    b = low(rotmats, betas, keypoints=("coco", "feet"), vertices=False)
    assert (a.joints - b.joints).norm(dim=-1).max() < 3e-3
    assert (a.keypoints["coco"] - b.keypoints["coco"]).norm(dim=-1).mean() < 5e-3


def test_bone_segments_follow_the_tree(anny_model: Any) -> None:
    segments = bone_segments(anny_model.bone_labels, anny_model.bone_parents)
    name = {label: SMPL_JOINT_NAMES[s] for label, s in zip(anny_model.bone_labels, segments)}
    assert name["spine05"] == "pelvis" and name["spine03"] == "spine1" and name["neck03"] == "neck"
    assert name["toe1-1.L"] == "left_foot" and name["finger1-2.R"] == "right_hand"
    assert name["metacarpal1.L"] == "left_wrist" and name["upperarm02.R"] == "right_shoulder"
    assert name["eye.L"] == "head" and name["shoulder01.L"] == "left_collar"


def test_local_ref_encoding_matches_anny(anny_model: Any) -> None:
    gen = torch.Generator().manual_seed(0)
    phenotypes = torch.rand(2, 6, generator=gen, dtype=torch.float64)
    bones = len(anny_model.bone_labels)
    params = torch.eye(4, dtype=torch.float64).repeat(2, bones, 1, 1)
    params[..., :3, :3] = rotvec_to_rotmat(0.3 * torch.randn(2, bones, 3, generator=gen, dtype=torch.float64))
    params[..., :3, 3] = 0.02 * torch.randn(2, bones, 3, generator=gen, dtype=torch.float64)
    out = anny_model(pose_parameters=params, phenotype_kwargs=phenotypes)
    rig = AnnyRig.from_anny(anny_model, phenotypes)
    assert torch.allclose(decode_local_ref(params, rig), out["bone_poses"], atol=1e-9)
    assert torch.allclose(encode_local_ref(out["bone_poses"], rig), params, atol=1e-9)


def test_pose_conversion_round_trip_and_mirror(anny_model: Any) -> None:
    gen = torch.Generator().manual_seed(2)
    rig = AnnyRig.from_anny(anny_model, torch.rand(3, 6, generator=gen, dtype=torch.float64))
    rotmats = rotvec_to_rotmat(0.5 * torch.randn(3, 24, 3, generator=gen, dtype=torch.float64))
    transl = torch.randn(3, 3, generator=gen, dtype=torch.float64)
    back = anny_to_smpl(smpl_to_anny(rotmats, rig, transl), rig)
    assert torch.allclose(back.rotmats, rotmats, atol=1e-9)
    assert torch.allclose(back.transl, transl, atol=1e-9)
    # The identity pose is the T-pose: in Anny's frame (Z up) the left wrist is far out at
    # +X, level with the shoulder.
    wrist, shoulder = rig.bone_labels.index("wrist.L"), rig.bone_labels.index("upperarm01.L")
    identity = torch.eye(3, dtype=torch.float64).expand(3, 24, 3, 3)
    posed = decode_local_ref(smpl_to_anny(identity, rig), rig)
    assert (posed[:, wrist, 0, 3] > posed[:, shoulder, 0, 3] + 0.15).all()
    assert (posed[:, wrist, 2, 3] - posed[:, shoulder, 2, 3]).abs().max() < 1e-6


def test_our_forward_matches_annys(anny_model: Any) -> None:
    body = BodyModel.from_name("anny").double()
    phenotypes = sample_adult_phenotypes(anny_model, 3, seed=7)
    report = fidelity_report(body, BodyModel.from_name("anny_lowpoly"), num_shapes=3, seed=7, model=anny_model,
                             log=None)  # fmt: skip
    assert report.shape.rmse_mm < 5.0
    assert report.joints.mean_mm < 10.0 and report.joints.max_mm < 20.0
    assert report.posed.mean_mm < 5.0
    assert report.posed_skinning.mean_mm < 1.0
    assert report.lowpoly_joints is not None and report.lowpoly_joints.max_mm < 3.0
    shapes = tposed_shapes(anny_model, phenotypes)
    assert shapes.vertices.shape == (3, body.num_vertices, 3)


def test_render_pictures(tmp_path: Path) -> None:
    from PIL import Image

    path = render_pictures(BodyModel.from_name("anny_lowpoly"), tmp_path / "anny.png", betas=torch.zeros(1, 10))
    image = torch.tensor(np.asarray(Image.open(path).convert("L")), dtype=torch.float32)
    assert image.numel() > 100_000 and image.std() > 10  # a picture, not a blank page
