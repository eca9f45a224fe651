"""Known intrinsics: every fitter projects with f_x, f_y and the principal point (issue 19).

A synthetic person seen by a camera with non-square pixels and an off-centre principal
point (f = (1400, 1000) px, c = (600, 420) px in a 1280 x 960 image): given the true
camera, a fit explains the keypoints about as well as with square pixels; given f_x for
both axes (the old fitters' camera) it cannot, and its body, seen through the true
camera (the one the camera record and the pictures use), misses them by tens of px.
"""

from __future__ import annotations

import copy

import pytest
import torch

from hmrflow.data.synthetic import SyntheticBatch, SyntheticKeypoints
from hmrflow.errors import InputError
from hmrflow.fitting.baseline import fit_baseline
from hmrflow.fitting.evaluate import synthesize_views
from hmrflow.fitting.keypoint_fit import (
    BodyFit,
    FitConfig,
    evidence_sets,
    fit_keypoints,
    frozen,
    learned_prior_energy,
    project_keypoints,
    regress,
)
from hmrflow.fitting.lbfgs import StopRules
from hmrflow.fitting.lean_energy import KeypointProjector
from hmrflow.fitting.multiview import MultiViewConfig, fit_multiview_calibrated
from hmrflow.fitting.people import People
from hmrflow.fitting.temporal import TemporalConfig, fit_sequence
from hmrflow.geometry.pinhole import PinholeCamera
from hmrflow.models import ProbabilisticHMR

SIZE = torch.tensor([1280.0, 960.0])
TRUE = PinholeCamera(torch.tensor([1400.0, 1000.0]), torch.tensor([600.0, 420.0]), SIZE)
FX_ONLY = PinholeCamera(torch.tensor([1400.0, 1400.0]), torch.tensor([600.0, 420.0]), SIZE)
RULES = StopRules(max_steps=10)


def seen_by(camera: PinholeCamera, synthetic: SyntheticBatch) -> torch.Tensor:
    """``(B, K, 3)``: the synthetic people's keypoints, 2.5 m closer (a large person), seen by ``camera``."""
    points = synthetic.keypoints_3d - torch.tensor([0.0, 0.0, 2.5])
    uv = camera.expand(len(synthetic)).project(points)
    return torch.cat([uv, torch.ones_like(uv[..., :1])], -1)


def people(keypoints: torch.Tensor, camera: PinholeCamera) -> People:
    return People.from_camera(keypoints, camera.expand(len(keypoints)))


def error_in(model: ProbabilisticHMR, fit: BodyFit, camera: PinholeCamera, keypoints: torch.Tensor) -> torch.Tensor:
    """``(B,)`` mean px between ``keypoints`` and the fitted bodies seen by ``camera``."""
    cameras = camera.expand(len(keypoints))
    with torch.no_grad():
        uv = project_keypoints(model, fit.rotmats, fit.betas, fit.translation, cameras.focal_length,
                               cameras.principal_point)  # fmt: skip
    return (uv - keypoints[..., :2]).norm(dim=-1).mean(-1)


@pytest.mark.parametrize("fitter", [fit_keypoints, fit_baseline])
def test_the_true_intrinsics_recover_the_keypoints_and_f_x_alone_does_not(tiny_model, synthetic, fitter):
    square = PinholeCamera(torch.tensor([1400.0, 1400.0]), TRUE.principal_point, SIZE)
    reference = fitter(tiny_model, people(seen_by(square, synthetic), square), FitConfig(rules=RULES))
    keypoints = seen_by(TRUE, synthetic)
    true = fitter(tiny_model, people(keypoints, TRUE), FitConfig(rules=RULES))
    fx_only = fitter(tiny_model, people(keypoints, FX_ONLY), FitConfig(rules=RULES))
    # with the true camera: as good as the square-pixel case (a few px), and what the fit
    # reports is what the true camera sees
    assert (true.reprojection_error < 2 * reference.reprojection_error.max() + 2).all()
    assert true.reprojection_error.mean() < 1.5 * reference.reprojection_error.mean() + 1
    torch.testing.assert_close(error_in(tiny_model, true, TRUE, keypoints), true.reprojection_error)
    # with f_x for both axes: the body, seen as the camera saw it, misses by tens of px
    assert (error_in(tiny_model, fx_only, TRUE, keypoints) > 4 * true.reprojection_error).all()


def test_lean_and_reference_energies_agree_with_two_focals(tiny_model, synthetic):
    model = copy.deepcopy(tiny_model).double()
    crowd = people(seen_by(TRUE, synthetic), TRUE).to(dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    with frozen(model):
        start = regress(model, crowd)
        z = 0.5 * torch.randn(len(crowd), model.latent_features, generator=g, dtype=torch.float64)
        lean = learned_prior_energy(model, crowd, FitConfig(), start)(z, start.betas, start.translation)
        plain = learned_prior_energy(model, crowd, FitConfig(), start, lean=False)(z, start.betas, start.translation)
        projector = KeypointProjector(model.body, evidence_sets(model), crowd.focal_length, crowd.principal_point)
        uv = projector(start.rotmats, start.betas, start.translation)
        reference = project_keypoints(model, start.rotmats, start.betas, start.translation, crowd.focal_length,
                                      crowd.principal_point)  # fmt: skip
    torch.testing.assert_close(lean, plain, rtol=1e-10, atol=1e-9)
    torch.testing.assert_close(uv, reference, rtol=0, atol=1e-9)
    # the two focals act on their own axes: swapping them changes the picture
    swapped = KeypointProjector(model.body, evidence_sets(model), crowd.focal_length.flip(-1), crowd.principal_point)
    assert (swapped(start.rotmats, start.betas, start.translation) - uv).abs().amax() > 10
    fits = [fit_keypoints(model, crowd[:2], FitConfig(rules=StopRules(max_steps=1), lean_energy=lean_energy))
            for lean_energy in (True, False)]  # fmt: skip
    torch.testing.assert_close(fits[0].z, fits[1].z, rtol=0, atol=1e-7)
    torch.testing.assert_close(fits[0].translation, fits[1].translation, rtol=0, atol=1e-9)


def test_the_start_puts_the_box_centre_through_the_camera(tiny_model, synthetic):
    # The regressed crop camera moved into the full image: its body origin lands on the
    # box centre plus the crop's offset, through (f_x, f_y) and the principal point.
    crowd = people(seen_by(TRUE, synthetic), TRUE)
    with torch.no_grad(), frozen(tiny_model):
        out = tiny_model(crowd.evidence)
    centred = out.camera.clone()
    centred[:, 1:] = 0
    origin = crowd.camera.project(torch.zeros(len(crowd), 1, 3), crowd.full_translation(centred))[:, 0]
    torch.testing.assert_close(origin, crowd.box_center, rtol=0, atol=1e-3)


def calibrated_views(model: ProbabilisticHMR, focal: torch.Tensor, principal_shift: torch.Tensor):
    """Three views of four bodies, the synthetic cameras given ``focal`` ``(2,)`` times their
    focal and the principal point shifted: (keypoints ``(B, V, K, 3)``, the cameras ``(B, V)``)."""
    views = synthesize_views(SyntheticKeypoints(model.body, None), 4, 3, seed=3)
    cams = views.cameras
    f = cams.focal_length * focal
    c = cams.principal_point + principal_shift
    normalised = (views.clean_2d[..., :2] - cams.principal_point[..., None, :]) / cams.focal_length[..., None, :]
    keypoints = torch.cat([normalised * f[..., None, :] + c[..., None, :], views.clean_2d[..., 2:]], -1)
    return keypoints, PinholeCamera(f, c, cams.image_size, cams.rotation, cams.translation)


def calibrated_error(model: ProbabilisticHMR, fit, cameras: PinholeCamera, keypoints: torch.Tensor) -> torch.Tensor:
    """``(B,)`` mean px over the views between the keypoints and the world body seen by ``cameras``."""
    sets = evidence_sets(model)
    with torch.no_grad():
        out = model.body(fit.consensus, fit.betas, fit.translation, keypoints=sets, vertices=False)
        uv = cameras.project(torch.cat([out.keypoints[name] for name in sets], -2)[:, None])
    seen = keypoints[..., 2] > 0
    distance = (uv - keypoints[..., :2]).norm(dim=-1)
    return (distance * seen).sum((1, 2)) / seen.sum((1, 2))


def test_the_calibrated_multiview_fit_uses_both_focals_and_the_principal_point(tiny_model):
    config = MultiViewConfig(rules=RULES)

    def fit(keypoints: torch.Tensor, cameras: PinholeCamera):
        # the views' own cameras (here centred, f_x only) give way to the calibration's intrinsics
        views = [People.from_keypoints(keypoints[:, v], cameras.image_size[:, v], cameras.focal_length[:, v, 0])
                 for v in range(3)]  # fmt: skip
        return fit_multiview_calibrated(tiny_model, views, cameras, config)

    square_keypoints, square = calibrated_views(tiny_model, torch.tensor([1.0, 1.0]), torch.zeros(2))
    keypoints, true = calibrated_views(tiny_model, torch.tensor([1.0, 0.7]), torch.tensor([-40.0, -60.0]))
    fx_only = PinholeCamera(true.focal_length[..., :1].expand(-1, -1, 2), true.principal_point, true.image_size,
                            true.rotation, true.translation)  # fmt: skip
    reference = calibrated_error(tiny_model, fit(square_keypoints, square), square, square_keypoints)
    good = calibrated_error(tiny_model, fit(keypoints, true), true, keypoints)
    bad = calibrated_error(tiny_model, fit(keypoints, fx_only), true, keypoints)
    # medians: a tiny model's fit lands in a poor local minimum now and then, square pixels or not
    assert good.median() < 1.5 * reference.median() + 2
    assert bad.median() > 3 * good.median()
    with pytest.raises(InputError, match="batch shape"):
        fit_multiview_calibrated(tiny_model, [People.from_camera(keypoints[:, v], true[:, v]) for v in range(3)],
                                 true[:1], config)  # fmt: skip


def test_the_temporal_fit_uses_the_camera(tiny_model, synthetic):
    # one person walking sideways at a constant speed: six frames
    walk = torch.arange(6.0)[:, None, None] * torch.tensor([0.05, 0.0, 0.02])
    points = synthetic.keypoints_3d[:1] - torch.tensor([0.0, 0.0, 2.5]) + walk
    uv = TRUE.expand(6).project(points)
    keypoints = torch.cat([uv, torch.ones_like(uv[..., :1])], -1)
    config = TemporalConfig(fit=FitConfig(rules=RULES))
    true = fit_sequence(tiny_model, keypoints, config=config, camera=TRUE)
    fx_only = fit_sequence(tiny_model, keypoints, config=config, camera=FX_ONLY)
    assert true.reprojection_error.mean() < 10
    cameras = TRUE.expand(6)
    with torch.no_grad():
        seen = project_keypoints(tiny_model, fx_only.rotmats, fx_only.betas.expand(6, -1), fx_only.translation,
                                 cameras.focal_length, cameras.principal_point)  # fmt: skip
    assert ((seen - keypoints[..., :2]).norm(dim=-1).mean(-1) > 4 * true.reprojection_error).all()
    # image size and focal length: the centred camera they name, bit for bit
    centred = PinholeCamera.centred(SIZE, torch.tensor([1400.0, 1000.0]))
    short = TemporalConfig(fit=FitConfig(rules=StopRules(max_steps=2)))
    a = fit_sequence(tiny_model, keypoints, SIZE, torch.tensor([1400.0, 1000.0]), config=short)
    b = fit_sequence(tiny_model, keypoints, config=short, camera=centred)
    assert torch.equal(a.translation, b.translation) and torch.equal(a.z, b.z)
    with pytest.raises(InputError, match="not both"):
        fit_sequence(tiny_model, keypoints, SIZE, config=short, camera=centred)
    with pytest.raises(InputError, match="one camera"):
        fit_sequence(tiny_model, keypoints, config=short, camera=centred.expand(2))
