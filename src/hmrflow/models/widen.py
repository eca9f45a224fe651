r"""Function-preserving widening: a trained model's weights inside a wider model.

A model trained at one width (encoder width and context ``C``, head hidden features, flow
hidden features ``H``) starts a wider one computing exactly the same function, so that
training continues from where the narrow model stopped, with more capacity (Net2Net's
idea, Chen et al. 2016, done here by zeroing rather than by copying units).

Every tensor of the narrow state dict fills the leading part of the wide model's tensor
of the same name (same number of dimensions, no dimension smaller):

* a ``(out, in)`` weight: ``wide[:out, :in] = narrow``; ``wide[:out, in:] = 0`` (the new
  inputs do not reach the old outputs); the new rows keep the wide model's initial values
  (the new outputs may read every input, old and new);
* a vector (a bias, a BatchNorm's weight, bias or running statistics): ``wide[:n] = narrow``,
  the rest keeps its initial values;
* a scalar (``num_batches_tracked``): copied.

Every layer of :class:`~hmrflow.models.ProbabilisticHMR` acts per feature or through such
weights (Linear layers, BatchNorm, ReLU, dropout, residual sums), so the old features are
computed as before and the new ones enter nothing old: outputs agree to float rounding. The
new columns are zero but their gradients are not, so they learn from the first step.

Example:
    >>> import torch
    >>> from hmrflow.flows import FlowConfig
    >>> from hmrflow.models.config import EncoderConfig, ModelConfig
    >>> narrow = ProbabilisticHMR(ModelConfig(encoder=EncoderConfig(width=16), head_hidden=16,
    ...     flow=FlowConfig(context_features=16, hidden_features=16))).eval()
    >>> wide = ProbabilisticHMR(ModelConfig(encoder=EncoderConfig(width=32), head_hidden=16,
    ...     flow=FlowConfig(context_features=32, hidden_features=24)), body=narrow.body).eval()
    >>> wide = widen_model(narrow, wide)
    >>> x = torch.rand(2, len(narrow.evidence_names), 3)
    >>> torch.allclose(wide(x).mode.rotmats, narrow(x).mode.rotmats, atol=1e-5)
    True
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from hmrflow.errors import CheckpointError
from hmrflow.models.prohmr import ProbabilisticHMR

__all__ = ["widen_model", "widen_state", "widen_tensor"]


def widen_tensor(narrow: Tensor, wide: Tensor) -> Tensor:
    r"""``narrow`` inside a copy of ``wide`` (the module docstring's rules); ``wide``'s dtype and device."""
    if narrow.dim() != wide.dim() or any(n > w for n, w in zip(narrow.shape, wide.shape)):
        raise ValueError(f"a {tuple(narrow.shape)} tensor does not fit inside {tuple(wide.shape)}")
    if narrow.dim() > 2:
        raise ValueError(f"only scalars, vectors and (out, in) weights widen; got {tuple(narrow.shape)}")
    narrow = narrow.to(wide)
    if narrow.shape == wide.shape:
        return narrow.clone()
    out = wide.detach().clone()
    if narrow.dim() == 1:
        out[: narrow.shape[0]] = narrow
        return out
    rows, columns = narrow.shape
    out[:rows] = 0.0
    out[:rows, :columns] = narrow
    return out


def widen_state(narrow: Mapping[str, Tensor], wide: Mapping[str, Tensor]) -> dict[str, Tensor]:
    r"""The state dict of a wide model that computes what the ``narrow`` state's model does.

    Arguments:
        narrow: The trained model's state dict.
        wide: A freshly built wide model's state dict (its initial values fill the new parts).

    Raises:
        CheckpointError: The two do not have the same names, or a narrow tensor does not fit
            inside its wide one.
    """
    if set(narrow) != set(wide):
        missing, unexpected = sorted(set(wide) - set(narrow)), sorted(set(narrow) - set(wide))
        raise CheckpointError(f"cannot widen: the models' weights differ by name (missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]})")  # fmt: skip
    state = {}
    for name, value in wide.items():
        try:
            state[name] = widen_tensor(narrow[name], value)
        except ValueError as error:
            raise CheckpointError(f"cannot widen {name}: {error}") from None
    return state


def widen_model(narrow: ProbabilisticHMR, wide: ProbabilisticHMR) -> ProbabilisticHMR:
    r"""Load ``narrow``'s weights into ``wide`` (:func:`widen_state`); returns ``wide``.

    Raises:
        CheckpointError: The models differ in more than their widths.
    """
    wide.load_state_dict(widen_state(narrow.state_dict(), wide.state_dict()))
    return wide
