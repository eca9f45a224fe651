"""The fitters optimise the translation in units of about 10 px (FitConfig.scale_translation)."""

from __future__ import annotations

import pytest
import torch

from hmrflow.fitting.keypoint_fit import (
    TRANSLATION_UNIT_PX,
    FitConfig,
    fit_keypoints,
    frozen,
    learned_prior_energy,
    project_keypoints,
    regress,
    translation_scale,
)
from hmrflow.fitting.lbfgs import StopRules
from hmrflow.fitting.people import People


def people_of(batch) -> People:
    return People.from_keypoints(batch.clean_2d, batch.image_size, batch.focal_length)


def test_a_unit_moves_the_keypoints_by_about_ten_pixels(tiny_model, synthetic):
    people = people_of(synthetic)
    start = regress(tiny_model, people)
    scale = translation_scale(people.keypoints, people.focal_length, start.translation)
    with frozen(tiny_model):

        def project(translation):
            return project_keypoints(tiny_model, start.rotmats, start.betas, translation, people.focal_length,
                                     people.principal_point)  # fmt: skip

        base = project(start.translation)
        for axis in range(3):
            step = torch.zeros(3)
            step[axis] = 1.0
            moved = project(start.translation + scale * step)
            if axis < 2:  # sideways: every point moves
                motion = (moved - base).norm(dim=-1).mean(-1)
            else:  # in depth: the points move towards or away from their centre
                spread = (base - base.mean(-2, keepdim=True)).norm(dim=-1).mean(-1)
                motion = (spread - (moved - moved.mean(-2, keepdim=True)).norm(dim=-1).mean(-1)).abs()
            assert ((motion > TRANSLATION_UNIT_PX / 2) & (motion < 2 * TRANSLATION_UNIT_PX)).all(), (axis, motion)


def test_the_scale_reads_only_the_detections_the_data_term_uses(synthetic):
    keypoints = synthetic.clean_2d.clone()
    focal, translation = synthetic.focal_length, torch.tensor([[0.1, 0.2, 5.0]]).expand(len(keypoints), 3)
    moved = keypoints.clone()
    moved[:, 3, :2] += 500.0
    moved[:, 3, 2] = 0.0  # a point that is not used: its coordinates do not count
    kept = keypoints.clone()
    kept[:, 3, 2] = 0.0
    torch.testing.assert_close(translation_scale(moved, focal, translation), translation_scale(kept, focal, translation))
    lonely = torch.zeros(1, 5, 3)
    lonely[0, 0] = torch.tensor([10.0, 20.0, 1.0])  # one point: no spread, a finite scale all the same
    assert torch.isfinite(translation_scale(lonely, focal[:1], translation[:1])).all()


@pytest.mark.parametrize("scale_translation", [True, False])
def test_either_unit_minimises_the_same_energy(tiny_model, synthetic, scale_translation):
    people = people_of(synthetic)
    start = regress(tiny_model, people)
    config = FitConfig(rules=StopRules(max_steps=2), scale_translation=scale_translation)
    fit = fit_keypoints(tiny_model, people, config, start)
    result = fit.results[0]
    with frozen(tiny_model):
        energy = learned_prior_energy(tiny_model, people, config, start, lean=False)
        at_start = energy(torch.zeros_like(fit.z), start.betas, start.translation).sum()
        at_end = energy(fit.z, fit.betas, fit.translation).sum()
        projected = project_keypoints(tiny_model, fit.rotmats, fit.betas, fit.translation, people.focal_length,
                                      people.principal_point)  # fmt: skip
    assert result.loss_history[0] == pytest.approx(float(at_start), rel=1e-5)
    assert result.loss == pytest.approx(float(at_end), rel=1e-5)  # the reported translation is the fitted one
    torch.testing.assert_close(fit.keypoints_2d, projected, rtol=1e-5, atol=1e-3)
