"""PinholeCamera: projection against a slow per-point reference, batching, indexing, devices."""

from __future__ import annotations

import pytest
import torch

from hmrflow.geometry import rotvec_to_rotmat
from hmrflow.geometry.pinhole import PinholeCamera, default_focal_length


def _reference_projection(camera: PinholeCamera, points: torch.Tensor) -> torch.Tensor:
    """One point at a time with K [R | t] in float64: the oracle."""
    out = torch.empty(*points.shape[:-1], 2, dtype=torch.float64)
    for index in torch.cartesian_prod(*[torch.arange(n) for n in points.shape[:-1]]).reshape(-1, points.dim() - 1):
        cam = camera[tuple(index[:-1].tolist())]
        k = torch.eye(3, dtype=torch.float64)
        k[0, 0], k[1, 1] = cam.focal_length.double()
        k[:2, 2] = cam.principal_point.double()
        r = cam.rotation.double() if cam.rotation is not None else torch.eye(3, dtype=torch.float64)
        t = cam.translation.double() if cam.translation is not None else torch.zeros(3, dtype=torch.float64)
        p = k @ (r @ points[tuple(index.tolist())].double() + t)
        out[tuple(index.tolist())] = p[:2] / p[2]
    return out


def _cameras(shape: tuple[int, ...], generator: torch.Generator) -> PinholeCamera:
    size = 300 + 700 * torch.rand(*shape, 2, generator=generator)
    focal = 500 + 1000 * torch.rand(*shape, 2, generator=generator)
    principal = size * (0.4 + 0.2 * torch.rand(*shape, 2, generator=generator))
    rotation = rotvec_to_rotmat(0.3 * torch.randn(*shape, 3, generator=generator))
    translation = torch.randn(*shape, 3, generator=generator) * 0.2 + torch.tensor([0.0, 0.0, 5.0])
    return PinholeCamera(focal, principal, size, rotation, translation)


def test_projection_matches_the_per_point_reference() -> None:
    g = torch.Generator().manual_seed(0)
    camera = _cameras((2, 3), g)
    points = torch.randn(2, 3, 7, 3, generator=g) * 0.5
    expected = _reference_projection(camera, points)
    assert torch.allclose(camera.project(points).double(), expected, atol=1e-3)
    assert camera.projection_matrix().shape == (2, 3, 3, 4)


def test_centred_camera_and_default_focal() -> None:
    size = torch.tensor([[640.0, 480.0], [1920.0, 1080.0]])
    camera = PinholeCamera.centred(size)
    assert torch.equal(camera.principal_point, size / 2)
    assert torch.allclose(camera.focal_length[:, 0], default_focal_length(size))
    assert torch.equal(camera.focal_length[:, 0], camera.focal_length[:, 1])
    per_person = PinholeCamera.centred(size, torch.tensor([800.0, 900.0]))
    assert per_person.focal_length.tolist() == [[800.0, 800.0], [900.0, 900.0]]
    assert not camera.calibrated and camera.batch_shape == (2,)
    # A point on the optical axis lands on the principal point.
    assert torch.allclose(camera.project(torch.tensor([[[0.0, 0.0, 3.0]], [[0.0, 0.0, 2.0]]]))[:, 0], size / 2)


def test_indexing_flatten_and_devices_keep_every_field() -> None:
    g = torch.Generator().manual_seed(1)
    camera = _cameras((2, 3), g)
    flat = camera.flatten()
    assert flat.batch_shape == (6,) and flat.rotation.shape == (6, 3, 3)
    back = flat.unflatten(0, (2, 3))
    assert torch.equal(back.translation, camera.translation)
    one = camera[1, 2]
    assert one.batch_shape == () and torch.equal(one.rotation, camera.rotation[1, 2])
    double = camera.to(dtype=torch.float64)
    assert double.focal_length.dtype == torch.float64 and double.rotation.dtype == torch.float64
    meta = camera.to("meta")
    assert meta.translation.device.type == "meta"


@pytest.mark.parametrize("translation", [None, torch.tensor([0.1, -0.2, 4.0])])
def test_translation_offset_is_added_in_the_camera_frame(translation: torch.Tensor | None) -> None:
    camera = PinholeCamera.centred(torch.tensor([640.0, 480.0]), 700.0)
    points = torch.tensor([[0.0, 0.0, 0.0], [0.2, 0.1, 0.3]])
    offset = torch.tensor([0.0, 0.0, 3.0]) if translation is None else translation
    moved = PinholeCamera(camera.focal_length, camera.principal_point, camera.image_size, translation=offset)
    assert torch.allclose(camera.project(points, offset), moved.project(points))


def test_expand_repeats_every_field() -> None:
    g = torch.Generator().manual_seed(2)
    camera = _cameras((2,), g)
    wide = camera.expand(3, 2)
    assert wide.batch_shape == (3, 2) and wide.rotation.shape == (3, 2, 3, 3)
    points = torch.randn(2, 4, 3, generator=g) + torch.tensor([0.0, 0.0, 5.0])
    assert torch.equal(wide.project(points.expand(3, 2, 4, 3)), camera.project(points).expand(3, 2, 4, 2))
    single = PinholeCamera(torch.tensor([900.0, 700.0]), torch.tensor([300.0, 200.0]), torch.tensor([640.0, 480.0]))
    assert single.expand(4).focal_length.tolist() == [[900.0, 700.0]] * 4 and single.expand(4).rotation is None
