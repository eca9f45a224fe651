r"""Residual coupling network of the conditional Glow.

Structure and parameter names follow the nflows fork ProHMR used, so that its checkpoint
maps onto these modules by renaming prefixes only:

* ``initial_layer``: ``Linear(I + C -> H)`` on ``cat(inputs, context)``; the context
  enters here and nowhere else;
* ``blocks.{i}``: pre-activation residual blocks ``h + Linear(Dropout(ReLU(BN(Linear(
  ReLU(BN(h)))))))`` with ``batch_norm_layers.{0,1}`` and ``linear_layers.{0,1}``;
  the last Linear starts uniform in +-1e-3;
* ``final_layer``: ``Linear(H -> O)``, starting uniform in +-0.01 / sqrt(H).

Because ``initial_layer`` is linear, ``W [x; c] + b = W_x x + (W_c c + b)``: when S
inputs share one context, the context part is computed once and broadcast over them
(:meth:`ResidualNet.forward_shared`, :func:`shared_context_linear`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import FunctionCtx, once_differentiable

__all__ = ["ResidualBlock", "ResidualNet", "shared_context_linear"]


def _shared_context_linear(inputs: Tensor, context: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    n = inputs.shape[-1]
    hidden = F.linear(context, weight[:, n:], bias)
    return F.linear(inputs, weight[:, :n]).add_(hidden.unsqueeze(-2))


class _SharedContextLinear(torch.autograd.Function):
    """:func:`shared_context_linear` whose weight gradient is written in one buffer.

    Through two column slices of the weight, autograd would produce two column-major
    partial gradients and concatenate them, a slow transposed copy on CPU.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: FunctionCtx, inputs: Tensor, context: Tensor, weight: Tensor, bias: Tensor
    ) -> Tensor:
        ctx.save_for_backward(inputs, context, weight)
        return _shared_context_linear(inputs, context, weight, bias)

    @staticmethod
    @once_differentiable
    def backward(  # type: ignore[override]
        ctx: FunctionCtx, grad: Tensor
    ) -> tuple[Tensor | None, ...]:
        inputs, context, weight = ctx.saved_tensors  # type: ignore[attr-defined]
        needs = ctx.needs_input_grad  # type: ignore[attr-defined]
        n, h = inputs.shape[-1], weight.shape[0]
        grad_shared = grad.sum(dim=-2)  # (..., H), one row per context
        grad_inputs = grad_context = grad_weight = grad_bias = None
        if needs[0]:
            grad_inputs = grad @ weight[:, :n]
        if needs[1]:
            grad_context = grad_shared @ weight[:, n:]
        if needs[2]:
            grad_weight = torch.empty_like(weight, memory_format=torch.contiguous_format)
            rows = grad.reshape(-1, h).t()
            torch.mm(rows, inputs.reshape(-1, n), out=grad_weight[:, :n])
            shared = grad_shared.reshape(-1, h).t()
            torch.mm(shared, context.reshape(-1, context.shape[-1]), out=grad_weight[:, n:])
        if needs[3]:
            grad_bias = grad_shared.reshape(-1, h).sum(dim=0)
        return grad_inputs, grad_context, grad_weight, grad_bias


def shared_context_linear(inputs: Tensor, context: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    r"""``Linear(cat(inputs, context))`` with each context shared by S inputs.

    ``out[..., s, :] = W[:, :I] inputs[..., s, :] + W[:, I:] context[...] + bias``: the
    context part is computed once per context and never repeated. With gradients to the
    weight, a custom backward writes the weight gradient in one buffer (it does not
    support double backward).

    Arguments:
        inputs: shape ``(..., S, I)``.
        context: shape ``(..., C)``, the leading dimensions of ``inputs``.
        weight: shape ``(H, I + C)``.
        bias: shape ``(H,)``.

    Returns:
        shape ``(..., S, H)``.

    Example:
        >>> x, c, w, b = torch.randn(2, 3, 4), torch.randn(2, 5), torch.randn(6, 9), torch.randn(6)
        >>> ref = F.linear(torch.cat((x, c[:, None].expand(2, 3, 5)), -1), w, b)
        >>> torch.allclose(shared_context_linear(x, c, w, b), ref, atol=1e-6)
        True
    """
    if torch.is_grad_enabled() and (weight.requires_grad or bias.requires_grad):
        return _SharedContextLinear.apply(inputs, context, weight, bias)
    return _shared_context_linear(inputs, context, weight, bias)


class ResidualBlock(nn.Module):
    r"""Pre-activation residual block on ``(N, H)`` rows.

    ``h + L1(Dropout(ReLU(BN1(L0(ReLU(BN0(h)))))))``; BatchNorm statistics are taken
    over all N rows in training mode.

    Arguments:
        features: Width H.
        dropout: Dropout probability.
        batch_norm_eps: BatchNorm ``eps``.
    """

    def __init__(self, features: int, dropout: float = 0.0, batch_norm_eps: float = 1e-5):
        super().__init__()
        self.batch_norm_layers = nn.ModuleList(
            [nn.BatchNorm1d(features, eps=batch_norm_eps) for _ in range(2)]
        )
        self.linear_layers = nn.ModuleList([nn.Linear(features, features) for _ in range(2)])
        self.dropout = nn.Dropout(p=dropout)
        nn.init.uniform_(self.linear_layers[1].weight, -1e-3, 1e-3)
        nn.init.uniform_(self.linear_layers[1].bias, -1e-3, 1e-3)

    def forward(self, h: Tensor) -> Tensor:
        r"""Arguments: h: shape ``(N, H)``. Returns: shape ``(N, H)``."""
        t = F.relu(self.batch_norm_layers[0](h))
        t = F.relu(self.batch_norm_layers[1](self.linear_layers[0](t)))
        return h + self.linear_layers[1](self.dropout(t))


class ResidualNet(nn.Module):
    r"""Conditional residual MLP mapping ``(inputs (..., I), context (..., C))`` to ``(..., O)``.

    Arguments:
        in_features: Input width I.
        out_features: Output width O.
        hidden_features: Hidden width H.
        context_features: Context width C.
        num_blocks: Number of residual blocks.
        dropout: Dropout probability inside the blocks.
        batch_norm_eps: BatchNorm ``eps`` inside the blocks.

    Example:
        >>> net = ResidualNet(3, 2, hidden_features=8, context_features=5).eval()
        >>> x, c = torch.randn(4, 6, 3), torch.randn(4, 5)
        >>> net.forward_shared(x, c).shape
        torch.Size([4, 6, 2])
        >>> torch.allclose(net.forward_shared(x, c), net(x, c[:, None].expand(4, 6, 5)))
        True
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden_features: int,
        context_features: int,
        num_blocks: int = 2,
        dropout: float = 0.0,
        batch_norm_eps: float = 1e-5,
    ):
        super().__init__()
        self.in_features = in_features
        self.initial_layer = nn.Linear(in_features + context_features, hidden_features)
        self.blocks = nn.ModuleList(
            [ResidualBlock(hidden_features, dropout, batch_norm_eps) for _ in range(num_blocks)]
        )
        self.final_layer = nn.Linear(hidden_features, out_features)
        bound = 0.01 / math.sqrt(hidden_features)
        nn.init.uniform_(self.final_layer.weight, -bound, bound)
        nn.init.uniform_(self.final_layer.bias, -bound, bound)

    def forward(self, inputs: Tensor, context: Tensor) -> Tensor:
        r"""Reference path (nflows'): ``initial_layer(cat(inputs, context))``, then the trunk.

        Arguments:
            inputs: shape ``(..., I)``.
            context: shape ``(..., C)``, the same leading dimensions as ``inputs``.

        Returns:
            shape ``(..., O)``.
        """
        return self.trunk(self.initial_layer(torch.cat((inputs, context), dim=-1)))

    def forward_shared(self, inputs: Tensor, context: Tensor) -> Tensor:
        r"""Fast path: each context serves S inputs (:func:`shared_context_linear`).

        Arguments:
            inputs: shape ``(..., S, I)``.
            context: shape ``(..., C)``.

        Returns:
            shape ``(..., S, O)``.
        """
        layer = self.initial_layer
        return self.trunk(shared_context_linear(inputs, context, layer.weight, layer.bias))

    def trunk(self, h: Tensor) -> Tensor:
        r"""Residual blocks and final layer on first-layer activations ``(..., H)``.

        All leading dimensions are flattened into one BatchNorm batch.

        Returns:
            shape ``(..., O)``.
        """
        shape = h.shape[:-1]
        h = h.reshape(-1, h.shape[-1])
        for block in self.blocks:
            h = block(h)
        return self.final_layer(h).reshape(*shape, -1)
