"""BodyModel: SMPL's linear blend skinning, checked against a plain loop oracle; keypoint sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hmrflow.body import (
    BODY_25,
    COCO_17,
    EVAL_14,
    H36M_17,
    KEYPOINT_NAMES,
    SMPL_JOINT_NAMES,
    SMPL_PARENTS,
    BodyModel,
    KeypointSet,
    derive_keypoint_set,
    flip_permutation,
    joint_keypoint_set,
)
from hmrflow.geometry import rotvec_to_rotmat

NUM_JOINTS, NUM_VERTICES, NUM_BETAS = 24, 300, 10  # the synthetic model of conftest.py


def random_rotmats(shape: tuple[int, ...], seed: int, dtype: torch.dtype = torch.float32, scale: float = 0.6):
    gen = torch.Generator().manual_seed(seed)
    return rotvec_to_rotmat(scale * torch.randn(*shape, NUM_JOINTS, 3, generator=gen, dtype=torch.float64)).to(dtype)


def random_betas(shape: tuple[int, ...], seed: int, dtype: torch.dtype = torch.float32, count: int = NUM_BETAS):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, count, generator=gen, dtype=torch.float64).to(dtype)


def reference_lbs(body: BodyModel, rotmats: np.ndarray, betas: np.ndarray, transl: np.ndarray) -> tuple:
    """SMPL written out plainly, one body, loops, float64: (vertices (N,3), joints (J,3))."""
    template = body.template.double().numpy()
    shapedirs = body.shapedirs.double().numpy()
    posedirs = body.posedirs.double().numpy()
    regressor = body.joint_regressor.double().numpy()
    weights = body.weights.double().numpy()
    v_shaped = template.copy()
    for s, beta in enumerate(betas):
        v_shaped += beta * shapedirs[:, :, s]
    rest = regressor @ v_shaped
    feature = []
    for j in range(1, NUM_JOINTS):
        for r in range(3):
            for c in range(3):
                feature.append(rotmats[j, r, c] - (1.0 if r == c else 0.0))
    v_posed = v_shaped + posedirs @ np.array(feature)
    world = []
    for j, parent in enumerate(SMPL_PARENTS):
        local = np.eye(4)
        local[:3, :3] = rotmats[j]
        local[:3, 3] = rest[j] - (rest[parent] if parent >= 0 else 0.0)
        world.append(local if parent < 0 else world[parent] @ local)
    skinning = []
    for j in range(NUM_JOINTS):
        to_joint = np.eye(4)
        to_joint[:3, 3] = -rest[j]
        skinning.append(world[j] @ to_joint)
    vertices = np.zeros_like(template)
    for i in range(len(template)):
        blended = np.zeros((4, 4))
        for j in range(NUM_JOINTS):
            blended += weights[i, j] * skinning[j]
        vertices[i] = (blended @ np.append(v_posed[i], 1.0))[:3] + transl
    joints = np.stack([g[:3, 3] for g in world]) + transl
    return vertices, joints


def test_zero_pose_and_shape_give_the_template(body: BodyModel) -> None:
    out = body(torch.eye(3).expand(NUM_JOINTS, 3, 3), torch.zeros(NUM_BETAS))
    torch.testing.assert_close(out.vertices, body.template, atol=1e-6, rtol=0)
    expected_joints = body.joint_regressor @ body.template
    torch.testing.assert_close(out.joints, expected_joints, atol=1e-6, rtol=0)
    torch.testing.assert_close(out.rest_joints, expected_joints, atol=1e-6, rtol=0)


def test_rest_joints_are_regressed_from_the_shaped_mesh(body: BodyModel) -> None:
    betas = random_betas((3,), seed=1)
    out = body(random_rotmats((3,), seed=2), betas)
    shaped = body.template + torch.einsum("ncs,bs->bnc", body.shapedirs, betas)
    torch.testing.assert_close(out.rest_joints, body.joint_regressor @ shaped, atol=1e-5, rtol=0)
    identity = body(torch.eye(3).expand(3, NUM_JOINTS, 3, 3), betas)
    torch.testing.assert_close(identity.vertices, shaped, atol=1e-5, rtol=0)  # no pose blend at rest


@pytest.mark.parametrize("s", [NUM_BETAS, 4])
def test_matches_loop_oracle_in_float64(body: BodyModel, s: int) -> None:
    body = body.double()
    rotmats = random_rotmats((2, 3), seed=3, dtype=torch.float64)
    betas = random_betas((2, 1), seed=4, dtype=torch.float64, count=s)  # broadcasts over dim 1
    transl = torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64)
    out = body(rotmats, betas, transl)
    assert out.vertices.shape == (2, 3, NUM_VERTICES, 3) and out.joints.shape == (2, 3, NUM_JOINTS, 3)
    for a in range(2):
        for c in range(3):
            vertices, joints = reference_lbs(body, rotmats[a, c].numpy(), betas[a, 0].numpy(), transl.numpy())
            np.testing.assert_allclose(out.vertices[a, c].numpy(), vertices, atol=1e-10, rtol=0)
            np.testing.assert_allclose(out.joints[a, c].numpy(), joints, atol=1e-10, rtol=0)


def test_global_rotation_and_translation_move_everything_rigidly(body: BodyModel) -> None:
    body = body.double()
    rotmats, betas = random_rotmats((4,), seed=5, dtype=torch.float64), random_betas((4,), 6, torch.float64)
    turn = rotvec_to_rotmat(torch.tensor([0.3, -1.1, 0.7], dtype=torch.float64))
    transl = torch.tensor([[1.0, 2.0, -0.5]], dtype=torch.float64)
    base = body(rotmats, betas, keypoints=("coco",))
    turned = rotmats.clone()
    turned[:, 0] = turn @ rotmats[:, 0]
    moved = body(turned, betas, transl, keypoints=("coco",))
    root = base.rest_joints[:, :1]  # the global rotation pivots about the rest root joint

    def expected(points: torch.Tensor) -> torch.Tensor:
        return (points - root) @ turn.T + root + transl.unsqueeze(1)

    # Exact up to the skinning-weight row sums, which are 1 only to float32 rounding.
    torch.testing.assert_close(moved.vertices, expected(base.vertices), atol=1e-7, rtol=0)
    torch.testing.assert_close(moved.joints, expected(base.joints), atol=1e-12, rtol=0)
    torch.testing.assert_close(moved.keypoints["coco"], expected(base.keypoints["coco"]), atol=1e-7, rtol=0)
    torch.testing.assert_close(moved.rest_joints, base.rest_joints)


def test_keypoint_fast_path_equals_full_mesh(body: BodyModel) -> None:
    rotmats, betas = random_rotmats((5,), seed=7), random_betas((5,), seed=8, count=6)
    transl = torch.randn(5, 3, generator=torch.Generator().manual_seed(9))
    full = body(rotmats, betas, transl, keypoints=("coco", "feet"))
    fast = body(rotmats, betas, transl, keypoints=("feet", "coco"), vertices=False)
    assert fast.vertices is None
    sets = body.keypoint_sets
    for key in ("coco", "feet"):
        direct = sets[key].vertex_weights @ full.vertices + sets[key].joint_weights @ full.joints
        torch.testing.assert_close(full.keypoints[key], direct, atol=1e-5, rtol=0)
        torch.testing.assert_close(fast.keypoints[key], direct, atol=1e-5, rtol=0)
    torch.testing.assert_close(fast.joints, full.joints)
    only_coco = body(rotmats, betas, transl, keypoints="coco", vertices=False)
    torch.testing.assert_close(only_coco.keypoints["coco"], full.keypoints["coco"], atol=1e-5, rtol=0)


def test_gradients_are_exact(body: BodyModel) -> None:
    body = body.double()
    rotmats = random_rotmats((1,), seed=10, dtype=torch.float64).requires_grad_()
    betas = random_betas((1,), seed=11, dtype=torch.float64).requires_grad_()

    def fast(r: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return body(r, b, keypoints=("coco",), vertices=False).keypoints["coco"]

    def full(r: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return body(r, b).vertices[:, :15]

    assert torch.autograd.gradcheck(fast, (rotmats, betas))
    assert torch.autograd.gradcheck(full, (rotmats, betas))


def test_moves_with_to_and_rejects_bad_inputs(body: BodyModel) -> None:
    assert body.num_joints == NUM_JOINTS and body.num_vertices == NUM_VERTICES and body.num_betas == NUM_BETAS
    assert body.parents == SMPL_PARENTS and body.faces.dtype == torch.long
    assert body.state_dict() == {}  # arrays are non-persistent buffers: the model is an asset
    rotmats, betas = random_rotmats((2,), seed=12), random_betas((2,), seed=13)
    expected = body(rotmats, betas).vertices
    double = body.to(torch.float64)
    assert double.keypoint_sets["coco"].vertex_weights.dtype == torch.float64
    torch.testing.assert_close(double(rotmats.double(), betas.double()).vertices.float(), expected, atol=1e-5, rtol=0)
    with pytest.raises(TypeError, match="float32"):
        double(rotmats, betas)
    body = body.float()
    empty = body(torch.eye(3).expand(0, NUM_JOINTS, 3, 3), torch.zeros(0, 3), keypoints=("coco",))
    assert empty.vertices.shape == (0, NUM_VERTICES, 3) and empty.keypoints["coco"].shape == (0, 17, 3)
    with pytest.raises(ValueError, match="rotmats"):
        body(rotmats[:, :5], betas)
    with pytest.raises(ValueError, match="betas"):
        body(rotmats, torch.zeros(2, NUM_BETAS + 1))
    with pytest.raises(KeyError, match="coco"):
        body(rotmats, betas, keypoints=("body25",))


def test_constructor_rejects_inconsistent_arrays(smpl_arrays: dict, make_body) -> None:
    bad = dict(smpl_arrays, weights=smpl_arrays["weights"][:, :-1])
    with pytest.raises(ValueError, match="weights"):
        make_body(bad)
    wrong_set = KeypointSet(("a",), torch.zeros(1, NUM_VERTICES + 1), torch.zeros(1, NUM_JOINTS))
    with pytest.raises(ValueError, match="keypoint set 'x'"):
        make_body(smpl_arrays, {"x": wrong_set})


# ----------------------------------------------------------------------------- keypoint sets


def test_standard_name_sets() -> None:
    assert (len(COCO_17), len(BODY_25), len(H36M_17), len(EVAL_14)) == (17, 25, 17, 14)
    assert BODY_25[:9] == ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
                           "left_shoulder", "left_elbow", "left_wrist", "mid_hip")  # fmt: skip
    assert EVAL_14[:3] == ("right_ankle", "right_knee", "right_hip") and EVAL_14[-2:] == ("neck", "head_top")
    h36m_to_eval14 = [H36M_17.index(name) for name in EVAL_14]
    assert h36m_to_eval14 == [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]  # SPIN's H36M_TO_J14
    for names in KEYPOINT_NAMES.values():
        flip = flip_permutation(names)
        assert sorted(flip) == list(range(len(names)))
        assert [flip[i] for i in flip] == list(range(len(names)))  # an involution
        for i, name in enumerate(names):
            assert names[flip[i]] == name.replace("left_", "@").replace("right_", "left_").replace("@", "right_")
    assert flip_permutation(COCO_17)[:3] == [0, 2, 1]


def test_joint_keypoint_set_follows_joints(body: BodyModel) -> None:
    select = ("right_wrist", "pelvis")
    body = body.with_keypoint_sets({"joints2": joint_keypoint_set(body.num_vertices, select=select)})
    out = body(random_rotmats((2,), seed=14), random_betas((2,), seed=15), keypoints=("joints2",), vertices=False)
    expected = out.joints[:, [SMPL_JOINT_NAMES.index(n) for n in select]]
    torch.testing.assert_close(out.keypoints["joints2"], expected)


def test_derive_body25_from_coco_and_joints(body: BodyModel, smpl_arrays: dict, make_body, feet_names) -> None:
    coco = body.keypoint_sets["coco"]
    only_coco = make_body(smpl_arrays, {"coco": coco})
    derived = derive_keypoint_set(only_coco, BODY_25)
    assert derived.missing == feet_names
    ks = derived.keypoint_set
    assert ks.names == BODY_25 and ks.defined.sum() == 19
    row = BODY_25.index
    shoulders = coco.vertex_weights[[COCO_17.index("left_shoulder"), COCO_17.index("right_shoulder")]]
    half = 0.5 * (shoulders[0] + shoulders[1])
    torch.testing.assert_close(ks.vertex_weights[row("neck")], half)
    assert ks.joint_weights[row("mid_hip")].nonzero().flatten().tolist() == [0]  # the pelvis joint
    assert torch.equal(ks.vertex_weights[row("left_wrist")], coco.vertex_weights[COCO_17.index("left_wrist")])
    assert not ks.defined[row("left_heel")] and ks.vertex_weights[row("left_heel")].abs().sum() == 0

    full = derive_keypoint_set(body, BODY_25)  # with the "feet" set every point is defined
    assert full.missing == () and bool(full.keypoint_set.defined.all())
    assert full.sources["left_heel"] == "1 feet.left_heel"
    posed = body.with_keypoint_sets({"body25": full.keypoint_set})
    out = posed(random_rotmats((3,), seed=16), random_betas((3,), seed=17), keypoints=("coco", "body25"),
                vertices=False)  # fmt: skip
    torch.testing.assert_close(out.keypoints["body25"][:, row("right_knee")],
                               out.keypoints["coco"][:, COCO_17.index("right_knee")])  # fmt: skip


def test_derive_eval14_and_h36m_report_missing_points(body: BodyModel, make_keypoint_set_fn) -> None:
    eval14 = derive_keypoint_set(body, EVAL_14)
    assert eval14.missing == ("head_top",)
    h36m = derive_keypoint_set(body, H36M_17)
    assert h36m.missing == ("jaw", "head_top")
    assert h36m.sources["pelvis"] == "1 joints.pelvis"
    with_head = body.with_keypoint_sets({"extra": make_keypoint_set_fn(("head_top", "jaw"), NUM_VERTICES, seed=3)})
    assert derive_keypoint_set(with_head, EVAL_14).missing == ()
