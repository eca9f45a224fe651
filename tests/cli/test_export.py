"""``hmrflow export``: parameter files (demo's JSON, fit's JSON and NPZ, stacked NPZ) -> BVH, GLB, player page."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import roma
import torch

from hmrflow.body import SMPL_JOINT_NAMES, BodyModel
from hmrflow.body.bvh_export import read_bvh_joints
from hmrflow.cli.main import main

FRAMES = 5
Y_UP = np.array([1.0, -1.0, -1.0])


@pytest.fixture(scope="module")
def motion() -> dict[str, np.ndarray]:
    """Saved parameters of one person over 5 frames, as the writers store them (float32, SMPL's names)."""
    gen = torch.Generator().manual_seed(11)
    rotvecs = 0.3 * torch.randn(FRAMES, 24, 3, generator=gen)
    rotvecs[:, 0] += torch.tensor([torch.pi, 0.0, 0.0])
    return {
        "global_orient": rotvecs[:, :1].numpy(),
        "body_pose": rotvecs[:, 1:].numpy(),
        "betas": torch.randn(10, generator=gen).numpy(),
        "transl": (torch.tensor([0.0, 0.2, 3.0]) + 0.1 * torch.randn(FRAMES, 3, generator=gen)).numpy(),
    }


def expected_joints(motion: dict[str, np.ndarray], body_name: str = "anny_lowpoly") -> np.ndarray:
    body = BodyModel.from_name(body_name)
    rotvecs = np.concatenate([motion["global_orient"], motion["body_pose"]], axis=1)
    rotmats = roma.rotvec_to_rotmat(torch.as_tensor(rotvecs))
    betas = torch.as_tensor(motion["betas"]).expand(FRAMES, -1)
    return body(rotmats, betas, torch.as_tensor(motion["transl"])).joints.double().numpy() * Y_UP


def demo_json(motion: dict[str, np.ndarray], t: int, path: Path) -> Path:
    """A frame as `hmrflow demo` writes params.json (version 2's fields that matter here)."""
    record = {"format": "hmrflow-demo-params", "version": 2, "body_model": "anny_lowpoly",
              "joint_names": list(SMPL_JOINT_NAMES), "global_orient": motion["global_orient"][t].tolist(),
              "body_pose": motion["body_pose"][t].tolist(), "betas": motion["betas"].tolist(),
              "transl": motion["transl"][t].tolist()}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return path


def bvh_joints(path: Path) -> np.ndarray:
    joints = read_bvh_joints(path)
    return joints.positions[:, [joints.names.index(n) for n in SMPL_JOINT_NAMES]].numpy()


def test_demo_json_frames_become_bvh_glb_and_page(motion, tmp_path, capsys):
    files = [demo_json(motion, t, tmp_path / f"frame_{t:03d}" / "person0" / "params.json") for t in range(FRAMES)]
    assert main(["export", *map(str, files), "--out", str(tmp_path / "anim"), "--fps", "25"]) == 0
    out = capsys.readouterr().out
    assert "5 frame(s) at 25 fps from 5 file(s)" in out
    for suffix in ("bvh", "glb", "html"):
        assert (tmp_path / "anim" / f"animation.{suffix}").stat().st_size > 1000
    assert np.abs(bvh_joints(tmp_path / "anim" / "animation.bvh") - expected_joints(motion)).max() < 1e-4
    assert "Frame Time: 0.04000000" in (tmp_path / "anim" / "animation.bvh").read_text()
    assert (tmp_path / "anim" / "animation.glb").read_bytes()[:4] == b"glTF"


def test_a_stacked_npz_with_its_fps_and_a_chosen_format(motion, tmp_path, capsys):
    np.savez(tmp_path / "motion.npz", **motion, fps=np.float32(12.5))
    assert main(["export", str(tmp_path / "motion.npz"), "--out", str(tmp_path), "--format", "bvh", "--name", "walk"]) == 0
    assert "5 frame(s) at 12.5 fps" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["motion.npz", "walk.bvh"]
    assert np.abs(bvh_joints(tmp_path / "walk.bvh") - expected_joints(motion)).max() < 1e-4


def test_fit_files_of_several_people_take_the_chosen_person(motion, tmp_path, capsys):
    """`hmrflow fit` writes NAME.json with a list of people and NAME.npz with a row per person."""
    other = {k: v * 0 for k, v in motion.items()}
    files = []
    for t in range(FRAMES):
        people = []
        for number, source in ((0, other), (3, motion)):
            people.append({"person": number, "global_orient": source["global_orient"][t].tolist(),
                           "body_pose": source["body_pose"][t].tolist(), "betas": source["betas"].tolist(),
                           "transl": source["transl"][t].tolist()})  # fmt: skip
        path = tmp_path / f"frame{t}.json" if t % 2 else tmp_path / f"frame{t}.npz"
        if t % 2:
            path.write_text(json.dumps({"people": people}))
        else:
            np.savez(path, person=np.array([0, 3]),
                     **{k: np.stack([np.asarray(p[k], np.float32) for p in people]) for k in motion})  # fmt: skip
        files.append(str(path))
    assert main(["export", *files, "--out", str(tmp_path / "out"), "--format", "bvh"]) == 2
    assert "holds people [0, 3]; choose one with --person" in capsys.readouterr().err
    assert main(["export", *files, "--out", str(tmp_path / "out"), "--format", "bvh", "--person", "3"]) == 0
    assert np.abs(bvh_joints(tmp_path / "out" / "animation.bvh") - expected_joints(motion)).max() < 1e-4
    assert main(["export", *files, "--out", str(tmp_path / "out"), "--person", "7"]) == 2
    assert "no person 7" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"people": [', "not valid JSON"),
        ('{"hello": 1}', "not a parameter file"),
        ('{"global_orient": [0, 0, 0], "body_pose": [0, 0], "betas": [0], "transl": [0, 0, 0]}', "body_pose has shape"),
        ('{"global_orient": [0, 0, 0], "body_pose": [[0, 0, 0]], "transl": [0, 0, 0]}', "missing betas"),
        ('{"global_orient": [NaN, 0, 0], "body_pose": ' + str([0] * 69) + ', "betas": [0], "transl": [0, 0, 0]}',
         "global_orient holds non-finite values"),
    ],
)
def test_bad_json_files_exit_2_naming_file_and_problem(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main(["export", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "hmrflow export:" in err and str(bad) in err and message in err
    assert not (tmp_path / "out").exists()  # nothing written before the inputs are read


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--format", "fbx"], "choose among bvh, glb, html"),
        (["--fps", "0"], "--fps 0.0: must be a positive number"),
        (["--body", "no_such_body"], "no body model named 'no_such_body'"),
        (["--name", "a/b"], "a plain file name stem"),
    ],
)
def test_bad_settings_exit_2(motion, tmp_path, capsys, extra, message):
    path = demo_json(motion, 0, tmp_path / "params.json")
    assert main(["export", str(path), "--out", str(tmp_path / "out"), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_missing_files_and_other_suffixes_exit_2(tmp_path, capsys):
    (tmp_path / "motion.csv").write_text("1,2,3")
    for path, message in ((tmp_path / "none.json", "no such file"), (tmp_path / "motion.csv", "not .csv")):
        assert main(["export", str(path), "--out", str(tmp_path / "out")]) == 2
        assert message in capsys.readouterr().err
