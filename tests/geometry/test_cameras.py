"""Tests for hmrflow.geometry.cameras: weak perspective, crop/full-image consistency."""

from __future__ import annotations

import pytest
import torch

from hmrflow.geometry.cameras import (
    box_to_camera_rotation,
    crop_camera_to_full_translation,
    crop_to_image_pixels,
    full_translation_to_crop_camera,
    image_to_crop_pixels,
    normalized_to_pixels,
    perspective_projection,
    pixels_to_normalized,
    translation_to_weak_perspective,
    weak_perspective_to_translation,
)
from hmrflow.geometry.rotations import rotvec_to_rotmat

F64 = torch.float64
F = 5000.0
CROP = 224.0


def random_setup(batch: tuple[int, ...], seed: int = 0) -> dict[str, torch.Tensor]:
    """Random crop cameras, boxes inside images of varied sizes."""
    g = torch.Generator().manual_seed(seed)

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return low + (high - low) * torch.rand(*batch, *shape, generator=g, dtype=F64)

    image_size = torch.stack((uniform(400, 1920), uniform(400, 1080)), dim=-1)
    box_size = uniform(100, 380)
    box_center = uniform(0.2, 0.8, 2) * image_size
    cam = torch.stack((uniform(0.6, 1.2), uniform(-0.2, 0.2), uniform(-0.2, 0.2)), dim=-1)
    return dict(cam=cam, box_center=box_center, box_size=box_size, image_size=image_size)


def test_weak_perspective_hand_value() -> None:
    t = weak_perspective_to_translation(torch.tensor([1.0, 0.1, -0.2], dtype=F64), F, 200.0)
    torch.testing.assert_close(t, torch.tensor([0.1, -0.2, 50.0], dtype=F64))


def test_weak_perspective_round_trip_with_leading_dims() -> None:
    cam = random_setup((2, 3))["cam"]
    t = weak_perspective_to_translation(cam, F, CROP)
    assert t.shape == (2, 3, 3) and t.dtype == F64
    torch.testing.assert_close(translation_to_weak_perspective(t, F, CROP), cam)
    focal = torch.full((2, 3), 1234.0, dtype=F64)
    t = weak_perspective_to_translation(cam, focal, CROP)
    torch.testing.assert_close(translation_to_weak_perspective(t, focal, CROP), cam)


def test_weak_perspective_meaning_for_points_at_root_depth() -> None:
    # Points in the plane Z = 0 land at crop/2 + s * crop/2 * (X + t_xy): the weak camera.
    cam = torch.tensor([0.8, 0.05, -0.1], dtype=F64)
    points = torch.tensor([[0.0, 0.0, 0.0], [0.3, -0.6, 0.0]], dtype=F64)
    centre = torch.tensor([CROP / 2, CROP / 2], dtype=F64)
    uv = perspective_projection(points, weak_perspective_to_translation(cam), F, centre)
    expected = CROP / 2 + 0.8 * CROP / 2 * (points[:, :2] + cam[1:])
    torch.testing.assert_close(uv, expected)


def test_perspective_projection_hand_values() -> None:
    points = torch.tensor([[0.1, -0.2, 0.0], [0.0, 0.0, 10.0]], dtype=F64)
    t = torch.tensor([0.0, 0.0, 10.0], dtype=F64)
    c = torch.tensor([320.0, 240.0], dtype=F64)
    uv = perspective_projection(points, t, 1000.0, c)
    torch.testing.assert_close(uv, torch.tensor([[330.0, 220.0], [320.0, 240.0]], dtype=F64))
    # (f_x, f_y) per axis; no principal point means (0, 0).
    uv = perspective_projection(points[:1], t, torch.tensor([1000.0, 500.0], dtype=F64))
    torch.testing.assert_close(uv, torch.tensor([[10.0, -10.0]], dtype=F64))


def test_perspective_projection_rotation_before_translation() -> None:
    # Quarter turn about +Y maps +X to -Z: point (1, 0, 0) -> (0, 0, -1), then t = (0, 0, 5).
    R = rotvec_to_rotmat(torch.tensor([0.0, torch.pi / 2, 0.0], dtype=F64))
    points = torch.tensor([[1.0, 0.5, 0.0]], dtype=F64)
    uv = perspective_projection(points, torch.tensor([0.0, 0.0, 5.0], dtype=F64), 100.0, None, R)
    torch.testing.assert_close(uv, torch.tensor([[0.0, 12.5]], dtype=F64))


def test_perspective_projection_batch_shapes() -> None:
    g = torch.Generator().manual_seed(1)
    points = torch.randn(2, 3, 5, 3, generator=g, dtype=F64) * 0.3
    t = torch.tensor([0.1, 0.2, 8.0], dtype=F64).expand(2, 3, 3)
    focal = torch.full((2, 3), 700.0, dtype=F64)
    focal_xy = torch.full((2, 3, 2), 700.0, dtype=F64)
    c = torch.full((2, 3, 2), 50.0, dtype=F64)
    R = rotvec_to_rotmat(torch.randn(2, 3, 3, generator=g, dtype=F64))
    uv = perspective_projection(points, t, focal, c, R)
    assert uv.shape == (2, 3, 5, 2)
    torch.testing.assert_close(perspective_projection(points, t, focal_xy, c, R), uv)
    one = perspective_projection(points[1, 2], t[1, 2], 700.0, c[1, 2], R[1, 2])
    torch.testing.assert_close(uv[1, 2], one)


def test_normalized_crop_coordinates_match_prohmr() -> None:
    # ProHMR: x_norm = x_px / crop - 0.5, obtained by projecting with f / crop and c = 0.
    px = torch.tensor([[0.0, 224.0], [112.0, 56.0]], dtype=F64)
    torch.testing.assert_close(
        pixels_to_normalized(px), torch.tensor([[-0.5, 0.5], [0.0, -0.25]], dtype=F64)
    )
    torch.testing.assert_close(normalized_to_pixels(pixels_to_normalized(px)), px)
    g = torch.Generator().manual_seed(2)
    points = torch.randn(4, 17, 3, generator=g, dtype=F64) * 0.4
    t = weak_perspective_to_translation(random_setup((4,))["cam"])
    in_pixels = perspective_projection(points, t, F, torch.full((4, 2), CROP / 2, dtype=F64))
    normalised = perspective_projection(points, t, F / CROP)
    torch.testing.assert_close(pixels_to_normalized(in_pixels), normalised)


def test_crop_image_pixel_maps() -> None:
    center = torch.tensor([400.0, 300.0], dtype=F64)
    corners = torch.tensor([[0.0, 0.0], [CROP / 2, CROP / 2], [CROP, CROP]], dtype=F64)
    mapped = crop_to_image_pixels(corners, center, 200.0)
    expected = torch.tensor([[300.0, 200.0], [400.0, 300.0], [500.0, 400.0]], dtype=F64)
    torch.testing.assert_close(mapped, expected)
    setup = random_setup((3,))
    g = torch.Generator().manual_seed(3)
    px = torch.rand(3, 10, 2, generator=g, dtype=F64) * CROP
    back = image_to_crop_pixels(
        crop_to_image_pixels(px, setup["box_center"], setup["box_size"]),
        setup["box_center"],
        setup["box_size"],
    )
    torch.testing.assert_close(back, px)


def test_full_translation_for_a_centred_box() -> None:
    cam = torch.tensor([0.9, 0.05, -0.03], dtype=F64)
    image_size = torch.tensor([640.0, 480.0], dtype=F64)
    box_size = torch.tensor(300.0, dtype=F64)
    t = crop_camera_to_full_translation(cam, image_size / 2, box_size, image_size)
    torch.testing.assert_close(t, torch.tensor([0.05, -0.03, 2 * F / (300.0 * 0.9)], dtype=F64))


def test_full_translation_sign_box_right_and_below_centre() -> None:
    # A box right of and below the image centre needs the body shifted to +x and +y (y down).
    cam = torch.tensor([1.0, 0.0, 0.0], dtype=F64)
    image_size = torch.tensor([1000.0, 1000.0], dtype=F64)
    box_center = torch.tensor([800.0, 700.0], dtype=F64)
    t = crop_camera_to_full_translation(cam, box_center, 200.0, image_size)
    assert t[0] > 0 and t[1] > 0
    uv = perspective_projection(torch.zeros(1, 3, dtype=F64), t, F, image_size / 2)
    torch.testing.assert_close(uv, torch.tensor([[800.0, 700.0]], dtype=F64))


def crop_then_map(points: torch.Tensor, setup: dict[str, torch.Tensor]) -> torch.Tensor:
    """Project with the crop camera in crop pixels, then map crop pixels into the image."""
    t_crop = weak_perspective_to_translation(setup["cam"], F, CROP)
    centre = torch.full_like(setup["box_center"], CROP / 2)
    uv_crop = perspective_projection(points, t_crop, F, centre)
    return crop_to_image_pixels(uv_crop, setup["box_center"], setup["box_size"], CROP)


def test_full_camera_matches_crop_camera_on_root_plane() -> None:
    setup = random_setup((2, 4), seed=5)
    g = torch.Generator().manual_seed(6)
    points = torch.randn(2, 4, 30, 3, generator=g, dtype=F64) * 0.5
    points[..., 2] = 0.0
    t_full = crop_camera_to_full_translation(
        setup["cam"], setup["box_center"], setup["box_size"], setup["image_size"], F
    )
    uv_full = perspective_projection(points, t_full, F, setup["image_size"] / 2)
    torch.testing.assert_close(uv_full, crop_then_map(points, setup), atol=1e-8, rtol=0)


def test_full_camera_off_plane_difference_with_matching_focal() -> None:
    # With the crop's focal in image pixels, the only difference is the 3D shift that
    # replaces the crop's shifted principal point:
    # exactly -(box_center - image_centre) Z / (Z + t_z).
    setup = random_setup((6,), seed=7)
    g = torch.Generator().manual_seed(8)
    points = torch.randn(6, 30, 3, generator=g, dtype=F64) * 0.5
    focal = F * setup["box_size"] / CROP
    t_full = crop_camera_to_full_translation(
        setup["cam"], setup["box_center"], setup["box_size"], setup["image_size"], focal
    )
    uv_full = perspective_projection(points, t_full, focal, setup["image_size"] / 2)
    depth = points[..., 2:] + t_full[..., None, 2:]
    offset = (setup["box_center"] - setup["image_size"] / 2).unsqueeze(-2)
    expected = crop_then_map(points, setup) - offset * points[..., 2:] / depth
    torch.testing.assert_close(uv_full, expected, atol=1e-8, rtol=0)


def test_full_camera_close_to_crop_camera_for_a_body() -> None:
    # A body-sized point cloud: agreement within 1.5 % of the box, shrinking in proportion
    # to the depth offsets (the weak-perspective approximation).
    setup = random_setup((8,), seed=9)
    g = torch.Generator().manual_seed(10)
    extent = torch.tensor([0.8, 1.8, 0.6], dtype=F64)
    points = (torch.rand(8, 50, 3, generator=g, dtype=F64) - 0.5) * extent
    t_full = crop_camera_to_full_translation(
        setup["cam"], setup["box_center"], setup["box_size"], setup["image_size"], F
    )

    def difference(points: torch.Tensor) -> torch.Tensor:
        uv_full = perspective_projection(points, t_full, F, setup["image_size"] / 2)
        return (uv_full - crop_then_map(points, setup)).norm(dim=-1)

    full_depth = difference(points)
    assert (full_depth < 0.015 * setup["box_size"].unsqueeze(-1)).all()
    assert full_depth.max() > 1e-3  # a real approximation, not an identity
    flatter = points * torch.tensor([1.0, 1.0, 0.1], dtype=F64)
    assert difference(flatter).max() < 0.15 * full_depth.max()


def test_full_translation_round_trip() -> None:
    setup = random_setup((3, 2), seed=11)
    t = crop_camera_to_full_translation(
        setup["cam"], setup["box_center"], setup["box_size"], setup["image_size"]
    )
    assert t.shape == (3, 2, 3)
    cam = full_translation_to_crop_camera(
        t, setup["box_center"], setup["box_size"], setup["image_size"]
    )
    torch.testing.assert_close(cam, setup["cam"])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_outputs_follow_input_dtype(dtype: torch.dtype) -> None:
    cam = torch.tensor([[1.0, 0.0, 0.0]], dtype=dtype)
    box_center = torch.tensor([[10.0, 20.0]], dtype=dtype)
    image_size = torch.tensor([[100.0, 100.0]], dtype=dtype)
    assert weak_perspective_to_translation(cam).dtype == dtype
    box_size = torch.tensor([50.0], dtype=dtype)
    t = crop_camera_to_full_translation(cam, box_center, box_size, image_size)
    assert t.dtype == dtype
    assert pixels_to_normalized(box_center.unsqueeze(-2)).dtype == dtype


def test_full_translation_with_two_focals() -> None:
    # (f_x, f_y): the box centre stays exact, the round trip holds, equal focals give the
    # one-focal result bit for bit, and the root plane is scaled by sqrt(f_x / f_y) in x.
    setup = random_setup((4,), seed=5)
    g = torch.Generator().manual_seed(6)
    focals = 800 + 1200 * torch.rand(4, 2, generator=g, dtype=F64)
    args = (setup["box_center"], setup["box_size"], setup["image_size"])
    t = crop_camera_to_full_translation(setup["cam"], *args, focals)
    torch.testing.assert_close(full_translation_to_crop_camera(t, *args, focals), setup["cam"])
    cam0 = setup["cam"].clone()
    cam0[:, 1:] = 0  # the body origin on the box centre
    t0 = crop_camera_to_full_translation(cam0, *args, focals)
    uv0 = perspective_projection(torch.zeros(4, 1, 3, dtype=F64), t0, focals, setup["image_size"] / 2)[:, 0]
    torch.testing.assert_close(uv0, setup["box_center"])
    # points of the root plane: the crop's pixels scaled about the box centre
    points = torch.tensor([[0.3, -0.5, 0.0]], dtype=F64).expand(4, 1, 3)
    mapped = crop_then_map(points, {**setup, "cam": cam0})[:, 0] - setup["box_center"]
    seen = perspective_projection(points, t0, focals, setup["image_size"] / 2)[:, 0] - setup["box_center"]
    ratio = (focals[:, 0] / focals[:, 1]).sqrt()
    torch.testing.assert_close(seen, mapped * torch.stack([ratio, 1 / ratio], -1))
    equal = focals[:, :1].expand(4, 2).float()
    one = crop_camera_to_full_translation(setup["cam"].float(), *(a.float() for a in args), equal[:, 0])
    two = crop_camera_to_full_translation(setup["cam"].float(), *(a.float() for a in args), equal)
    assert torch.equal(one, two)
    back_one = full_translation_to_crop_camera(one, *(a.float() for a in args), equal[:, 0])
    assert torch.equal(back_one, full_translation_to_crop_camera(one, *(a.float() for a in args), equal))


def _axis_to_ray_reference(ray: torch.Tensor) -> torch.Tensor:
    """Slow oracle: the rotation about ``z x d`` by the angle between ``z`` and ``d``, via axis-angle."""
    d = ray / ray.norm(dim=-1, keepdim=True)
    axis = torch.linalg.cross(torch.zeros_like(d).index_fill(-1, torch.tensor([2]), 1.0), d)
    angle = torch.atan2(axis.norm(dim=-1, keepdim=True), d[..., 2:])
    return rotvec_to_rotmat(torch.nn.functional.normalize(axis, dim=-1, eps=1e-12) * angle)


def test_box_to_camera_rotation_against_axis_angle_oracle() -> None:
    g = torch.Generator().manual_seed(3)
    center = torch.rand(4, 5, 2, generator=g, dtype=F64) * torch.tensor([1280.0, 960.0], dtype=F64)
    focal = 600 + 1500 * torch.rand(4, 5, 2, generator=g, dtype=F64)
    principal = torch.tensor([640.0, 480.0], dtype=F64) + 30 * torch.randn(4, 5, 2, generator=g, dtype=F64)
    R = box_to_camera_rotation(center, focal, principal)
    ray = torch.cat([(center - principal) / focal, torch.ones_like(center[..., :1])], -1)
    assert R.shape == (4, 5, 3, 3)
    torch.testing.assert_close(R, _axis_to_ray_reference(ray))
    torch.testing.assert_close(R @ R.mT, torch.eye(3, dtype=F64).expand_as(R))
    # the optical axis goes onto the ray, so the box centre projects to the principal point of the box frame
    torch.testing.assert_close(R[..., 2], ray / ray.norm(dim=-1, keepdim=True))


def test_box_to_camera_rotation_is_identity_at_the_principal_point_and_one_focal_is_two() -> None:
    principal = torch.tensor([[320.0, 240.0], [100.0, 50.0]])
    torch.testing.assert_close(box_to_camera_rotation(principal, torch.tensor([800.0, 500.0]), principal),
                               torch.eye(3).expand(2, 3, 3))  # fmt: skip
    center = torch.tensor([[500.0, 100.0]])
    one = box_to_camera_rotation(center, torch.tensor([900.0]), principal[:1])
    two = box_to_camera_rotation(center, torch.tensor([[900.0, 900.0]]), principal[:1])
    torch.testing.assert_close(one, two)
    # a box right of and above the centre: the ray's x is positive and its y negative (image y points down)
    assert one[0, 0, 2] > 0 and one[0, 1, 2] < 0
