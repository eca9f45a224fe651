r"""Invertible layers of the conditional Glow: ActNorm, LU linear, coupling, context scale.

Every layer maps data towards noise in :meth:`forward` (the direction used by the
log-likelihood) and back in :meth:`inverse`; both take ``(x, context)`` (ActNorm and LU
ignore the context) and return ``(y, logdet)`` with ``logdet = log|det dy/dx|`` of *that*
direction, shape ``x.shape[:-1]``. Any number of leading dimensions ``...`` is accepted.

Semantics and parameter names follow nflows (the fork ProHMR used):

* :class:`ActNorm`: ``y = exp(log_scale) * x + shift``, data-dependent initialisation;
* :class:`LULinear`: ``y = L U x + bias``, ``L`` unit lower-triangular, ``U`` upper with
  diagonal ``softplus(unconstrained_upper_diag) + 1e-3``; the strictly lower and upper
  entries are stored in row-major triangular order (``numpy.tril_indices(D, -1)`` and
  ``numpy.triu_indices(D, 1)``);
* :class:`AdditiveCoupling` / :class:`AffineCoupling`: the features where the mask is
  true are shifted (and scaled) by a :class:`~hmrflow.flows.nets.ResidualNet` of the
  others and the context; buffers ``identity_features``, ``transform_features``.

:class:`ContextScale` is hmrflow's own (not in ProHMR): a per-feature scale that depends
on the context only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hmrflow.flows.nets import ResidualNet

__all__ = [
    "ActNorm",
    "AdditiveCoupling",
    "AffineCoupling",
    "ContextScale",
    "Coupling",
    "LULinear",
    "alternating_mask",
]


def _expand_logdet(value: Tensor, x: Tensor) -> Tensor:
    return value.expand(x.shape[:-1])


class ActNorm(nn.Module):
    r"""Per-feature affine map ``y = exp(log_scale) * x + shift``.

    Arguments:
        features: Dimension D.
        min_std: Floor on the standard deviation in :meth:`initialize`.

    Example:
        >>> layer = ActNorm(3)
        >>> layer.initialize(torch.randn(100, 3) * 5 + 2)
        >>> y, logdet = layer(torch.randn(10, 3))
        >>> y.shape, logdet.shape, bool(layer.initialized)
        (torch.Size([10, 3]), torch.Size([10]), True)
    """

    def __init__(self, features: int, min_std: float = 1e-3):
        super().__init__()
        self.min_std = min_std
        self.log_scale = nn.Parameter(torch.zeros(features))
        self.shift = nn.Parameter(torch.zeros(features))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        r"""Set the parameters so that ``self(x)`` has zero mean and unit std per feature.

        As nflows: ``std`` is the unbiased standard deviation over all rows (floored at
        ``min_std``), ``log_scale = -log(std)``, ``shift = -mean(x / std)``.

        Arguments:
            x: At least two rows, shape ``(..., D)``.
        """
        rows = x.reshape(-1, x.shape[-1])
        if rows.shape[0] < 2:
            raise ValueError("ActNorm.initialize needs at least two rows")
        std = rows.std(dim=0).clamp_min(self.min_std)
        self.log_scale.copy_(-torch.log(std))
        self.shift.copy_(-(rows / std).mean(dim=0))
        self.initialized.fill_(True)

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        r"""Data -> noise. Returns ``(y (..., D), logdet (...))``."""
        y = x * self.log_scale.exp() + self.shift
        return y, _expand_logdet(self.log_scale.sum(), x)

    def inverse(self, y: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        r"""Noise -> data. Returns ``(x (..., D), logdet (...))`` of the inverse map."""
        x = (y - self.shift) * torch.exp(-self.log_scale)
        return x, _expand_logdet(-self.log_scale.sum(), y)


class LULinear(nn.Module):
    r"""Invertible linear map ``y = W x + bias`` with ``W = L U``.

    ``L`` is unit lower-triangular, ``U`` upper-triangular with diagonal
    ``softplus(unconstrained_upper_diag) + eps``; ``log|det W| = sum(log diag U)``.
    Starts at the identity.

    Arguments:
        features: Dimension D.
        eps: Lower bound on the diagonal of ``U``.

    Example:
        >>> layer = LULinear(4)
        >>> x = torch.randn(2, 4)
        >>> y, logdet = layer(x)
        >>> torch.allclose(y, x, atol=1e-6), logdet.abs().max().item() < 1e-5
        (True, True)
    """

    def __init__(self, features: int, eps: float = 1e-3):
        super().__init__()
        self.features = features
        self.eps = eps
        n = features * (features - 1) // 2
        self.lower_entries = nn.Parameter(torch.zeros(n))
        self.upper_entries = nn.Parameter(torch.zeros(n))
        self.unconstrained_upper_diag = nn.Parameter(
            torch.full((features,), math.log(math.expm1(1.0 - eps)))
        )
        self.bias = nn.Parameter(torch.zeros(features))
        lower_index = torch.tril_indices(features, features, -1)
        upper_index = torch.triu_indices(features, features, 1)
        self.register_buffer("_lower_index", lower_index, persistent=False)
        self.register_buffer("_upper_index", upper_index, persistent=False)

    @property
    def upper_diag(self) -> Tensor:
        r"""Diagonal of ``U``, shape ``(D,)``, all above ``eps``."""
        return F.softplus(self.unconstrained_upper_diag) + self.eps

    def lower_upper(self) -> tuple[Tensor, Tensor]:
        r"""The factors ``(L, U)``, each of shape ``(D, D)``."""
        entries = self.lower_entries
        eye = torch.eye(self.features, dtype=entries.dtype, device=entries.device)
        lower = eye.index_put(tuple(self._lower_index), entries)
        upper = torch.diag_embed(self.upper_diag)
        upper = upper.index_put(tuple(self._upper_index), self.upper_entries)
        return lower, upper

    def weight(self) -> Tensor:
        r"""``W = L U``, shape ``(D, D)``."""
        lower, upper = self.lower_upper()
        return lower @ upper

    def weight_inverse(self) -> Tensor:
        r"""``W^-1 = U^-1 L^-1`` by two triangular solves, shape ``(D, D)``."""
        lower, upper = self.lower_upper()
        eye = torch.eye(self.features, dtype=lower.dtype, device=lower.device)
        lower_inverse = torch.linalg.solve_triangular(lower, eye, upper=False, unitriangular=True)
        return torch.linalg.solve_triangular(upper, lower_inverse, upper=True)

    def logabsdet(self) -> Tensor:
        r"""``log|det W|``, a scalar."""
        return torch.log(self.upper_diag).sum()

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        r"""Data -> noise. Returns ``(y (..., D), logdet (...))``."""
        return F.linear(x, self.weight(), self.bias), _expand_logdet(self.logabsdet(), x)

    def inverse(self, y: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        r"""Noise -> data. Returns ``(x (..., D), logdet (...))`` of the inverse map."""
        x = F.linear(y - self.bias, self.weight_inverse())
        return x, _expand_logdet(-self.logabsdet(), y)


def alternating_mask(features: int, layer: int) -> Tensor:
    r"""Coupling mask of layer ``layer``: true where a feature is transformed.

    Layer 0 transforms the odd indices and passes the even ones unchanged; the masks
    alternate (nflows' ``mask[::2] = -1`` then ``mask *= -1``).

    Example:
        >>> alternating_mask(5, 0), alternating_mask(5, 1)
        (tensor([False,  True, False,  True, False]), tensor([ True, False,  True, False,  True]))
    """
    mask = torch.arange(features) % 2 == 1
    return mask if layer % 2 == 0 else ~mask


class Coupling(nn.Module):
    r"""Coupling layer: ``y_T = g(x_T; net(x_I, context))``, ``y_I = x_I``.

    ``T`` are the features where ``mask`` is true, ``I`` the others. Two ways to supply
    the context:

    * :meth:`forward` / :meth:`inverse` take the context ``(..., C)`` with the leading
      dimensions of ``x`` (nflows' path, ``net(cat(x_I, context))``);
    * :meth:`forward_shared` / :meth:`inverse_shared` take ``x (..., S, D)`` and
      ``context (..., C)``: each context serves S samples, its part of the first layer is
      computed once (the fast path).

    Arguments:
        mask: Boolean, shape ``(D,)``; true for transformed features.
        context_features: C.
        hidden_features: H.
        num_blocks: Residual blocks of the coupling net.
        dropout: Dropout probability of the coupling net.
        batch_norm_eps: BatchNorm ``eps`` of the coupling net.
    """

    #: Net outputs per transformed feature.
    params_per_feature: int = 1
    #: Whether the log-determinant is independent of the input.
    constant_logdet: bool = False

    def __init__(
        self,
        mask: Tensor,
        context_features: int,
        hidden_features: int,
        num_blocks: int = 2,
        dropout: float = 0.0,
        batch_norm_eps: float = 1e-5,
    ):
        super().__init__()
        mask = torch.as_tensor(mask, dtype=torch.bool)
        index = torch.arange(mask.numel())
        identity, transform = index[~mask], index[mask]
        if identity.numel() == 0 or transform.numel() == 0:
            raise ValueError("the mask must select some but not all features")
        self.register_buffer("identity_features", identity)
        self.register_buffer("transform_features", transform)
        merge = torch.argsort(torch.cat((identity, transform)))
        self.register_buffer("_merge_index", merge, persistent=False)
        self.transform_net = ResidualNet(
            in_features=identity.numel(),
            out_features=transform.numel() * self.params_per_feature,
            hidden_features=hidden_features,
            context_features=context_features,
            num_blocks=num_blocks,
            dropout=dropout,
            batch_norm_eps=batch_norm_eps,
        )

    def split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        r"""``(x_I (..., |I|), x_T (..., |T|))``."""
        identity = x.index_select(-1, self.identity_features)
        return identity, x.index_select(-1, self.transform_features)

    def merge(self, x_identity: Tensor, x_transform: Tensor) -> Tensor:
        r"""Inverse of :meth:`split`, shape ``(..., D)``."""
        return torch.cat((x_identity, x_transform), dim=-1).index_select(-1, self._merge_index)

    def forward(self, x: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        r"""Data -> noise, reference path. ``x (..., D)``, ``context (..., C)``."""
        a, b = self.split(x)
        params = self.transform_net(a, context.expand(*a.shape[:-1], -1))
        b, logdet = self.couple(b, params, inverse=False)
        return self.merge(a, b), logdet

    def inverse(self, y: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        r"""Noise -> data, reference path. ``y (..., D)``, ``context (..., C)``."""
        a, b = self.split(y)
        params = self.transform_net(a, context.expand(*a.shape[:-1], -1))
        b, logdet = self.couple(b, params, inverse=True)
        return self.merge(a, b), logdet

    def forward_shared(self, x: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        r"""Data -> noise, fast path. ``x (..., S, D)``, ``context (..., C)``."""
        a, b = self.split(x)
        b, logdet = self.couple(b, self.transform_net.forward_shared(a, context), inverse=False)
        return self.merge(a, b), logdet

    def inverse_shared(self, y: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        r"""Noise -> data, fast path. ``y (..., S, D)``, ``context (..., C)``."""
        a, b = self.split(y)
        b, logdet = self.couple(b, self.transform_net.forward_shared(a, context), inverse=True)
        return self.merge(a, b), logdet

    def couple(self, x: Tensor, params: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        r"""Element-wise map of the transformed part ``x (..., |T|)`` given the net's output."""
        raise NotImplementedError


class AdditiveCoupling(Coupling):
    r"""``y_T = x_T + net(x_I, context)``; ``logdet = 0`` (ProHMR's coupling).

    Example:
        >>> layer = AdditiveCoupling(alternating_mask(4, 0), 3, 8).eval()
        >>> x, c = torch.randn(5, 4), torch.randn(5, 3)
        >>> y, logdet = layer(x, c)
        >>> torch.equal(y[:, ::2], x[:, ::2]), torch.allclose(layer.inverse(y, c)[0], x)
        (True, True)
    """

    params_per_feature = 1
    constant_logdet = True

    def couple(self, x: Tensor, params: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        y = x - params if inverse else x + params
        return y, x.new_zeros(()).expand(x.shape[:-1])


class AffineCoupling(Coupling):
    r"""``y_T = x_T * scale + shift``, ``scale = sigmoid(u + 2) + 1e-3`` (nflows).

    The net's output is ``[shift, u]``. The log-determinant ``sum(log scale)`` depends
    on ``x_I``, so with this coupling ``z = 0`` is not exactly the flow's mode.
    """

    params_per_feature = 2
    constant_logdet = False

    def couple(self, x: Tensor, params: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        shift, unconstrained = params.chunk(2, dim=-1)
        scale = torch.sigmoid(unconstrained + 2.0) + 1e-3
        logdet = torch.log(scale).sum(dim=-1)
        if inverse:
            return (x - shift) / scale, -logdet
        return x * scale + shift, logdet


class ContextScale(nn.Module):
    r"""Per-feature scale set by the context: ``y = x * exp(-s(c))``.

    ``s`` is a small MLP ``Linear(C -> H) -> ReLU -> Linear(H -> D)`` whose last layer
    starts at zero (the identity). The log-determinant ``-sum(s(c))`` depends on the
    context but not on ``x``: placed at the noise end of an additive flow it keeps
    ``z = 0`` the exact mode, and lets the spread of the distribution differ between
    inputs (additive coupling alone gives every context the same volume).

    Arguments:
        features: Dimension D.
        context_features: C.
        hidden_features: H.

    Example:
        >>> layer = ContextScale(4, 3, 8)
        >>> x, c = torch.randn(5, 4), torch.randn(5, 3)
        >>> y, logdet = layer(x, c)  # starts as the identity
        >>> torch.equal(y, x), logdet.shape
        (True, torch.Size([5]))
        >>> y, logdet = layer.forward_shared(torch.randn(5, 2, 4), c)  # 2 samples per context
        >>> y.shape, logdet.shape
        (torch.Size([5, 2, 4]), torch.Size([5, 2]))
    """

    def __init__(self, features: int, context_features: int, hidden_features: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(context_features, hidden_features), nn.ReLU(), nn.Linear(hidden_features, features)
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def log_scale(self, context: Tensor) -> Tensor:
        r"""``s(c)``: ``(..., C)`` -> ``(..., D)``, the log of the inverse map's scale."""
        return self.net(context)

    def _scale(self, x: Tensor, log_scale: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        sign = 1.0 if inverse else -1.0
        return x * torch.exp(sign * log_scale), (sign * log_scale.sum(dim=-1)).expand(x.shape[:-1])

    def forward(self, x: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        r"""Data -> noise. ``x (..., D)``, ``context (..., C)``."""
        return self._scale(x, self.log_scale(context), inverse=False)

    def inverse(self, y: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        r"""Noise -> data. ``y (..., D)``, ``context (..., C)``."""
        return self._scale(y, self.log_scale(context), inverse=True)

    def forward_shared(self, x: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        r"""Data -> noise with each context shared by S samples: ``x (..., S, D)``, ``context (..., C)``."""
        return self._scale(x, self.log_scale(context).unsqueeze(-2), inverse=False)

    def inverse_shared(self, y: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        r"""Noise -> data with each context shared by S samples."""
        return self._scale(y, self.log_scale(context).unsqueeze(-2), inverse=True)
