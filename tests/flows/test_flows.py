r"""Tests of hmrflow.flows: every layer type and the whole flow, in float64."""

from __future__ import annotations

import doctest
import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import hmrflow.flows.config
import hmrflow.flows.glow
import hmrflow.flows.layers
import hmrflow.flows.nets
from hmrflow.flows import (
    ActNorm,
    AdditiveCoupling,
    AffineCoupling,
    ConditionalGlow,
    ContextScale,
    Coupling,
    FlowConfig,
    LULinear,
    alternating_mask,
    decode_repeated,
    encode_repeated,
    standard_normal_log_prob,
)

D, C, H = 7, 3, 16  # odd D: the two halves of the masks differ in size



@pytest.fixture(autouse=True)
def _float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _randomize_(module: nn.Module, seed: int) -> nn.Module:
    """Move every parameter and BatchNorm statistic well away from its initial value."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, nn.Linear):
                weight = torch.randn(sub.weight.shape, generator=g) / math.sqrt(sub.in_features)
                sub.weight.copy_(weight)
                sub.bias.copy_(0.1 * torch.randn(sub.bias.shape, generator=g))
            elif isinstance(sub, nn.BatchNorm1d):
                sub.weight.copy_(1.0 + 0.2 * torch.randn(sub.weight.shape, generator=g))
                sub.bias.copy_(0.2 * torch.randn(sub.bias.shape, generator=g))
                sub.running_mean.copy_(0.2 * torch.randn(sub.running_mean.shape, generator=g))
                sub.running_var.copy_(0.5 + torch.rand(sub.running_var.shape, generator=g))
            elif isinstance(sub, (ActNorm, LULinear)):
                for p in sub.parameters():
                    p.copy_(0.3 * torch.randn(p.shape, generator=g))
        for sub in module.modules():  # keep affine scales away from their 1e-3 floor
            if isinstance(sub, hmrflow.flows.nets.ResidualNet):
                sub.final_layer.weight.mul_(0.3)
    return module


def _coupling(kind: type[Coupling], layer: int) -> Callable[[int], nn.Module]:
    return lambda seed: _randomize_(kind(alternating_mask(D, layer), C, H, dropout=0.5), seed)


def _glow(coupling: str, **kwargs) -> Callable[[int], nn.Module]:
    return lambda seed: _flow(coupling, seed, **kwargs)


FACTORIES: dict[str, Callable[[int], nn.Module]] = {
    "actnorm": lambda seed: _randomize_(ActNorm(D), seed),
    "lu": lambda seed: _randomize_(LULinear(D), seed),
    "additive": _coupling(AdditiveCoupling, 0),
    "affine": _coupling(AffineCoupling, 1),
    "context-scale": lambda seed: _randomize_(ContextScale(D, C, H), seed),
    "glow-additive": _glow("additive"),
    "glow-affine": _glow("affine"),
    "glow-context-scale": _glow("additive", context_scale=True),
}


def _forward(module: nn.Module, x: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """Data -> noise: ``(y (N, D), log|det dy/dx| (N,))``."""
    if isinstance(module, ConditionalGlow):
        enc = module.encode(x, c)
        return enc.z, enc.logdet
    return module(x, c)


def _inverse(module: nn.Module, y: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """Noise -> data: ``(x (N, D), log|det dx/dy| (N,))``."""
    if isinstance(module, ConditionalGlow):
        s = module.decode(y.unsqueeze(1), c)
        return s.x.squeeze(1), -(s.log_prob - standard_normal_log_prob(s.z)).squeeze(1)
    return module.inverse(y, c)


def _data(n: int = 16, seed: int = 0) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, D, generator=g), torch.randn(n, C, generator=g)


@pytest.fixture(params=list(FACTORIES))
def case(request: pytest.FixtureRequest) -> tuple[str, Callable[[int], nn.Module]]:
    return request.param, FACTORIES[request.param]


def test_inverse_round_trip(case):
    _, make = case
    module = make(0).eval()
    x, c = _data()
    y, ld_forward = _forward(module, x, c)
    assert y.shape == x.shape and ld_forward.shape == (16,)
    assert not torch.allclose(y, x, atol=1e-2)  # a real transformation
    x_back, ld_inverse = _inverse(module, y, c)
    torch.testing.assert_close(x_back, x, atol=1e-10, rtol=0)
    torch.testing.assert_close(ld_inverse, -ld_forward, atol=1e-10, rtol=0)
    y_again, _ = _forward(module, _inverse(module, x, c)[0], c)
    torch.testing.assert_close(y_again, x, atol=1e-10, rtol=0)


def test_logdet_equals_jacobian(case):
    _, make = case
    module = make(1).eval()
    x, c = _data(4)
    _, logdet = _forward(module, x, c)
    _, logdet_inverse = _inverse(module, x, c)
    jacobian = torch.autograd.functional.jacobian
    for i in range(4):
        ci = c[i : i + 1]
        jac = jacobian(lambda v: _forward(module, v[None], ci)[0][0], x[i])
        sign, expected = torch.linalg.slogdet(jac)
        assert sign != 0
        torch.testing.assert_close(logdet[i], expected, atol=1e-9, rtol=0)
        jac = jacobian(lambda v: _inverse(module, v[None], ci)[0][0], x[i])
        _, expected = torch.linalg.slogdet(jac)
        torch.testing.assert_close(logdet_inverse[i], expected, atol=1e-9, rtol=0)


def test_every_parameter_gets_a_gradient(case):
    _, make = case
    module = make(2).train()
    x, c = _data(32)
    y, logdet = _forward(module, x, c)
    (standard_normal_log_prob(y) + logdet).sum().backward()
    for name, p in module.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_eval_mode_is_deterministic(case):
    _, make = case
    module = make(3).eval()
    x, c = _data()
    first, second = _forward(module, x, c), _forward(module, x, c)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert torch.equal(_inverse(module, x, c)[0], _inverse(module, x, c)[0])


def test_state_dict_round_trip(case):
    _, make = case
    module, fresh = make(4).eval(), make(5).eval()
    x, c = _data()
    assert not torch.allclose(_forward(fresh, x, c)[0], _forward(module, x, c)[0])
    fresh.load_state_dict(module.state_dict())
    for a, b in zip(_forward(fresh, x, c), _forward(module, x, c)):
        assert torch.equal(a, b)
    assert torch.equal(_inverse(fresh, x, c)[0], _inverse(module, x, c)[0])


def test_dtype_is_preserved(case):
    _, make = case
    module = make(6).eval().float()
    x, c = _data()
    y, logdet = _forward(module, x.float(), c.float())
    assert y.dtype == logdet.dtype == torch.float32


@pytest.mark.parametrize("kind", [AdditiveCoupling, AffineCoupling])
def test_coupling_passes_identity_features(kind):
    layer = _coupling(kind, 0)(7).eval()
    x, c = _data()
    y, _ = layer(x, c)
    assert torch.equal(y[:, 0::2], x[:, 0::2])  # layer 0 passes the even indices unchanged
    assert not torch.allclose(y[:, 1::2], x[:, 1::2])
    assert torch.equal(layer.identity_features, torch.arange(0, D, 2))
    assert torch.equal(layer.transform_features, torch.arange(1, D, 2))


def test_fast_path_equals_reference_path():
    net = _randomize_(hmrflow.flows.nets.ResidualNet(4, 5, H, C, dropout=0.5), 8).eval()
    g = torch.Generator().manual_seed(0)
    x, c = torch.randn(6, 3, 4, generator=g), torch.randn(6, C, generator=g)
    reference = net(x, c[:, None].expand(6, 3, C))
    fast = net.forward_shared(x, c)
    torch.testing.assert_close(fast, reference, atol=1e-12, rtol=0)


def test_shared_context_linear_gradients():
    g = torch.Generator().manual_seed(12)
    args = (
        torch.randn(3, 4, 2, generator=g),
        torch.randn(3, 5, generator=g),
        torch.randn(6, 7, generator=g),
        torch.randn(6, generator=g),
    )
    cases = ((True, True, True, True), (False, False, True, False), (True, False, False, True))
    for needs in cases:
        inputs = [a.clone().requires_grad_(n) for a, n in zip(args, needs)]
        assert torch.autograd.gradcheck(hmrflow.flows.nets.shared_context_linear, inputs)


# ---------------------------------------------------------------- the whole flow


def _flow(coupling: str = "additive", seed: int = 0, **kwargs) -> ConditionalGlow:
    config = FlowConfig(
        features=D, context_features=C, hidden_features=H, num_layers=3, coupling=coupling, **kwargs
    )
    return _randomize_(ConditionalGlow(config), seed)


@pytest.mark.parametrize("coupling, scale", [("additive", False), ("affine", False), ("additive", True)])
def test_samples_equal_the_repeated_context_path(coupling, scale):
    flow = _flow(coupling, context_scale=scale).eval()
    g = torch.Generator().manual_seed(1)
    z, c = torch.randn(5, 4, D, generator=g), torch.randn(5, C, generator=g)
    fast, naive = flow.decode(z, c), decode_repeated(flow, z, c)
    torch.testing.assert_close(fast.x, naive.x, atol=1e-12, rtol=0)
    torch.testing.assert_close(fast.log_prob, naive.log_prob, atol=1e-12, rtol=0)
    enc, enc_naive = flow.encode(fast.x, c), encode_repeated(flow, fast.x, c)
    torch.testing.assert_close(enc.z, enc_naive.z, atol=1e-12, rtol=0)
    torch.testing.assert_close(enc.log_prob, enc_naive.log_prob, atol=1e-12, rtol=0)


def test_train_mode_batch_statistics_cover_all_samples():
    fast, naive = _flow(dropout=0.0).train(), _flow(dropout=0.0).train()
    g = torch.Generator().manual_seed(2)
    z, c = torch.randn(5, 4, D, generator=g), torch.randn(5, C, generator=g)
    x_fast, x_naive = fast.decode(z, c).x, decode_repeated(naive, z, c).x
    torch.testing.assert_close(x_fast, x_naive, atol=1e-12, rtol=0)
    for (name, a), b in zip(fast.state_dict().items(), naive.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0, msg=name)  # running stats too
    x = torch.randn(5, 4, D, generator=g)
    lp_fast, lp_naive = fast.log_prob(x, c), encode_repeated(naive, x, c).log_prob
    torch.testing.assert_close(lp_fast, lp_naive, atol=1e-12, rtol=0)


@pytest.mark.parametrize("direction", ["encode", "decode"])
def test_shared_context_gradients_equal_the_repeated_context_path(direction):
    fast, naive = _flow(dropout=0.0).train(), _flow(dropout=0.0).train()
    g = torch.Generator().manual_seed(11)
    x = torch.randn(5, 3, D, generator=g)
    c = torch.randn(5, C, generator=g)
    c_fast, c_naive = c.clone().requires_grad_(True), c.clone().requires_grad_(True)
    if direction == "encode":
        fast.log_prob(x, c_fast).sum().backward()
        encode_repeated(naive, x, c_naive).log_prob.sum().backward()
    else:
        s, r = fast.decode(x, c_fast), decode_repeated(naive, x, c_naive)
        (s.x.square().sum() + s.log_prob.sum()).backward()
        (r.x.square().sum() + r.log_prob.sum()).backward()
    torch.testing.assert_close(c_fast.grad, c_naive.grad, atol=1e-10, rtol=1e-10)
    for (name, a), b in zip(fast.named_parameters(), naive.parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-10, rtol=1e-10, msg=name)


@pytest.mark.parametrize("coupling", ["additive", "affine"])
def test_decode_log_prob_equals_log_prob(coupling):
    flow = _flow(coupling, seed=3).eval()
    c = torch.randn(6, C, generator=torch.Generator().manual_seed(3))
    s = flow.sample(c, 5, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(flow.log_prob(s.x, c), s.log_prob, atol=1e-10, rtol=0)
    torch.testing.assert_close(flow.encode(s.x, c).z, s.z, atol=1e-10, rtol=0)


@pytest.mark.parametrize("scale", [False, True], ids=["plain", "context-scale"])
def test_mode_is_exact(scale):
    flow = _flow(seed=4, context_scale=scale).eval()
    g = torch.Generator().manual_seed(5)
    c = torch.randn(8, C, generator=g)
    mode = flow.mode(c)
    assert mode.x.shape == (8, 1, D) and torch.equal(mode.z, torch.zeros(8, 1, D))
    x = mode.x[:, 0].clone().requires_grad_(True)
    peak = flow.log_prob(x, c)
    torch.testing.assert_close(peak, mode.log_prob[:, 0], atol=1e-10, rtol=0)
    (grad,) = torch.autograd.grad(peak.sum(), x)
    assert grad.abs().max() < 1e-9  # a stationary point ...
    for eps in (1e-3, 1e-2, 1e-1):  # ... and the maximum
        for _ in range(5):
            nearby = flow.log_prob(x.detach() + eps * torch.randn(8, D, generator=g), c)
            assert (nearby < peak).all()


def test_context_scale_starts_as_the_identity_and_scales_the_latent():
    plain = _flow(seed=6).eval()
    scaled = ConditionalGlow(replace(plain.config, context_scale=True)).eval()
    missing = scaled.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(key.startswith("context_scale.") for key in missing)
    x, c = _data()
    torch.testing.assert_close(scaled.log_prob(x, c), plain.log_prob(x, c), atol=1e-12, rtol=0)
    with torch.no_grad():
        scaled.context_scale.net[-1].bias.fill_(math.log(2.0))  # every spread doubles
    inner = plain.encode(x, c)
    expected = standard_normal_log_prob(inner.z / 2) + inner.logdet - D * math.log(2.0)
    torch.testing.assert_close(scaled.log_prob(x, c), expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(scaled.mode(c).x, plain.mode(c).x, atol=1e-12, rtol=0)


def test_affine_mode_is_not_exact_but_close_to_zero_latent():
    flow = _flow("affine", seed=4).eval()
    c = torch.randn(8, C, generator=torch.Generator().manual_seed(5))
    x = flow.mode(c).x[:, 0].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(flow.log_prob(x, c).sum(), x)
    assert grad.abs().max() > 1e-6  # the documented caveat: z = 0 is not the mode


def test_sampling_is_reproducible():
    flow = _flow(seed=5).eval()
    c = torch.randn(3, C, generator=torch.Generator().manual_seed(6))
    a = flow.sample(c, 4, generator=torch.Generator().manual_seed(7))
    b = flow.sample(c, 4, generator=torch.Generator().manual_seed(7))
    other = flow.sample(c, 4, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a.x, b.x) and torch.equal(a.z, b.z) and torch.equal(a.log_prob, b.log_prob)
    assert not torch.allclose(a.x, other.x)
    assert a.x.dtype == torch.float64
    # Samples of one context differ, the same latent under two contexts too.
    assert not torch.allclose(a.x[:, 0], a.x[:, 1])
    z = a.z[:1].expand(3, 4, D)
    assert not torch.allclose(flow.decode(z, c).x[0], flow.decode(z, c).x[1])


def test_initialize_normalizes_every_actnorm_output():
    flow = _flow(seed=0).train()  # random couplings: later ActNorms see transformed data
    g = torch.Generator().manual_seed(9)
    x = 3.0 * torch.randn(64, 2, D, generator=g) + torch.linspace(-5, 5, D)
    x[..., 3] = 0.25  # a constant feature: its std is floored at actnorm_min_std
    c = torch.randn(64, C, generator=g)
    outputs: list[Tensor] = []
    actnorms = [actnorm for actnorm, _, _ in flow.steps()]
    hooks = [a.register_forward_hook(lambda m, i, o: outputs.append(o[0])) for a in actnorms]
    assert not flow.initialized
    flow.initialize(x, c)
    for h in hooks:
        h.remove()
    assert flow.initialized and len(outputs) == 3
    first = flow.steps()[0][0]
    assert first.log_scale[3].item() == pytest.approx(-math.log(1e-3))
    for k, y in enumerate(outputs):
        rows = y.reshape(-1, D)
        torch.testing.assert_close(rows.mean(0), torch.zeros(D), atol=1e-10, rtol=0)
        std = rows.std(0)
        if k == 0:
            assert std[3] == 0  # the constant feature stays constant
            std = std[torch.arange(D) != 3]
        torch.testing.assert_close(std, torch.ones_like(std), atol=1e-10, rtol=0)
    state = ConditionalGlow(flow.config)
    state.load_state_dict(flow.state_dict())
    assert state.initialized


def test_shapes_and_errors():
    flow = _flow(seed=6).eval()
    g = torch.Generator().manual_seed(10)
    c = torch.randn(4, C, generator=g)
    x = torch.randn(4, D, generator=g)
    xs = torch.randn(4, 3, D, generator=g)
    assert flow.log_prob(x, c).shape == (4,)
    assert flow(x, c).shape == (4,)
    enc = flow.encode(x, c)
    assert enc.z.shape == (4, D) and enc.logdet.shape == (4,) and enc.log_prob.shape == (4,)
    assert flow.log_prob(xs, c).shape == (4, 3)
    # A sample axis gives the same numbers as rows paired with their own context.
    rows = flow.log_prob(xs.reshape(12, D), c.repeat_interleave(3, 0)).reshape(4, 3)
    torch.testing.assert_close(flow.log_prob(xs, c), rows, atol=1e-12, rtol=0)
    s = flow.sample(c, 5)
    assert s.x.shape == s.z.shape == (4, 5, D) and s.log_prob.shape == (4, 5)
    with pytest.raises(ValueError):
        flow.log_prob(torch.randn(4, D + 1), c)
    with pytest.raises(ValueError):
        flow.decode(torch.randn(4, D), c)  # decode needs a sample axis
    with pytest.raises(ValueError):
        flow.log_prob(torch.randn(2, 3, D), c)  # one context per row of x
    with pytest.raises(ValueError):
        FlowConfig(coupling="spline")  # type: ignore[arg-type]


def test_initial_state_is_near_identity():
    flow = ConditionalGlow(FlowConfig(features=D, context_features=C, hidden_features=H)).eval()
    for _, lu, _ in flow.steps():
        assert torch.equal(lu.upper_diag, torch.ones(D))
        torch.testing.assert_close(lu.weight(), torch.eye(D), atol=1e-15, rtol=0)
    x, c = _data()
    enc = flow.encode(x, c)
    torch.testing.assert_close(enc.z, x, atol=0.05, rtol=0)  # couplings start near zero
    torch.testing.assert_close(enc.logdet, torch.zeros(16), atol=1e-12, rtol=0)


def test_lu_entries_are_in_row_major_triangular_order():
    layer = LULinear(5)
    with torch.no_grad():
        layer.lower_entries.copy_(torch.arange(10.0) + 1)
        layer.upper_entries.copy_(-(torch.arange(10.0) + 1))
    lower, upper = layer.lower_upper()
    rows, cols = np.tril_indices(5, -1)
    assert torch.equal(lower[rows, cols], layer.lower_entries.detach())
    rows, cols = np.triu_indices(5, 1)
    assert torch.equal(upper[rows, cols], layer.upper_entries.detach())
    assert torch.equal(torch.diagonal(lower), torch.ones(5))


def test_prohmr_structure_and_size():
    flow = ConditionalGlow(FlowConfig())
    assert sum(p.numel() for p in flow.parameters()) == 25_893_856
    state = flow.state_dict()
    expected = {
        "transforms.0.log_scale": (144,),
        "transforms.0.initialized": (),
        "transforms.1.lower_entries": (144 * 143 // 2,),
        "transforms.1.unconstrained_upper_diag": (144,),
        "transforms.1.bias": (144,),
        "transforms.2.identity_features": (72,),
        "transforms.2.transform_net.initial_layer.weight": (1024, 72 + 2048),
        "transforms.2.transform_net.blocks.1.batch_norm_layers.1.running_var": (1024,),
        "transforms.2.transform_net.blocks.1.linear_layers.0.weight": (1024, 1024),
        "transforms.11.transform_net.final_layer.weight": (72, 1024),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert len(state) == 4 * (3 + 4 + 2 + 2 + 2 * (2 * 5 + 2 * 2) + 2)
    assert torch.equal(state["transforms.2.identity_features"], torch.arange(0, 144, 2))
    assert torch.equal(state["transforms.5.identity_features"], torch.arange(1, 144, 2))
    bn = flow.steps()[0][2].transform_net.blocks[0].batch_norm_layers[0]
    assert bn.eps == 1e-5
    final = flow.steps()[0][2].transform_net.final_layer.weight
    assert final.abs().max() <= 0.01 / 32


@pytest.mark.parametrize(
    "module", [hmrflow.flows.config, hmrflow.flows.layers, hmrflow.flows.nets, hmrflow.flows.glow]
)
def test_docstring_examples(module):
    torch.set_default_dtype(torch.float32)
    result = doctest.testmod(module, extraglobs={"torch": torch}, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
