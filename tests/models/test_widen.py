from __future__ import annotations

import pytest
import torch

from hmrflow.errors import CheckpointError
from hmrflow.flows import FlowConfig
from hmrflow.models import EncoderConfig, ModelConfig, ProbabilisticHMR
from hmrflow.models.widen import widen_model, widen_state, widen_tensor


def config(width: int, head: int, hidden: int) -> ModelConfig:
    return ModelConfig(
        encoder=EncoderConfig(width=width, dropout=0.0),
        flow=FlowConfig(context_features=width, hidden_features=hidden, dropout=0.0, context_scale=True),
        head_hidden=head,
    )


@pytest.fixture(scope="module")
def narrow() -> ProbabilisticHMR:
    """A tiny model with every weight random (also those that start at zero) and BatchNorm statistics set."""
    torch.manual_seed(0)
    model = ProbabilisticHMR(config(16, 16, 16))
    model.flow.initialize(torch.randn(32, 144) * 0.3, model.encoder(torch.rand(32, 23, 3)).detach())
    with torch.no_grad():
        for name, value in model.named_parameters():
            value.add_(0.1 * torch.randn_like(value))
        for name, value in model.named_buffers():
            if "running_var" in name:
                value.uniform_(0.5, 2.0)
            elif "running_mean" in name:
                value.normal_()
    return model.eval()


def widened(narrow: ProbabilisticHMR, width: int = 24, head: int = 20, hidden: int = 28) -> ProbabilisticHMR:
    torch.manual_seed(1)
    return widen_model(narrow, ProbabilisticHMR(config(width, head, hidden), body=narrow.body))


def outputs(model: ProbabilisticHMR, evidence: torch.Tensor, z: torch.Tensor) -> list[torch.Tensor]:
    out = model(evidence, z=z)
    return [out.mode.sixd, out.samples.sixd, out.samples.log_prob, out.mode.log_prob, out.betas, out.camera]


@pytest.mark.parametrize("train", [False, True])
def test_a_widened_model_computes_what_the_narrow_one_did(narrow, train):
    # Every width grows at once: encoder and context, the head's hidden layer, the flow's nets.
    wide = widened(narrow)
    assert sum(p.numel() for p in wide.parameters()) > sum(p.numel() for p in narrow.parameters())
    evidence, z = torch.rand(8, 23, 3) - 0.5, torch.randn(8, 3, 144)
    narrow.train(train), wide.train(train)  # training mode: BatchNorm on the batch's statistics
    try:
        for a, b in zip(outputs(wide, evidence, z), outputs(narrow, evidence, z)):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    finally:
        narrow.eval()


def test_the_new_units_learn_and_then_change_the_function(narrow):
    wide = widened(narrow).train()
    evidence = torch.rand(8, 23, 3) - 0.5
    out = wide(evidence, num_samples=2, generator=torch.Generator().manual_seed(0))
    (out.mode.sixd.square().sum() + out.betas.square().sum() - out.samples.log_prob.sum()).backward()
    # (out, in) weights fed by the new context: the old outputs' columns start at zero and learn.
    head = wide.head.layers[0].weight
    coupling = wide.flow.transforms[2].transform_net.initial_layer.weight  # (H, I + C): inputs, then context
    for weight, old_rows, new_columns in ((head, 16, slice(16, None)), (coupling, 16, slice(72 + 16, None))):
        assert not weight[:old_rows, new_columns].any()
        assert weight.grad[:old_rows, new_columns].abs().sum() > 0
    optimizer = torch.optim.SGD(wide.parameters(), lr=0.1)
    optimizer.step()
    wide.eval()
    assert not torch.allclose(wide(evidence).mode.sixd, narrow(evidence).mode.sixd, atol=1e-4)


def test_widen_tensor_fills_the_leading_part_and_zeroes_the_new_inputs_of_old_outputs():
    wide = torch.full((4, 5), 7.0)
    out = widen_tensor(torch.ones(2, 3), wide)
    expected = torch.tensor([[1.0, 1, 1, 0, 0], [1, 1, 1, 0, 0], [7, 7, 7, 7, 7], [7, 7, 7, 7, 7]])
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(widen_tensor(torch.ones(2), torch.zeros(3)), torch.tensor([1.0, 1.0, 0.0]))
    assert widen_tensor(torch.tensor(5), torch.tensor(0)).item() == 5  # num_batches_tracked
    assert wide.eq(7).all()  # the wide model's tensor is not written


def test_what_cannot_widen_is_an_error_naming_it(narrow):
    smaller = ProbabilisticHMR(config(8, 16, 16), body=narrow.body)
    with pytest.raises(CheckpointError, match="cannot widen encoder.input_layer.weight: a \\(16, 69\\) tensor"):
        widen_model(narrow, smaller)
    plain = ProbabilisticHMR(
        ModelConfig(encoder=EncoderConfig(width=24), flow=FlowConfig(context_features=24), head_hidden=16),
        body=narrow.body,
    )
    with pytest.raises(CheckpointError, match="differ by name .*flow.context_scale"):
        widen_state(narrow.state_dict(), plain.state_dict())
    with pytest.raises(ValueError, match="does not fit"):
        widen_tensor(torch.ones(3), torch.ones(3, 1))


def test_a_model_widens_into_one_that_reads_keypoint_depth(narrow):
    from dataclasses import replace

    base = config(16, 16, 16)
    depth = replace(base, encoder=replace(base.encoder, keypoint_depth=True))
    torch.manual_seed(1)
    wide = widen_model(narrow, ProbabilisticHMR(depth, body=narrow.body)).eval()
    evidence, z = torch.rand(8, 23, 3) - 0.5, torch.randn(8, 3, 144)
    with_depth = torch.cat([evidence, torch.randn(8, 23, 1)], -1)
    for a, b in zip(outputs(wide, with_depth, z), outputs(narrow, evidence, z)):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)  # the depth columns start at zero
