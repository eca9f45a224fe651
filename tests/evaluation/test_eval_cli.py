"""End to end: a tiny model evaluated by `hmrflow eval`, and the joint predictor."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from hmrflow.body.keypoints import EVAL_14, H36M_17
from hmrflow.cli.main import main
from hmrflow.config import apply_overrides
from hmrflow.evaluation.runner import JointPredictor, evaluate_model, regressor_keypoint_set
from hmrflow.evaluation.sets import synthetic_set
from hmrflow.models import ProbabilisticHMR
from hmrflow.models.checkpoint import save_model
from hmrflow.training.config import ExperimentConfig
from tests.tiny import TINY_MODEL

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory) -> str:
    torch.manual_seed(0)
    config = apply_overrides(ExperimentConfig(), TINY_MODEL)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_model(ProbabilisticHMR(config.model), config, path)
    return str(path)


def read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_eval_on_a_synthetic_set_writes_table_csv_json_and_plots(tiny_model_file, tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib", reason="the plots need the 'plot' extra")
    out = tmp_path / "out"
    argv = ["eval", tiny_model_file, "--data", "synthetic-keypoints-v1", "--size", "24", "--hypotheses", "6",
            "--batch-size", "10", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "PA-MPJPE (mode)" in printed and "no published reference" in printed
    for name in ("min_of_n.png", "calibration.png", "per_joint.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000, name
    metrics = {row["figure"]: float(row["value"]) for row in read_csv(out / "metrics.csv")}
    document = json.loads((out / "results.json").read_text())
    result = document["result"]
    assert result["count"] == 24 and result["num_samples"] == 5
    assert result["min_of_n"] == [1, 5, 6]
    assert metrics == pytest.approx(result["figures"])
    assert metrics["min_of_6_pa_mpjpe"] <= metrics["pa_mpjpe"]
    assert {"nll", "diversity", "calibration_error"} <= metrics.keys()
    assert f"{metrics['pa_mpjpe']:.1f} mm" in printed
    assert document["set"]["name"] == "synthetic-keypoints-v1" and document["set"]["fingerprint"]
    assert document["reference"] is None
    assert document["model"]["orientation_frame"] == "camera"  # how its MPJPE and orientation were read
    assert len(read_csv(out / "per_joint.csv")) == 24
    assert len(read_csv(out / "calibration.csv")) == 19
    # The same seed gives the same figures.
    assert main([*argv[:-3], "--out", str(tmp_path / "again"), "--no-plots", "--no-progress"]) == 0
    again = json.loads((tmp_path / "again" / "results.json").read_text())["result"]["figures"]
    assert again == result["figures"]


def test_eval_on_a_prohmr_format_file_prints_the_paper(tiny_model_file, tmp_path, capsys, body, make_prohmr_arrays):
    arrays, _ = make_prohmr_arrays(body, size=12)
    path = tmp_path / "3dpw_test.npz"
    np.savez(path, **arrays)
    out = tmp_path / "out"
    assert main(["eval", tiny_model_file, "--data", str(path), "--hypotheses", "5", "--out", str(out),
                 "--no-plots", "--no-progress"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "59.8 mm" in printed and "56.5 mm" in printed  # the paper's 3DPW figures
    assert "head_top" in printed  # not defined for this body model: said so
    document = json.loads((out / "results.json").read_text())
    assert document["reference"]["protocol"] == "3dpw-test"
    assert document["result"]["joint_names"] == list(EVAL_14[:13])
    assert document["result"]["nll_count"] == 6
    assert document["run"]["missing_joints"] == ["head_top"]


def test_eval_reports_bad_input_clearly(tiny_model_file, tmp_path, capsys) -> None:
    assert main(["eval", tiny_model_file, "--data", "no-such-set"]) == 2
    assert "not a synthetic set" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "missing.pt"), "--data", "synthetic-keypoints-v1"]) == 2
    assert "not found" in capsys.readouterr().err


def test_joint_predictor_uses_the_supplied_regressor(body) -> None:
    g = torch.Generator().manual_seed(0)
    weights = torch.rand(17, body.num_vertices, generator=g)
    regressor = regressor_keypoint_set(weights / weights.sum(1, keepdim=True))
    predictor = JointPredictor(body, EVAL_14, pelvis=(2, 3), regressor=regressor)
    assert predictor.names == EVAL_14 and predictor.missing == () and predictor.pelvis == (2, 3)
    rotmats = torch.eye(3).expand(2, 3, 24, 3, 3)
    betas = torch.randn(2, 10, generator=g)
    joints = predictor(rotmats, betas)
    vertices = body(rotmats, betas[:, None]).vertices
    order = [H36M_17.index(name) for name in EVAL_14]
    expected = regressor.vertex_weights[order] @ vertices
    torch.testing.assert_close(joints, expected, atol=1e-5, rtol=1e-5)


def test_evaluate_model_does_not_touch_the_set(tiny_model_file, body) -> None:
    from hmrflow.models.checkpoint import load_model

    model = load_model(tiny_model_file)
    data = synthetic_set("synthetic-keypoints-v1", model.body, size=20)
    before = data.evidence.clone(), data.joints_3d.clone(), data.rotmats.clone()
    one, _ = evaluate_model(model, data, hypotheses=4, batch_size=20, generator=torch.Generator().manual_seed(1))
    assert all(torch.equal(a, b) for a, b in zip(before, (data.evidence, data.joints_3d, data.rotmats)))
    assert one.count == 20 and one.min_of_n == (1,)
    assert one.figures["min_of_1_pa_mpjpe"] == pytest.approx(one.figures["pa_mpjpe"])


def test_eval_of_an_image_model_on_a_prohmr_format_file(tmp_path, capsys, body, make_prohmr_arrays) -> None:
    pytest.importorskip("PIL", reason="reading images needs Pillow (the 'render' extra)")
    from PIL import Image

    config = apply_overrides(ExperimentConfig(), [
        "model.encoder.kind=image", "model.encoder.backbone_depth=18", "model.encoder.crop_size=64",
        "model.flow.context_features=512", "model.flow.hidden_features=32", "model.head_hidden=32",
    ])  # fmt: skip
    model_file = tmp_path / "image.pt"
    save_model(ProbabilisticHMR(config.model), config, model_file)
    arrays, _ = make_prohmr_arrays(body, size=4)
    images = tmp_path / "images"
    images.mkdir()
    for name in arrays["imgname"]:
        Image.fromarray(np.full((960, 1280, 3), 128, np.uint8)).save(images / name)
    np.savez(tmp_path / "h36m_val_p2.npz", **arrays)
    out = tmp_path / "out"
    argv = ["eval", str(model_file), "--data", str(tmp_path / "h36m_val_p2.npz"), "--images", str(images),
            "--hypotheses", "3", "--out", str(out), "--no-plots", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert "41.2 mm" in capsys.readouterr().out  # the paper's Human3.6M protocol 2 figure
    document = json.loads((out / "results.json").read_text())
    assert document["result"]["count"] == 4 and document["model"]["encoder"] == "image"
    (images / arrays["imgname"][2]).unlink()
    assert main(argv) == 2
    assert "cannot read image" in capsys.readouterr().err
