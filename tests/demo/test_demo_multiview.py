"""The bundled calibration and the multi-view demo."""

from __future__ import annotations

import json

import numpy as np
import torch

from hmrflow.application.calibration import Calibration
from hmrflow.application.inputs import read_keypoint_file, sidecar_path
from hmrflow.application.multiview import bundled_multiview
from hmrflow.geometry.triangulation import triangulate
from hmrflow.render.context import egl_available

RENDER, WHY = egl_available()


def test_the_bundled_calibration_agrees_with_the_detections():
    images, path = bundled_multiview()
    calibration = Calibration.from_file(path).select([p.stem for p in images])
    keypoints = np.stack([read_keypoint_file(sidecar_path(p)).people[0] for p in images])
    projections = calibration.cameras(torch.float64)[0].projection_matrix().numpy()
    confident = torch.as_tensor(keypoints[..., 2] > 0.5, dtype=torch.float64).T  # (K, V)
    observed = torch.as_tensor(keypoints[..., :2], dtype=torch.float64).transpose(0, 1)
    points = triangulate(observed, confident, torch.as_tensor(projections, dtype=torch.float64)).numpy()
    seen = ~np.isnan(points).any(-1)
    assert seen.sum() >= 17
    world = np.concatenate([points[seen], np.ones((seen.sum(), 1))], 1)
    errors = []
    for v in range(len(images)):
        camera = world @ np.concatenate([calibration.rotation[v], calibration.translation[v][:, None]], 1).T
        assert (camera[:, 2] > 1.0).all()  # in front of every camera, metres away
        uv = world @ projections[v].T
        uv = uv[:, :2] / uv[:, 2:]
        confident = keypoints[v, seen, 2] > 0.5
        errors.append(np.linalg.norm(uv - keypoints[v, seen, :2], axis=1)[confident])
    assert np.median(np.concatenate(errors)) < 10.0  # px in 540x960 images: the conversion is right
    extent = points[seen, :3].max(0) - points[seen, :3].min(0)
    assert 1.2 < extent.max() < 2.5  # a person-sized set of points, in metres


def test_the_multiview_demo_writes_its_outputs(tiny_model_path, tmp_path, capsys):
    from hmrflow.cli.main import build_parser

    parser = build_parser()
    if "demo-multiview" not in parser.format_help():
        from argparse import ArgumentParser

        from hmrflow.cli import demo_multiview

        parser = ArgumentParser()
        demo_multiview.register(parser.add_subparsers())
    out = tmp_path / "mv"
    args = parser.parse_args(["demo-multiview", "--model", str(tiny_model_path), "--out", str(out),
                              "--samples", "2", "--no-fit", "--steps", "2", "--detect", "never"])  # fmt: skip
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "calibrated fit" in text and "uncalibrated refinement" in text
    params = json.loads((out / "calibrated" / "params.json").read_text())
    assert set(params["check"]["pa_error_mm"]) == {"per-view modes", "uncalibrated refinement", "calibrated fit"}
    for name in ("mesh.obj", "mesh.glb", "viewer.html"):
        assert (out / "calibrated" / name).is_file()
    for v in range(4):
        assert (out / f"view{v}_cam0{v + 1}" / "person0" / "params.json").is_file()
    assert "the check" in (out / "index.html").read_text()
    if RENDER:
        from PIL import Image

        assert Image.open(out / "views.jpg").size[1] > 4 * 400  # four rows of views
