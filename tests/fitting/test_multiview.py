from __future__ import annotations

import torch

from hmrflow.data.synthetic import SyntheticKeypoints
from hmrflow.fitting.evaluate import corrupt, synthesize_views
from hmrflow.fitting.keypoint_fit import FitConfig, fit_keypoints, project_keypoints
from hmrflow.fitting.lbfgs import StopRules
from hmrflow.fitting.multiview import (
    MultiViewConfig,
    consensus_rotation,
    fit_multiview,
    fit_multiview_calibrated,
)
from hmrflow.fitting.people import People
from hmrflow.geometry import rotvec_to_rotmat


def view(synthetic, index: slice = slice(0, 2)) -> People:
    return People.from_keypoints(synthetic.clean_2d[index], synthetic.image_size[index], synthetic.focal_length[index])


def test_consensus_of_equal_rotations_is_that_rotation():
    R = rotvec_to_rotmat(torch.randn(5, 3, generator=torch.Generator().manual_seed(0)))
    torch.testing.assert_close(consensus_rotation(R[None].expand(3, 5, 3, 3), 0), R, atol=1e-5, rtol=0)


def test_identical_views_give_the_single_view_result(tiny_model, synthetic):
    one = view(synthetic)
    rules = StopRules(max_steps=2)
    single = fit_multiview(tiny_model, [one], MultiViewConfig(rules=rules, reprojection=False))
    triple = fit_multiview(tiny_model, [one, one, one], MultiViewConfig(rules=rules, reprojection=False))
    for v in range(3):
        torch.testing.assert_close(triple.rotmats[:, v], single.rotmats[:, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(triple.betas, single.betas)
    torch.testing.assert_close(triple.consensus, single.consensus, atol=1e-5, rtol=0)


def test_one_view_with_reprojection_is_single_view_fitting(tiny_model, synthetic):
    # One view: data + 4^2 |z|^2 over (z, translation), the betas fixed -- the single-view
    # energy (same prior weight) with fixed betas, less its constant shape term (which
    # would only change the float32 rounding of the energy). Few iterations: rounding
    # differences of the two sums grow along this ill-conditioned problem.
    one = view(synthetic, slice(0, 2))
    rules = StopRules(max_steps=1, inner_steps=5)
    # The multi-view fitter optimises the translation in metres.
    config = FitConfig(rules=rules, optimize_betas=False, shape_prior_weight=0.0, scale_translation=False)
    single = fit_keypoints(tiny_model, one, config)
    multi = fit_multiview(tiny_model, [one], MultiViewConfig(rules=rules, reprojection=True))
    torch.testing.assert_close(multi.rotmats[:, 0], single.rotmats, atol=1e-4, rtol=0)
    torch.testing.assert_close(multi.translation[:, 0], single.translation, atol=1e-4, rtol=0)
    torch.testing.assert_close(multi.betas, single.betas)


def test_identical_views_with_reprojection_agree(tiny_model, synthetic):
    # Identical views are not computed identically: the CPU's batched matrix products
    # round a row differently by its position in a batch of 2 or 3 (torch.nn.functional.
    # linear on [a; a] with 69 input features differs by 1e-6), so the two contexts differ
    # by 1e-7. The energy is nearly flat along a depth-and-pose trade-off of one view
    # against the other, and L-BFGS amplifies that difference (float64 too: 1e-16 ->
    # 1.6 cm in two steps; at convergence the two depths sit 1.5 cm apart at 6.8 m). What
    # identical views must give is the same body and the same picture.
    one = view(synthetic, slice(0, 1))
    fit = fit_multiview(tiny_model, [one, one], MultiViewConfig(rules=StopRules(max_steps=30), reprojection=True))
    torch.testing.assert_close(fit.rotmats[:, 0], fit.rotmats[:, 1], atol=2e-2, rtol=0)
    pictures = [
        project_keypoints(tiny_model, fit.rotmats[:, v], fit.betas, fit.translation[:, v], one.focal_length,
                          one.principal_point)
        for v in range(2)
    ]  # fmt: skip
    assert (pictures[0] - pictures[1]).norm(dim=-1).max() < 1.0  # px
    depth = fit.translation[..., 2]
    assert ((depth[:, 0] - depth[:, 1]).abs() < 0.01 * depth[:, 0]).all()
    assert fit.results[0].loss < fit.results[0].loss_history[0]


def test_views_are_pulled_together(tiny_model, synthetic):
    # Two different people as the "views": the consistency term pulls their body poses.
    a, b = view(synthetic, slice(0, 1)), view(synthetic, slice(1, 2))
    loose = fit_multiview(tiny_model, [a, b], MultiViewConfig(rules=StopRules(max_steps=0), reprojection=False))
    tight = fit_multiview(tiny_model, [a, b], MultiViewConfig(rules=StopRules(max_steps=2), reprojection=False))
    spread = lambda fit: (fit.rotmats[:, 0, 1:] - fit.rotmats[:, 1, 1:]).square().sum()  # noqa: E731
    assert spread(tight) < 0.5 * spread(loose)
    assert all(r.loss < r.loss_history[0] for r in tight.results)


def test_calibrated_fit_reprojects_into_every_view(tiny_model):
    views = synthesize_views(SyntheticKeypoints(tiny_model.body, None), 2, 3, seed=3)
    per_view = [People.from_keypoints(views.clean_2d[:, v], views.image_size[:, v], views.cameras.focal_length[:, v])
                for v in range(3)]  # fmt: skip
    fit = fit_multiview_calibrated(tiny_model, per_view, views.cameras, MultiViewConfig(rules=StopRules(max_steps=3)))
    assert fit.consensus.shape == (2, 24, 3, 3) and fit.translation.shape == (2, 3)
    assert all(r.loss < 0.5 * r.loss_history[0] for r in fit.results)


def test_synthesized_views_project_the_same_body():
    from hmrflow.body import BodyModel

    body = BodyModel.from_name("anny_lowpoly")
    views = synthesize_views(SyntheticKeypoints(body, None), 3, 4, seed=0)
    assert views.clean_2d.shape == (3, 4, 23, 3)
    # Each camera sees the world pelvis where its projection says.
    pelvis = views.joints[:, None, :1]
    cams = views.cameras
    uv = cams.project(pelvis)
    assert ((uv >= 0) & (uv <= views.image_size[:, :, None])).all()
    # Cameras spread around the body: view directions differ between views.
    axes = cams.rotation[:, :, 2]  # optical axes in world coordinates
    assert (axes[:, 0] * axes[:, 2]).sum(-1).lt(0).all()  # views 0 and 2 face each other


def test_corrupt_drops_and_jitters():
    clean = torch.cat([torch.rand(50, 23, 2) * 100, torch.ones(50, 23, 1)], -1)
    out = corrupt(clean, 0.0, 0.3, torch.full((50,), 100.0), torch.Generator().manual_seed(0))
    assert abs((out[..., 2] == 0).float().mean() - 0.3) < 0.05
    kept = out[..., 2] > 0
    torch.testing.assert_close(out[..., :2][kept], clean[..., :2][kept])
    noisy = corrupt(clean, 0.02, 0.0, torch.full((50,), 100.0), torch.Generator().manual_seed(0))
    assert 1.5 < (noisy[..., :2] - clean[..., :2]).std() < 2.5


def test_a_box_frame_model_scores_each_views_pose_in_that_views_box_frame(tiny_model):
    """Calibrated multi-view fitting of a box model: each view's latent decodes, turned onto that
    view's box ray, to the world pose as that camera sees it; the uncalibrated fit's poses are
    its latents decoded and turned."""
    import copy
    import dataclasses

    from hmrflow.fitting.keypoint_fit import decode_rotmats

    twin = copy.deepcopy(tiny_model)
    twin.config = dataclasses.replace(tiny_model.config, orientation_frame="box")
    views = synthesize_views(SyntheticKeypoints(tiny_model.body, None), 2, 3, seed=3)
    per_view = [People.from_keypoints(views.clean_2d[:, v], views.image_size[:, v], views.cameras.focal_length[:, v])
                for v in range(3)]  # fmt: skip
    rules = MultiViewConfig(rules=StopRules(max_steps=2))
    stacked = People.stack(per_view)  # row b V + v
    fit = fit_multiview_calibrated(twin, per_view, views.cameras, rules)
    loose = fit_multiview(twin, per_view, rules)
    with torch.no_grad():
        contexts = twin.encode(stacked.evidence)
        for result in (fit, loose):
            decoded = decode_rotmats(twin, result.z.flatten(0, 1), contexts, stacked.box_rotation())
            torch.testing.assert_close(decoded, result.rotmats.flatten(0, 1), atol=2e-4, rtol=0)
