"""hmrflow: probabilistic 3D human mesh recovery with conditional normalizing flows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_model"]

if TYPE_CHECKING:
    from hmrflow.models import ProbabilisticHMR


def load_model(path: Any = None, device: Any = "cpu", body_model: str | None = None) -> ProbabilisticHMR:
    """Load a model for inference: any hmrflow checkpoint, or (no path) the shipped default.

    See :func:`hmrflow.models.checkpoint.load_model`.
    """
    from hmrflow.models.checkpoint import load_model as _load

    return _load(path, device, body_model)
