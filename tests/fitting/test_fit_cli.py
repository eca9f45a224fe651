from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from hmrflow.body.keypoints import BODY_25, COCO_17
from hmrflow.cli.main import main
from hmrflow.data.keypoint_files import EVIDENCE_NAMES


@pytest.fixture(scope="module")
def person_body25(synthetic) -> np.ndarray:
    """A synthetic person's clean keypoints as an OpenPose BODY_25 (25, 3) array."""
    evidence = synthetic.clean_2d[0].numpy().astype(float)
    out = np.zeros((25, 3))
    for k, name in enumerate(BODY_25):
        if name in EVIDENCE_NAMES:
            out[k] = evidence[EVIDENCE_NAMES.index(name)]
    return out


def openpose(path, people: list[list[float]]) -> None:
    path.write_text(json.dumps({"version": 1.3, "people": [{"pose_keypoints_2d": p} for p in people]}))


def run_fit(tmp_path, model_file, *files, extra=()) -> int:
    return main(["fit", *map(str, files), "--model", str(model_file), "--out", str(tmp_path / "out"),
                 "--image-size", "1280", "960", "--steps", "3", *extra])  # fmt: skip


def test_fit_openpose_file_writes_parameters_and_meshes(tmp_path, tiny_model_file, person_body25):
    path = tmp_path / "frame_keypoints.json"
    sparse = np.zeros((25, 3))
    sparse[0] = (10.0, 10.0, 0.9)  # one keypoint: skipped with a warning
    openpose(path, [person_body25.reshape(-1).tolist(), sparse.reshape(-1).tolist()])
    assert run_fit(tmp_path, tiny_model_file, path) == 0
    out = tmp_path / "out" / "frame"  # the demo's layout: one folder per image, one per person
    assert sorted(p.name for p in out.glob("person*")) == ["person0"]
    person = json.loads((out / "person0" / "params.json").read_text())
    assert len(person["body_pose"]) == 23 and len(person["global_orient"]) == 1 and len(person["betas"]) == 10
    assert person["reprojection_error_px"]["final"] < person["reprojection_error_px"]["regression"]
    assert person["final"] == "fit" and person["samples"] == [] and person["body_model"]
    assert person["fit_report"]["steps"] >= 1 and person["labels_mirrored"] is False
    assert (out / "person0" / "mesh.obj").read_text().startswith(("v ", "#"))
    assert np.load(out / "person0" / "params.npz")["fit_rotmats"].shape == (24, 3, 3)
    assert len(json.loads((out / "keypoints.json").read_text())["people"]) == 1
    assert not (out / "overlay.jpg").exists()  # no photo: no pictures
    assert (tmp_path / "out" / "index.html").is_file()


def test_bad_files_are_reported_and_the_others_still_fitted(tmp_path, tiny_model_file, person_body25, caplog):
    good = tmp_path / "good_keypoints.json"
    openpose(good, [person_body25.reshape(-1).tolist()])
    nan = tmp_path / "nan_keypoints.json"
    values = person_body25.reshape(-1).tolist()
    values[0] = float("nan")  # the nose's x; the nose is confident
    openpose(nan, [values])
    short = tmp_path / "short_keypoints.json"
    openpose(short, [values[:54]])  # COCO-18 length
    empty = tmp_path / "empty_keypoints.json"
    openpose(empty, [])
    broken = tmp_path / "broken_keypoints.json"
    broken.write_text("{not json")
    missing = tmp_path / "missing_keypoints.json"
    with caplog.at_level(logging.WARNING):
        code = run_fit(tmp_path, tiny_model_file, nan, short, empty, broken, missing, good)
    assert code == 1  # some inputs failed; the good one is still fitted
    assert (tmp_path / "out" / "good" / "person0" / "params.json").is_file()
    messages = caplog.text
    for name in ("nan_keypoints.json", "short_keypoints.json", "broken_keypoints.json", "missing_keypoints.json"):
        assert name in messages
    assert "coordinates (nan" in messages and "no person" in messages
    assert not (tmp_path / "out" / "nan").exists()


def test_only_bad_files_fail_with_a_nonzero_code(tmp_path, tiny_model_file):
    broken = tmp_path / "broken.json"
    broken.write_text("[1, 2")
    assert run_fit(tmp_path, tiny_model_file, broken) == 1


def test_coco_file_with_image_sizes_and_npy_arrays(tmp_path, tiny_model_file, synthetic):
    evidence = synthetic.clean_2d[:2].numpy().astype(float)
    coco17 = evidence[:, : len(COCO_17)].copy()
    coco17[..., 2] = 2.0 * (coco17[..., 2] > 0)
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 1280, "height": 960},
                   {"id": 2, "file_name": "b.jpg", "width": 1280, "height": 960}],
        "annotations": [{"image_id": 1, "category_id": 1, "keypoints": coco17[0].reshape(-1).tolist()},
                        {"image_id": 1, "category_id": 1, "keypoints": coco17[1].reshape(-1).tolist()}],
    }  # fmt: skip
    path = tmp_path / "people.json"
    path.write_text(json.dumps(data))
    array = tmp_path / "arrays.npy"
    np.save(array, evidence)
    assert main(["fit", str(path), str(array), "--model", str(tiny_model_file), "--out", str(tmp_path / "out"),
                 "--steps", "2", "--image-size", "1280", "960", "--drop-hips", "--baseline"]) == 0  # fmt: skip
    assert len(json.loads((tmp_path / "out" / "a" / "keypoints.json").read_text())["people"]) == 2
    assert not (tmp_path / "out" / "b").exists()  # no people in b.jpg
    assert sorted(p.name for p in (tmp_path / "out" / "arrays").glob("person*")) == ["person0", "person1"]
    baseline = json.loads((tmp_path / "out" / "arrays" / "person1" / "params.json").read_text())
    assert baseline["final"] == "fit" and np.isfinite(baseline["fit"]["log_prob"])  # the flow's log p of its pose


def test_fit_multiview_command(tmp_path, tiny_model_file, synthetic):
    files = []
    for v in range(2):
        path = tmp_path / f"view{v}.npy"
        np.save(path, synthetic.clean_2d[v : v + 1].numpy())
        files.append(str(path))
    out = tmp_path / "mv"
    args = ["fit-multiview", *files, "--model", str(tiny_model_file), "--image-size", "1280", "960",
            "--steps", "3", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    record = json.loads((out / "params.json").read_text())
    assert len(record["body_pose"]) == 23 and record["views"] == ["view0.npy", "view1.npy"]
    assert record["calibrated"] is False and record["frame"].startswith("camera of view0.npy")
    calibration = tmp_path / "cams.json"
    cams = [{"R": np.eye(3).tolist(), "t": [0.0, 0.0, 0.0], "f": 1500.0, "c": [640.0, 480.0]}] * 2
    calibration.write_text(json.dumps(cams))
    assert main([*args, "--calibration", str(calibration)]) == 0
    record = json.loads((out / "params.json").read_text())
    assert record["calibrated"] and record["cameras"]["view1.npy"]["principal_point"] == [640.0, 480.0]
    assert (out / "mesh.obj").is_file() and np.load(out / "params.npz")["vertices"].ndim == 2


def test_evaluation_tables_print(tiny_model):
    from hmrflow.fitting.evaluate import EvaluationConfig, evaluate_fitting, format_tables

    config = EvaluationConfig(size=2, multiview_size=1, views=(1, 2), steps=2, chunk=2)
    text = format_tables(evaluate_fitting(tiny_model, config))
    for word in ("regression", "learned prior", "baseline", "30% missing", "calibrated", "2 views", "target"):
        assert word in text


def test_intrinsics_flag_and_its_focal_length_shorthand(tmp_path, tiny_model_file, person_body25):
    path = tmp_path / "frame_keypoints.json"
    openpose(path, [person_body25.reshape(-1).tolist()])
    K = tmp_path / "K.txt"
    K.write_text("1400 0 600\n0 1410 500\n0 0 1\n")
    cameras = {}
    for name, flag in (("short", ["--focal-length", "1400"]), ("full", ["--intrinsics", "1400,1400,600,500"]),
                       ("file", ["--intrinsics", str(K)])):  # fmt: skip
        assert main(["fit", str(path), "--model", str(tiny_model_file), "--out", str(tmp_path / name),
                     "--image-size", "1280", "960", "--steps", "2", "--no-render", "--no-mirror-check", *flag]) == 0
        params = json.loads((tmp_path / name / "frame" / "person0" / "params.json").read_text())
        cameras[name] = params["camera"]
    assert cameras["short"]["focal_length"] == [1400.0, 1400.0]
    assert cameras["short"]["principal_point"] == [640.0, 480.0]  # the image centre
    assert cameras["full"]["principal_point"] == [600.0, 500.0]  # given: it replaces the centre
    assert cameras["file"]["focal_length"] == [1400.0, 1410.0] and cameras["file"]["principal_point"] == [600.0, 500.0]


def test_a_folder_of_keypoint_files_and_an_empty_one(tmp_path, tiny_model_file, person_body25, capsys):
    folder = tmp_path / "frames"
    folder.mkdir()
    for stem in ("b", "a"):
        openpose(folder / f"{stem}_keypoints.json", [person_body25.reshape(-1).tolist()])
    (folder / "notes.txt").write_text("not a keypoint file")
    assert run_fit(tmp_path, tiny_model_file, folder, extra=("--no-render",)) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir()) == ["a", "b"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_fit(tmp_path, tiny_model_file, empty) == 2
    assert "no keypoint file" in capsys.readouterr().err


def test_a_person_whose_labels_are_mirrored_back_is_written_mirrored(tmp_path, tiny_model_file, person_body25,
                                                                    monkeypatch, capsys):  # fmt: skip
    import torch

    import hmrflow.fitting.mirror as mirror
    from hmrflow.application.inputs import read_keypoint_file
    from hmrflow.fitting.mirror import mirror_keypoints

    real_check = mirror.check_labelling
    # a margin below any energy gain: the check keeps the mirrored labelling
    monkeypatch.setattr(mirror, "check_labelling", lambda model, people, config: real_check(model, people,
                                                                                         _always(config)))  # fmt: skip
    path = tmp_path / "frame_keypoints.json"
    openpose(path, [person_body25.reshape(-1).tolist()])
    assert run_fit(tmp_path, tiny_model_file, path, extra=("--no-render",)) == 0
    assert "1 with left/right labels mirrored back" in capsys.readouterr().out
    params = json.loads((tmp_path / "out" / "frame" / "person0" / "params.json").read_text())
    assert params["labels_mirrored"] is True
    written = json.loads((tmp_path / "out" / "frame" / "keypoints.json").read_text())
    given = torch.tensor(written["people"][0]["keypoints"])
    original = torch.tensor(read_keypoint_file(path).people[0])
    torch.testing.assert_close(given, mirror_keypoints(original).to(given.dtype), atol=1e-3, rtol=0)
    # without the check, the labels stay as given
    assert run_fit(tmp_path, tiny_model_file, path, extra=("--no-render", "--no-mirror-check", "--out",
                                                           str(tmp_path / "plain"))) == 0  # fmt: skip
    assert json.loads((tmp_path / "plain" / "frame" / "person0" / "params.json").read_text())["labels_mirrored"] is False


def _always(config):
    """A MirrorConfig that takes the mirrored labelling whatever the energies (margin below any gain)."""
    from dataclasses import replace

    config = replace(config, margin=0.0)
    object.__setattr__(config, "margin", -1e12)  # past the check's own >= 0 validation
    return config


def test_fit_with_two_focals_and_an_off_centre_principal_point(tmp_path, tiny_model_file, synthetic):
    # hmrflow fit passes the whole camera to the fitter: keypoints seen with f = (1400, 1000),
    # c = (600, 420) are fitted to a few px given those intrinsics, worse given f_x for both.
    import torch

    points = synthetic.keypoints_3d - torch.tensor([0.0, 0.0, 2.5])  # large people
    uv = points[..., :2] / points[..., 2:] * torch.tensor([1400.0, 1000.0]) + torch.tensor([600.0, 420.0])
    people = torch.cat([uv, torch.ones_like(uv[..., :1])], -1)
    np.save(tmp_path / "people.npy", people.numpy())
    errors, places = {}, {}
    for name, intrinsics in (("true", "1400,1000,600,420"), ("fx", "1400,1400,600,420")):
        assert main(["fit", str(tmp_path / "people.npy"), "--model", str(tiny_model_file), "--out",
                     str(tmp_path / name), "--image-size", "1280", "960", "--steps", "10", "--no-render",
                     "--no-mirror-check", "--intrinsics", intrinsics]) == 0  # fmt: skip
        records = [json.loads(p.read_text()) for p in sorted((tmp_path / name).glob("people/person*/params.json"))]
        assert len(records) == len(people)
        errors[name] = np.array([r["reprojection_error_px"]["final"] for r in records])
        places[name] = np.array([r["transl"] for r in records]).reshape(len(records), 3)
        assert records[0]["camera"]["focal_length"] == [1400.0, float(intrinsics.split(",")[1])]
    assert errors["true"].max() < 10
    # f_y reached the fitter: the bodies fitted with f_x for both axes stand elsewhere
    assert np.linalg.norm(places["fx"] - places["true"], axis=-1).min() > 0.05
