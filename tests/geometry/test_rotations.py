"""Tests for hmrflow.geometry.rotations (ProHMR 6D column order, Gram-Schmidt, residual)."""

from __future__ import annotations

import math

import torch

from hmrflow.geometry.rotations import (
    angle_to_rotmat,
    rotmat_to_rotvec,
    rotmat_to_sixd,
    rotvec_to_rotmat,
    rotvec_to_sixd,
    sixd_orthonormality_residual,
    sixd_to_rotmat,
    sixd_to_rotvec,
)

F64 = torch.float64


def random_rotvecs(*shape: int, seed: int = 0) -> torch.Tensor:
    """Axis-angle vectors with angles in [0.1, 3.0] rad (away from 0 and pi)."""
    generator = torch.Generator().manual_seed(seed)
    axis = torch.randn(*shape, 3, generator=generator, dtype=F64)
    axis = axis / axis.norm(dim=-1, keepdim=True)
    angle = 0.1 + 2.9 * torch.rand(*shape, 1, generator=generator, dtype=F64)
    return axis * angle


def test_rotvec_rotmat_round_trip_with_leading_dims() -> None:
    rotvec = random_rotvecs(2, 3, 4)
    R = rotvec_to_rotmat(rotvec)
    assert R.shape == (2, 3, 4, 3, 3) and R.dtype == F64
    torch.testing.assert_close(rotmat_to_rotvec(R), rotvec, atol=1e-10, rtol=0)


def test_rotmat_sixd_round_trip() -> None:
    R = rotvec_to_rotmat(random_rotvecs(5, 7, seed=1))
    sixd = rotmat_to_sixd(R)
    assert sixd.shape == (5, 7, 6) and sixd.dtype == F64
    torch.testing.assert_close(sixd_to_rotmat(sixd), R, atol=1e-12, rtol=0)
    torch.testing.assert_close(rotmat_to_sixd(sixd_to_rotmat(sixd)), sixd, atol=1e-12, rtol=0)


def test_rotvec_sixd_round_trip() -> None:
    rotvec = random_rotvecs(3, 24, seed=2)
    torch.testing.assert_close(sixd_to_rotvec(rotvec_to_sixd(rotvec)), rotvec, atol=1e-10, rtol=0)


def test_sixd_holds_first_two_columns_hand_value() -> None:
    # Quarter turn about +Z: x -> y, y -> -x. Columns: (0, 1, 0) and (-1, 0, 0).
    R = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=F64)
    expected = torch.tensor([0.0, 1.0, 0.0, -1.0, 0.0, 0.0], dtype=F64)
    torch.testing.assert_close(rotmat_to_sixd(R), expected)
    torch.testing.assert_close(sixd_to_rotmat(expected), R)
    torch.testing.assert_close(
        rotvec_to_sixd(torch.tensor([0.0, 0.0, math.pi / 2], dtype=F64)), expected
    )


def test_rotations_act_on_column_vectors() -> None:
    # Quarter turn about +X takes +Y to +Z when applied as R @ v.
    R = rotvec_to_rotmat(torch.tensor([math.pi / 2, 0.0, 0.0], dtype=F64))
    e_y = torch.tensor([0.0, 1.0, 0.0], dtype=F64)
    torch.testing.assert_close(R @ e_y, torch.tensor([0.0, 0.0, 1.0], dtype=F64))


def test_gram_schmidt_of_non_orthonormal_input_hand_value() -> None:
    # a = (1, 1, 0), b = (0, 1, 0): c0 = a / sqrt 2, c1 = (-1, 1, 0) / sqrt 2, c2 = c0 x c1 = e_z.
    x = torch.tensor([1.0, 1.0, 0.0, 0.0, 1.0, 0.0], dtype=F64)
    r = 1 / math.sqrt(2)
    expected = torch.tensor([[r, -r, 0.0], [r, r, 0.0], [0.0, 0.0, 1.0]], dtype=F64)
    torch.testing.assert_close(sixd_to_rotmat(x), expected)


def test_gram_schmidt_keeps_first_column_direction_and_plane() -> None:
    generator = torch.Generator().manual_seed(3)
    x = 3 * torch.randn(4, 6, 6, generator=generator, dtype=F64)
    R = sixd_to_rotmat(x)
    a, b = x[..., :3], x[..., 3:]
    torch.testing.assert_close(R[..., :, 0], a / a.norm(dim=-1, keepdim=True))
    # The second column lies in the plane of a and b, on b's side of a.
    normal = torch.linalg.cross(a, b)
    assert (R[..., :, 1] * normal).sum(-1).abs().max() < 1e-10
    assert ((R[..., :, 1] * b).sum(-1) > 0).all()
    eye = torch.eye(3, dtype=F64).expand_as(R)
    torch.testing.assert_close(R.transpose(-1, -2) @ R, eye)
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(4, 6, dtype=F64))


def test_row_order_is_not_accepted_as_column_order() -> None:
    # Reading the 6D as rows (pytorch3d) would give R^T for a non-symmetric R.
    R = rotvec_to_rotmat(torch.tensor([0.3, -0.7, 1.1], dtype=F64))
    rows = R[:2, :].reshape(6)
    assert (sixd_to_rotmat(rows) - R).abs().max() > 0.1


def test_orthonormality_residual_zero_on_rotations() -> None:
    sixd = rotvec_to_sixd(random_rotvecs(3, 5, seed=4))
    residual = sixd_orthonormality_residual(sixd)
    assert residual.shape == (3, 5)
    assert residual.abs().max() < 1e-12


def test_orthonormality_residual_hand_values() -> None:
    # a = (1, 2, 2), b = (0, 0, 3): A^T A = [[9, 6], [6, 9]], minus I: 64 + 36 + 36 + 64.
    x = torch.tensor(
        [[1.0, 2.0, 2.0, 0.0, 0.0, 3.0], [2.0, 0.0, 0.0, 0.0, 1.0, 0.0]], dtype=F64
    )
    expected = torch.tensor([200.0, 9.0], dtype=F64)
    torch.testing.assert_close(sixd_orthonormality_residual(x), expected)


def test_rotmat_midpoint_halves_the_arc_from_either_end():
    from hmrflow.geometry import rotmat_midpoint

    a, b = rotvec_to_rotmat(random_rotvecs(64, seed=1)), rotvec_to_rotmat(random_rotvecs(64, seed=2))
    middle = rotmat_midpoint(a, b)
    angle = lambda p, q: rotmat_to_rotvec(p.transpose(-1, -2) @ q).norm(dim=-1)  # noqa: E731
    torch.testing.assert_close(angle(a, middle), angle(a, b) / 2)
    torch.testing.assert_close(angle(middle, b), angle(a, b) / 2)
    torch.testing.assert_close(rotmat_midpoint(b, a), middle)
    torch.testing.assert_close(rotmat_midpoint(a[:1], a[:1]), a[:1])


def test_angle_to_rotmat_matches_the_rotation_vector_about_its_axis() -> None:
    angle = torch.linspace(-3.0, 3.0, 12, dtype=F64).view(3, 4)
    for index, name in enumerate("xyz"):
        rotvec = torch.zeros(3, 4, 3, dtype=F64)
        rotvec[..., index] = angle
        expected = rotvec_to_rotmat(rotvec)
        torch.testing.assert_close(angle_to_rotmat(angle, index), expected)
        torch.testing.assert_close(angle_to_rotmat(angle, name.upper()), expected)
    quarter = angle_to_rotmat(torch.tensor(math.pi / 2, dtype=F64), "x")
    torch.testing.assert_close(quarter @ torch.tensor([0.0, 1.0, 0.0], dtype=F64), torch.tensor([0.0, 0.0, 1.0], dtype=F64))
