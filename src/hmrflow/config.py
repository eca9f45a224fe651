"""Strict configuration from frozen dataclasses.

Every component has one frozen dataclass config; an experiment config composes them.
Configs are built from plain mappings (YAML files, checkpoint dicts) strictly: an unknown
key, a missing required key or a value of the wrong type is an error that names the key.

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
"""


import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

from hmrflow.errors import ConfigError

__all__ = ["ConfigError", "config_from_dict", "config_to_dict", "load_config", "apply_overrides"]

T = TypeVar("T")


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
        kwargs[name] = _coerce(hints[name], value, f"{path}.{name}" if path else name)
    try:
        return cls(**kwargs)
    except TypeError as error:  # a required field is missing
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
