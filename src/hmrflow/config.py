"""Strict configuration from frozen dataclasses.

Every component has one frozen dataclass config; an experiment config composes them.
Configs are built from plain mappings (YAML files, checkpoint dicts) strictly: an unknown
key, a missing required key, a value of the wrong type or a number out of its field's
range is an error that names the key by its dotted path (``data.batch_size``).

A field's range is declared with it, ``field(default=64, metadata=bounds(minimum=1))``
(or the shorter :func:`bounded`); ranges of dataclasses defined elsewhere can be declared
with :func:`declare_bounds`. A bound on a tuple field applies to each of its numbers.

Example:
    >>> from dataclasses import dataclass, field
    >>> @dataclass(frozen=True)
    ... class Inner:
    ...     width: int = 8
    >>> @dataclass(frozen=True)
    ... class Outer:
    ...     inner: Inner = field(default_factory=Inner)
    ...     lr: float = 1e-4
    >>> config_from_dict(Outer, {"inner": {"width": 16}})
    Outer(inner=Inner(width=16), lr=0.0001)
    >>> apply_overrides(Outer(), ["inner.width=32", "lr=3e-4"])
    Outer(inner=Inner(width=32), lr=0.0003)
    >>> @dataclass(frozen=True)
    ... class Optim:
    ...     lr: float = bounded(1e-4, above=0)
    >>> apply_overrides(Optim(), ["lr=-1"])
    Traceback (most recent call last):
    ...
    hmrflow.errors.ConfigError: lr: -1.0 is out of range (must be > 0)
"""


import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

from hmrflow.errors import ConfigError

__all__ = [
    "ConfigError",
    "Bounds",
    "bounds",
    "bounded",
    "declare_bounds",
    "check_bounds",
    "validate",
    "config_differences",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "apply_overrides",
]

T = TypeVar("T")

#: The key of a field's :class:`Bounds` in its ``metadata``.
BOUNDS_KEY = "hmrflow.bounds"


@dataclasses.dataclass(frozen=True)
class Bounds:
    r"""The range a number (or each number of a tuple) must lie in; finite always.

    Attributes:
        minimum, maximum: Inclusive limits (None: none).
        above, below: Exclusive limits (None: none).
        ordered: A tuple must not decrease (a ``(low, high)`` range).
    """

    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    below: float | None = None
    ordered: bool = False

    def contains(self, value: float) -> bool:
        """Whether ``value`` is finite and within the limits."""
        return (
            math.isfinite(value)
            and (self.minimum is None or value >= self.minimum)
            and (self.maximum is None or value <= self.maximum)
            and (self.above is None or value > self.above)
            and (self.below is None or value < self.below)
        )

    def describe(self) -> str:
        """The range in words: ``>= 1``, ``> 0``, ``in [0, 1)``."""
        low = _limit("[", self.minimum) or _limit("(", self.above)
        high = _limit("]", self.maximum) or _limit(")", self.below)
        if low and high:
            return f"in {low[0]}{low[1]}, {high[1]}{high[0]}"
        if low:
            return f"{'>=' if low[0] == '[' else '>'} {low[1]}"
        if high:
            return f"{'<=' if high[0] == ']' else '<'} {high[1]}"
        return "finite"


def _limit(bracket: str, value: float | None) -> tuple[str, str] | None:
    """``(bracket, value as text)``, or None without a limit."""
    return None if value is None else (bracket, _number(value))


def _number(x: float) -> str:
    """``1`` for 1.0, ``0.001`` for 1e-3: limits as a reader would write them."""
    return str(int(x)) if float(x).is_integer() else repr(x)


def bounds(
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    above: float | None = None,
    below: float | None = None,
    ordered: bool = False,
) -> dict[str, Bounds]:
    """Field metadata declaring a range: ``field(default=64, metadata=bounds(minimum=1))``."""
    return {BOUNDS_KEY: Bounds(minimum, maximum, above, below, ordered)}


def bounded(
    default: T,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    above: float | None = None,
    below: float | None = None,
    ordered: bool = False,
) -> T:
    """A dataclass field with ``default`` and a range (:func:`bounds`)."""
    metadata = bounds(minimum, maximum, above=above, below=below, ordered=ordered)
    return dataclasses.field(default=default, metadata=metadata)  # type: ignore[return-value]


#: Ranges declared from outside a dataclass (:func:`declare_bounds`), by class and field.
_DECLARED: dict[type, dict[str, Bounds]] = {}


def declare_bounds(cls: type, **ranges: Bounds) -> None:
    """Declare ranges of fields of ``cls`` from outside its definition.

    For dataclasses whose module does not declare them; a range in the field's own
    metadata takes precedence.

    Raises:
        TypeError: ``cls`` has no field of one of the names.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(ranges) - names)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {', '.join(unknown)}")
    _DECLARED.setdefault(cls, {}).update(ranges)


def field_bounds(cls: type, f: dataclasses.Field) -> Bounds | None:
    """The range of field ``f`` of ``cls``, or None."""
    own = f.metadata.get(BOUNDS_KEY)
    if own is not None:
        return own
    for klass in getattr(cls, "__mro__", (cls,)):
        declared = _DECLARED.get(klass, {}).get(f.name)
        if declared is not None:
            return declared
    return None


def _check_value(limits: Bounds, value: Any, path: str) -> None:
    """Raise a ConfigError naming ``path`` when ``value`` (a number, a tuple, a mapping's values) is out of range."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_value(limits, item, f"{path}.{key}")
        return
    if isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            _check_value(limits, item, f"{path}[{i}]")
        numbers = [v for v in value if _is_number(v)]
        if limits.ordered and any(a > b for a, b in zip(numbers, numbers[1:])):
            raise ConfigError(f"{path}: {list(value)} is not a range (the values must not decrease)")
        return
    if not _is_number(value):
        return  # None, or the string of an ``int | str`` field
    if not math.isfinite(value):
        raise ConfigError(f"{path}: {value!r} is not a finite number (must be {limits.describe()})")
    if not limits.contains(value):
        raise ConfigError(f"{path}: {value!r} is out of range (must be {limits.describe()})")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_bounds(config: Any, path: str = "") -> None:
    """Check the ranges of the fields of dataclass ``config`` (not of nested ones).

    For ``__post_init__``: direct construction then checks ranges too.

    Raises:
        ConfigError: Naming the first field out of range.
    """
    for f in dataclasses.fields(config):
        limits = field_bounds(type(config), f)
        if limits is not None:
            _check_value(limits, getattr(config, f.name), f"{path}.{f.name}" if path else f.name)


def validate(config: T) -> T:
    """Check a config built in code as strictly as one loaded from a file; returns it.

    Raises:
        ConfigError: Naming the first key out of range or of the wrong type.
    """
    return config_from_dict(type(config), config_to_dict(config))


def config_to_dict(config: Any) -> dict[str, Any]:
    """A nested plain dict (YAML- and checkpoint-safe) of a dataclass config."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            value = config_to_dict(value)
        elif isinstance(value, tuple):
            value = [config_to_dict(v) if dataclasses.is_dataclass(v) else v for v in value]
        elif isinstance(value, dict):
            value = dict(value)
        out[f.name] = value
    return out


def config_differences(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """The dotted keys whose values differ between two configs, with both values.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True)
        ... class C:
        ...     width: int = 8
        ...     name: str = "a"
        >>> config_differences(C(), C(width=16), "model")
        [('model.width', 8, 16)]
    """
    return _dict_differences(config_to_dict(old), config_to_dict(new), path)


def _dict_differences(old: dict[str, Any], new: dict[str, Any], path: str) -> list[tuple[str, Any, Any]]:
    out: list[tuple[str, Any, Any]] = []
    for key in list(old) + [k for k in new if k not in old]:
        where = f"{path}.{key}" if path else key
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(_dict_differences(a, b, where))
        elif a != b:
            out.append((where, a, b))
    return out


def config_from_dict(cls: type[T], data: typing.Mapping[str, Any], path: str = "") -> T:
    """Build dataclass ``cls`` from ``data`` strictly (unknown keys are errors)."""
    if not isinstance(data, typing.Mapping):
        raise ConfigError(f"{path or 'config'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f" in {path}" if path else ""
        raise ConfigError(
            f"unknown key(s){where}: {', '.join(unknown)} (valid: {', '.join(sorted(fields))})"
        )
    kwargs = {}
    for name, value in data.items():
        where = f"{path}.{name}" if path else name
        kwargs[name] = _coerce(hints[name], value, where)
        limits = field_bounds(cls, fields[name])
        if limits is not None:
            _check_value(limits, kwargs[name], where)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:  # a required field is missing, or __post_init__
        raise ConfigError(f"{path or cls.__name__}: {error}") from None


def _coerce(hint: Any, value: Any, path: str) -> Any:
    origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return config_from_dict(hint, value, path)
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(option, value, path)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{path}: {value!r} fits no type of {hint}")
    if origin is Literal:
        if value not in get_args(hint):
            raise ConfigError(f"{path}: {value!r} is not one of {list(get_args(hint))}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{path}: expected {len(args)} values, got {len(value)}")
        return tuple(_coerce(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is dict:
        if not isinstance(value, typing.Mapping):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        key_type, value_type = get_args(hint)
        return {
            _coerce(key_type, k, path): _coerce(value_type, v, f"{path}.{k}")
            for k, v in value.items()
        }
    if hint is float and not isinstance(value, bool):
        if isinstance(value, int):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "3e-4" as a string
            try:
                return float(value)
            except ValueError:
                pass
    if hint is Any:
        return value
    if hint in (int, float, str, bool) and not (
        isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{path}: expected {hint.__name__}, got {value!r}")
    return value


def load_config(cls: type[T], path: str | Path, overrides: typing.Sequence[str] = ()) -> T:
    """Read a YAML file into ``cls`` strictly, then apply ``key=value`` overrides."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    try:
        config = config_from_dict(cls, data)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    return apply_overrides(config, overrides)


def apply_overrides(config: T, overrides: typing.Sequence[str]) -> T:
    """Apply dotted ``key=value`` overrides (values parsed as YAML) strictly."""
    data = config_to_dict(config)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        *parents, leaf = key.split(".")
        node = data
        for i, part in enumerate(parents):
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"override {item!r}: {'.'.join(parents[: i + 1])} is not a section")
            node = node[part]
        if leaf not in node:
            raise ConfigError(f"override {item!r}: unknown key {key!r}")
        node[leaf] = yaml.safe_load(raw)
    return config_from_dict(type(config), data)
