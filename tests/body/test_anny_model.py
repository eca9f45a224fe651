"""The shipped Anny-derived body models: loaded by name with no ``anny`` installed."""

from __future__ import annotations

import sys

import pytest
import torch

from hmrflow.body import SMPL_JOINT_NAMES, BodyModel, mirror_index
from hmrflow.body.anny_report import demo_poses

J = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}
MIRROR = torch.tensor([-1.0, 1.0, 1.0])


@pytest.fixture(scope="module")
def full() -> BodyModel:
    return BodyModel.from_name("anny")


@pytest.fixture(scope="module")
def lowpoly() -> BodyModel:
    return BodyModel.from_name("anny_lowpoly")


def _rest(body: BodyModel, betas: torch.Tensor | None = None):
    betas = torch.zeros(1, body.num_betas) if betas is None else betas
    eye = torch.eye(3).expand(len(betas), 24, 3, 3)
    return body(eye, betas, keypoints=("coco", "feet"))


def _nearest_distance(points: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``(P,)`` distance of each point to its nearest reference point (chunked)."""
    points, reference = points.double(), reference.double()  # float32 cdist is only good to ~0.5 mm here
    return torch.cat([torch.cdist(chunk, reference).min(1).values for chunk in points.split(2048)])


def test_loads_by_name_without_anny(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "anny", None)  # any `import anny` now raises ImportError
    with pytest.raises(ImportError):
        import anny  # noqa: F401
    for name, vertices in (("anny", 13718), ("anny_lowpoly", None)):
        body = BodyModel.from_name(name)
        assert body.num_joints == 24 and body.num_betas == 10
        assert set(body.keypoint_sets) == {"coco", "feet"}
        if vertices is not None:
            assert body.num_vertices == vertices
        else:
            assert 1000 <= body.num_vertices <= 2000


@pytest.mark.parametrize("name", ["anny", "anny_lowpoly"])
def test_rest_pose_is_a_t_pose(name: str) -> None:
    joints = _rest(BodyModel.from_name(name)).joints[0]
    for side, sign in (("left", 1.0), ("right", -1.0)):
        arm = [joints[J[f"{side}_{part}"]] for part in ("shoulder", "elbow", "wrist", "hand")]
        for a, b in zip(arm, arm[1:]):
            direction = (b - a) / (b - a).norm()
            assert direction[0] * sign > 0.99  # along +X for the left arm, -X for the right
        leg = [joints[J[f"{side}_{part}"]] for part in ("hip", "knee", "ankle")]
        for a, b in zip(leg, leg[1:]):
            direction = (b - a) / (b - a).norm()
            assert direction[1] < -0.99  # straight down
        assert joints[J[f"{side}_hip"], 0] * sign > 0.05
    assert joints[J["head"], 1] > joints[J["neck"], 1] > joints[J["spine3"], 1] > joints[J["pelvis"], 1]
    # Facing +Z: the toes (foot joints) are in front of the ankles.
    assert (joints[J["left_foot"], 2] - joints[J["left_ankle"], 2]) > 0.05


@pytest.mark.parametrize("name", ["anny", "anny_lowpoly"])
def test_left_right_symmetry(name: str) -> None:
    body = BodyModel.from_name(name)
    template = body.template
    distance = _nearest_distance(template[::3] * MIRROR, template)  # every third vertex: fast enough
    assert distance.max() < 3e-4  # the mirrored vertex set is the vertex set (within 0.3 mm)
    # The skinning weights mirror too: a vertex's twin carries the swapped joints' weights.
    twin = torch.cdist(template[:2048].double() * MIRROR.double(), template.double()).argmin(1)
    swapped = body.weights[twin][:, mirror_index(SMPL_JOINT_NAMES)]
    assert (swapped - body.weights[:2048]).abs().max() < 0.05
    joints = _rest(body).joints[0]
    assert (joints[mirror_index(SMPL_JOINT_NAMES)] * MIRROR - joints).norm(dim=-1).max() < 1e-3


@pytest.mark.parametrize("name", ["anny", "anny_lowpoly"])
def test_keypoints_on_the_right_body_parts(name: str) -> None:
    out = _rest(BodyModel.from_name(name))
    coco = dict(zip(BodyModel.from_name(name).keypoint_sets["coco"].names, out.keypoints["coco"][0]))
    feet = dict(zip(BodyModel.from_name(name).keypoint_sets["feet"].names, out.keypoints["feet"][0]))
    joints = out.joints[0]
    assert coco["nose"][1] > joints[J["neck"], 1] > joints[J["pelvis"], 1]
    assert coco["nose"][2] > coco["left_ear"][2]  # the face looks to +Z
    assert coco["left_eye"][0] > 0 > coco["right_eye"][0]
    for side, sign in (("left", 1.0), ("right", -1.0)):
        assert coco[f"{side}_wrist"][0] * sign > 0.5  # T-pose: wrists far out, left at +X
        assert (coco[f"{side}_wrist"] - joints[J[f"{side}_wrist"]]).norm() < 0.05
        assert (coco[f"{side}_elbow"] - joints[J[f"{side}_elbow"]]).norm() < 0.06
        assert coco[f"{side}_hip"][1] > coco[f"{side}_knee"][1] > coco[f"{side}_ankle"][1]
        assert feet[f"{side}_big_toe"][2] > joints[J[f"{side}_ankle"], 2] > feet[f"{side}_heel"][2]
        assert abs(feet[f"{side}_big_toe"][0]) < abs(feet[f"{side}_small_toe"][0])  # big toe inside
        assert feet[f"{side}_heel"][1] < joints[J[f"{side}_ankle"], 1]


def test_shape_space_scale_and_sign(full: BodyModel) -> None:
    def height(betas: torch.Tensor) -> torch.Tensor:
        vertices = _rest(full, betas).vertices
        return vertices[..., 1].amax(-1) - vertices[..., 1].amin(-1)

    mean = height(torch.zeros(1, 10))
    assert 1.55 < mean.item() < 1.85  # an average adult
    taller = height(torch.tensor([[2.0] + [0.0] * 9]))
    assert taller.item() > mean.item() + 0.05  # +beta_0 stretches the body upwards
    # Betas are in units of population standard deviations: +-3 stays a plausible adult.
    extreme = height(torch.eye(10) * 3.0)
    assert (extreme > 1.3).all() and (extreme < 2.2).all()


@pytest.mark.parametrize("pose", ["rest", "arms_down", "walk", "sit", "reach"])
def test_lowpoly_agrees_with_full(full: BodyModel, lowpoly: BodyModel, pose: str) -> None:
    gen = torch.Generator().manual_seed(0)
    betas = torch.cat([torch.zeros(1, 10), torch.randn(3, 10, generator=gen)])
    rotmats = demo_poses()[pose].expand(len(betas), 24, 3, 3)
    a = full(rotmats, betas, keypoints=("coco", "feet"), vertices=False)
    b = lowpoly(rotmats, betas, keypoints=("coco", "feet"), vertices=False)
    assert (a.joints - b.joints).norm(dim=-1).max() < 3e-3
    for name in ("coco", "feet"):
        error = (a.keypoints[name] - b.keypoints[name]).norm(dim=-1)
        assert error.mean() < 3e-3 and error.max() < 1.5e-2, name
