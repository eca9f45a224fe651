r"""Conditional Glow: ProHMR's conditional normalizing flow over body poses.

``num_layers`` steps of ActNorm -> LU linear -> coupling (and, optionally, a context
scale at the end) map a data point ``x`` (D) to a latent ``z`` (D) with a standard
normal base, given a context ``c`` (C):
``log p(x | c) = log N(z; 0, I) + log|det dz/dx|``. With the default additive
coupling every log-determinant is independent of ``x``, so ``z = 0`` is the exact mode
and ``-log p(x | c) = |z|^2 / 2 + const(c)``.

Speed: the context enters each coupling net only through its first Linear, whose
context part ``W_c c + b`` does not depend on the sample. :class:`ConditionalGlow`
computes it once per context and layer (one GEMM per layer: on CPU, concatenating the
layers' weight slices into one matrix costs more than the product itself) and
broadcasts it over the S samples, never materialising repeated contexts; in training
a custom backward writes each first-layer weight gradient in one piece.
:func:`decode_repeated` and :func:`encode_repeated` are the plain nflows-style path
(context repeated per sample, ``net(cat(x_I, c))``), kept as reference and baseline.

The module list ``transforms`` holds ``ActNorm``, ``LULinear``, coupling for each step
in nflows' order, so ProHMR's ``flow.flow._transform._transforms.{i}.*`` state-dict
keys map onto ``transforms.{i}.*`` one to one; the optional context scale is
``context_scale.*``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from hmrflow.flows.config import FlowConfig
from hmrflow.flows.layers import (
    ActNorm,
    AdditiveCoupling,
    AffineCoupling,
    ContextScale,
    Coupling,
    LULinear,
    alternating_mask,
)

__all__ = [
    "ConditionalGlow",
    "FlowEncoding",
    "FlowSample",
    "decode_repeated",
    "encode_repeated",
    "standard_normal_log_prob",
]


@dataclass(frozen=True)
class FlowSample:
    r"""Points decoded from latents.

    Attributes:
        x: Samples in data space, shape ``(B, S, D)``.
        z: Their latents, shape ``(B, S, D)``.
        log_prob: ``log p(x | context)``, shape ``(B, S)``.
    """

    x: Tensor
    z: Tensor
    log_prob: Tensor


@dataclass(frozen=True)
class FlowEncoding:
    r"""Data points encoded into latents.

    Attributes:
        z: Latents, the shape of the input ``x``: ``(B, D)`` or ``(B, S, D)``.
        logdet: ``log|det dz/dx|``, shape ``(B,)`` or ``(B, S)``.
        log_prob: ``log p(x | context)``, shape ``(B,)`` or ``(B, S)``.
    """

    z: Tensor
    logdet: Tensor
    log_prob: Tensor


def standard_normal_log_prob(z: Tensor) -> Tensor:
    r"""``log N(z; 0, I)``: shape ``(..., D)`` -> ``(...)``.

    Example:
        >>> standard_normal_log_prob(torch.zeros(2))
        tensor(-1.8379)
    """
    return -0.5 * z.square().sum(dim=-1) - 0.5 * z.shape[-1] * math.log(2.0 * math.pi)


class ConditionalGlow(nn.Module):
    r"""Conditional Glow with fast per-context conditioning.

    Inputs may carry a sample axis: ``x`` of shape ``(B, D)`` pairs with ``context``
    ``(B, C)``; ``x`` of shape ``(B, S, D)`` shares each context across its S samples
    (more leading dimensions work the same way). BatchNorm and dropout live inside the
    coupling nets: in training mode BatchNorm uses the statistics of all B*S rows;
    sampling, the mode and fitting should run in eval mode.

    Arguments:
        config: Hyper-parameters; the defaults are ProHMR's.

    Example:
        >>> flow = ConditionalGlow(FlowConfig(features=6, context_features=4, hidden_features=16))
        >>> x, c = torch.randn(8, 6), torch.randn(8, 4)
        >>> flow.initialize(x, c)
        >>> flow = flow.eval()
        >>> flow.log_prob(x, c).shape
        torch.Size([8])
        >>> s = flow.sample(c, num_samples=5, generator=torch.Generator().manual_seed(0))
        >>> s.x.shape, s.log_prob.shape
        (torch.Size([8, 5, 6]), torch.Size([8, 5]))
        >>> torch.allclose(flow.log_prob(s.x, c), s.log_prob, atol=1e-4)
        True
        >>> flow.mode(c).x.shape
        torch.Size([8, 1, 6])
    """

    def __init__(self, config: FlowConfig | None = None):
        super().__init__()
        self.config = config = config if config is not None else FlowConfig()
        coupling_type = AdditiveCoupling if config.coupling == "additive" else AffineCoupling
        transforms: list[nn.Module] = []
        for k in range(config.num_layers):
            transforms.append(ActNorm(config.features, min_std=config.actnorm_min_std))
            transforms.append(LULinear(config.features))
            transforms.append(
                coupling_type(
                    alternating_mask(config.features, k),
                    context_features=config.context_features,
                    hidden_features=config.hidden_features,
                    num_blocks=config.num_blocks,
                    dropout=config.dropout,
                    batch_norm_eps=config.batch_norm_eps,
                )
            )
        self.transforms = nn.ModuleList(transforms)
        self.context_scale = (
            ContextScale(config.features, config.context_features, config.hidden_features)
            if config.context_scale
            else None
        )

    def steps(self) -> list[tuple[ActNorm, LULinear, Coupling]]:
        r"""The ``num_layers`` steps ``(ActNorm, LULinear, coupling)``, data -> noise order."""
        t = list(self.transforms)
        return [(t[i], t[i + 1], t[i + 2]) for i in range(0, len(t), 3)]  # type: ignore[misc]

    def layers(self) -> list[nn.Module]:
        r"""Every invertible layer, data -> noise order (the context scale last)."""
        return list(self.transforms) + ([self.context_scale] if self.context_scale is not None else [])

    @property
    def initialized(self) -> bool:
        r"""Whether every ActNorm layer has been initialised from data."""
        return all(bool(actnorm.initialized) for actnorm, _, _ in self.steps())

    def _with_sample_axis(self, x: Tensor, context: Tensor) -> tuple[Tensor, bool]:
        if x.shape[-1] != self.config.features or context.shape[-1] != self.config.context_features:
            raise ValueError(
                f"expected x (..., {self.config.features}) and context "
                f"(..., {self.config.context_features}), "
                f"got {tuple(x.shape)} and {tuple(context.shape)}"
            )
        squeeze = x.dim() == context.dim()
        if squeeze:
            x = x.unsqueeze(-2)
        if x.shape[:-2] != context.shape[:-1]:
            raise ValueError(f"x {tuple(x.shape)} does not match context {tuple(context.shape)}")
        return x, squeeze

    def _encode(self, x: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        logdet = x.new_zeros(())
        for actnorm, lu, coupling in self.steps():
            x, ld_actnorm = actnorm(x)
            x, ld_lu = lu(x)
            x, ld_coupling = coupling.forward_shared(x, context)
            logdet = logdet + ld_actnorm + ld_lu + ld_coupling
        if self.context_scale is not None:
            x, ld_scale = self.context_scale.forward_shared(x, context)
            logdet = logdet + ld_scale
        return x, logdet

    def _decode(self, z: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        logdet = z.new_zeros(())
        if self.context_scale is not None:
            z, logdet = self.context_scale.inverse_shared(z, context)
        for actnorm, lu, coupling in reversed(self.steps()):
            z, ld_coupling = coupling.inverse_shared(z, context)
            z, ld_lu = lu.inverse(z)
            z, ld_actnorm = actnorm.inverse(z)
            logdet = logdet + ld_actnorm + ld_lu + ld_coupling
        return z, -logdet

    def encode(self, x: Tensor, context: Tensor) -> FlowEncoding:
        r"""Map data to latents (the direction of the log-likelihood).

        Arguments:
            x: shape ``(B, D)`` or ``(B, S, D)``.
            context: shape ``(B, C)``.

        Returns:
            ``z`` of the shape of ``x``, ``logdet = log|det dz/dx|`` and ``log_prob``,
            shape ``(B,)`` or ``(B, S)``.
        """
        x, squeeze = self._with_sample_axis(x, context)
        z, logdet = self._encode(x, context)
        logdet = logdet.expand(z.shape[:-1])
        log_prob = standard_normal_log_prob(z) + logdet
        if squeeze:
            z, logdet, log_prob = z.squeeze(-2), logdet.squeeze(-1), log_prob.squeeze(-1)
        return FlowEncoding(z=z, logdet=logdet, log_prob=log_prob)

    def log_prob(self, x: Tensor, context: Tensor) -> Tensor:
        r"""``log p(x | context)``: ``x (B, D)`` -> ``(B,)``; ``x (B, S, D)`` -> ``(B, S)``."""
        return self.encode(x, context).log_prob

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        r"""Same as :meth:`log_prob` (so that wrappers such as DDP see the call)."""
        return self.log_prob(x, context)

    def decode(self, z: Tensor, context: Tensor) -> FlowSample:
        r"""Map latents to data; the log-density comes out of the same pass.

        Arguments:
            z: shape ``(B, S, D)``.
            context: shape ``(B, C)``.

        Returns:
            :class:`FlowSample` with ``x``, ``z`` of shape ``(B, S, D)`` and ``log_prob``
            of shape ``(B, S)``.
        """
        if z.dim() != context.dim() + 1:
            raise ValueError(f"z must be (B, S, D) against context (B, C), got {tuple(z.shape)}")
        z3, _ = self._with_sample_axis(z, context)
        x, logdet = self._decode(z3, context)
        log_prob = standard_normal_log_prob(z) + logdet.expand(z.shape[:-1])
        return FlowSample(x=x, z=z, log_prob=log_prob)

    def sample(
        self, context: Tensor, num_samples: int, generator: torch.Generator | None = None
    ) -> FlowSample:
        r"""Draw S samples per context.

        Arguments:
            context: shape ``(B, C)``.
            num_samples: S.
            generator: Source of the latents (on the context's device).

        Returns:
            :class:`FlowSample` of shape ``(B, S, D)``.
        """
        shape = (*context.shape[:-1], num_samples, self.config.features)
        z = torch.randn(shape, generator=generator, dtype=context.dtype, device=context.device)
        return self.decode(z, context)

    def mode(self, context: Tensor) -> FlowSample:
        r"""Decode ``z = 0`` (the exact mode for additive coupling): shape ``(B, 1, D)``."""
        z = context.new_zeros(*context.shape[:-1], 1, self.config.features)
        return self.decode(z, context)

    @torch.no_grad()
    def initialize(self, x: Tensor, context: Tensor) -> None:
        r"""Data-dependent ActNorm initialisation, layer by layer.

        Each ActNorm is set so that its output on ``x`` (as transformed by the layers
        before it) has zero mean and unit standard deviation per feature (floored at
        ``actnorm_min_std``), then ``x`` passes on through the step. ProHMR does this
        with the ground-truth poses of the first training batch. The coupling nets run
        in the module's current mode (in training mode their BatchNorm running
        statistics take one update, as in ProHMR's first step).

        Arguments:
            x: shape ``(B, D)`` or ``(B, S, D)``, at least two rows in all.
            context: shape ``(B, C)``.
        """
        x, _ = self._with_sample_axis(x, context)
        for actnorm, lu, coupling in self.steps():
            actnorm.initialize(x)
            x, _ = actnorm(x)
            x, _ = lu(x)
            x, _ = coupling.forward_shared(x, context)


def _repeat_context(x: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
    flat = x.reshape(-1, x.shape[-1])
    repeated = context.unsqueeze(-2).expand(*x.shape[:-1], context.shape[-1])
    return flat, repeated.reshape(-1, context.shape[-1])


def encode_repeated(flow: ConditionalGlow, x: Tensor, context: Tensor) -> FlowEncoding:
    r"""Reference/baseline :meth:`ConditionalGlow.encode` in nflows' style.

    The context is repeated for every sample and each coupling net runs on
    ``cat(x_I, context)`` row by row. Same results as the fast path, slower.

    Arguments:
        x: shape ``(B, S, D)``.
        context: shape ``(B, C)``.
    """
    flat, ctx = _repeat_context(x, context)
    logdet = flat.new_zeros(())
    for layer in flow.layers():
        flat, ld = layer(flat, ctx)
        logdet = logdet + ld
    z = flat.reshape(x.shape)
    logdet = logdet.expand(flat.shape[:-1]).reshape(x.shape[:-1])
    return FlowEncoding(z=z, logdet=logdet, log_prob=standard_normal_log_prob(z) + logdet)


def decode_repeated(flow: ConditionalGlow, z: Tensor, context: Tensor) -> FlowSample:
    r"""Reference/baseline :meth:`ConditionalGlow.decode` in nflows' style.

    The context is repeated for every sample (``B*S`` rows) and each coupling net runs
    on ``cat(x_I, context)``. Same results as the fast path, slower.

    Arguments:
        z: shape ``(B, S, D)``.
        context: shape ``(B, C)``.
    """
    flat, ctx = _repeat_context(z, context)
    logdet = flat.new_zeros(())
    for layer in reversed(flow.layers()):
        flat, ld = layer.inverse(flat, ctx)
        logdet = logdet + ld
    x = flat.reshape(z.shape)
    log_prob = standard_normal_log_prob(z) - logdet.expand(flat.shape[:-1]).reshape(z.shape[:-1])
    return FlowSample(x=x, z=z, log_prob=log_prob)
