"""`hmrflow fit --evaluate --data real-multiview-v1`: the fitters on real people (a few of them)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hmrflow.cli.main import main
from hmrflow.data.real_multiview import RealMultiview
from hmrflow.fitting.evaluate import EvaluationConfig
from hmrflow.fitting.evaluate_real import (
    _people,
    evaluate_real_fitting,
    format_real_tables,
    real_instants,
    spread,
)


@pytest.fixture(scope="module")
def data() -> RealMultiview:
    return RealMultiview.load()


def test_spread() -> None:
    assert spread(5, None).tolist() == [0, 1, 2, 3, 4] and spread(5, 9).tolist() == [0, 1, 2, 3, 4]
    assert spread(100, 3).tolist() == [0, 50, 99]


def test_instants_are_seen_by_every_view(data: RealMultiview) -> None:
    instants = real_instants(data)
    assert instants.shape[1] == 2 and len(instants) > 100
    assert data.detected[instants[:, 0], instants[:, 1]].all()


def test_people_are_seen_by_their_views_cameras(data: RealMultiview) -> None:
    person, frame, view = np.array([0, 1]), np.array([10, 10]), np.array([2, 3])
    people = _people(data, person, frame, view, "cpu")
    np.testing.assert_allclose(people.focal_length.numpy(), data.focal_length[view], rtol=1e-6)  # f_x and f_y
    np.testing.assert_allclose(people.principal_point.numpy(), data.principal_point[view], rtol=1e-6)
    np.testing.assert_allclose(people.image_size.numpy(), data.image_size[view])
    np.testing.assert_allclose(people.keypoints.numpy(), data.keypoints_2d[person, frame, view], atol=1e-4)
    # the triangulated joints, seen by that camera, land on their projections
    index = [data.keypoint_names.index(n) for n in ("left_hip", "right_knee")]
    points = torch.from_numpy(data.camera_joints()[person, frame, view][:, index]).float()
    pixels = people.camera.project(points)
    np.testing.assert_allclose(pixels.numpy(), data.projected()[person, frame, view][:, index], atol=1e-2)


def test_real_fitting_tables(tiny_model, data: RealMultiview) -> None:
    config = EvaluationConfig(views=(1, 2), steps=2, chunk=3)
    tables = evaluate_real_fitting(tiny_model, config, data, size=4, multiview_size=2)
    assert tables.size == 4 and tables.multiview_size == 2 and tables.name == "real-multiview-v1"
    assert set(tables.single) == {"regression", "learned prior", "baseline"}
    assert all(math.isfinite(e.pa_mpjpe) and math.isfinite(e.mpjpe) for e in tables.single.values())
    assert math.isnan(tables.single["regression"].reprojection)
    assert set(tables.multiview["calibrated"]) == {1, 2}
    text = format_real_tables(tables)
    for word in ("regression", "learned prior", "baseline", "calibrated", "2 views", "real-multiview-v1"):
        assert word in text


def test_fit_evaluate_command_on_the_real_set(tiny_model_file, capsys) -> None:
    args = ["fit", "--evaluate", "--data", "real-multiview-v1", "--model", str(tiny_model_file),
            "--size", "2", "--multiview-size", "1", "--steps", "1"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "Single view on real-multiview-v1: 2 views" in printed and "4 views" in printed


def test_fit_evaluate_refuses_an_unknown_set(tiny_model_file, capsys) -> None:
    assert main(["fit", "--evaluate", "--data", "nowhere", "--model", str(tiny_model_file)]) == 2
    assert "synthetic or one of real-multiview-v1" in capsys.readouterr().err
