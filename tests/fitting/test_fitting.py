from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from hmrflow.fitting.baseline import BaselineConfig, fit_baseline
from hmrflow.fitting.gmm import GaussianMixture, fit_gaussian_mixture
from hmrflow.fitting.keypoint_fit import FitConfig, default_focal_length, fit_keypoints, regress
from hmrflow.fitting.lbfgs import StopRules
from hmrflow.fitting.people import People
from hmrflow.fitting.robust import geman_mcclure, reprojection_energy


def people_of(batch, keypoints=None) -> People:
    keypoints = batch.clean_2d if keypoints is None else keypoints
    return People.from_keypoints(keypoints, batch.image_size, batch.focal_length)


def test_geman_mcclure_is_quadratic_near_zero_and_bounded():
    r = torch.tensor([0.1, 1e4])
    rho = geman_mcclure(r, sigma=100.0)
    torch.testing.assert_close(rho[0], torch.tensor(0.01), rtol=1e-3, atol=0)
    assert rho[1] < 100.0**2


def test_reprojection_energy_ignores_missing_points_even_if_nan():
    projected = torch.zeros(1, 3, 2)
    keypoints = torch.tensor([[[1.0, 0.0, 1.0], [float("nan"), 5.0, 0.0], [0.0, 2.0, 0.5]]])
    energy = reprojection_energy(projected, keypoints, torch.tensor([[1000.0, 500.0]]), sigma=100.0)
    expected = geman_mcclure(torch.tensor(1.0)) + 0.25 * geman_mcclure(torch.tensor(2.0))
    torch.testing.assert_close(energy, expected[None])


def test_people_clean_nan_and_build_the_box(synthetic):
    keypoints = synthetic.clean_2d.clone()
    keypoints[0, 3] = float("nan")
    people = people_of(synthetic, keypoints)
    assert torch.isfinite(people.evidence).all()
    assert people.keypoints[0, 3, 2] == 0
    torch.testing.assert_close(default_focal_length(torch.tensor([300.0, 400.0])), torch.tensor(500.0))


def test_people_take_a_detectors_depth_into_the_evidence_only(synthetic):
    keypoints = synthetic.clean_2d[:4].clone()
    depth = torch.randn(4, keypoints.shape[1], 1) * 50
    depth[0, 5] = float("nan")
    plain = People.from_keypoints(keypoints, synthetic.image_size[:4])
    people = People.from_keypoints(torch.cat([keypoints, depth], -1), synthetic.image_size[:4])
    assert torch.equal(people.keypoints, plain.keypoints) and torch.equal(people.box_size, plain.box_size)
    assert torch.equal(people.evidence[..., :3], plain.evidence)
    visible = keypoints[..., 2] > 0
    expected = torch.where(visible, depth[..., 0] / plain.box_size[:, None], torch.tensor(float("nan")))
    torch.testing.assert_close(people.evidence[..., 3], expected, equal_nan=True)
    with pytest.raises(ValueError, match=r"\(B, K, 3\) or \(B, K, 4\)"):
        People.from_keypoints(torch.zeros(4, 23, 5), synthetic.image_size[:4])


def test_start_is_the_regression_in_the_full_image(tiny_model, synthetic):
    people = people_of(synthetic)
    start = regress(tiny_model, people)
    fit = fit_keypoints(tiny_model, people, FitConfig(rules=StopRules(max_steps=0)))
    assert all(r.steps == 0 for r in fit.results)
    torch.testing.assert_close(fit.rotmats, start.rotmats, atol=1e-5, rtol=0)
    torch.testing.assert_close(fit.translation, start.translation)
    assert (start.translation[:, 2] > 0).all()


def test_fitting_reduces_the_reprojection_error(tiny_model, synthetic):
    people = people_of(synthetic)
    fit = fit_keypoints(tiny_model, people, FitConfig(rules=StopRules(max_steps=3)))
    assert all(r.loss < r.loss_history[0] for r in fit.results)
    assert fit.reprojection_error.mean() < 0.5 * fit.initial_error.mean()
    assert fit.vertices is not None and fit.vertices.shape[0] == len(people)
    assert not tiny_model.training and all(p.grad is None for p in tiny_model.parameters())


def test_the_prior_holds_back_overfitting_of_noisy_keypoints(tiny_model, synthetic):
    rng = torch.Generator().manual_seed(0)
    noisy = synthetic.clean_2d.clone()
    noisy[..., :2] += 15.0 * torch.randn(noisy[..., :2].shape, generator=rng)
    people = people_of(synthetic, noisy)
    start = regress(tiny_model, people)
    rules = StopRules(max_steps=8)
    with_prior = fit_keypoints(tiny_model, people, FitConfig(rules=rules), start)
    without = fit_keypoints(tiny_model, people, FitConfig(rules=rules, pose_prior_weight=0.0), start)
    # Without the prior the body follows the noise further and strays further from z = 0.
    assert without.reprojection_error.mean() < with_prior.reprojection_error.mean()
    assert without.z.norm(dim=-1).mean() > with_prior.z.norm(dim=-1).mean()
    strong = fit_keypoints(tiny_model, people, FitConfig(rules=rules, pose_prior_weight=40.0), start)
    assert strong.z.norm(dim=-1).mean() < with_prior.z.norm(dim=-1).mean()


def test_joint_batch_and_per_person_fits_agree_on_one_person(tiny_model, synthetic):
    people = people_of(synthetic)
    rules = StopRules(max_steps=1)
    # The same start: a regression of 4 or of 1 differs by float rounding, which an
    # unconverged fit amplifies.
    start = regress(tiny_model, people)
    alone = fit_keypoints(tiny_model, people[1:2], FitConfig(rules=rules), start[1:2])
    in_batch = fit_keypoints(tiny_model, people, FitConfig(rules=rules, joint_batch=False), start)
    assert len({id(r) for r in in_batch.results}) == len(people)
    torch.testing.assert_close(in_batch.rotmats[1:2], alone.rotmats, atol=1e-3, rtol=0)  # float rounding
    joint = fit_keypoints(tiny_model, people, FitConfig(rules=rules, joint_batch=True))
    assert len(joint.results) == len(people) and joint.results[0] is joint.results[-1]
    assert joint.reprojection_error.mean() < joint.initial_error.mean()


def test_drop_hips_makes_the_fit_blind_to_the_hips(tiny_model, synthetic):
    people = people_of(synthetic)
    moved = synthetic.clean_2d.clone()
    moved[:, 11:13, :2] += 200.0  # COCO left/right hip
    moved_people = dataclasses.replace(people, keypoints=moved)
    config = FitConfig(rules=StopRules(max_steps=1), drop_hips=True)
    a = fit_keypoints(tiny_model, people, config)
    b = fit_keypoints(tiny_model, moved_people, config)
    torch.testing.assert_close(a.rotmats, b.rotmats)
    c = fit_keypoints(tiny_model, moved_people, FitConfig(rules=StopRules(max_steps=1)))
    assert not torch.allclose(a.rotmats, c.rotmats, atol=1e-4)


def test_baseline_reduces_the_reprojection_error_from_the_same_start(tiny_model, synthetic):
    people = people_of(synthetic)
    start = regress(tiny_model, people)
    fit = fit_baseline(tiny_model, people, FitConfig(rules=StopRules(max_steps=3)), start=start)
    assert fit.z is None
    assert fit.reprojection_error.mean() < 0.5 * fit.initial_error.mean()


def test_gaussian_mixture_recovers_two_clusters():
    rng = torch.Generator().manual_seed(0)
    a = torch.randn(400, 2, generator=rng, dtype=torch.float64) * 0.3 + torch.tensor([4.0, 0.0], dtype=torch.float64)
    b = torch.randn(200, 2, generator=rng, dtype=torch.float64) * 0.3 - torch.tensor([4.0, 0.0], dtype=torch.float64)
    gmm = fit_gaussian_mixture(torch.cat([a, b]), 2, iterations=30, generator=rng)
    order = gmm.means[:, 0].argsort(descending=True)
    expected = torch.tensor([[4.0, 0.0], [-4.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(gmm.means[order], expected, atol=0.1, rtol=0)
    torch.testing.assert_close(gmm.weights[order], torch.tensor([2 / 3, 1 / 3], dtype=torch.float64), atol=0.02, rtol=0)


def test_shipped_pose_prior_prefers_real_poses(tmp_path):
    from hmrflow.data.pose_sources import load_cmu_demo
    from hmrflow.geometry import rotmat_to_rotvec

    gmm = GaussianMixture.default()
    assert gmm.dim == 69
    real = rotmat_to_rotvec(load_cmu_demo().rotmats[::20, 1:]).flatten(-2)
    random = (torch.rand(len(real), 69, generator=torch.Generator().manual_seed(0)) - 0.5) * 3.0
    assert gmm.nll(real).median() < gmm.nll(random).median()
    gmm.save(tmp_path / "g.npz")
    torch.testing.assert_close(GaussianMixture.from_file(tmp_path / "g.npz").means, gmm.means)


def test_baseline_prior_weight_matters(tiny_model, synthetic):
    people = people_of(synthetic)
    config = FitConfig(rules=StopRules(max_steps=1))
    a = fit_baseline(tiny_model, people, config, BaselineConfig(prior_weight=0.0))
    b = fit_baseline(tiny_model, people, config, BaselineConfig(prior_weight=50.0))
    assert a.reprojection_error.mean() < b.reprojection_error.mean()


def box_frame_twin(model):
    """The same weights, read as giving the global orientation in the person box's frame."""
    twin = copy.deepcopy(model)
    twin.config = dataclasses.replace(model.config, orientation_frame="box")
    return twin


def test_a_box_frame_model_is_turned_onto_each_box_ray_everywhere_it_is_decoded(tiny_model, synthetic):
    people = people_of(synthetic)
    twin = box_frame_twin(tiny_model)
    turn = people.box_rotation()
    camera, box = regress(tiny_model, people), regress(twin, people)
    assert camera.to_camera is None and box.to_camera is not None
    torch.testing.assert_close(box.rotmats[:, 0], turn @ camera.rotmats[:, 0])
    torch.testing.assert_close(box.rotmats[:, 1:], camera.rotmats[:, 1:])
    for lean in (True, False):  # the fit decodes z = 0 to the turned mode, on the lean and the plain path
        fit = fit_keypoints(twin, people, FitConfig(rules=StopRules(max_steps=0), lean_energy=lean))
        torch.testing.assert_close(fit.rotmats, box.rotmats, atol=1e-5, rtol=0)
    samples = torch.linalg.qr(torch.randn(len(people), 3, 24, 3, 3))[0]
    back = people.pose_to_model(people.pose_to_camera(samples, "box"), "box")
    torch.testing.assert_close(back, samples)
    assert people.pose_to_camera(samples, "camera") is samples


def test_people_turn_poses_only_by_a_known_frame():
    people = People.from_keypoints(torch.rand(2, 23, 3) * 100 + 200, torch.tensor([640.0, 480.0]))
    assert people.frame_to_camera("camera") is None
    torch.testing.assert_close(people.frame_to_camera("box"), people.box_rotation())
    with pytest.raises(ValueError, match="frame must be 'camera' or 'box', got 'world'"):
        people.frame_to_camera("world")
