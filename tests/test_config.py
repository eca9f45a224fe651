from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from hmrflow.config import ConfigError, apply_overrides, config_from_dict, config_to_dict, load_config


@dataclass(frozen=True)
class Inner:
    width: int = 8
    kind: Literal["a", "b"] = "a"
    sizes: tuple[int, ...] = (1, 2)


@dataclass(frozen=True)
class Outer:
    inner: Inner = field(default_factory=Inner)
    lr: float = 1e-4
    name: str | None = None


def test_round_trip_through_dict():
    config = Outer(inner=Inner(width=3, kind="b", sizes=(4,)), lr=0.5, name="x")
    assert config_from_dict(Outer, config_to_dict(config)) == config


def test_unknown_key_is_an_error_naming_it():
    with pytest.raises(ConfigError, match="inner: widht"):
        config_from_dict(Outer, {"inner": {"widht": 3}})


def test_wrong_types_are_errors():
    with pytest.raises(ConfigError, match="inner.width"):
        config_from_dict(Outer, {"inner": {"width": "wide"}})
    with pytest.raises(ConfigError, match="kind"):
        config_from_dict(Outer, {"inner": {"kind": "c"}})
    assert config_from_dict(Outer, {"lr": 1}).lr == 1.0


def test_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("inner:\n  width: 5\nlr: 0.1\n")
    config = load_config(Outer, path, ["inner.sizes=[7, 8]", "name=run"])
    assert config == Outer(inner=Inner(width=5, sizes=(7, 8)), lr=0.1, name="run")
    with pytest.raises(ConfigError, match="unknown key"):
        apply_overrides(config, ["inner.depth=2"])
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides(config, ["lr"])


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(Outer, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: [\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(Outer, bad)
