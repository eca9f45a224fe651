"""The held-out pose-family evaluation sets and ``hmrflow data coverage``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hmrflow.body import BodyModel
from hmrflow.cli.main import main
from hmrflow.evaluation.sets import SYNTHETIC_SETS, synthetic_set

FAMILY_SETS = [f"synthetic-keypoints-{name}-v1" for name in ("crouch", "kneel", "sit", "lie", "stand")]


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.from_name("anny_lowpoly")


def test_family_sets_load_and_are_distinct_and_repeatable(body: BodyModel) -> None:
    assert set(FAMILY_SETS) <= set(SYNTHETIC_SETS)
    seeds = {SYNTHETIC_SETS[name].seed for name in FAMILY_SETS}
    assert len(seeds) == len(FAMILY_SETS) and not seeds & {1234, 20210, 20211, 20212}
    prints = set()
    for name in FAMILY_SETS:
        data = synthetic_set(name, body, size=12)
        assert data.evidence.shape == (12, 23, 3) and torch.isfinite(data.joints_3d).all()
        assert data.info.fingerprint == synthetic_set(name, body, size=12).info.fingerprint
        prints.add(data.info.fingerprint)
    assert len(prints) == len(FAMILY_SETS)


def test_coverage_command_prints_the_table_and_writes_figures(tmp_path: Path, capsys) -> None:
    pytest.importorskip("matplotlib")
    assert main(["data", "coverage", str(tmp_path), "--size", "200", "--no-sheet"]) == 0
    out = capsys.readouterr().out
    assert "families" in out and "v1 limits only" in out and "nearest-neighbour" in out
    assert {p.name for p in tmp_path.iterdir()} == {"angles.png", "hip_knee.png", "nearest.png"}


def test_coverage_against_the_deepmimic_clips(tmp_path: Path, capsys) -> None:
    pytest.importorskip("matplotlib")
    assert main(["data", "coverage", str(tmp_path), "--size", "200", "--no-sheet", "--reference", "deepmimic"]) == 0
    out = capsys.readouterr().out
    assert "DeepMimic clips (969 frames)" in out and "families" in out
