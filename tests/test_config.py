from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from hmrflow.config import (
    Bounds,
    ConfigError,
    apply_overrides,
    bounded,
    bounds,
    check_bounds,
    config_from_dict,
    config_to_dict,
    declare_bounds,
    load_config,
    validate,
)


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


@dataclass(frozen=True)
class Ranged:
    size: int = bounded(4, minimum=1)
    rate: float = field(default=0.1, metadata=bounds(above=0, maximum=1))
    span: tuple[float, float] = bounded((0.0, 1.0), minimum=0, ordered=True)
    count: int | str = bounded("auto", minimum=1)
    free: float = -3.0


@dataclass(frozen=True)
class Holder:
    ranged: Ranged = field(default_factory=Ranged)
    items: tuple[Ranged, ...] = ()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"ranged": {"size": 0}}, r"ranged.size: 0 is out of range \(must be >= 1\)"),
        ({"ranged": {"rate": 0}}, r"ranged.rate: 0.0 is out of range \(must be in \(0, 1\]\)"),
        ({"ranged": {"rate": 1.5}}, r"ranged.rate: 1.5 is out of range"),
        ({"ranged": {"rate": float("nan")}}, r"ranged.rate: nan is not a finite number \(must be in \(0, 1\]\)"),
        ({"ranged": {"span": [-1, 2]}}, r"ranged.span\[0\]: -1.0 is out of range \(must be >= 0\)"),
        ({"ranged": {"span": [2, 1]}}, r"ranged.span: \[2.0, 1.0\] is not a range"),
        ({"ranged": {"count": 0}}, r"ranged.count: 0 is out of range"),
        ({"items": [{}, {"size": -2}]}, r"items\[1\].size: -2 is out of range"),
    ],
)
def test_numbers_out_of_their_range_are_errors_naming_the_dotted_key(data, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(Holder, data)


def test_numbers_in_range_and_unbounded_fields_pass():
    data = {"ranged": {"size": 1, "rate": 1, "span": [0.5, 0.5], "count": "0,1", "free": -1e9}}
    assert config_from_dict(Holder, data).ranged == Ranged(1, 1.0, (0.5, 0.5), "0,1", -1e9)
    assert config_from_dict(Holder, {"ranged": {"count": 2}}).ranged.count == 2


def test_overrides_are_checked_and_validate_checks_configs_built_in_code():
    with pytest.raises(ConfigError, match="ranged.size: -4"):
        apply_overrides(Holder(), ["ranged.size=-4"])
    with pytest.raises(ConfigError, match="ranged.size"):
        validate(Holder(ranged=Ranged(size=0)))
    assert validate(Holder()) == Holder()


def test_bounds_in_words():
    assert Bounds(minimum=1).describe() == ">= 1"
    assert Bounds(above=0).describe() == "> 0"
    assert Bounds(minimum=0, below=1).describe() == "in [0, 1)"
    assert Bounds(minimum=0, maximum=0.5).describe() == "in [0, 0.5]"
    assert Bounds(below=0).describe() == "< 0"


def test_bounds_declared_from_outside_a_class():
    @dataclass(frozen=True)
    class Foreign:
        size: int = 3

    declare_bounds(Foreign, size=Bounds(minimum=2))
    with pytest.raises(ConfigError, match="size: 1 is out of range"):
        config_from_dict(Foreign, {"size": 1})
    with pytest.raises(TypeError, match="no field"):
        declare_bounds(Foreign, sise=Bounds(minimum=2))
    check_bounds(Foreign())
    with pytest.raises(ConfigError, match="size"):
        check_bounds(Foreign(size=0))


def test_every_bundled_configuration_and_the_defaults_are_in_range():
    from hmrflow.cli.train import bundled_configs, config_path
    from hmrflow.training.config import ExperimentConfig

    validate(ExperimentConfig())
    for name in bundled_configs():
        load_config(ExperimentConfig, config_path(name))


@pytest.mark.parametrize(
    "override, key, limit",
    [
        ("data.batch_size=-4", "data.batch_size", ">= 2"),
        ("data.batch_size=0", "data.batch_size", ">= 2"),
        ("optim.lr=-0.001", "optim.lr", "> 0"),
        ("optim.lr=0", "optim.lr", "> 0"),
        ("optim.weight_decay=-1", "optim.weight_decay", ">= 0"),
        ("model.encoder.width=0", "model.encoder.width", ">= 1"),
        ("model.flow.hidden_features=-8", "model.flow.hidden_features", ">= 1"),
        ("model.flow.dropout=1.0", "model.flow.dropout", "in [0, 1)"),
        ("model.head_hidden=0", "model.head_hidden", ">= 1"),
        ("losses.nll=-0.1", "losses.nll", ">= 0"),
        ("trainer.max_steps=0", "trainer.max_steps", ">= 1"),
        ("trainer.val_every=0", "trainer.val_every", ">= 1"),
        ("trainer.seed=-1", "trainer.seed", "in [0, 4294967295]"),
        ("data.synthetic.corruption.swap_probability=1.5", "data.synthetic.corruption.swap_probability", "in [0, 1]"),
        ("data.synthetic.camera.focal_length=[0, 900]", "data.synthetic.camera.focal_length[0]", "> 0"),
        ("data.augment.flip_probability=-0.5", "data.augment.flip_probability", "in [0, 1]"),
        ("data.synthetic.poses.concentration=0", "data.synthetic.poses.concentration", "> 0"),
    ],
)
def test_bad_overrides_of_the_keypoints_config_name_the_key_and_its_range(override, key, limit):
    import re

    from hmrflow.cli.train import config_path
    from hmrflow.training.config import ExperimentConfig

    with pytest.raises(ConfigError, match=rf"^{re.escape(key)}: .* \(must be {re.escape(limit)}\)$"):
        load_config(ExperimentConfig, config_path("keypoints"), [override])


def test_choices_of_the_keypoints_config_are_checked_when_loaded():
    from hmrflow.cli.train import config_path
    from hmrflow.training.config import ExperimentConfig

    with pytest.raises(ConfigError, match="trainer.precision: '64-true' is not one of"):
        load_config(ExperimentConfig, config_path("keypoints"), ["trainer.precision=64-true"])
    with pytest.raises(ConfigError, match="model.encoder.backbone_depth: 42 is not one of"):
        load_config(ExperimentConfig, config_path("keypoints"), ["model.encoder.backbone_depth=42"])
