r"""Convert the released ProHMR checkpoint (Kolotouros et al., ICCV 2021) into an hmrflow model.

The original is a PyTorch Lightning module whose ``state_dict`` holds (key layout as in
the original code, checked against it):

* ``backbone.*``: a ResNet-50 with torchvision's parameter names and no classifier
  -> ``encoder.*`` (:class:`~hmrflow.models.ResNetEncoder` has the same names);
* ``flow.flow._transform._transforms.{i}.*``: nflows' ``ConditionalGlow`` (ProHMR's fork),
  ``3k`` ActNorm (``log_scale``, ``shift``, ``initialized``), ``3k + 1`` LU linear
  (``lower_entries``, ``upper_entries``, ``unconstrained_upper_diag``, ``bias``), ``3k + 2``
  additive coupling (``identity_features``, ``transform_features``, ``transform_net.*``)
  -> ``flow.transforms.{i}.*`` one to one;
* ``flow.fc_head.layers.{0,2}.*`` -> ``head.layers.{0,2}.*``; the mean camera and betas
  buffers ``flow.fc_head.init_cam`` ``(1, 1, 3)`` and ``init_betas`` ``(1, 1, 10)`` ->
  ``head.init_cam`` ``(3,)`` and ``head.init_betas`` ``(10,)``.

Left out on purpose (:data:`SKIPPED_GROUPS`; one ``logging.info`` line counts them):
``discriminator.*`` (adversarial prior, training only), ``smpl.*`` (the SMPL model's
buffers: the body model comes from the user's SMPL file or the open default), the
module's bookkeeping flag ``initialized``, the placeholder ``dummy_buffer`` that every
transform of ProHMR's nflows fork registers (``flow.flow._transform.dummy_buffer`` and
``flow.flow._transform._transforms.{i}.dummy_buffer``), and nflows' constant
``flow.flow._distribution._log_z`` where an nflows version stored it. BatchNorm
``num_batches_tracked`` counters, if a file lacks them, are set to 0 (they play no part in
inference). Any other key, a missing key, or a tensor whose shape does not fit is a
:class:`~hmrflow.errors.CheckpointError` that names the key (and, from
:func:`convert_prohmr`, the file).

Sizes are read from the shapes (backbone depth from its blocks, D, C, H and the number of
layers and blocks from the flow), so smaller checkpoints in the same layout convert too.
What the state dict does not hold comes from ProHMR's configuration: dropout 0.5 in the
coupling nets (nflows' ``ConditionalGlow`` default, which ProHMR does not override),
BatchNorm ``eps`` 1e-5 (the fork's residual blocks use ``nn.BatchNorm1d(features)``),
focal length 5000 px at a 224 px crop.

Reading the file: Lightning checkpoints may hold pickled objects besides tensors
(hyper-parameters, a yacs ``CfgNode``, callback states keyed by class). The file is
first read with ``torch.load(weights_only=True)``; if that refuses such objects, it is
read again with a restricted unpickler that builds tensors and plain containers only and
replaces every other class or function by an inert stand-in that merely records its
arguments, so nothing from the file is ever imported or executed (the classes stubbed
are named in one ``logging.info`` line). Only the ``state_dict`` is kept, and every value
in it must be a tensor. A missing, empty or foreign file is one
:class:`~hmrflow.errors.CheckpointError` line naming the file and the problem.

Example (needs the released file)::

    from hmrflow.models.prohmr_convert import convert_prohmr
    from hmrflow.models.checkpoint import load_model

    convert_prohmr("data/checkpoint.pt", "prohmr.pt", smpl_path="data/smpl/SMPL_NEUTRAL.pkl")
    model = load_model("prohmr.pt")
"""

from __future__ import annotations

import collections
import logging
import pickle
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from hmrflow.errors import CheckpointError
from hmrflow.flows import ConditionalGlow, FlowConfig, alternating_mask
from hmrflow.models.config import EncoderConfig, ModelConfig
from hmrflow.models.head import ShapeCameraHead
from hmrflow.models.resnet import ResNetEncoder

__all__ = [
    "BACKBONE_PREFIX",
    "DEFAULT_BODY_MODEL",
    "FLOW_PREFIX",
    "HEAD_PREFIX",
    "SKIPPED_GROUPS",
    "ConvertedFlow",
    "ConvertedProHMR",
    "ProHMRCheckpoint",
    "SkippedGroup",
    "check_checkpoint_file",
    "convert_flow_state_dict",
    "convert_prohmr",
    "convert_prohmr_state_dict",
    "flow_config_from_state",
    "read_prohmr_checkpoint",
]

log = logging.getLogger(__name__)

#: Prefix of the image backbone's keys in the original.
BACKBONE_PREFIX = "backbone."
#: Prefix of the flow's layers in the original (nflows' composite transform).
FLOW_PREFIX = "flow.flow._transform._transforms."
#: Prefix of the shape/camera head in the original.
HEAD_PREFIX = "flow.fc_head."
#: Body model of a converted checkpoint when no SMPL file is given.
DEFAULT_BODY_MODEL = "anny"



@dataclass(frozen=True)
class SkippedGroup:
    r"""Keys of the original that the conversion leaves out on purpose.

    Attributes:
        name: How the log names the group (the keys' pattern, as a reader knows them).
        why: Why they are left out.
        pattern: Regular expression a whole key must match.
    """

    name: str
    why: str
    pattern: re.Pattern[str]

    def matches(self, key: str) -> bool:
        """Whether ``key`` belongs to the group."""
        return self.pattern.fullmatch(key) is not None


#: Keys left out on purpose, in the order the log lists them.
SKIPPED_GROUPS: tuple[SkippedGroup, ...] = (
    SkippedGroup("discriminator.*", "adversarial pose prior, training only",
                 re.compile(r"discriminator\..+")),  # fmt: skip
    SkippedGroup("smpl.*", "SMPL buffers; the body model comes from --smpl or the open default",
                 re.compile(r"smpl\..+")),  # fmt: skip
    SkippedGroup("dummy_buffer", "placeholders of the nflows fork's transforms",
                 re.compile(r"(flow\.flow\.(\w+\.)*)?dummy_buffer")),  # fmt: skip
    SkippedGroup("initialized", "the module's bookkeeping flag", re.compile(r"initialized")),
    SkippedGroup("flow.flow._distribution._log_z", "nflows' constant of the standard normal",
                 re.compile(r"flow\.flow\._distribution\._log_z")),  # fmt: skip
)

#: ProHMR facts the state dict does not hold (see the module docstring).
PROHMR_DROPOUT = 0.5
PROHMR_BATCH_NORM_EPS = 1e-5
PROHMR_FOCAL_LENGTH = 5000.0
PROHMR_CROP_SIZE = 224

#: ``(bottleneck, blocks per stage) -> depth`` of the ResNets the encoder offers.
_RESNETS: dict[tuple[bool, tuple[int, ...]], int] = {
    (False, (2, 2, 2, 2)): 18,
    (False, (3, 4, 6, 3)): 34,
    (True, (3, 4, 6, 3)): 50,
    (True, (3, 4, 23, 3)): 101,
}


@dataclass(frozen=True)
class ProHMRCheckpoint:
    r"""The tensors of a released checkpoint.

    Attributes:
        state_dict: The Lightning module's ``state_dict``, keys as in the original.
        stubbed: Classes and functions the file referred to that were replaced by inert
            stand-ins (``"module.name"``); empty when ``weights_only`` loading sufficed.
    """

    state_dict: dict[str, Tensor]
    stubbed: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConvertedFlow:
    r"""An nflows ``ConditionalGlow`` state converted for :class:`~hmrflow.flows.ConditionalGlow`.

    Attributes:
        config: Flow sizes read from the shapes, ProHMR's dropout and BatchNorm eps.
        state_dict: Keys ``transforms.{i}.*`` of ``ConditionalGlow(config)``.
    """

    config: FlowConfig
    state_dict: dict[str, Tensor]


@dataclass(frozen=True)
class ConvertedProHMR:
    r"""A released ProHMR state converted for :class:`~hmrflow.models.ProbabilisticHMR`.

    Attributes:
        model: The model configuration (an image model).
        state_dict: The model's ``state_dict`` (``encoder.*``, ``flow.*``, ``head.*``).
        skipped: Original keys left out on purpose (discriminator, SMPL, bookkeeping).
    """

    model: ModelConfig
    state_dict: dict[str, Tensor]
    skipped: tuple[str, ...]


# --------------------------------------------------------------------------- reading


class _Stub(dict):
    """Inert stand-in for a class or function a checkpoint refers to.

    Calling it, or unpickling an instance, only records the arguments and state (as a
    dict subclass it also takes the items of pickled mappings); no code from the file
    runs.
    """

    _stub_name = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> _Stub:
        return dict.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        dict.__init__(self)
        self.__dict__["stub_args"] = args

    def __setstate__(self, state: Any) -> None:
        self.__dict__["stub_state"] = state

    def append(self, item: Any) -> None:
        self.__dict__.setdefault("stub_items", []).append(item)

    def extend(self, items: Any) -> None:
        self.__dict__.setdefault("stub_items", []).extend(items)

    def __repr__(self) -> str:
        return f"<stand-in for {self._stub_name}>"


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """What a checkpoint may really build: tensors, parameters, plain containers."""
    allowed: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch", "Size"): torch.Size,
        ("torch", "device"): torch.device,
        ("torch", "Tensor"): torch.Tensor,
        ("torch.nn.parameter", "Parameter"): torch.nn.Parameter,
        ("torch._tensor", "_rebuild_from_type_v2"): torch._tensor._rebuild_from_type_v2,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "slice"): slice,
        ("builtins", "complex"): complex,
    }
    for name in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_parameter",
                 "_rebuild_parameter_with_state"):  # fmt: skip
        if hasattr(torch._utils, name):
            allowed[("torch._utils", name)] = getattr(torch._utils, name)
    for name in dir(torch):
        if isinstance(getattr(torch, name, None), torch.dtype):
            allowed[("torch", name)] = getattr(torch, name)
    return allowed


def _restricted_pickle_module(stubbed: set[str]) -> types.ModuleType:
    """A ``pickle_module`` for ``torch.load`` that stubs every global it does not allow."""
    allowed = _allowed_globals()
    stubs: dict[str, type[_Stub]] = {}

    class RestrictedUnpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            found = allowed.get((module, name))
            if found is not None:
                return found
            qualified = f"{module}.{name}"
            stubbed.add(qualified)
            if qualified not in stubs:
                stubs[qualified] = type(name.split(".")[-1], (_Stub,), {"_stub_name": qualified})
            return stubs[qualified]

    def load(file: Any, **kwargs: Any) -> Any:
        return RestrictedUnpickler(file, **kwargs).load()

    module = types.ModuleType("hmrflow_restricted_pickle")
    module.Unpickler = RestrictedUnpickler  # type: ignore[attr-defined]
    module.load = load  # type: ignore[attr-defined]
    return module


#: How the files ``torch.save`` writes begin: a zip archive, or (before PyTorch 1.6) a pickle.
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = b"\x80"


def check_checkpoint_file(path: str | Path) -> Path:
    r"""Make sure ``path`` is a readable file that begins as ``torch.save`` writes them.

    Cheap (reads four bytes), so callers can check before slow work.

    Raises:
        CheckpointError: the file is missing, a folder, unreadable, empty, or neither a zip
            archive nor a pickle.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        with path.open("rb") as file:
            head = file.read(4)
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read it ({error.strerror or type(error).__name__})") from None
    if not head:
        raise CheckpointError(f"{path}: empty file, not a checkpoint")
    if not head.startswith((_ZIP_MAGIC, _PICKLE_MAGIC)):
        raise CheckpointError(
            f"{path}: not a PyTorch checkpoint (neither a zip archive nor a pickle, "
            "which is what torch.save writes)"
        )
    return path


def read_prohmr_checkpoint(path: str | Path) -> ProHMRCheckpoint:
    r"""Read the tensors of a released ProHMR (Lightning) checkpoint safely.

    Tries ``torch.load(weights_only=True)``; if the file holds other pickled objects,
    reads it again with a restricted unpickler that stubs them (nothing from the file is
    imported or run). A file that holds a bare state dict is accepted too.

    Raises:
        CheckpointError: missing, empty or unreadable file, no ``state_dict``, or a value
            in it that is not a tensor; the message names the file.
    """
    path = check_checkpoint_file(path)
    stubbed: set[str] = set()
    try:
        data: Any = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # objects besides tensors, or a damaged pickle
        data = _load_restricted(path, stubbed)
    except Exception as error:  # noqa: BLE001 - torch raises many kinds on bad files
        raise _unreadable(path, error) from None
    if stubbed:
        log.info("%s holds objects other than tensors and plain containers (%s); read with inert "
                 "stand-ins for them, which are left out", path, ", ".join(sorted(stubbed)))  # fmt: skip
    return ProHMRCheckpoint(_state_dict_of(data, path), tuple(sorted(stubbed)))


def _load_restricted(path: Path, stubbed: set[str]) -> Any:
    """``torch.load`` with the restricted unpickler; adds what it stubbed to ``stubbed``."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False,
                          pickle_module=_restricted_pickle_module(stubbed))  # fmt: skip
    except Exception as error:  # noqa: BLE001
        raise _unreadable(path, error) from None


def _reason(error: BaseException) -> str:
    """One short line about ``error``, without PyTorch's advice on ``weights_only``."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    lines = [line for line in lines if "weights_only" not in line]
    text = re.sub(r"^\[enforce fail at [^\]]*\][\s.]*", "", lines[0] if lines else "")
    text = re.split(r"(?<=\.)\s", text, maxsplit=1)[0].rstrip(".")  # the first sentence
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _unreadable(path: Path, error: BaseException) -> CheckpointError:
    reason = _reason(error)
    return CheckpointError(f"{path}: not a readable PyTorch checkpoint, damaged or truncated ({reason})")


def _describe(value: Any) -> str:
    """What a value in the file is, in a few words (never its contents)."""
    if isinstance(value, _Stub):
        return f"an object of {value._stub_name}"
    return f"a {type(value).__name__}"


def _state_dict_of(data: Any, path: Path) -> dict[str, Tensor]:
    """The ``state_dict`` of a Lightning checkpoint, or ``data`` itself if it is one."""
    if not isinstance(data, Mapping):
        raise CheckpointError(f"{path}: holds {_describe(data)}, not a checkpoint dictionary")
    if "hmrflow" in data:
        raise CheckpointError(f"{path}: already an hmrflow model file; load it with load_model")
    if isinstance(data.get("state_dict"), Mapping):
        state = data["state_dict"]
    elif data and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in data.items()):
        state = data  # a bare state dict
    else:
        keys = ", ".join(sorted(str(k) for k in data)[:6]) or "none"
        raise CheckpointError(f"{path}: no 'state_dict' in the checkpoint (top-level keys: {keys})")
    for key, value in state.items():
        if not isinstance(value, Tensor):
            raise CheckpointError(f"{path}: state_dict entry {key!r} is {_describe(value)}, not a tensor")
    return {str(k): v for k, v in state.items()}


# --------------------------------------------------------------------------- sizes


def _need(state: Mapping[str, Tensor], key: str, what: str) -> Tensor:
    if key not in state:
        raise CheckpointError(f"missing key {key!r} ({what})")
    return state[key]


def _indices(state: Mapping[str, Tensor], prefix: str) -> list[int]:
    """Sorted distinct integers ``i`` of keys ``{prefix}{i}.*``."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    return sorted({int(m.group(1)) for key in state if (m := pattern.match(key))})


def _backbone_depth(state: Mapping[str, Tensor]) -> int:
    """ResNet depth from the blocks present under ``backbone.layer{1..4}``."""
    _need(state, BACKBONE_PREFIX + "conv1.weight", "the image backbone's first convolution")
    counts = tuple(len(_indices(state, f"{BACKBONE_PREFIX}layer{s}.")) for s in range(1, 5))
    bottleneck = any(k.startswith(BACKBONE_PREFIX) and ".conv3." in k for k in state)
    depth = _RESNETS.get((bottleneck, counts))
    if depth is None:
        kind = "bottleneck" if bottleneck else "basic"
        raise CheckpointError(
            f"backbone.layer1..4 hold {counts} {kind} blocks: not a ResNet-18/34/50/101 "
            "with torchvision's layout"
        )
    return depth


def flow_config_from_state(state: Mapping[str, Tensor], prefix: str = FLOW_PREFIX) -> FlowConfig:
    r"""Flow sizes (D, C, H, layers, blocks) read from the shapes of an nflows Glow state.

    Arguments:
        state: Keys ``{prefix}{i}.*`` as nflows' ``ConditionalGlow`` writes them.
        prefix: Prefix of the composite transform's layers.
    """
    layers = _indices(state, prefix)
    if not layers:
        raise CheckpointError(f"missing keys {prefix}0.* and on (the flow)")
    if layers != list(range(len(layers))) or len(layers) % 3:
        raise CheckpointError(
            f"keys {prefix}{{i}}.* number the layers {layers}: expected 0 .. 3L-1 "
            "(ActNorm, LU linear, coupling for each of L steps)"
        )
    features = _need(state, f"{prefix}0.log_scale", "ActNorm of the first flow step").numel()
    net = f"{prefix}2.transform_net."
    identity = _need(state, f"{prefix}2.identity_features", "coupling of the first flow step")
    weight = _need(state, net + "initial_layer.weight", "first layer of the coupling net")
    if weight.dim() != 2 or weight.shape[1] <= identity.numel():
        raise CheckpointError(f"{net}initial_layer.weight has shape {tuple(weight.shape)}: "
                              f"expected (H, {identity.numel()} + C)")  # fmt: skip
    return FlowConfig(
        features=features,
        context_features=weight.shape[1] - identity.numel(),
        hidden_features=weight.shape[0],
        num_layers=len(layers) // 3,
        num_blocks=len(_indices(state, net + "blocks.")),
        dropout=PROHMR_DROPOUT,
        coupling="additive",
        batch_norm_eps=PROHMR_BATCH_NORM_EPS,
    )


# --------------------------------------------------------------------------- mapping


def _target_state(build: Callable[[], torch.nn.Module]) -> dict[str, Tensor]:
    """Keys, shapes and dtypes of a freshly built module's state."""
    with torch.no_grad():
        return build().state_dict()


def _take(
    state: Mapping[str, Tensor],
    targets: Mapping[str, Tensor],
    source_of: Callable[[str], str],
    reshape: frozenset[str] = frozenset(),
) -> tuple[dict[str, Tensor], set[str]]:
    """Copy ``state[source_of(t)]`` into every target key ``t``, checking shapes.

    Returns the converted tensors and the source keys used. ``reshape`` lists target keys
    whose source may have another shape with the same number of elements.
    """
    out: dict[str, Tensor] = {}
    used: set[str] = set()
    filled = []
    for target, like in targets.items():
        source = source_of(target)
        if source not in state and target.endswith(".num_batches_tracked"):
            out[target] = torch.zeros_like(like, device="cpu")  # a counter unused at inference
            filled.append(source)
            continue
        tensor = _need(state, source, f"for {target}")
        if tensor.shape != like.shape:
            if target in reshape and tensor.numel() == like.numel():
                tensor = tensor.reshape(like.shape)
            else:
                raise CheckpointError(
                    f"key {source!r} has shape {tuple(tensor.shape)}; the converted model "
                    f"needs {tuple(like.shape)} for {target}"
                )
        out[target] = tensor.detach().to(device="cpu", dtype=like.dtype).clone()
        used.add(source)
    if filled:
        log.info("set %d BatchNorm counters missing from the checkpoint (%s, ...) to 0; "
                 "they play no part in inference", len(filled), filled[0])  # fmt: skip
    return out, used


def _check_masks(config: FlowConfig, state: Mapping[str, Tensor], prefix: str) -> None:
    """The coupling buffers must be ProHMR's alternating masks (layer 0 keeps the evens)."""
    for k in range(config.num_layers):
        mask = alternating_mask(config.features, k)
        index = torch.arange(config.features)
        for name, expected in (("identity_features", index[~mask]), ("transform_features", index[mask])):
            key = f"{prefix}{3 * k + 2}.{name}"
            if not torch.equal(state[key].to("cpu", torch.long), expected):
                raise CheckpointError(f"key {key!r} is not the alternating coupling mask of layer {k}")


def _unexpected(keys: set[str], what: str) -> None:
    """Fail naming the first of ``keys`` (and how many more), if there are any."""
    if keys:
        few = sorted(keys)
        shown = ", ".join(repr(k) for k in few[1:4]) + (", ..." if len(few) > 4 else "")
        more = f" (and {len(few) - 1} more: {shown})" if len(few) > 1 else ""
        raise CheckpointError(f"unexpected key {few[0]!r} in {what}{more}; not part of ProHMR's layout")


def _skipped_keys(state: Mapping[str, Tensor]) -> dict[SkippedGroup, list[str]]:
    """The keys of ``state`` left out on purpose, by group in :data:`SKIPPED_GROUPS` order.

    Groups without keys are omitted.
    """
    found = {group: [key for key in state if group.matches(key)] for group in SKIPPED_GROUPS}
    return {group: keys for group, keys in found.items() if keys}


def _log_skipped(found: Mapping[SkippedGroup, list[str]]) -> None:
    """One ``logging.info`` line: how many keys of each group were left out, and why."""
    if found:
        total = sum(len(keys) for keys in found.values())
        groups = "; ".join(f"{len(keys)} {group.name} ({group.why})" for group, keys in found.items())
        log.info("left out %d keys on purpose: %s", total, groups)


def convert_flow_state_dict(state: Mapping[str, Tensor], prefix: str = FLOW_PREFIX) -> ConvertedFlow:
    r"""Convert nflows' ``ConditionalGlow`` keys ``{prefix}{i}.*`` into ours ``transforms.{i}.*``.

    Keys outside ``prefix`` are ignored here; every key under it must be used, except the
    placeholders ``{prefix}{i}.dummy_buffer`` of ProHMR's nflows fork.

    Example:
        >>> glow = ConditionalGlow(FlowConfig(features=6, context_features=4, hidden_features=8))
        >>> theirs = {"glow." + k[len("transforms."):]: v for k, v in glow.state_dict().items()}
        >>> converted = convert_flow_state_dict(theirs, prefix="glow.")
        >>> converted.config.hidden_features, converted.config.context_features
        (8, 4)
    """
    placeholder = re.compile(re.escape(prefix) + r"\d+\.dummy_buffer")
    state = {k: v for k, v in state.items() if not placeholder.fullmatch(k)}
    config = flow_config_from_state(state, prefix)
    targets = _target_state(lambda: ConditionalGlow(config))
    out, used = _take(state, targets, lambda t: prefix + t[len("transforms."):])
    _unexpected({k for k in state if k.startswith(prefix)} - used, "the flow")
    _check_masks(config, state, prefix)
    for k in range(config.num_layers):
        if not bool(out[f"transforms.{3 * k}.initialized"]):
            log.warning("ActNorm of flow step %d is marked uninitialised in the checkpoint", k)
    return ConvertedFlow(config, out)


def convert_prohmr_state_dict(
    state: Mapping[str, Tensor], body_model: str = DEFAULT_BODY_MODEL
) -> ConvertedProHMR:
    r"""Convert a released ProHMR ``state_dict`` (keys as in the original) into ours.

    Arguments:
        state: The Lightning module's ``state_dict``.
        body_model: ``body_model`` of the resulting configuration: an SMPL file path, or
            the open default ``"anny"`` (same 24-joint tree; no SMPL mesh).

    The keys left out on purpose (:data:`SKIPPED_GROUPS`) are counted in one
    ``logging.info`` line once the conversion succeeded.

    Raises:
        CheckpointError: an unexpected or missing key, or a shape that does not fit; the
            message names the key.
    """
    found = _skipped_keys(state)
    skipped = {key for keys in found.values() for key in keys}
    state = {k: v for k, v in state.items() if k not in skipped}
    known = (BACKBONE_PREFIX, FLOW_PREFIX, HEAD_PREFIX)
    _unexpected({k for k in state if not k.startswith(known)}, "the checkpoint")

    depth = _backbone_depth(state)
    encoder_state, used = _take(
        state, _target_state(lambda: ResNetEncoder(depth)), lambda t: BACKBONE_PREFIX + t
    )
    backbone_keys = {k for k in state if k.startswith(BACKBONE_PREFIX)}
    _unexpected(backbone_keys - used, f"the ResNet-{depth} backbone")

    flow = convert_flow_state_dict(state, FLOW_PREFIX)
    width = 2048 if depth >= 50 else 512
    if flow.config.context_features != width:
        raise CheckpointError(
            f"key {FLOW_PREFIX}2.transform_net.initial_layer.weight implies context "
            f"C={flow.config.context_features}, but the ResNet-{depth} backbone gives {width}"
        )
    if flow.config.features != 144:
        raise CheckpointError(f"key {FLOW_PREFIX}0.log_scale has {flow.config.features} features; "
                              "a ProHMR pose flow has 144 (24 joints x 6D)")  # fmt: skip

    hidden = _need(state, HEAD_PREFIX + "layers.0.weight", "the shape/camera head").shape[0]
    num_betas = _need(state, HEAD_PREFIX + "init_betas", "the mean betas").numel()
    init_cam = _need(state, HEAD_PREFIX + "init_cam", "the mean camera").flatten()
    if init_cam.numel() != 3:
        raise CheckpointError(f"key {HEAD_PREFIX}init_cam has {init_cam.numel()} values, expected 3")
    head_state, used = _take(
        state,
        _target_state(lambda: ShapeCameraHead(width, num_betas, hidden)),
        lambda t: HEAD_PREFIX + t,
        reshape=frozenset({"init_cam", "init_betas"}),
    )
    _unexpected({k for k in state if k.startswith(HEAD_PREFIX)} - used, "the shape/camera head")

    config = ModelConfig(
        encoder=EncoderConfig(kind="image", backbone_depth=depth, crop_size=PROHMR_CROP_SIZE),
        flow=flow.config,
        head_hidden=hidden,
        num_betas=num_betas,
        body_model=body_model,
        focal_length=PROHMR_FOCAL_LENGTH,
        mean_camera=tuple(float(v) for v in init_cam),  # type: ignore[arg-type]
    )
    merged = {f"encoder.{k}": v for k, v in encoder_state.items()}
    merged.update({f"flow.{k}": v for k, v in flow.state_dict.items()})
    merged.update({f"head.{k}": v for k, v in head_state.items()})
    _log_skipped(found)
    return ConvertedProHMR(config, merged, tuple(sorted(skipped)))


def convert_prohmr(
    checkpoint_path: str | Path, out_path: str | Path, smpl_path: str | Path | None = None
) -> ConvertedProHMR:
    r"""Convert the released ProHMR checkpoint into an hmrflow model file.

    The file loads with :func:`hmrflow.models.checkpoint.load_model` (pass
    ``body_model=`` to use another SMPL file than the one recorded here). The SMPL file is
    checked before the checkpoint is read.

    Arguments:
        checkpoint_path: The released Lightning checkpoint.
        out_path: Where to write the model file.
        smpl_path: The user's SMPL model file (``.pkl`` or ``.npz``, neutral as ProHMR),
            needed for SMPL meshes. Without it the model uses the open body model
            ``"anny"``: poses, samples, log-likelihoods and camera work; meshes and joints
            are Anny's, and the 10 betas, which are SMPL's shape space, do not carry over.

    Raises:
        CheckpointError: the checkpoint cannot be read or does not have ProHMR's layout;
            the message names the file and the key or problem.
        BodyModelFileError: the SMPL file cannot be used.
    """
    from hmrflow.config import config_to_dict
    from hmrflow.models.checkpoint import save_model
    from hmrflow.models.prohmr import ProbabilisticHMR

    body_model, body = _body_model(smpl_path)
    checkpoint = read_prohmr_checkpoint(checkpoint_path)
    try:
        converted = convert_prohmr_state_dict(checkpoint.state_dict, body_model)
    except CheckpointError as error:
        raise CheckpointError(f"{checkpoint_path}: {error}") from None
    if smpl_path is None:
        log.warning(
            "no SMPL file given: the converted model uses the open body model %r (same 24-joint "
            "tree and conventions, so poses transfer; meshes are Anny's and the SMPL betas do "
            "not carry over). Pass --smpl, or body_model= to load_model, for SMPL meshes.",
            DEFAULT_BODY_MODEL,
        )
    model = ProbabilisticHMR(converted.model, body=body)
    model.load_state_dict(converted.state_dict, strict=True)
    save_model(model.eval(), {"model": config_to_dict(converted.model)}, out_path)
    log.info("converted %d tensors (left out %d) from %s into %s",
             len(converted.state_dict), len(converted.skipped), checkpoint_path, out_path)  # fmt: skip
    return converted


def _body_model(smpl_path: str | Path | None) -> tuple[str, Any]:
    """The ``body_model`` setting for ``smpl_path`` and the body model it loads.

    Raises:
        BodyModelFileError: the file cannot be read, or its skeleton is not SMPL's 24 joints.
    """
    from hmrflow.errors import BodyModelFileError
    from hmrflow.models.prohmr import load_body_model

    if smpl_path is None:
        return DEFAULT_BODY_MODEL, load_body_model(DEFAULT_BODY_MODEL)
    spec = str(Path(smpl_path).expanduser().resolve())
    body = load_body_model(spec)
    if body.num_joints != 24:
        raise BodyModelFileError(f"{smpl_path}: {body.num_joints} joints; ProHMR needs SMPL's 24")
    return spec, body
