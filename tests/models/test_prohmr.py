from __future__ import annotations

import pytest
import torch

from hmrflow.flows import FlowConfig
from hmrflow.geometry import rotmat_to_sixd, sixd_to_rotmat
from hmrflow.models import EncoderConfig, ModelConfig, ProbabilisticHMR


def tiny_config(**encoder) -> ModelConfig:
    return ModelConfig(
        encoder=EncoderConfig(width=32, **encoder),
        flow=FlowConfig(context_features=32, hidden_features=32),
        head_hidden=32,
    )


@pytest.fixture(scope="module")
def model() -> ProbabilisticHMR:
    torch.manual_seed(0)
    model = ProbabilisticHMR(tiny_config())
    evidence = torch.rand(16, 23, 3)
    model.flow.initialize(torch.randn(16, 144) * 0.3, model.encoder(evidence).detach())
    return model.eval()


def test_mode_is_the_flow_decode_of_zero(model):
    evidence = torch.rand(3, 23, 3)
    out = model(evidence, num_samples=4, generator=torch.Generator().manual_seed(1))
    decoded = model.flow.decode(torch.zeros(3, 1, 144), out.context)
    torch.testing.assert_close(out.mode.sixd, decoded.x)
    torch.testing.assert_close(out.mode.rotmats, sixd_to_rotmat(decoded.x.view(3, 1, 24, 6)))
    assert out.mode.z.abs().max() == 0
    # The mode is the most likely pose: every sample is less likely.
    assert (out.samples.log_prob < out.mode.log_prob).all()


def test_the_pose_distribution_for_a_context_is_public(model):
    # Fitting and training use these instead of reaching into model.flow.
    evidence = torch.rand(3, 23, 3)
    z = torch.randn(3, 2, model.latent_features, generator=torch.Generator().manual_seed(2))
    out = model(evidence, z=z)
    decoded = model.decode_latent(z, out.context)
    torch.testing.assert_close(decoded.rotmats, out.samples.rotmats)
    torch.testing.assert_close(decoded.log_prob, out.samples.log_prob)
    torch.testing.assert_close(model.decode_latent(z[:, :0].new_zeros(3, 1, 144), out.context).sixd, out.mode.sixd)
    torch.testing.assert_close(model.encode_pose(decoded.sixd, out.context), z, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(model.pose_log_prob(decoded.sixd, out.context), decoded.log_prob, atol=2e-3, rtol=1e-4)
    assert model.latent_features == 144 and model.flow_initialized


def test_given_latents_are_decoded_and_log_probs_agree(model):
    evidence = torch.rand(2, 23, 3)
    z = torch.randn(2, 3, 144)
    out = model(evidence, z=z)
    torch.testing.assert_close(out.samples.z, z)
    recomputed = model.flow.log_prob(out.samples.sixd, out.context)
    torch.testing.assert_close(recomputed, out.samples.log_prob, atol=2e-3, rtol=1e-4)
    # log_prob of rotation matrices scores their orthonormal 6D form.
    orthonormal = model.flow.log_prob(rotmat_to_sixd(out.samples.rotmats).flatten(-2), out.context)
    torch.testing.assert_close(model.log_prob(evidence, out.samples.rotmats), orthonormal)


def test_samples_are_reproducible_with_a_generator(model):
    evidence = torch.rand(2, 23, 3)
    a = model(evidence, num_samples=3, generator=torch.Generator().manual_seed(5))
    b = model(evidence, num_samples=3, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(a.samples.sixd, b.samples.sixd)
    assert a.samples.rotmats.shape == (2, 3, 24, 3, 3)
    assert a.betas.shape == (2, 10) and a.camera.shape == (2, 3) and a.translation.shape == (2, 3)


def test_temperature_scales_the_latents_of_the_samples(model):
    evidence = torch.rand(2, 23, 3)
    full = model(evidence, num_samples=3, generator=torch.Generator().manual_seed(5))
    half = model(evidence, num_samples=3, generator=torch.Generator().manual_seed(5), temperature=0.5)
    torch.testing.assert_close(half.samples.z, 0.5 * full.samples.z)
    cold = model(evidence, num_samples=3, generator=torch.Generator().manual_seed(5), temperature=0.0)
    torch.testing.assert_close(cold.samples.sixd, cold.mode.sixd.expand_as(cold.samples.sixd))
    with pytest.raises(ValueError, match="temperature"):
        model(evidence, num_samples=1, temperature=-1.0)


def test_the_flip_tested_mode_is_mirror_symmetric(model):
    from hmrflow.body.joints import mirror_poses

    evidence = torch.rand(5, 23, 3) - torch.tensor([0.5, 0.5, 0.0])
    mirrored = model.mirror_evidence(evidence)
    torch.testing.assert_close(model.mirror_evidence(mirrored), evidence, rtol=0, atol=0)  # an involution
    coco = model.body.keypoint_sets["coco"].names
    left, right = coco.index("left_wrist"), coco.index("right_wrist")
    torch.testing.assert_close(mirrored[:, left], evidence[:, right] * torch.tensor([-1.0, 1.0, 1.0]))
    plain, tested = model(evidence), model(evidence, flip_test=True)
    of_mirror = model(mirrored, flip_test=True)
    # The person's mirror image gets the mirror image of the flip-tested mode (the plain
    # mode of an untrained model has no such symmetry).
    torch.testing.assert_close(of_mirror.mode.rotmats, mirror_poses(tested.mode.rotmats), atol=1e-5, rtol=0)
    assert not torch.allclose(model(mirrored).mode.rotmats, mirror_poses(plain.mode.rotmats), atol=1e-3)
    torch.testing.assert_close(of_mirror.betas, tested.betas)
    torch.testing.assert_close(of_mirror.camera, tested.camera * torch.tensor([1.0, -1.0, 1.0]))
    # The mode's latent and likelihood are the model's for the new pose.
    torch.testing.assert_close(tested.mode.log_prob, model.log_prob(evidence, tested.mode.rotmats), atol=1e-3, rtol=1e-4)


def test_the_flip_test_draws_half_the_samples_from_the_mirror_twin(model):
    from hmrflow.body.joints import mirror_poses

    evidence = torch.rand(4, 23, 3) - torch.tensor([0.5, 0.5, 0.0])
    mixed = model(evidence, num_samples=5, generator=torch.Generator().manual_seed(0), flip_test=True)
    generator = torch.Generator().manual_seed(0)
    own = model(evidence, num_samples=3, generator=generator)  # the first S - S // 2, then the twin's S // 2
    twin = model(model.mirror_evidence(evidence), num_samples=2, generator=generator)
    assert mixed.samples.rotmats.shape == (4, 5, 24, 3, 3)
    torch.testing.assert_close(mixed.samples.rotmats[:, :3], own.samples.rotmats)
    torch.testing.assert_close(mixed.samples.rotmats[:, 3:], mirror_poses(twin.samples.rotmats), atol=1e-5, rtol=0)
    # Every sample's latent and likelihood are the model's for that pose.
    torch.testing.assert_close(mixed.samples.log_prob[:, :3], own.samples.log_prob)
    torch.testing.assert_close(mixed.samples.log_prob[:, 3:], model.log_prob(evidence, mixed.samples.rotmats[:, 3:]),
                               atol=1e-3, rtol=1e-4)  # fmt: skip
    decoded = model.decode_latent(mixed.samples.z, mixed.context)
    torch.testing.assert_close(decoded.rotmats, mixed.samples.rotmats, atol=1e-4, rtol=0)
    # One sample: the model's own; given latents: their poses, none from the twin.
    assert model(evidence, num_samples=1, flip_test=True).samples.rotmats.shape[1] == 1
    z = torch.randn(4, 2, model.latent_features, generator=torch.Generator().manual_seed(1))
    given = model(evidence, z=z, flip_test=True).samples.rotmats
    torch.testing.assert_close(given, model(evidence, z=z).samples.rotmats)


def test_projection_of_the_camera_centre_is_the_box_centre(model):
    out = model(torch.rand(2, 23, 3))
    body = model.pose(out.mode, out.betas, keypoints=("coco",), vertices=False)
    projected = model.project(body.keypoints["coco"], out.translation)
    assert projected.shape == (2, 1, 17, 2)
    # A point at the camera's optical axis shift -t projects to the box centre 0.
    origin = -out.translation[:, None, None] * torch.tensor([1.0, 1.0, 0.0])
    centre = model.project(origin, out.translation)
    torch.testing.assert_close(centre, torch.zeros_like(centre))


def test_mismatched_config_fails_clearly():
    bad = ModelConfig(encoder=EncoderConfig(width=32), flow=FlowConfig(context_features=64))
    with pytest.raises(ValueError, match="context_features"):
        ProbabilisticHMR(bad)
    with pytest.raises(ValueError, match="keypoint set"):
        ProbabilisticHMR(tiny_config(keypoint_sets=("coco", "hands")))
    with pytest.raises(ValueError, match="expected keypoints"):
        ProbabilisticHMR(tiny_config())(torch.rand(2, 17, 3))


def test_the_keypoint_encoder_reads_depth_only_where_given():
    from hmrflow.models.keypoint_encoder import KeypointEncoder

    torch.manual_seed(0)
    encoder = KeypointEncoder(num_keypoints=5, hidden_features=16, depth=True).eval()
    with torch.no_grad():
        encoder.input_layer.weight.normal_()
    keypoints = torch.cat([torch.rand(3, 5, 2) - 0.5, torch.ones(3, 5, 1)], -1)
    nothing = torch.cat([keypoints, torch.full((3, 5, 1), float("nan"))], -1)
    depth = torch.cat([keypoints, torch.randn(3, 5, 1)], -1)
    assert torch.equal(encoder(nothing), encoder(keypoints))  # NaN depth = no depth column
    assert not torch.allclose(encoder(depth), encoder(keypoints))
    missing = depth.clone()
    missing[:, 2, 2] = 0.0  # a missing point: its depth is not read either
    changed = missing.clone()
    changed[:, 2, 3] += 1.0
    assert torch.equal(encoder(missing), encoder(changed))
    plain = KeypointEncoder(num_keypoints=5, hidden_features=16).eval()
    assert torch.equal(plain(depth), plain(keypoints))  # a model without depth ignores the column
    with pytest.raises(ValueError, match=r"\(B, 5, 3\) or \(B, 5, 4\)"):
        encoder(torch.zeros(3, 5, 5))
