"""Triangulation and extrinsics refinement on synthetic cameras with known 3D points."""

from __future__ import annotations

import math

import pytest
import torch

from hmrflow.geometry.bundle_adjustment import refine_extrinsics
from hmrflow.geometry.rotations import rotvec_to_rotmat
from hmrflow.geometry.triangulation import (
    project,
    projection_matrices,
    reprojection_errors,
    triangulate,
    triangulate_robust,
)

F64 = torch.float64


def ring_of_cameras(count: int = 4, distance: float = 4.0) -> dict[str, torch.Tensor]:
    """``count`` cameras on a circle around the origin, looking at it (OpenCV axes, y down)."""
    rotations, translations = [], []
    for v in range(count):
        yaw = 2 * math.pi * v / count + 0.3
        centre = torch.tensor([distance * math.sin(yaw), -1.0, -distance * math.cos(yaw)], dtype=F64)
        forward = -centre / centre.norm()
        right = torch.linalg.cross(torch.tensor([0.0, 1.0, 0.0], dtype=F64), forward)
        right = right / right.norm()
        down = torch.linalg.cross(forward, right)
        R = torch.stack([right, down, forward])
        rotations.append(R)
        translations.append(-R @ centre)
    focal = torch.tensor([[1500.0, 1490.0]] * count, dtype=F64)
    principal = torch.tensor([[540.0, 960.0]] * count, dtype=F64)
    return {"rotation": torch.stack(rotations), "translation": torch.stack(translations),
            "focal_length": focal, "principal_point": principal}  # fmt: skip


@pytest.fixture
def cameras() -> dict[str, torch.Tensor]:
    return ring_of_cameras()


@pytest.fixture
def points() -> torch.Tensor:
    return torch.rand(30, 3, generator=torch.Generator().manual_seed(0), dtype=F64) - 0.5


def test_projection_matrix_projects_like_the_camera(cameras, points) -> None:
    P = projection_matrices(**cameras)
    uv = project(points, P)  # (N, V, 2)
    camera = torch.einsum("vij,nj->nvi", cameras["rotation"], points) + cameras["translation"]
    expected = camera[..., :2] / camera[..., 2:] * cameras["focal_length"] + cameras["principal_point"]
    assert uv.shape == (30, 4, 2)
    assert torch.allclose(uv, expected)


def test_triangulate_recovers_exact_points(cameras, points) -> None:
    P = projection_matrices(**cameras)
    uv = project(points, P)
    found = triangulate(uv, torch.ones(30, 4, dtype=F64), P)
    assert torch.allclose(found, points, atol=1e-9)
    assert reprojection_errors(found, P, uv).max() < 1e-6


def test_triangulate_with_noise_and_weights(cameras, points) -> None:
    P = projection_matrices(**cameras)
    uv = project(points, P) + torch.randn(30, 4, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    weights = torch.tensor([1.0, 0.5, 0.9, 0.0], dtype=F64).expand(30, 4)  # view 3 unused
    found = triangulate(uv, weights, P)
    assert (found - points).norm(dim=-1).max() < 0.01  # 1 px noise at 4 m: millimetres
    uv[:, 3] += 500.0  # an unused view changes nothing
    assert torch.allclose(triangulate(uv, weights, P), found)


def test_fewer_than_two_views_give_nan(cameras, points) -> None:
    P = projection_matrices(**cameras)
    weights = torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=F64).expand(30, 4)
    assert torch.isnan(triangulate(project(points, P), weights, P)).all()


def test_robust_triangulation_drops_the_bad_view(cameras, points) -> None:
    P = projection_matrices(**cameras)
    uv = project(points, P)
    uv[:, 2] += torch.tensor([80.0, -60.0], dtype=F64)  # view 2 is off by 100 px
    result = triangulate_robust(uv, torch.ones(30, 4, dtype=F64), P, threshold=5.0)
    assert result.valid.all()
    assert torch.equal(result.used, torch.tensor([True, True, False, True]).expand(30, 4))
    assert torch.allclose(result.points, points, atol=1e-9)
    assert torch.allclose(result.errors[:, 2], torch.full((30,), 100.0, dtype=F64), atol=1e-6)
    assert result.errors[:, [0, 1, 3]].max() < 1e-6


def test_robust_triangulation_gives_up_without_agreement(cameras, points) -> None:
    P = projection_matrices(**cameras)
    offsets = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 0.5]], dtype=F64)
    uv = project(points[:, None] + offsets, P[None]).diagonal(dim1=1, dim2=2).movedim(-1, 1)  # each view its own point
    confidence = torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=F64).expand(30, 4)
    result = triangulate_robust(uv, confidence, P, threshold=5.0)
    assert not result.valid.any() and not result.used.any()
    assert torch.isnan(result.points).all() and torch.isnan(result.errors).all()


def test_robust_triangulation_needs_two_views() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        triangulate_robust(torch.zeros(1, 2, 2), torch.ones(1, 2), torch.zeros(2, 3, 4), 1.0, min_views=1)


def test_refine_extrinsics_moves_a_camera_back(cameras, points) -> None:
    P = projection_matrices(**cameras)
    uv = project(points, P)
    turn = rotvec_to_rotmat(torch.tensor([0.01, -0.03, 0.02], dtype=F64))
    rotation = cameras["rotation"].clone()
    rotation[1] = turn @ rotation[1]
    translation = cameras["translation"].clone()
    translation[1] += torch.tensor([0.05, -0.02, 0.08], dtype=F64)
    free = torch.tensor([False, True, False, False])
    out = refine_extrinsics(uv, torch.ones(30, 4, dtype=F64), rotation, translation, cameras["focal_length"],
                            cameras["principal_point"], free, points + 0.02)  # fmt: skip
    assert out.loss_after < 1e-6 < out.loss_before
    assert torch.allclose(out.rotation, cameras["rotation"], atol=1e-6)
    assert torch.allclose(out.translation, cameras["translation"], atol=1e-5)
    assert torch.allclose(out.points, points, atol=1e-5)
    assert out.turn_deg[0] == 0 and out.turn_deg[1] > 1.0 and out.shift_m[1] > 0.05


def test_refine_extrinsics_keeps_two_cameras_fixed(cameras, points) -> None:
    with pytest.raises(ValueError, match="two cameras fixed"):
        refine_extrinsics(torch.zeros(30, 4, 2), torch.ones(30, 4), cameras["rotation"], cameras["translation"],
                          cameras["focal_length"], cameras["principal_point"],
                          torch.tensor([True, True, True, False]), points)  # fmt: skip
