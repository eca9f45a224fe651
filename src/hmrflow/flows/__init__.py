"""Conditional normalizing flow (ProHMR's conditional Glow) with fast per-context conditioning."""

from hmrflow.flows.config import FlowConfig
from hmrflow.flows.glow import (
    ConditionalGlow,
    FlowEncoding,
    FlowSample,
    decode_repeated,
    encode_repeated,
    standard_normal_log_prob,
)
from hmrflow.flows.layers import (
    ActNorm,
    AdditiveCoupling,
    AffineCoupling,
    ContextScale,
    Coupling,
    LULinear,
    alternating_mask,
)
from hmrflow.flows.nets import ResidualBlock, ResidualNet

__all__ = [
    "ActNorm",
    "AdditiveCoupling",
    "AffineCoupling",
    "ConditionalGlow",
    "ContextScale",
    "Coupling",
    "FlowConfig",
    "FlowEncoding",
    "FlowSample",
    "LULinear",
    "ResidualBlock",
    "ResidualNet",
    "alternating_mask",
    "decode_repeated",
    "encode_repeated",
    "standard_normal_log_prob",
]
