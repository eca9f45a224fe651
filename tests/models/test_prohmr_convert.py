"""Converting ProHMR's released checkpoint, checked against the documented maths.

The checkpoints here are written from first principles: key names and shapes as the
original's layout documents them (DESIGN.md section 5: torchvision ResNet names under
``backbone.``, nflows' ConditionalGlow under ``flow.flow._transform._transforms.``, the
head under ``flow.fc_head.``, LU entries in row-major triangular order), random weights.
:class:`ReferenceProHMR` computes what those weights mean with plain numpy in float64:
explicit L and U matrices, ActNorm, the residual nets with BatchNorm in eval mode (running
statistics, eps 1e-5), additive coupling, ``log N(z; 0, I)``. The converted hmrflow model
must agree with it. ``benchmarks/bench_prohmr.py`` imports these builders for the
full-size check.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from hmrflow.flows import ConditionalGlow
from hmrflow.models import ProbabilisticHMR
from hmrflow.models.checkpoint import CheckpointError, load_model
from hmrflow.models.prohmr_convert import (
    FLOW_PREFIX,
    convert_flow_state_dict,
    convert_prohmr,
    convert_prohmr_state_dict,
    read_prohmr_checkpoint,
)

BN_EPS = 1e-5  # nn.BatchNorm1d's default, as in ProHMR's nflows fork
LU_EPS = 1e-3  # nflows' LULinear: diag(U) = softplus(u) + 1e-3


# ----------------------------------------------------------------- checkpoint writers


class Weights:
    """Random float32 tensors from one seeded generator."""

    def __init__(self, seed: int):
        self.gen = torch.Generator().manual_seed(seed)

    def normal(self, *shape: int, std: float = 1.0, mean: float = 0.0) -> Tensor:
        return torch.randn(*shape, generator=self.gen) * std + mean

    def uniform(self, *shape: int, low: float, high: float) -> Tensor:
        return torch.rand(*shape, generator=self.gen) * (high - low) + low


def batch_norm_state(w: Weights, prefix: str, n: int, gamma: float = 1.0) -> dict[str, Tensor]:
    return {
        prefix + "weight": w.normal(n, std=0.1 * gamma, mean=gamma),
        prefix + "bias": w.normal(n, std=0.1),
        prefix + "running_mean": w.normal(n, std=0.2),
        prefix + "running_var": w.uniform(n, low=0.5, high=1.5),
        prefix + "num_batches_tracked": torch.tensor(1000),
    }


def prohmr_flow_state(
    features: int, context: int, hidden: int, num_layers: int = 4, num_blocks: int = 2, seed: int = 0
) -> dict[str, Tensor]:
    """nflows' ConditionalGlow state as ProHMR's fork writes it, keys under FLOW_PREFIX."""
    w = Weights(seed)
    d, n_tri = features, features * (features - 1) // 2
    state: dict[str, Tensor] = {}
    mask = [1] * d  # nflows: mask = ones(D); mask[::2] = -1; flipped after every layer
    mask[::2] = [-1] * len(mask[::2])
    for k in range(num_layers):
        actnorm, lu, coupling = (f"{FLOW_PREFIX}{3 * k + i}." for i in range(3))
        state[actnorm + "log_scale"] = w.normal(d, std=0.2, mean=1.0)  # scales ~ e: data std ~ 0.37
        state[actnorm + "shift"] = w.normal(d, std=0.2)
        state[actnorm + "initialized"] = torch.tensor(True)
        state[lu + "lower_entries"] = w.normal(n_tri, std=0.5 / math.sqrt(d))
        state[lu + "upper_entries"] = w.normal(n_tri, std=0.5 / math.sqrt(d))
        state[lu + "unconstrained_upper_diag"] = w.normal(d, std=0.5, mean=0.5)
        state[lu + "bias"] = w.normal(d, std=0.1)
        identity = [i for i in range(d) if mask[i] <= 0]
        transform = [i for i in range(d) if mask[i] > 0]
        state[coupling + "identity_features"] = torch.tensor(identity)
        state[coupling + "transform_features"] = torch.tensor(transform)
        net = coupling + "transform_net."
        fan_in = len(identity) + context
        state[net + "initial_layer.weight"] = w.normal(hidden, fan_in, std=1 / math.sqrt(fan_in))
        state[net + "initial_layer.bias"] = w.normal(hidden, std=0.1)
        for b in range(num_blocks):
            block = f"{net}blocks.{b}."
            for i in range(2):
                state.update(batch_norm_state(w, f"{block}batch_norm_layers.{i}.", hidden))
                state[f"{block}linear_layers.{i}.weight"] = w.normal(hidden, hidden,
                                                                     std=1 / math.sqrt(hidden))  # fmt: skip
                state[f"{block}linear_layers.{i}.bias"] = w.normal(hidden, std=0.1)
        state[net + "final_layer.weight"] = w.normal(len(transform), hidden, std=0.3 / math.sqrt(hidden))
        state[net + "final_layer.bias"] = w.normal(len(transform), std=0.1)
        mask = [-m for m in mask]
    return state


RESNETS = {18: ("basic", (2, 2, 2, 2)), 50: ("bottleneck", (3, 4, 6, 3))}


def prohmr_backbone_state(depth: int, seed: int = 1) -> dict[str, Tensor]:
    """A torchvision-named ResNet without ``fc`` under ``backbone.`` (ProHMR's backbone)."""
    w = Weights(seed)
    kind, counts = RESNETS[depth]
    expansion = 4 if kind == "bottleneck" else 1

    def conv(name: str, cout: int, cin: int, k: int) -> dict[str, Tensor]:
        return {name: w.normal(cout, cin, k, k, std=math.sqrt(2.0 / (cin * k * k)))}

    state = conv("backbone.conv1.weight", 64, 3, 7) | batch_norm_state(w, "backbone.bn1.", 64)
    cin = 64
    for s, (count, width) in enumerate(zip(counts, (64, 128, 256, 512)), start=1):
        for b in range(count):
            p = f"backbone.layer{s}.{b}."
            if kind == "basic":
                state |= conv(p + "conv1.weight", width, cin, 3) | batch_norm_state(w, p + "bn1.", width)
                state |= conv(p + "conv2.weight", width, width, 3)
                state |= batch_norm_state(w, p + "bn2.", width, gamma=0.3)
            else:
                state |= conv(p + "conv1.weight", width, cin, 1) | batch_norm_state(w, p + "bn1.", width)
                state |= conv(p + "conv2.weight", width, width, 3) | batch_norm_state(w, p + "bn2.", width)
                state |= conv(p + "conv3.weight", width * 4, width, 1)
                state |= batch_norm_state(w, p + "bn3.", width * 4, gamma=0.3)
            if b == 0 and (s > 1 or cin != width * expansion):
                state |= conv(p + "downsample.0.weight", width * expansion, cin, 1)
                state |= batch_norm_state(w, p + "downsample.1.", width * expansion)
            cin = width * expansion
    return state


def prohmr_head_state(context: int, hidden: int, seed: int = 2) -> dict[str, Tensor]:
    w = Weights(seed)
    return {
        "flow.fc_head.layers.0.weight": w.normal(hidden, context, std=1 / math.sqrt(context)),
        "flow.fc_head.layers.0.bias": w.normal(hidden, std=0.1),
        "flow.fc_head.layers.2.weight": w.normal(13, hidden, std=0.1 / math.sqrt(hidden)),
        "flow.fc_head.layers.2.bias": w.normal(13, std=0.01),
        "flow.fc_head.init_cam": torch.tensor([[[0.9, 0.01, -0.02]]]),  # (1, 1, 3) as the original
        "flow.fc_head.init_betas": w.normal(1, 1, 10, std=0.3),
    }


def prohmr_extras(seed: int = 3) -> dict[str, Tensor]:
    """Keys the converter must skip: discriminator, SMPL buffers, bookkeeping."""
    w = Weights(seed)
    return {
        "initialized": torch.tensor(True),
        "dummy_buffer": torch.zeros(1),
        "discriminator.D_conv1.weight": w.normal(32, 9, 1, 1),
        "discriminator.D_alljoints_fc1.weight": w.normal(1024, 32 * 23),
        "smpl.shapedirs": w.normal(30, 3, 10),
        "smpl.J_regressor": w.normal(24, 30),
        "smpl.joint_map": torch.arange(25),
    }


def prohmr_state(depth: int, hidden: int, head_hidden: int, seed: int = 0) -> dict[str, Tensor]:
    """A complete state dict in the original's layout (context C from the backbone)."""
    context = 2048 if depth >= 50 else 512
    return (prohmr_backbone_state(depth, seed + 1) | prohmr_flow_state(144, context, hidden, seed=seed)
            | prohmr_head_state(context, head_hidden, seed + 2) | prohmr_extras(seed + 3))  # fmt: skip


# ----------------------------------------------------------------- the reference maths


def _np(t: Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).numpy()


class ReferenceProHMR:
    """ProHMR's maths for a state dict in the original's layout, numpy float64.

    Flow direction: ``forward`` maps data to noise (the log-likelihood direction).
    """

    def __init__(self, state: dict[str, Tensor]):
        self.state = state
        self.layers = []
        k = 0
        while f"{FLOW_PREFIX}{3 * k}.log_scale" in state:
            self.layers.append(self._layer(k))
            k += 1

    def _layer(self, k: int) -> dict:
        s = {key[len(f"{FLOW_PREFIX}{3 * k + i}."):]: _np(v) for i in range(3)
             for key, v in self.state.items() if key.startswith(f"{FLOW_PREFIX}{3 * k + i}.")}  # fmt: skip
        d = s["log_scale"].shape[0]
        lower, upper = np.eye(d), np.zeros((d, d))
        entries = iter(s["lower_entries"].tolist())
        for i in range(d):  # row-major, strictly below the diagonal
            for j in range(i):
                lower[i, j] = next(entries)
        entries = iter(s["upper_entries"].tolist())
        for i in range(d):  # row-major, strictly above the diagonal
            for j in range(i + 1, d):
                upper[i, j] = next(entries)
        upper[np.diag_indices(d)] = np.logaddexp(0.0, s["unconstrained_upper_diag"]) + LU_EPS
        return {**s, "W": lower @ upper, "identity": s["identity_features"].astype(int),
                "transform": s["transform_features"].astype(int)}  # fmt: skip

    @staticmethod
    def _bn(h: np.ndarray, s: dict, p: str) -> np.ndarray:
        scale = s[p + "weight"] / np.sqrt(s[p + "running_var"] + BN_EPS)
        return (h - s[p + "running_mean"]) * scale + s[p + "bias"]

    def _net(self, layer: dict, x_identity: np.ndarray, context: np.ndarray) -> np.ndarray:
        p = "transform_net."
        h = np.concatenate([x_identity, context], axis=-1) @ layer[p + "initial_layer.weight"].T
        h = h + layer[p + "initial_layer.bias"]
        b = 0
        while f"{p}blocks.{b}.linear_layers.0.weight" in layer:
            q = f"{p}blocks.{b}."
            t = np.maximum(self._bn(h, layer, q + "batch_norm_layers.0."), 0.0)
            t = t @ layer[q + "linear_layers.0.weight"].T + layer[q + "linear_layers.0.bias"]
            t = np.maximum(self._bn(t, layer, q + "batch_norm_layers.1."), 0.0)  # dropout: eval
            h = h + t @ layer[q + "linear_layers.1.weight"].T + layer[q + "linear_layers.1.bias"]
            b += 1
        return h @ layer[p + "final_layer.weight"].T + layer[p + "final_layer.bias"]

    def logdet(self) -> float:
        """``log|det dz/dx|``, independent of x: ActNorm scales and ``slogdet(W)``."""
        return float(sum(l["log_scale"].sum() + np.linalg.slogdet(l["W"])[1] for l in self.layers))

    def forward(self, x: np.ndarray, context: np.ndarray) -> np.ndarray:
        """Data -> noise; x (N, D), context (N, C)."""
        for l in self.layers:
            x = x * np.exp(l["log_scale"]) + l["shift"]
            x = x @ l["W"].T + l["bias"]
            x = x.copy()
            x[:, l["transform"]] += self._net(l, x[:, l["identity"]], context)
        return x

    def inverse(self, z: np.ndarray, context: np.ndarray) -> np.ndarray:
        """Noise -> data; z (N, D), context (N, C)."""
        for l in reversed(self.layers):
            z = z.copy()
            z[:, l["transform"]] -= self._net(l, z[:, l["identity"]], context)
            z = np.linalg.solve(l["W"], (z - l["bias"]).T).T
            z = (z - l["shift"]) * np.exp(-l["log_scale"])
        return z

    def log_prob(self, x: np.ndarray, context: np.ndarray) -> np.ndarray:
        z = self.forward(x, context)
        return -0.5 * (z**2).sum(-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi) + self.logdet()

    def decode(self, z: np.ndarray, context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Samples (B, S, D) for latents z (B, S, D) and contexts (B, C), and log p (B, S)."""
        B, S, D = z.shape
        x = self.inverse(z.reshape(B * S, D), np.repeat(context, S, axis=0)).reshape(B, S, D)
        log_prob = -0.5 * (z**2).sum(-1) - 0.5 * D * math.log(2 * math.pi) + self.logdet()
        return x, log_prob

    def head(self, context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Betas (B, 10) and weak-perspective camera (B, 3)."""
        p = "flow.fc_head."
        s = {k[len(p):]: _np(v) for k, v in self.state.items() if k.startswith(p)}
        h = np.maximum(context @ s["layers.0.weight"].T + s["layers.0.bias"], 0.0)
        out = h @ s["layers.2.weight"].T + s["layers.2.bias"]
        return out[:, :10] + s["init_betas"].reshape(10), out[:, 10:] + s["init_cam"].reshape(3)

    def backbone(self, images: Tensor) -> np.ndarray:
        """torchvision's ResNet forward (eval BatchNorm) with global average pooling."""
        p = "backbone."
        s = {k[len(p):]: v.double() for k, v in self.state.items() if k.startswith(p)}

        def bn(x: Tensor, p: str) -> Tensor:
            return F.batch_norm(x, s[p + "running_mean"], s[p + "running_var"], s[p + "weight"],
                                s[p + "bias"], training=False, eps=BN_EPS)  # fmt: skip

        x = F.relu(bn(F.conv2d(images.double(), s["conv1.weight"], stride=2, padding=3), "bn1."))
        x = F.max_pool2d(x, 3, stride=2, padding=1)
        bottleneck = any(k.endswith("conv3.weight") for k in s)
        for stage in range(1, 5):
            b = 0
            while f"layer{stage}.{b}.conv1.weight" in s:
                p = f"layer{stage}.{b}."
                stride = 2 if stage > 1 and b == 0 else 1
                if bottleneck:
                    y = F.relu(bn(F.conv2d(x, s[p + "conv1.weight"]), p + "bn1."))
                    y = F.relu(bn(F.conv2d(y, s[p + "conv2.weight"], stride=stride, padding=1), p + "bn2."))
                    y = bn(F.conv2d(y, s[p + "conv3.weight"]), p + "bn3.")
                else:
                    y = F.relu(bn(F.conv2d(x, s[p + "conv1.weight"], stride=stride, padding=1), p + "bn1."))
                    y = bn(F.conv2d(y, s[p + "conv2.weight"], padding=1), p + "bn2.")
                if p + "downsample.0.weight" in s:
                    x = bn(F.conv2d(x, s[p + "downsample.0.weight"], stride=stride), p + "downsample.1.")
                x = F.relu(x + y)
                b += 1
        return x.mean(dim=(2, 3)).numpy()


def write_lightning_checkpoint(
    state: dict[str, Tensor], path: Path, payload_dir: Path | None = None
) -> None:
    """Save ``state`` as a Lightning 1.4-era checkpoint with pickled non-tensor objects.

    Holds a yacs ``CfgNode`` of hyper-parameters and a callback state keyed by a class
    (modules absent when the file is read back), and, with ``payload_dir``, an object
    whose unpickling would call ``os.mkdir(payload_dir)``.
    """
    yacs = types.ModuleType("yacs.config")
    lightning = types.ModuleType("pytorch_lightning.callbacks.model_checkpoint")

    class CfgNode(dict):
        pass

    class ModelCheckpoint:
        pass

    CfgNode.__module__, CfgNode.__qualname__ = "yacs.config", "CfgNode"
    ModelCheckpoint.__module__ = "pytorch_lightning.callbacks.model_checkpoint"
    ModelCheckpoint.__qualname__ = "ModelCheckpoint"
    yacs.CfgNode, lightning.ModelCheckpoint = CfgNode, ModelCheckpoint  # type: ignore[attr-defined]
    cfg = CfgNode(MODEL=CfgNode(FLOW=CfgNode(DIM=144, NUM_LAYERS=4)), TRAIN=CfgNode(LR=1e-4))
    data = {
        "epoch": 12,
        "global_step": 500000,
        "pytorch-lightning_version": "1.4.4",
        "state_dict": state,
        "callbacks": {ModelCheckpoint: {"best_model_score": torch.tensor(0.5), "dirpath": "logs"}},
        "optimizer_states": [{"state": {}, "param_groups": [{"lr": 1e-4, "params": [0, 1]}]}],
        "hyper_parameters": {"cfg": cfg},
    }
    if payload_dir is not None:

        class Payload:
            def __reduce__(self):
                return (os.mkdir, (str(payload_dir),))

        data["payload"] = Payload()
    saved = {name: sys.modules.get(name) for name in ("yacs", "yacs.config", lightning.__name__)}
    sys.modules.update({"yacs": types.ModuleType("yacs"), "yacs.config": yacs, lightning.__name__: lightning})
    try:
        torch.save(data, path)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


# ----------------------------------------------------------------- tests


@pytest.mark.parametrize(
    "features, context, hidden, num_layers, num_blocks",
    [(144, 64, 32, 4, 2), (9, 5, 16, 2, 1)],
)
@torch.no_grad()
def test_converted_flow_matches_the_documented_maths(features, context, hidden, num_layers, num_blocks):
    state = prohmr_flow_state(features, context, hidden, num_layers, num_blocks, seed=4)
    converted = convert_flow_state_dict(state)
    config = converted.config
    assert (config.features, config.context_features, config.hidden_features) == (features, context, hidden)
    assert (config.num_layers, config.num_blocks, config.dropout) == (num_layers, num_blocks, 0.5)
    flow = ConditionalGlow(config)
    flow.load_state_dict(converted.state_dict, strict=True)
    reference = ReferenceProHMR(state)

    gen = torch.Generator().manual_seed(5)
    c = torch.randn(3, context, generator=gen, dtype=torch.float64)
    z = torch.randn(3, 4, features, generator=gen, dtype=torch.float64)
    ref_x, ref_log_prob = reference.decode(z.numpy(), c.numpy())
    ref_mode, ref_mode_log_prob = reference.decode(np.zeros((3, 1, features)), c.numpy())
    noise = torch.randn(12, features, generator=gen, dtype=torch.float64)
    x_data = torch.from_numpy(ref_x).reshape(12, features) + 0.1 * noise
    ref_data_log_prob = reference.log_prob(x_data.numpy(), np.repeat(c.numpy(), 4, axis=0))

    flow64 = flow.double().eval()
    sample = flow64.decode(z, c)
    np.testing.assert_allclose(sample.x.numpy(), ref_x, atol=1e-9, rtol=0)
    np.testing.assert_allclose(sample.log_prob.numpy(), ref_log_prob, atol=1e-9, rtol=0)
    mode = flow64.mode(c)
    np.testing.assert_allclose(mode.x.numpy(), ref_mode, atol=1e-9, rtol=0)
    np.testing.assert_allclose(mode.log_prob.numpy(), ref_mode_log_prob, atol=1e-9, rtol=0)
    log_prob = flow64.log_prob(x_data.reshape(3, 4, features), c).reshape(12)
    np.testing.assert_allclose(log_prob.numpy(), ref_data_log_prob, atol=1e-9, rtol=0)
    # The same in float32, as the model runs: float32 rounding only.
    flow32 = flow.float()
    np.testing.assert_allclose(flow32.decode(z.float(), c.float()).x.numpy(), ref_x, atol=2e-5, rtol=0)
    np.testing.assert_allclose(flow32.log_prob(x_data.float().reshape(3, 4, features), c.float()).numpy(),
                               ref_data_log_prob.reshape(3, 4), rtol=1e-5, atol=1e-4)  # fmt: skip


@pytest.fixture(scope="module")
def small_state() -> dict[str, Tensor]:
    """ResNet-18 backbone (C = 512), coupling nets of width 32, head of width 24."""
    return prohmr_state(depth=18, hidden=32, head_hidden=24, seed=10)


@pytest.fixture(scope="module")
def small_model(small_state) -> ProbabilisticHMR:
    converted = convert_prohmr_state_dict(small_state)
    model = ProbabilisticHMR(converted.model)
    model.load_state_dict(converted.state_dict, strict=True)
    return model.eval()


@torch.no_grad()
def test_converted_model_matches_the_reference(small_state, small_model):
    reference = ReferenceProHMR(small_state)
    gen = torch.Generator().manual_seed(6)
    images = torch.randn(2, 3, 64, 64, generator=gen, dtype=torch.float64)
    z = torch.randn(2, 5, 144, generator=gen, dtype=torch.float64)
    model = copy.deepcopy(small_model).double()
    out = model(images, z=z)
    context = reference.backbone(images)
    np.testing.assert_allclose(out.context.numpy(), context, atol=1e-9, rtol=1e-9)
    ref_x, ref_log_prob = reference.decode(z.numpy(), context)
    ref_mode, ref_mode_log_prob = reference.decode(np.zeros((2, 1, 144)), context)
    np.testing.assert_allclose(out.samples.sixd.numpy(), ref_x, atol=1e-9, rtol=0)
    np.testing.assert_allclose(out.samples.log_prob.numpy(), ref_log_prob, atol=1e-9, rtol=0)
    np.testing.assert_allclose(out.mode.sixd.numpy(), ref_mode, atol=1e-9, rtol=0)
    np.testing.assert_allclose(out.mode.log_prob.numpy(), ref_mode_log_prob, atol=1e-9, rtol=0)
    poses = torch.from_numpy(ref_x) + 0.1 * torch.randn(2, 5, 144, generator=gen, dtype=torch.float64)
    ref_pose_log_prob = reference.log_prob(poses.reshape(10, 144).numpy(), np.repeat(context, 5, axis=0))
    np.testing.assert_allclose(model.flow.log_prob(poses, out.context).reshape(10).numpy(), ref_pose_log_prob,
                               atol=1e-9, rtol=0)  # fmt: skip
    betas, camera = reference.head(context)
    np.testing.assert_allclose(out.betas.numpy(), betas, atol=1e-9, rtol=0)
    np.testing.assert_allclose(out.camera.numpy(), camera, atol=1e-9, rtol=0)
    # ProHMR's camera translation: (tx, ty, 2 f / (224 s)), f = 5000 px.
    expected_t = np.stack([camera[:, 1], camera[:, 2], 2 * 5000 / (224 * camera[:, 0])], axis=-1)
    np.testing.assert_allclose(out.translation.numpy(), expected_t, rtol=1e-6)


def test_conversion_maps_keys_and_leaves_out_the_documented_ones(small_state):
    converted = convert_prohmr_state_dict(small_state)
    config = converted.model
    assert config.encoder.kind == "image" and config.encoder.backbone_depth == 18
    assert (config.flow.context_features, config.flow.hidden_features, config.head_hidden) == (512, 32, 24)
    assert config.body_model == "anny" and config.focal_length == 5000.0
    assert config.mean_camera == pytest.approx((0.9, 0.01, -0.02))
    assert set(converted.skipped) == set(prohmr_extras())
    sd = converted.state_dict
    assert torch.equal(sd["encoder.layer2.0.downsample.0.weight"],
                       small_state["backbone.layer2.0.downsample.0.weight"])  # fmt: skip
    assert torch.equal(sd["flow.transforms.4.lower_entries"], small_state[FLOW_PREFIX + "4.lower_entries"])
    running_var = "11.transform_net.blocks.1.batch_norm_layers.0.running_var"
    assert torch.equal(sd["flow.transforms." + running_var], small_state[FLOW_PREFIX + running_var])
    assert sd["head.init_cam"].shape == (3,) and sd["head.init_betas"].shape == (10,)
    torch.testing.assert_close(sd["head.init_betas"], small_state["flow.fc_head.init_betas"].reshape(10))


def _without(state: dict[str, Tensor], key: str) -> dict[str, Tensor]:
    return {k: v for k, v in state.items() if k != key}


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s | {"flow.flow.extra_layer.weight": torch.zeros(2)}, "flow.flow.extra_layer.weight"),
        (lambda s: s | {"backbone.fc.weight": torch.zeros(1000, 512)}, "backbone.fc.weight"),
        (lambda s: s | {FLOW_PREFIX + "3.log_scale_x": torch.zeros(1)}, FLOW_PREFIX + "3.log_scale_x"),
        (lambda s: _without(s, FLOW_PREFIX + "7.bias"), FLOW_PREFIX + "7.bias"),
        (lambda s: _without(s, "backbone.layer3.1.bn2.running_var"), "backbone.layer3.1.bn2.running_var"),
        (lambda s: _without(s, "flow.fc_head.layers.2.bias"), "flow.fc_head.layers.2.bias"),
        (lambda s: s | {FLOW_PREFIX + "4.upper_entries": torch.zeros(100)}, FLOW_PREFIX + "4.upper_entries"),
        (lambda s: s | {"backbone.layer1.0.conv1.weight": torch.zeros(64, 64, 1, 1)},
         "backbone.layer1.0.conv1.weight"),  # fmt: skip
        (lambda s: s | {"flow.fc_head.init_cam": torch.zeros(1, 1, 4)}, "flow.fc_head.init_cam"),
        (lambda s: s | {"flow.fc_head.init_betas": torch.zeros(1, 1, 11)}, "flow.fc_head.layers.2"),
        (lambda s: s | {FLOW_PREFIX + "2.identity_features": s[FLOW_PREFIX + "2.transform_features"],
                        FLOW_PREFIX + "2.transform_features": s[FLOW_PREFIX + "2.identity_features"]},
         FLOW_PREFIX + "2.identity_features"),  # fmt: skip
        (lambda s: _without(s, "backbone.conv1.weight"), "backbone.conv1.weight"),
    ],
)
def test_unexpected_missing_or_misshapen_keys_fail_naming_the_key(small_state, change, message):
    with pytest.raises(CheckpointError, match=message.replace(".", r"\.")):
        convert_prohmr_state_dict(change(dict(small_state)))


def test_missing_batch_norm_counters_are_set_to_zero(small_state):
    state = {k: v for k, v in small_state.items() if not k.endswith("num_batches_tracked")}
    converted = convert_prohmr_state_dict(state)
    assert converted.state_dict["encoder.bn1.num_batches_tracked"] == 0
    counter = "flow.transforms.2.transform_net.blocks.0.batch_norm_layers.1.num_batches_tracked"
    assert converted.state_dict[counter] == 0
    reference = convert_prohmr_state_dict(small_state).state_dict
    for key, value in converted.state_dict.items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(value, reference[key]), key


def test_lightning_file_with_pickled_objects_converts_safely(small_state, small_model, tmp_path, caplog):
    checkpoint = tmp_path / "checkpoint.pt"
    payload = tmp_path / "payload_ran"
    write_lightning_checkpoint(small_state, checkpoint, payload_dir=payload)
    assert "yacs.config" not in sys.modules  # the reader cannot import what the file names
    read = read_prohmr_checkpoint(checkpoint)
    assert not payload.exists(), "unpickling ran code from the file"
    assert {"yacs.config.CfgNode", "posix.mkdir" if os.name == "posix" else "nt.mkdir"} <= set(read.stubbed)
    assert read.state_dict.keys() == small_state.keys()

    out = tmp_path / "prohmr.pt"
    with caplog.at_level(logging.WARNING, logger="hmrflow.models.prohmr_convert"):
        convert_prohmr(checkpoint, out)
    assert "no SMPL file given" in caplog.text and "anny" in caplog.text
    assert not payload.exists()
    model = load_model(out)
    assert model.body.name == small_model.body.name and model.config == small_model.config
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(7))
    z = torch.randn(2, 3, 144, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        a, b = model(images, z=z), small_model(images, z=z)
    torch.testing.assert_close(a.samples.sixd, b.samples.sixd, rtol=0, atol=0)
    torch.testing.assert_close(a.samples.log_prob, b.samples.log_prob, rtol=0, atol=0)


def test_smpl_file_is_recorded_and_body_model_can_be_overridden(small_state, tmp_path):
    from hmrflow.body import BodyModel

    checkpoint, smpl, out = tmp_path / "plain.pt", tmp_path / "my_smpl.npz", tmp_path / "prohmr.pt"
    torch.save({"state_dict": small_state, "epoch": 3}, checkpoint)  # tensors only: weights_only suffices
    assert read_prohmr_checkpoint(checkpoint).stubbed == ()
    BodyModel.from_name("anny_lowpoly").save(smpl)  # stands in for a user's SMPL-format file
    converted = convert_prohmr(checkpoint, out, smpl_path=smpl)
    assert converted.model.body_model == str(smpl.resolve())
    model = load_model(out)
    assert model.body.num_vertices == BodyModel.from_file(smpl).num_vertices
    assert load_model(out, body_model="anny").body.num_vertices != model.body.num_vertices


def test_unreadable_files_and_non_tensor_states_fail_clearly(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        read_prohmr_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        read_prohmr_checkpoint(tmp_path / "junk.pt")
    torch.save({"state_dict": {"a": torch.zeros(3)}}, tmp_path / "cut.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "cut.pt").read_bytes()[:200])
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint") as error:
        read_prohmr_checkpoint(tmp_path / "cut.pt")
    assert "weights_only" not in str(error.value) and "\n" not in str(error.value)
    torch.save({"state_dict": {"backbone.conv1.weight": [1, 2, 3]}}, tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="backbone.conv1.weight"):
        read_prohmr_checkpoint(tmp_path / "list.pt")


def test_command_line(small_state, tmp_path, capsys):
    from hmrflow.cli.main import build_parser, main

    checkpoint, out = tmp_path / "checkpoint.pt", tmp_path / "out.pt"
    write_lightning_checkpoint(small_state, checkpoint)
    assert main(["convert-prohmr", str(checkpoint), str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ResNet-18" in printed and "model written to" in printed and out.is_file()
    assert main(["convert-prohmr", str(tmp_path / "missing.pt"), str(out)]) == 2
    assert "not found" in capsys.readouterr().err
    help_text = build_parser()._subparsers._group_actions[0].choices["convert-prohmr"].format_help()
    assert "--smpl" in help_text and "anny" in help_text
