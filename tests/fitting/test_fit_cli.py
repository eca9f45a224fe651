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
    out = tmp_path / "out"
    record = json.loads((out / "frame.json").read_text())
    assert [p["person"] for p in record["people"]] == [0]
    person = record["people"][0]
    assert len(person["body_pose"]) == 23 and len(person["global_orient"]) == 1 and len(person["betas"]) == 10
    assert person["reprojection_error_px"] < person["initial_error_px"]
    assert (out / "frame_person0.obj").read_text().startswith("v ")
    assert np.load(out / "frame.npz")["rotmats"].shape == (1, 24, 3, 3)


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
    assert (tmp_path / "out" / "good.json").is_file()
    messages = caplog.text
    for name in ("nan_keypoints.json", "short_keypoints.json", "broken_keypoints.json", "missing_keypoints.json"):
        assert name in messages
    assert "coordinates (nan" in messages and "no person" in messages
    assert not (tmp_path / "out" / "nan.json").exists()


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
    assert len(json.loads((tmp_path / "out" / "a.json").read_text())["people"]) == 2
    assert not (tmp_path / "out" / "b.json").exists()  # no people in b.jpg
    assert len(json.loads((tmp_path / "out" / "arrays.json").read_text())["people"]) == 2


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
    record = json.loads((out / "multiview.json").read_text())
    assert len(record["body_pose"]) == 23 and record["views"] == ["view0.npy", "view1.npy"]
    calibration = tmp_path / "cams.json"
    cams = [{"R": np.eye(3).tolist(), "t": [0.0, 0.0, 0.0], "f": 1500.0, "c": [640.0, 480.0]}] * 2
    calibration.write_text(json.dumps(cams))
    assert main([*args, "--calibration", str(calibration)]) == 0
    assert json.loads((out / "multiview.json").read_text())["calibrated"]
    assert (out / "multiview.obj").is_file()


def test_evaluation_tables_print(tiny_model):
    from hmrflow.fitting.evaluate import EvaluationConfig, evaluate_fitting, format_tables

    config = EvaluationConfig(size=2, multiview_size=1, views=(1, 2), steps=2, chunk=2)
    text = format_tables(evaluate_fitting(tiny_model, config))
    for word in ("regression", "learned prior", "baseline", "30% missing", "calibrated", "2 views", "target"):
        assert word in text
