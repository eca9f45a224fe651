"""The lean energy (hmrflow.fitting.lean_energy) against the plain path: values and gradients."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from hmrflow.body import BodyModel, KeypointSet
from hmrflow.fitting.keypoint_fit import FitConfig, fit_keypoints, frozen, learned_prior_energy, regress
from hmrflow.fitting.lbfgs import StopRules
from hmrflow.fitting.lean_energy import KeypointProjector, KeypointTerm, rotmats_from_sixd
from hmrflow.fitting.people import People
from hmrflow.fitting.robust import reprojection_energy
from hmrflow.flows import ConditionalGlow, FlowConfig
from hmrflow.flows.frozen import FrozenDecoder
from hmrflow.geometry import perspective_projection, sixd_to_rotmat

#: A tree whose joints are not sorted by depth (levels 0 | 1, 3 | 2, 4 | 5).
PARENTS = (-1, 0, 1, 0, 3, 2)


def random_body(parents: tuple[int, ...], pose_blend: bool, seed: int = 0) -> BodyModel:
    """A small random body (float64) with two keypoint sets that use vertices and joints."""
    rng = np.random.default_rng(seed)
    n, j, s = 40, len(parents), 5
    weights = rng.random((n, j)) * (rng.random((n, j)) < 0.4) + 1e-3
    regressor = rng.random((j, n))
    posedirs = rng.normal(scale=0.05, size=(n, 3, 9 * (j - 1))) if pose_blend else np.zeros((n, 3, 9 * (j - 1)))

    def keypoints(k: int) -> KeypointSet:
        vertex_weights = rng.random((k, n)) * (rng.random((k, n)) < 0.1)
        joint_weights = rng.random((k, j)) * (rng.random((k, j)) < 0.3)
        names = tuple(f"p{i}" for i in range(k))
        return KeypointSet(names, torch.from_numpy(vertex_weights), torch.from_numpy(joint_weights))

    body = BodyModel(
        rng.normal(scale=0.3, size=(n, 3)), rng.normal(scale=0.05, size=(n, 3, s)), posedirs,
        regressor / regressor.sum(1, keepdims=True), weights / weights.sum(1, keepdims=True), parents,
        rng.integers(0, n, size=(10, 3)), {"a": keypoints(4), "b": keypoints(3)},
    )  # fmt: skip
    return body.to(torch.float64)


def random_inputs(body: BodyModel, batch: int, num_betas: int, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    rotmats = sixd_to_rotmat(torch.randn(batch, body.num_joints, 6, generator=g, dtype=torch.float64))
    betas = torch.randn(batch, num_betas, generator=g, dtype=torch.float64)
    translation = torch.randn(batch, 3, generator=g, dtype=torch.float64) * 0.1 + torch.tensor([0.0, 0.0, 4.0])
    focal = 500 + 1000 * torch.rand(batch, generator=g, dtype=torch.float64)
    principal = 300 * torch.rand(batch, 2, generator=g, dtype=torch.float64)
    return rotmats, betas, translation, focal, principal


def plain_projection(body: BodyModel, sets, rotmats, betas, translation, focal, principal):
    out = body(rotmats, betas, keypoints=sets, vertices=False)
    points = torch.cat([out.keypoints[name] for name in sets], dim=-2)
    return perspective_projection(points, translation, focal, principal)


def value_and_grads(fn, *inputs):
    inputs = [x.detach().clone().requires_grad_(True) for x in inputs]
    out = fn(*inputs)
    weights = torch.linspace(-1.0, 1.0, out.numel(), dtype=out.dtype).view_as(out)
    (out * weights).sum().backward()
    return out.detach(), [x.grad for x in inputs]


@pytest.mark.parametrize("pose_blend", [False, True])
@pytest.mark.parametrize("num_betas", [5, 3])
def test_keypoint_projector_equals_the_body_model_and_projection(pose_blend, num_betas):
    body = random_body(PARENTS, pose_blend)
    sets = ("b", "a")
    rotmats, betas, translation, focal, principal = random_inputs(body, 3, num_betas)
    projector = KeypointProjector(body, sets, focal, principal)
    lean, lean_grads = value_and_grads(projector, rotmats, betas, translation)
    plain, plain_grads = value_and_grads(
        lambda r, b, t: plain_projection(body, sets, r, b, t, focal, principal), rotmats, betas, translation
    )
    torch.testing.assert_close(lean, plain, rtol=1e-12, atol=1e-9)
    for a, b in zip(lean_grads, plain_grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-9)


def test_keypoint_projector_in_float32_equals_to_float_rounding():
    body = random_body(PARENTS, pose_blend=True).to(torch.float32)
    rotmats, betas, translation, focal, principal = (x.float() for x in random_inputs(body, 2, 5))
    lean = KeypointProjector(body, ("a", "b"), focal, principal)(rotmats, betas, translation)
    plain = plain_projection(body, ("a", "b"), rotmats, betas, translation, focal, principal)
    torch.testing.assert_close(lean, plain, rtol=1e-5, atol=1e-3)


def random_flow(context_scale: bool, seed: int = 0) -> ConditionalGlow:
    """A float64 flow in eval mode whose every weight and BatchNorm statistic is random."""
    torch.manual_seed(seed)
    config = FlowConfig(features=12, context_features=5, hidden_features=16, context_scale=context_scale)
    flow = ConditionalGlow(config).double()
    with torch.no_grad():
        for name, tensor in flow.state_dict().items():
            if tensor.is_floating_point():
                noise = torch.randn_like(tensor) * 0.3
                tensor.copy_(noise.abs() + 0.5 if "running_var" in name else noise)
    return flow.eval()


@pytest.mark.parametrize("context_scale", [False, True])
def test_frozen_decoder_equals_the_flow_decode(context_scale):
    flow = random_flow(context_scale)
    g = torch.Generator().manual_seed(3)
    context = torch.randn(4, 5, generator=g, dtype=torch.float64)
    z = torch.randn(4, 12, generator=g, dtype=torch.float64)
    with torch.no_grad():
        decoder = FrozenDecoder(flow, context)
    lean, (lean_grad,) = value_and_grads(decoder, z)
    plain, (plain_grad,) = value_and_grads(lambda z: flow.decode(z[:, None], context).x[:, 0], z)
    assert plain.abs().max() > 1.0  # a real test: the layers move the points
    torch.testing.assert_close(lean, plain, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(lean_grad, plain_grad, rtol=1e-10, atol=1e-12)


def test_frozen_decoder_needs_eval_mode_and_additive_coupling():
    flow = random_flow(False)
    context = torch.zeros(1, 5, dtype=torch.float64)
    with pytest.raises(ValueError):
        FrozenDecoder(flow.train(), context)
    affine = ConditionalGlow(FlowConfig(features=12, context_features=5, hidden_features=16, coupling="affine"))
    assert not FrozenDecoder.supports(affine.eval())
    assert FrozenDecoder.supports(flow.eval())


def test_rotmats_from_sixd_equals_sixd_to_rotmat():
    x = torch.randn(3, 24 * 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    lean, (lean_grad,) = value_and_grads(rotmats_from_sixd, x)
    plain, (plain_grad,) = value_and_grads(lambda x: sixd_to_rotmat(x.unflatten(-1, (-1, 6))), x)
    torch.testing.assert_close(lean, plain, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(lean_grad, plain_grad, rtol=1e-10, atol=1e-12)


def test_keypoint_term_equals_reprojection_energy_and_ignores_missing_points():
    g = torch.Generator().manual_seed(0)
    keypoints = torch.cat([300 * torch.rand(2, 6, 2, generator=g), torch.rand(2, 6, 1, generator=g)], -1).double()
    keypoints[0, 1, 2] = 0.0
    keypoints[1, 2] = torch.tensor([float("nan"), 5.0, 0.0])
    image_size = torch.tensor([[640.0, 480.0], [1000.0, 2000.0]], dtype=torch.float64)
    projected = 300 * torch.rand(2, 6, 2, generator=g, dtype=torch.float64)
    term = KeypointTerm(keypoints, image_size, sigma=50.0)
    lean, (lean_grad,) = value_and_grads(term, projected)
    # The plain energy's gradient is NaN at a NaN coordinate (People clean them out first).
    finite = torch.nan_to_num(keypoints)
    plain, (plain_grad,) = value_and_grads(lambda p: reprojection_energy(p, finite, image_size, 50.0), projected)
    torch.testing.assert_close(lean, plain, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(lean_grad, plain_grad, rtol=1e-12, atol=1e-12)
    assert lean_grad[0, 1].abs().max() == 0 and lean_grad[1, 2].abs().max() == 0


def people_of(batch) -> People:
    return People.from_keypoints(batch.clean_2d, batch.image_size, batch.focal_length)


@pytest.fixture(scope="module")
def model64(tiny_model):
    return copy.deepcopy(tiny_model).double()


def test_lean_energy_equals_the_plain_energy(model64, synthetic):
    people = people_of(synthetic)
    people = people.to(dtype=torch.float64)
    config = FitConfig(drop_hips=True)
    g = torch.Generator().manual_seed(0)
    with frozen(model64):
        start = regress(model64, people)
        z = 0.5 * torch.randn(len(people), model64.flow.config.features, generator=g, dtype=torch.float64)
        betas = start.betas + 0.1 * torch.randn(start.betas.shape, generator=g, dtype=torch.float64)
        inputs = (z, betas, start.translation)
        lean, lean_grads = value_and_grads(learned_prior_energy(model64, people, config, start), *inputs)
        plain_energy = learned_prior_energy(model64, people, config, start, lean=False)
        plain, plain_grads = value_and_grads(plain_energy, *inputs)
    torch.testing.assert_close(lean, plain, rtol=1e-10, atol=1e-9)
    for a, b in zip(lean_grads, plain_grads):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-8)


def test_lean_and_plain_fits_agree(model64, synthetic):
    people = people_of(synthetic)[:2]
    people = people.to(dtype=torch.float64)
    rules = StopRules(max_steps=1)
    lean = fit_keypoints(model64, people, FitConfig(rules=rules))
    plain = fit_keypoints(model64, people, FitConfig(rules=rules, lean_energy=False))
    assert lean.results[0].evaluations == plain.results[0].evaluations
    torch.testing.assert_close(lean.z, plain.z, rtol=0, atol=1e-7)
    torch.testing.assert_close(lean.translation, plain.translation, rtol=0, atol=1e-9)


def start_energy(model, people, config=None) -> float:
    """The energy that a fit of ``people`` minimises, at its start (a fit of 0 steps)."""
    fit = fit_keypoints(model, people, config or FitConfig(rules=StopRules(max_steps=0)))
    return fit.results[0].loss_history[0]


def plain_start_energy(model, people) -> float:
    start = regress(model, people)
    with frozen(model):
        z = start.context.new_zeros(len(people), model.flow.config.features)
        energy = learned_prior_energy(model, people, FitConfig(), start, lean=False)
        return float(energy(z, start.betas, start.translation).sum())


def test_every_fit_reads_the_current_weights(tiny_model, synthetic):
    """Nothing folded from the weights outlives a fit: change them, and the next fit sees it."""
    model = copy.deepcopy(tiny_model)
    people = people_of(synthetic)
    before = start_energy(model, people)
    assert before == pytest.approx(plain_start_energy(model, people), rel=1e-5)
    with torch.no_grad():  # move the flow's output (the regression's start changes with it)
        model.flow.steps()[0][0].shift.add_(0.3)
        model.flow.steps()[-1][2].transform_net.blocks[0].batch_norm_layers[0].running_mean.add_(0.5)
    after = start_energy(model, people)
    assert after != pytest.approx(before, rel=1e-3)
    assert after == pytest.approx(plain_start_energy(model, people), rel=1e-5)
    double = copy.deepcopy(model).double()
    people64 = people.to(dtype=torch.float64)
    assert start_energy(double, people64) == pytest.approx(plain_start_energy(double, people64), rel=1e-12)


def test_every_fit_reads_its_own_people(tiny_model, synthetic):
    """Contexts, cameras and detections are folded per fit: a fit of some people is their fit."""
    people = people_of(synthetic)
    config = FitConfig(rules=StopRules(max_steps=0))
    whole = fit_keypoints(tiny_model, people, config)
    part = fit_keypoints(tiny_model, people[2:], config)
    torch.testing.assert_close(part.keypoints_2d, whole.keypoints_2d[2:])
    assert start_energy(tiny_model, people[2:]) == pytest.approx(plain_start_energy(tiny_model, people[2:]), rel=1e-5)
