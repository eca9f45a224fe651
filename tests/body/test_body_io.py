"""Body model files: python2-style SMPL pickles with chumpy objects, SMPL npz, our npz."""

from __future__ import annotations

import os
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
import torch

from hmrflow.body import BodyModel, BodyModelFileError
from hmrflow.geometry import rotvec_to_rotmat

NUM_JOINTS = 24
SMPL_ROOT = np.uint32(2**32 - 1)  # how SMPL's kintree_table marks the root's parent


def smpl_style_tables(arrays: dict) -> dict:
    kintree = arrays["kintree_table"].astype(np.uint32)
    kintree[0, 0] = SMPL_ROOT
    return dict(arrays, kintree_table=kintree, f=arrays["f"].astype(np.uint32))


def write_smpl_pickle(path: Path, arrays: dict, protocol: int = 2) -> None:
    """Write the arrays like an official SMPL pkl: python2 protocol, numpy 1 names, shapedirs
    a chumpy ``Ch`` (a fake class injected while pickling) and a scipy csc J_regressor."""
    package, module = types.ModuleType("chumpy"), types.ModuleType("chumpy.ch")
    ch_class = type("Ch", (), {"__module__": "chumpy.ch"})
    module.Ch = ch_class
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = package, module
    try:
        shapedirs = ch_class()
        # What chumpy's Ch.__getstate__ keeps of its __dict__: the array under "x" and bookkeeping.
        shapedirs.__dict__.update(x=arrays["shapedirs"], _dirty_vars={"x"}, _itr=None, _depends_on_deps={},
                                  _make_dense=False, _make_sparse=False)  # fmt: skip
        data = dict(
            smpl_style_tables(arrays),
            shapedirs=shapedirs,
            J_regressor=scipy.sparse.csc_matrix(arrays["J_regressor"]),
            J_regressor_prior=scipy.sparse.csc_matrix(arrays["J_regressor"]),
            J=arrays["J_regressor"] @ arrays["v_template"],
            bs_style="lbs",
            bs_type="lrotmin",
        )
        payload = pickle.dumps(data, protocol=protocol)
    finally:
        del sys.modules["chumpy"], sys.modules["chumpy.ch"]
    assert b"chumpy.ch\nCh" in payload and (protocol == 2 or b"copy_reg\n_reconstructor" in payload)
    path.write_bytes(payload.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))


def assert_same_model(a: BodyModel, b: BodyModel) -> None:
    for key in ("template", "shapedirs", "posedirs", "joint_regressor", "weights", "faces"):
        assert torch.equal(getattr(a, key), getattr(b, key)), key
    assert a.parents == b.parents


@pytest.mark.parametrize("protocol", [2, 0])
def test_smpl_pickle_and_npz_load_to_the_same_model(
    tmp_path: Path, smpl_arrays: dict, make_body, protocol: int
) -> None:
    reference = make_body(smpl_arrays)
    write_smpl_pickle(tmp_path / "basicModel_f_lbs_10_207_0_v1.0.0.pkl", smpl_arrays, protocol)
    np.savez(tmp_path / "SMPL_FEMALE.npz", **smpl_style_tables(smpl_arrays))
    from_pickle = BodyModel.from_file(tmp_path / "basicModel_f_lbs_10_207_0_v1.0.0.pkl")
    from_npz = BodyModel.from_file(str(tmp_path / "SMPL_FEMALE.npz"))
    assert_same_model(from_pickle, reference)
    assert_same_model(from_npz, reference)
    assert from_npz.name == "SMPL_FEMALE" and from_pickle.keypoint_sets == {}
    pose = torch.eye(3).expand(NUM_JOINTS, 3, 3).clone()
    pose[4] = torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
    torch.testing.assert_close(from_pickle(pose, torch.ones(10)).vertices, reference(pose, torch.ones(10)).vertices)


def test_save_round_trips_exactly(tmp_path: Path, body: BodyModel) -> None:
    body.save(tmp_path / "ours.npz")
    loaded = BodyModel.from_file(tmp_path / "ours.npz")
    assert_same_model(loaded, body)
    assert loaded.name == "synthetic" and list(loaded.keypoint_sets) == list(body.keypoint_sets)
    for key, ks in body.keypoint_sets.items():
        other = loaded.keypoint_sets[key]
        assert other.names == ks.names
        assert torch.equal(other.vertex_weights, ks.vertex_weights)
        assert torch.equal(other.joint_weights, ks.joint_weights)
    rotmats = rotvec_to_rotmat(0.5 * torch.randn(2, NUM_JOINTS, 3, generator=torch.Generator().manual_seed(0)))
    a = body(rotmats, torch.ones(2, 10), keypoints=("coco",))
    b = loaded(rotmats, torch.ones(2, 10), keypoints=("coco",))
    assert torch.equal(a.vertices, b.vertices) and torch.equal(a.keypoints["coco"], b.keypoints["coco"])
    # A saved model is also a valid SMPL npz: the standard keys are there.
    with np.load(tmp_path / "ours.npz") as archive:
        assert {"v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f"} <= set(archive)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_from_name_lists_available_models() -> None:
    with pytest.raises(ValueError, match="no body model named 'no-such-model'; available"):
        BodyModel.from_name("no-such-model")


def bad_npz(tmp_path: Path, smpl_arrays: dict, **changes) -> Path:
    arrays = {k: v for k, v in dict(smpl_arrays, **changes).items() if v is not None}
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "no such file"),
        ("truncated_npz", "bad.npz"),
        ("truncated_pkl", "Error"),
        ("missing_key", "missing keys \\['weights'\\]"),
        ("wrong_shape", "weights has shape \\(300, 23\\)"),
        ("wrong_posedirs", "posedirs has shape"),
        ("bad_parents", "parents"),
        ("bad_keypoints", "keypoint set 'coco'"),
        ("keypoints_missing_part", "keypoints.coco.joint_weights"),
        ("not_finite", "non-finite"),
        ("extension", "unsupported extension"),
        ("unsafe_pickle", "refusing to load global posix.system|refusing to load global os.system"),
        ("not_a_dict", "expected a dict"),
    ],
)
def test_bad_files_raise_body_model_file_error(tmp_path: Path, smpl_arrays: dict, body: BodyModel,
                                               case: str, message: str) -> None:  # fmt: skip
    path = tmp_path / "bad.npz"
    if case == "missing":
        path = tmp_path / "absent.pkl"
    elif case == "truncated_npz":
        body.save(path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif case == "truncated_pkl":
        path = tmp_path / "bad.pkl"
        write_smpl_pickle(path, smpl_arrays)
        path.write_bytes(path.read_bytes()[:5000])
    elif case == "missing_key":
        path = bad_npz(tmp_path, smpl_arrays, weights=None)
    elif case == "wrong_shape":
        path = bad_npz(tmp_path, smpl_arrays, weights=smpl_arrays["weights"][:, :-1])
    elif case == "wrong_posedirs":
        path = bad_npz(tmp_path, smpl_arrays, posedirs=smpl_arrays["posedirs"][..., :-9])
    elif case == "bad_parents":
        table = smpl_arrays["kintree_table"].copy()
        table[0, 3] = 7
        path = bad_npz(tmp_path, smpl_arrays, kintree_table=table)
    elif case in ("bad_keypoints", "keypoints_missing_part"):
        body.save(path)
        with np.load(path) as archive:
            data = dict(archive)
        if case == "bad_keypoints":
            data["keypoints.coco.vertex_weights"] = data["keypoints.coco.vertex_weights"][:, :10]
        else:
            del data["keypoints.coco.joint_weights"]
        np.savez(path, **data)
    elif case == "not_finite":
        template = smpl_arrays["v_template"].copy()
        template[3, 1] = np.nan
        path = bad_npz(tmp_path, smpl_arrays, v_template=template)
    elif case == "extension":
        path = tmp_path / "model.obj"
        path.write_text("v 0 0 0\n")
    elif case == "unsafe_pickle":
        path = tmp_path / "bad.pkl"
        path.write_bytes(pickle.dumps(Exploit(), protocol=2))
    elif case == "not_a_dict":
        path = tmp_path / "bad.pkl"
        path.write_bytes(pickle.dumps([1, 2], protocol=2))
    with pytest.raises(BodyModelFileError, match=message) as caught:
        BodyModel.from_file(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo should-not-run",))
