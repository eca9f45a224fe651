"""Upright pictures: the figure of samples, the side view and the viewer level a tilted body.

A standing body is tilted as a camera pitched down by PITCH degrees sees it; the figures
in the "upright" view must stand it up again (its head straight above its pelvis), the
"camera" view must leave it as the camera saw it, and the overlay over the photo must
stay in the camera's view either way.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import re

import numpy as np
import pytest
import torch

from hmrflow.application.outputs import OutputWriter, params_dict
from hmrflow.application.results import BodyParams, PersonResult
from hmrflow.application.upright_view import Levelling, gravity_record
from hmrflow.application.viewer import person_viewer
from hmrflow.body import SMPL_JOINT_NAMES, BodyModel
from hmrflow.errors import InputError
from hmrflow.geometry.pinhole import PinholeCamera
from hmrflow.render.context import egl_available

RENDER, WHY = egl_available()
PITCH = 40.0  # degrees, a camera looking down on the person
SAMPLES = 3
TRUNK = [SMPL_JOINT_NAMES.index(n) for n in ("spine1", "spine2", "spine3", "neck", "head")]


def _tilt(degrees: float) -> torch.Tensor:
    """Camera-frame rotation that tilts a body standing along (0, -1, 0) as a camera pitched down sees it."""
    a = math.radians(degrees)
    # the inverse of upright_rotation: (0, -1, 0) -> (0, -cos a, -sin a)
    return torch.tensor([[1.0, 0.0, 0.0], [0.0, math.cos(a), -math.sin(a)], [0.0, math.sin(a), math.cos(a)]])


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.from_name("anny_lowpoly")


def _person(body: BodyModel, pitch: float) -> PersonResult:
    """A standing body (mode, fit and samples) seen by a camera pitched ``pitch`` degrees down, 3 m away."""
    generator = torch.Generator().manual_seed(0)
    J = body.num_joints
    flip = torch.diag(torch.tensor([1.0, -1.0, -1.0]))  # y up, facing +z -> camera frame, facing the camera
    rotmats = torch.eye(3).repeat(2 + SAMPLES, J, 1, 1)
    rotmats[:, 0] = _tilt(pitch) @ flip
    for s in range(1, 2 + SAMPLES):  # the fit and the samples move their limbs a little
        skew = torch.zeros(J - 1, 3, 3)
        w = 0.3 * torch.randn(J - 1, 3, generator=generator)
        skew[:, 0, 1], skew[:, 0, 2], skew[:, 1, 2] = -w[:, 2], w[:, 1], -w[:, 0]
        rotmats[s, 1:] = torch.linalg.matrix_exp(skew - skew.transpose(-1, -2))
        rotmats[s, TRUNK] = torch.eye(3)  # the torso stays straight: limbs only
    betas = torch.zeros(body.num_betas)
    translation = torch.tensor([0.1, 0.2, 3.0])
    out = body(rotmats, betas, translation)
    vertices, joints = out.vertices.numpy(), out.joints.numpy()
    params = [BodyParams(rotmats[i : i + 1].numpy(), np.zeros((1, 4), np.float32), np.zeros(1, np.float32))
              for i in range(2)]  # fmt: skip
    samples = BodyParams(rotmats[2:].numpy(), np.zeros((SAMPLES, 4), np.float32), np.zeros(SAMPLES, np.float32))
    camera = PinholeCamera(torch.tensor([900.0, 900.0]), torch.tensor([320.0, 240.0]), torch.tensor([640.0, 480.0]))
    return PersonResult(
        keypoints=np.zeros((23, 3), np.float32), evidence=np.zeros((23, 3), np.float32),
        box_center=np.array([320.0, 240.0], np.float32), box_size=400.0, camera=camera,
        mode=params[0], samples=samples, fit=params[1], betas=betas.numpy(), translation=translation.numpy(),
        regressed_betas=betas.numpy(), regressed_translation=translation.numpy(),
        weak_perspective=np.array([1.0, 0.0, 0.0], np.float32), reprojection_error=1.0, initial_error=2.0,
        vertices=vertices[1], mode_vertices=vertices[0], sample_vertices=vertices[2:],
        projected=np.zeros((23, 2), np.float32), joints=joints[1], spread=np.zeros(len(vertices[0]), np.float32),
    )  # fmt: skip


@pytest.fixture(scope="module")
def person(body) -> PersonResult:
    return _person(body, PITCH)


@pytest.fixture(scope="module")
def level_person(body) -> PersonResult:
    """The same body seen by a level camera."""
    return _person(body, 0.0)


@pytest.fixture(scope="module")
def head(body) -> tuple[int, int]:
    """Indices of the top of the head and the vertex nearest the pelvis in the rest pose (y up)."""
    rest = body(torch.eye(3).repeat(body.num_joints, 1, 1), torch.zeros(body.num_betas))
    vertices = rest.vertices
    pelvis = int((vertices - rest.joints[0]).norm(dim=-1).argmin())
    return int(vertices[:, 1].argmax()), pelvis


def _lean(vertices: np.ndarray, head: tuple[int, int]) -> float:
    """Signed degrees from the picture's up (-y of the drawn frame) to pelvis -> head, in the x-y plane."""
    d = vertices[head[0]] - vertices[head[1]]
    assert d[1] < 0, "the head is below the pelvis"
    return math.degrees(math.atan2(float(d[0]), -float(d[1])))


def _same_up_to_a_shift(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.abs((a - a.mean(0)) - (b - b.mean(0))).max() < 1e-4)


def _drawn(writer: OutputWriter, monkeypatch, draw) -> list[list[np.ndarray]]:
    """Call ``draw()``; the vertices of the meshes handed to the renderer, per picture."""
    from hmrflow.render.mesh import Topology

    calls: list[list[np.ndarray]] = []

    def capture(meshes, camera, background):
        calls.append([m.vertices.copy() for m in meshes])
        width, height = camera.image_size
        return np.zeros((int(height), int(width), 3), np.uint8)

    writer._topology = Topology(writer.faces)
    monkeypatch.setattr(writer, "_draw", capture)
    draw()
    return calls


def test_the_tilted_body_leans_by_the_pitch_in_the_camera_view(body, person, level_person, head, monkeypatch):
    writer = OutputWriter(body, view="camera")
    front, side, spread = _drawn(writer, monkeypatch, lambda: writer.samples_figure(person))
    _, level_side, _ = _drawn(writer, monkeypatch, lambda: writer.samples_figure(level_person))
    assert len(front) == len(side) == 1 + SAMPLES and len(spread) == 1
    # lying diagonally, as the camera saw it: the side view leans by the pitch more than the level camera's
    assert abs(abs(_lean(side[0], head) - _lean(level_side[0], head)) - PITCH) < 1.0
    assert abs(_lean(side[0], head)) > PITCH - 10.0
    assert _same_up_to_a_shift(spread[0], person.mode_vertices)  # not turned in the camera's view


def test_the_upright_samples_figure_stands_the_body_up(body, person, level_person, head, monkeypatch):
    writer = OutputWriter(body)  # upright by default
    front, side, spread = _drawn(writer, monkeypatch, lambda: writer.samples_figure(person))
    level = _drawn(writer, monkeypatch, lambda: writer.samples_figure(level_person))
    for panel, level_panel in zip((front, side, spread), level):
        assert abs(_lean(panel[0], head)) < 10.0  # the head above the pelvis
        # drawn as the level camera's body is: the same meshes up to a shift
        assert all(_same_up_to_a_shift(a, b) for a, b in zip(panel, level_panel))
    # one rotation for the mode and every sample: their distances to the mode are kept
    for s in range(SAMPLES):
        before = np.linalg.norm(person.sample_vertices[s] - person.mode_vertices, axis=-1)
        after = np.linalg.norm(side[1 + s] - side[0], axis=-1)
        np.testing.assert_allclose(after, before, atol=1e-4)


def test_the_side_view_turns_about_the_estimated_vertical(body, person, level_person, head, monkeypatch):
    camera_writer, upright_writer = OutputWriter(body, view="camera"), OutputWriter(body, view="upright")
    photo = type("Photo", (), {"pixels": np.full((480, 640, 3), 128, np.uint8)})()
    for writer in (camera_writer, upright_writer):
        writer._crop_pixels = lambda pixels, center, size: np.full((440, 440, 3), 128, np.uint8)

    def drawn(writer: OutputWriter, who: PersonResult) -> list[list[np.ndarray]]:
        return _drawn(writer, monkeypatch, lambda: writer.person_overlay(photo, who))

    over_camera, side_camera = drawn(camera_writer, person)
    over_upright, side_upright = drawn(upright_writer, person)
    # the body over the photo is the camera's view in both
    np.testing.assert_array_equal(over_camera[0], person.vertices)
    np.testing.assert_array_equal(over_upright[0], person.vertices)
    _, side_level = drawn(upright_writer, level_person)
    assert abs(_lean(side_camera[0], head)) > PITCH - 10.0
    assert abs(_lean(side_upright[0], head)) < 10.0 and _same_up_to_a_shift(side_upright[0], side_level[0])


@pytest.mark.skipif(not RENDER, reason=f"no EGL OpenGL context: {WHY}")
@pytest.mark.parametrize("view", ["upright", "camera"])
def test_the_rendered_side_view_shows_the_lean(body, person, view):
    """The picture itself: the side panel's silhouette stands (upright) or leans by the pitch (camera)."""
    with_gap = 440 + 6
    photo = type("Photo", (), {"pixels": np.full((480, 640, 3), 128, np.uint8)})()
    writer = OutputWriter(body, view=view, crop_size=440)
    writer._crop_pixels = lambda pixels, center, size: np.full((440, 440, 3), 128, np.uint8)
    try:
        assert writer.renderer() is not None
        image = writer.person_overlay(photo, person)
    finally:
        writer.close()
    side = image[:, 2 * with_gap :].astype(int)
    rows, cols = np.nonzero((255 - side).sum(-1) > 60)
    keep = rows > 30  # below the label
    rows, cols = rows[keep].astype(float), cols[keep].astype(float)
    # the silhouette's long axis: its angle from the picture's vertical
    cov = np.cov(np.stack([cols - cols.mean(), rows - rows.mean()]))
    axis = np.linalg.eigh(cov)[1][:, -1]
    angle = math.degrees(math.atan2(abs(axis[0]), abs(axis[1])))
    if view == "upright":
        assert angle < 8.0
    else:
        assert angle > PITCH / 2


def _scene(path) -> dict:
    page = path.read_text()
    return json.loads(re.search(r'<script id="scene-data" type="application/json">(.*?)</script>', page, re.S).group(1))


def _positions(data: dict, entry: dict) -> np.ndarray:
    q = np.frombuffer(base64.b64decode(entry["positions"]), "<i2").reshape(-1, 3).astype(np.float64)
    return q * data["scale"] + data["offset"]


def test_the_viewer_carries_the_levelled_vertices(person, level_person, body, tmp_path):
    faces = body.faces.numpy()
    person_viewer(person, faces, "upright", tmp_path / "u.html")
    person_viewer(person, faces, "camera", tmp_path / "c.html", view="camera")
    upright, camera = _scene(tmp_path / "u.html"), _scene(tmp_path / "c.html")
    rotation = np.array(upright["levelling"])
    np.testing.assert_allclose(rotation, Levelling.of_person(person, "upright").rotation, atol=1e-6)
    np.testing.assert_array_equal(np.array(camera["levelling"]), np.eye(3))
    named = {"fit": person.vertices, "mode": person.mode_vertices, "sample0": person.sample_vertices[0]}
    for data, turn in ((upright, rotation), (camera, np.eye(3))):
        for entry in data["meshes"]:
            if entry["name"] in named:
                expected = (named[entry["name"]] @ turn.T) * [1, -1, -1]
                assert np.abs(_positions(data, entry) - expected).max() <= data["scale"]
    # the levelled scene is the level camera's scene, up to a shift
    person_viewer(level_person, faces, "level", tmp_path / "l.html")
    level = _scene(tmp_path / "l.html")
    shift = _positions(upright, upright["meshes"][0]).mean(0) - _positions(level, level["meshes"][0]).mean(0)
    for a, b in zip(upright["meshes"], level["meshes"]):
        assert np.abs(_positions(upright, a) - shift - _positions(level, b)).max() < 1e-4


def test_the_parameters_carry_the_estimated_up_and_pitch(person, body):
    record = params_dict(person, "photo.jpg", 0, body.name)["gravity_up"]
    assert record == gravity_record(person)
    a = math.radians(PITCH)
    up = np.array(record["up"])
    assert math.degrees(math.acos(np.clip(up @ [0.0, -math.cos(a), -math.sin(a)], -1, 1))) < 5.0
    assert abs(record["camera_pitch_deg"] - PITCH) < 5.0 and record["from"] == "fit"


def test_a_bad_view_is_refused(body):
    with pytest.raises(InputError, match="view must be one of upright, camera"):
        OutputWriter(body, view="sideways")


def test_the_view_flag_reaches_the_writer_settings():
    from hmrflow.cli.demo import demo_config
    from hmrflow.cli.main import build_parser

    parser = build_parser()
    assert demo_config(parser.parse_args(["demo"])).view == "upright"
    assert demo_config(parser.parse_args(["demo", "--view", "camera"])).view == "camera"
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "--view", "sideways"])
    assert isinstance(parser, argparse.ArgumentParser)
