r"""A conditional Glow's decoding for fixed contexts, with its weights folded.

Fitting decodes latents hundreds of times with the model frozen and the contexts fixed.
:class:`FrozenDecoder` folds, per layer, the LU inverse (two triangular solves), the
ActNorm inverse, the coupling's feature selection and scatter, the context part of the
first Linear (once per context; the flow's own fast path does it once per *call*), the
eval-mode BatchNorms and the biases into a few dense matrices: per layer
``h = z F + h_c``, the residual blocks as ``relu(h s + t)`` and two matrix products, and
``z' = z A + h T + b``. The LU inverse, ``T`` and the vectors are folded in float64, the
weight matrices are used as stored (one scaled by a BatchNorm), so the result equals
:meth:`~hmrflow.flows.ConditionalGlow.decode` to float rounding (tested, value and
gradient, in ``tests/fitting/test_lean_energy.py``).

Example:
    >>> from hmrflow.flows import FlowConfig
    >>> flow = ConditionalGlow(FlowConfig(features=12, context_features=4, hidden_features=8)).eval()
    >>> context, z = torch.randn(3, 4), torch.randn(3, 12)
    >>> expected = flow.decode(z[:, None], context).x[:, 0]
    >>> torch.allclose(FrozenDecoder(flow, context)(z), expected, atol=1e-5)
    True
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hmrflow.flows.glow import ConditionalGlow
from hmrflow.flows.layers import ActNorm, AdditiveCoupling, LULinear
from hmrflow.flows.nets import ResidualBlock, ResidualNet

__all__ = ["FrozenDecoder"]


@dataclass(frozen=True)
class _Block:
    """One residual block, eval mode, folded; H hidden features.

    ``t = relu(h * scale + shift)``, ``t = relu(t @ weight0.T + bias0)``,
    ``h = h + t @ weight1.T`` (the last bias is carried by the caller). ``scale``,
    ``shift``, ``bias0``: ``(H,)``; ``weight0``, ``weight1``: ``(H, H)`` (out, in).
    """

    scale: Tensor
    shift: Tensor
    weight0: Tensor
    bias0: Tensor
    weight1: Tensor


@dataclass(frozen=True)
class _Step:
    """One decoding step (coupling inverse, LU inverse, ActNorm inverse), folded.

    ``h = z @ first.T + hidden``; blocks; ``z' = z @ linear.T + h @ trunk.T + bias``.
    ``first (H, D)``, ``hidden (B, H)`` (the context part, one row per person),
    ``linear (D, D)``, ``trunk (D, H)``, ``bias (D,)``.
    """

    first: Tensor
    hidden: Tensor
    blocks: tuple[_Block, ...]
    linear: Tensor
    trunk: Tensor
    bias: Tensor


def _batch_norm_affine(norm: nn.BatchNorm1d) -> tuple[Tensor, Tensor]:
    """Eval-mode BatchNorm as ``x * scale + shift``, both ``(H,)`` float64."""
    mean, var = norm.running_mean, norm.running_var
    if mean is None or var is None:
        raise ValueError("a BatchNorm without running statistics cannot be folded")
    scale = torch.rsqrt(var.double() + norm.eps)
    if norm.weight is not None:
        scale = scale * norm.weight.double()
    shift = -mean.double() * scale
    if norm.bias is not None:
        shift = shift + norm.bias.double()
    return scale, shift


def _fold_block(block: ResidualBlock, offset: Tensor) -> tuple[_Block, Tensor]:
    """Fold a residual block applied to ``h + offset`` (``(H,)`` float64); returns it and the
    new offset. The vectors are float64 (cast later), the matrices in the weights' dtype."""
    scale0, shift0 = _batch_norm_affine(block.batch_norm_layers[0])
    scale1, shift1 = _batch_norm_affine(block.batch_norm_layers[1])
    linear0, linear1 = block.linear_layers
    weight0 = linear0.weight.detach() * scale1.to(linear0.weight.dtype)[:, None]
    bias0 = linear0.bias.double() * scale1 + shift1
    folded = _Block(scale0, offset * scale0 + shift0, weight0, bias0, linear1.weight.detach())
    return folded, offset + linear1.bias.double()


def _affine_inverse(actnorm: ActNorm, lu: LULinear) -> tuple[Tensor, Tensor]:
    """LU inverse then ActNorm inverse as ``z @ A.T + c``: ``A (D, D)``, ``c (D,)`` float64."""
    lower, upper = (m.double() for m in lu.lower_upper())
    eye = torch.eye(lu.features, dtype=torch.float64, device=lower.device)
    inverse = torch.linalg.solve_triangular(lower, eye, upper=False, unitriangular=True)
    inverse = torch.linalg.solve_triangular(upper, inverse, upper=True)
    factor = torch.exp(-actnorm.log_scale.double())
    matrix = factor[:, None] * inverse
    bias = -(inverse @ lu.bias.double() + actnorm.shift.double()) * factor
    return matrix, bias


def _fold_step(actnorm: ActNorm, lu: LULinear, coupling: AdditiveCoupling, context: Tensor) -> _Step:
    """Fold one step for contexts ``(B, C)``, in the contexts' dtype (float64 inside)."""
    net: ResidualNet = coupling.transform_net
    identity, transform = coupling.identity_features, coupling.transform_features
    weight, n, dtype = net.initial_layer.weight.detach(), identity.numel(), context.dtype
    first = weight.new_zeros(weight.shape[0], n + transform.numel())
    first[:, identity] = weight[:, :n]
    hidden = F.linear(context, weight[:, n:], net.initial_layer.bias)  # as the flow computes it
    offset = torch.zeros(weight.shape[0], dtype=torch.float64, device=weight.device)
    blocks = []
    for block in net.blocks:
        folded, offset = _fold_block(block, offset)
        blocks.append(replace(folded, scale=folded.scale.to(dtype), shift=folded.shift.to(dtype),
                              bias0=folded.bias0.to(dtype)))  # fmt: skip
    matrix, bias = _affine_inverse(actnorm, lu)
    final = net.final_layer.weight.double()
    moved = matrix[:, transform]  # (D, |T|): where the coupling's shift lands after A
    bias = bias - moved @ (final @ offset + net.final_layer.bias.double())
    return _Step(first, hidden, tuple(blocks), matrix.to(dtype), (-moved @ final).to(dtype), bias.to(dtype))


class FrozenDecoder:
    r"""The flow's decoding ``z (B, D) -> x (B, D)`` for fixed contexts, weights folded.

    Equal to ``flow.decode(z[:, None], context).x[:, 0]`` of a flow in eval mode, to
    float rounding. Additive coupling only (:meth:`supports`); the weights are read once,
    so build a new decoder when the weights or the contexts change.

    Arguments:
        flow: An eval-mode :class:`~hmrflow.flows.ConditionalGlow` with additive coupling.
        context: ``(B, C)``.
    """

    def __init__(self, flow: ConditionalGlow, context: Tensor):
        if not self.supports(flow):
            raise ValueError("FrozenDecoder needs an eval-mode flow with additive coupling")
        with torch.no_grad():
            steps = reversed(flow.steps())
            self.steps = [_fold_step(a, lu, c, context) for a, lu, c in steps]  # type: ignore[arg-type]
            scale = flow.context_scale
            self.scale = None if scale is None else torch.exp(scale.log_scale(context)).contiguous()  # (B, D)

    @staticmethod
    def supports(flow: ConditionalGlow) -> bool:
        """Whether ``flow`` can be folded (eval mode, additive coupling)."""
        steps = flow.steps()
        return not flow.training and all(isinstance(c, AdditiveCoupling) for _, _, c in steps)

    def __call__(self, z: Tensor) -> Tensor:
        r"""``z (B, D)`` -> ``x (B, D)``."""
        if self.scale is not None:
            z = z * self.scale
        for step in self.steps:
            h = torch.addmm(step.hidden, z, step.first.t())
            for block in step.blocks:
                t = torch.addcmul(block.shift, h, block.scale).relu_()
                t = torch.addmm(block.bias0, t, block.weight0.t()).relu_()
                h = torch.addmm(h, t, block.weight1.t())
            z = torch.addmm(torch.addmm(step.bias, z, step.linear.t()), h, step.trunk.t())
        return z
