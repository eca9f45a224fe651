"""The headless renderer: pixels, colours, depth, labels, translucency, overlays, errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from hmrflow.geometry.pinhole import PinholeCamera
from hmrflow.render.camera import Camera
from hmrflow.render.context import RenderBackendError, create_context, egl_available
from hmrflow.render.mesh import Mesh, Topology, markers, part_labels, smooth_normals
from hmrflow.render.overlay import overlay_meshes, pose_meshes
from hmrflow.render.renderer import Light, Renderer

AVAILABLE, WHY = egl_available()
pytestmark = pytest.mark.skipif(not AVAILABLE, reason=f"no EGL OpenGL context on this machine: {WHY}")


@pytest.fixture(scope="module")
def renderer():
    with Renderer() as r:
        yield r


def inside_triangle(pixels: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Signed-area test of points (..., 2) against a 2D triangle (3, 2); also distance to edges."""
    signs, distance = [], []
    for a, b in ((0, 1), (1, 2), (2, 0)):
        edge = tri[b] - tri[a]
        rel = pixels - tri[a]
        cross = edge[0] * rel[..., 1] - edge[1] * rel[..., 0]
        signs.append(cross)
        distance.append(np.abs(cross) / np.linalg.norm(edge))
    s = np.stack(signs)
    return ((s > 0).all(0) | (s < 0).all(0)), np.min(distance, axis=0)


@pytest.mark.parametrize(
    "camera",
    [Camera.from_focal(100.0, (64, 48)), Camera((80.0, 120.0), (20.5, 30.0), (50, 70))],
    ids=["centred", "off-centre-fx-fy"],
)
def test_triangle_covers_the_right_pixels_with_the_right_colour(renderer, camera):
    tri3d = np.array([[-0.2, -0.2, 2.0], [0.4, -0.15, 2.5], [-0.1, 0.3, 1.8]], np.float32)
    out = renderer.render(Mesh(tri3d, [[0, 1, 2]], color=(1.0, 0.0, 0.0), shading=0.0), camera)
    tri2d = camera.project(tri3d)
    # OpenCV projection by hand: u = fx X / Z + cx.
    (fx, fy), (cx, cy) = camera.focal_length, camera.principal_point
    np.testing.assert_allclose(tri2d[:, 0], fx * tri3d[:, 0] / tri3d[:, 2] + cx, rtol=1e-6)
    np.testing.assert_allclose(tri2d[:, 1], fy * tri3d[:, 1] / tri3d[:, 2] + cy, rtol=1e-6)
    rows, cols = np.mgrid[0 : camera.height, 0 : camera.width]
    centres = np.stack([cols + 0.5, rows + 0.5], axis=-1)  # pixel (col, row) has its centre at +0.5
    inside, distance = inside_triangle(centres, tri2d)
    covered = out.alpha > 0.5
    clear = distance > 1e-3  # pixel centres on an edge may go either way
    assert covered.sum() > 100
    np.testing.assert_array_equal(covered[clear], inside[clear])
    assert (out.color[covered] == [255, 0, 0]).all()
    assert (out.color[~covered] == 0).all()


def test_lambert_shading_of_a_triangle_facing_the_light(renderer):
    camera = Camera.from_focal(100.0, (32, 32))
    tri = np.array([[-1, -1, 2.0], [1, -1, 2.0], [0, 1, 2.0]], np.float32)  # normal along -Z (towards the camera)
    color = np.array([0.8, 0.4, 0.2])
    cases = ((0.3, (0, 0, 1), 1.0), (0.3, (0, 0, -1), 0.3), (0.5, (1, 0, 1), 0.5 + 0.5 * 2**-0.5))
    for ambient, direction, expect in cases:
        light = Light(direction=direction, ambient=ambient, specular=0.0)
        out = renderer.render(Mesh(tri, [[0, 1, 2]], colors=np.tile(color, (3, 1))), camera, light=light)
        np.testing.assert_allclose(out.color[16, 16] / 255.0, color * expect, atol=1.5 / 255)


def test_depth_is_metric_camera_z(renderer):
    camera = Camera((90.0, 110.0), (33.0, 27.0), (64, 56))
    # A tilted plane Z = 3 + 0.5 X - 0.3 Y, as two triangles.
    xy = np.array([[-2, -2], [2, -2], [2, 2], [-2, 2]], np.float32)
    quad = np.concatenate([xy, (3 + 0.5 * xy[:, :1] - 0.3 * xy[:, 1:])], axis=1)
    out = renderer.render(Mesh(quad, [[0, 1, 2], [0, 2, 3]]), camera, depth=True, labels=True)
    rows, cols = np.mgrid[0 : camera.height, 0 : camera.width]
    # Ray through a pixel centre: X = Z x, Y = Z y with x = (u - cx) / fx; intersect with the plane.
    x = (cols + 0.5 - camera.principal_point[0]) / camera.focal_length[0]
    y = (rows + 0.5 - camera.principal_point[1]) / camera.focal_length[1]
    z = 3.0 / (1 - 0.5 * x + 0.3 * y)
    valid = out.depth > 0
    assert valid.mean() > 0.9
    np.testing.assert_allclose(out.depth[valid], z[valid], rtol=1e-4)
    assert (out.labels[valid] == 0).all() and (out.labels[~valid] == -1).all()


def test_nearest_surface_wins_and_background_is_zero(renderer):
    camera = Camera.from_focal(50.0, (40, 40))
    near = np.array([[-1, -1, 2.0], [1, -1, 2.0], [0, 1, 2.0]], np.float32)
    far = near * np.float32([3, 3, 2])  # Z = 4, larger on screen than `near`
    meshes = [Mesh(far, [[0, 1, 2]], labels=[5, 5, 5]), Mesh(near, [[0, 1, 2]], labels=[2, 2, 2])]
    for order in (meshes, meshes[::-1]):
        out = renderer.render(order, camera, depth=True, labels=True)
        assert out.labels[20, 20] == 2 and out.depth[20, 20] == pytest.approx(2.0)
        assert out.labels[10, 1] == 5 and out.depth[10, 1] == pytest.approx(4.0, rel=1e-5)  # only `far` there
        assert out.labels[39, 0] == -1 and out.depth[39, 0] == 0


def test_part_labels_are_never_blended(renderer):
    body_mesh = _posed_body()
    labels = part_labels(body_mesh["weights"])
    camera = Camera.from_focal(600.0, (128, 128))
    out = renderer.render(Mesh(body_mesh["vertices"], body_mesh["faces"], labels=labels), camera, labels=True)
    values = set(np.unique(out.labels).tolist())
    assert values <= set(range(-1, 24)) and len(values) >= 15
    # Every labelled pixel carries the label of one vertex of the triangle it shows: here
    # just check that labels are integers of the mesh, and a triangle labelled (3, 7, 7)
    # shows only 3 and 7, never 4, 5 or 6.
    tri = np.array([[-1, -1, 2.0], [1, -1, 2.0], [0, 1, 2.0]], np.float32)
    out = renderer.render(Mesh(tri, [[0, 1, 2]], labels=[3, 7, 7]), Camera.from_focal(50.0, (40, 40)), labels=True)
    assert set(np.unique(out.labels).tolist()) <= {-1, 3, 7}


def test_translucent_samples_blend_over_the_opaque_mode(renderer):
    camera = Camera.from_focal(50.0, (40, 40))
    tri = np.array([[-1, -1, 3.0], [1, -1, 3.0], [0, 1, 3.0]], np.float32)
    mode = Mesh(tri, [[0, 1, 2]], color=(1.0, 0.0, 0.0), shading=0.0)
    sample = Mesh(tri * np.float32([1, 1, 0.8]), [[0, 1, 2]], color=(0.0, 0.0, 1.0), alpha=0.4, shading=0.0)
    for meshes in ([mode, sample], [sample, mode]):  # the order given does not matter
        out = renderer.render(meshes, camera, background=(0.0, 1.0, 0.0), depth=True)
        np.testing.assert_allclose(out.color[20, 20], [0.6 * 255, 0, 0.4 * 255], atol=1.5)
        assert out.depth[20, 20] == pytest.approx(3.0)  # the translucent mesh is not in the depth image
    # A translucent mesh alone over a background: alpha 0.4, background shows through.
    out = renderer.render([sample], camera, background=(0.0, 1.0, 0.0))
    np.testing.assert_allclose(out.color[20, 20], [0, 0.6 * 255, 0.4 * 255], atol=1.5)
    assert out.alpha[20, 20] == pytest.approx(0.4, abs=1 / 255)


@pytest.mark.parametrize("kwargs", [{"supersample": 2}, {"samples": 4}, {"samples": 2, "supersample": 3}])
def test_antialiasing_softens_edges_and_keeps_the_area(renderer, kwargs):
    camera = Camera.from_focal(100.0, (48, 48))
    tri = np.array([[-0.2, -0.2, 2.0], [0.4, -0.15, 2.5], [-0.1, 0.3, 1.8]], np.float32)
    mesh = Mesh(tri, [[0, 1, 2]], color=(1.0, 1.0, 1.0), shading=0.0)
    with Renderer(context=renderer.ctx, **kwargs) as smooth:
        soft = smooth.render(mesh, camera, labels=True)
    hard = renderer.render(mesh, camera, labels=True)
    (x0, y0), (x1, y1), (x2, y2) = camera.project(tri)
    area = abs((x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)) / 2
    assert soft.alpha.sum() == pytest.approx(area, rel=0.02)
    partial = (soft.alpha > 0.05) & (soft.alpha < 0.95)
    assert partial.sum() > 10
    assert ((soft.alpha > 0.99) <= (hard.alpha > 0.5)).all()  # full coverage only inside
    np.testing.assert_array_equal(soft.color[..., 0], np.round(soft.alpha * 255))  # white, premultiplied
    np.testing.assert_array_equal(soft.labels, hard.labels)  # labels are never anti-aliased


def test_a_reused_renderer_gives_what_a_fresh_one_gives(renderer):
    body_mesh = _posed_body()
    topology = Topology(body_mesh["faces"])
    small = Mesh(np.array([[-1, -1, 2.0], [1, -1, 2.0], [0, 1, 2.0]], np.float32), [[0, 1, 2]])
    body = Mesh(body_mesh["vertices"], topology)
    for camera in (Camera.from_focal(300.0, (64, 80)), Camera.from_focal(500.0, (96, 96))):
        renderer.render(small, camera)  # grow and shrink buffers, change sizes
        reused = renderer.render(body, camera, depth=True)
        again = renderer.render(body, camera, depth=True)  # the faces stay on the GPU
        with Renderer(context=renderer.ctx) as fresh:
            expected = fresh.render(Mesh(body_mesh["vertices"], topology), camera, depth=True)
        for out in (reused, again):
            np.testing.assert_array_equal(out.color, expected.color)
            np.testing.assert_array_equal(out.depth, expected.depth)
    # Normals from a Topology and from plain faces agree.
    plain = Mesh(body_mesh["vertices"], body_mesh["faces"]).normals
    np.testing.assert_allclose(body.normals, plain, atol=1e-5)


def test_renderers_with_their_own_contexts_do_not_interfere(renderer):
    camera = Camera.from_focal(100.0, (48, 48))
    tri = np.array([[-0.2, -0.2, 2.0], [0.4, -0.15, 2.5], [-0.1, 0.3, 1.8]], np.float32)
    mesh = Mesh(tri, [[0, 1, 2]], color=(0.2, 0.9, 0.4))
    before = renderer.render(mesh, camera, depth=True)
    other = Renderer()  # a second context becomes current ...
    other.render(Mesh(tri * 2, [[0, 1, 2]]), Camera.from_focal(50.0, (20, 30)))
    other.release()  # ... and is destroyed
    after = renderer.render(mesh, camera, depth=True)
    np.testing.assert_array_equal(before.color, after.color)
    np.testing.assert_array_equal(before.depth, after.depth)


def test_projected_joints_land_on_rendered_joint_markers(renderer):
    body_mesh = _posed_body()
    joints = body_mesh["joints"]
    camera = Camera((450.0, 450.0), (150.0, 170.0), (320, 360))
    radius = 0.02
    out = renderer.render(markers(joints, radius=radius), camera, labels=True)
    projected = camera.project(joints)
    from hmrflow.geometry.cameras import perspective_projection

    torch_projected = perspective_projection(
        torch.from_numpy(joints), None, torch.tensor(camera.focal_length), torch.tensor(camera.principal_point)
    ).numpy()
    np.testing.assert_allclose(projected, torch_projected, atol=1e-3)
    rows, cols = np.mgrid[0 : camera.height, 0 : camera.width]
    checked = 0
    for j in range(len(joints)):
        mask = out.labels == j + 1
        disc = np.pi * (camera.focal_length[0] * radius / joints[j, 2]) ** 2
        if mask.sum() < 0.8 * disc:  # a marker partly hidden behind another one
            continue
        assert 0 < torch_projected[j, 0] < camera.width and 0 < torch_projected[j, 1] < camera.height
        centroid = np.array([cols[mask].mean() + 0.5, rows[mask].mean() + 0.5])
        assert np.linalg.norm(centroid - torch_projected[j]) < 0.5, j
        checked += 1
    assert checked >= 16


def test_the_renderer_camera_of_a_pinhole_camera_projects_alike():
    pinhole = PinholeCamera(torch.tensor([700.0, 650.0]), torch.tensor([300.0, 260.0]), torch.tensor([640.0, 480.0]))
    camera = Camera.from_pinhole(pinhole)
    points = torch.tensor([[0.1, -0.3, 3.0], [-0.4, 0.2, 5.0]])
    np.testing.assert_allclose(camera.project(points.numpy()), pinhole.project(points).numpy(), rtol=1e-6)
    assert camera.image_size == (640, 480)
    with pytest.raises(ValueError, match="one camera"):
        Camera.from_pinhole(PinholeCamera.centred(torch.tensor([[640.0, 480.0], [320.0, 240.0]])))


def test_body_overlay_on_a_photo_with_the_fit_camera(renderer):
    body_mesh = _posed_body()
    photo = np.random.default_rng(0).integers(0, 256, (200, 160, 3), dtype=np.uint8)
    camera = Camera.from_pinhole(PinholeCamera.centred(torch.tensor([160.0, 200.0]), torch.tensor(220.0)))
    assert camera.principal_point == (80.0, 100.0)
    meshes = pose_meshes(body_mesh["vertices"], body_mesh["faces"], samples=body_mesh["vertices"][None] + [0.05, 0, 0])
    out = overlay_meshes(photo, meshes, camera, renderer)
    coverage = renderer.render(meshes, camera).alpha
    np.testing.assert_array_equal(out[coverage == 0], photo[coverage == 0])
    assert (np.abs(out[coverage == 1].astype(int) - photo[coverage == 1]).sum(-1) > 0).mean() > 0.95
    # The silhouette spans exactly the projected vertices' extent (to a pixel).
    silhouette = renderer.render(meshes[0], camera).alpha > 0.5
    rows, cols = np.nonzero(silhouette)
    projected = camera.project(body_mesh["vertices"])
    np.testing.assert_allclose([cols.min(), rows.min()], projected.min(0), atol=1.0)
    np.testing.assert_allclose([cols.max() + 1, rows.max() + 1], projected.max(0), atol=1.0)
    with pytest.raises(ValueError, match="camera"):
        overlay_meshes(photo[:100], meshes, camera, renderer)


def test_smooth_normals_of_a_sphere_point_outwards():
    from hmrflow.render.mesh import icosphere

    sphere = icosphere(2)
    for faces in (sphere.faces, Topology(sphere.faces)):
        normals = smooth_normals(sphere.vertices * 2 + 1, faces)
        np.testing.assert_allclose(np.abs((normals * sphere.vertices).sum(1)), 1.0, atol=0.02)


def test_missing_moderngl_gives_an_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "moderngl", None)
    with pytest.raises(RenderBackendError, match=r"pip install 'hmrflow\[render\]'"):
        create_context()


def test_failing_egl_gives_an_install_hint(monkeypatch):
    import moderngl

    def fail(**kwargs):
        raise Exception("eglInitialize failed (0x3001)")

    monkeypatch.setattr(moderngl, "create_standalone_context", fail)
    with pytest.raises(RenderBackendError, match="libegl1.*NVIDIA driver"):
        create_context()


_BODY_CACHE: dict[str, dict[str, np.ndarray]] = {}


def _posed_body() -> dict[str, np.ndarray]:
    """The low-poly body in a CMU pose, 3 m in front of the camera, upright in the image."""
    if "body" not in _BODY_CACHE:
        from hmrflow.body import BodyModel
        from hmrflow.data.pose_sources import load_cmu_demo

        body = BodyModel.from_name("anny_lowpoly")
        rotmats = load_cmu_demo().rotmats[100:101].clone()
        flip = torch.diag(torch.tensor([1.0, -1.0, -1.0]))  # body Y up -> camera y down, facing the camera
        rotmats[:, 0] = flip @ rotmats[:, 0]
        out = body(rotmats, torch.zeros(1, 10))
        shift = torch.tensor([0.0, 0.0, 3.0]) - out.joints[0, 0]
        _BODY_CACHE["body"] = {
            "vertices": (out.vertices[0] + shift).numpy(),
            "joints": (out.joints[0] + shift).numpy(),
            "faces": body.faces.numpy().astype(np.int32),
            "weights": body.weights.numpy(),
        }
    return _BODY_CACHE["body"]
