r"""Evaluation reports: a terminal table, CSV and JSON files, and PNG plots.

Plots need matplotlib (the ``plot`` extra); it is imported only by the plotting
functions, which draw on their own figures (no pyplot state).

Example:
    >>> import torch
    >>> from hmrflow.evaluation.evaluator import Evaluator
    >>> evaluator = Evaluator(("pelvis", "knee"), pelvis=0, min_of_n=(1,))
    >>> evaluator.update(torch.zeros(1, 2, 3), torch.tensor([[[0.0, 0, 0], [0.0, 0.01, 0]]]))
    >>> print(format_table(evaluator.compute(), None).splitlines()[1])
    MPJPE (mode)     5.0 mm  no published reference
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hmrflow.evaluation.evaluator import EvaluationResult, figure_unit
from hmrflow.evaluation.reference import Reference
from hmrflow.evaluation.sets import SetInfo

__all__ = [
    "figure_label",
    "format_table",
    "write_csv",
    "write_json",
    "plot_min_of_n",
    "plot_calibration",
    "plot_per_joint",
    "write_report",
]

_LABELS = {
    "mpjpe": "MPJPE (mode)",
    "pa_mpjpe": "PA-MPJPE (mode)",
    "sample_mpjpe": "MPJPE (random sample)",
    "sample_pa_mpjpe": "PA-MPJPE (random sample)",
    "diversity": "sample diversity",
    "calibration_error": "calibration error",
    "calibration_bias": "calibration bias",
    "nll": "NLL of ground-truth pose",
    "sample_within_rom_rate": "samples within the ranges of motion",
    "sample_contact_free_rate": "samples free of self-intersection",
    "sample_plausible_rate": "samples plausible (both)",
    "torso_orientation_median_deg": "torso orientation error, median",
    "torso_orientation_p90_deg": "torso orientation error, 90th pct",
    "torso_flip_rate": "torso facing > 90 deg wrong",
    "root_orientation_median_deg": "global orientation error, median",
    "root_orientation_p90_deg": "global orientation error, 90th pct",
    "stray_view_rate": "views with a stray detected keypoint",
    "pa_mpjpe_clean_views": "PA-MPJPE (mode), views without",
    "pa_mpjpe_stray_views": "PA-MPJPE (mode), views with",
}


def figure_label(name: str) -> str:
    """A readable label: ``min_of_5_pa_mpjpe`` -> ``PA-MPJPE min-of-5``."""
    if name.startswith("min_of_"):
        n, _, rest = name[len("min_of_"):].partition("_")
        return f"{_LABELS[rest].replace(' (mode)', '')} min-of-{n}"
    return _LABELS.get(name, name)


def _order(figures: dict[str, float]) -> list[str]:
    """Mode first, then min-of-N by N, then the rest in a fixed order."""
    head = [k for k in ("mpjpe", "pa_mpjpe") if k in figures]
    counts = sorted({int(k.split("_")[2]) for k in figures if k.startswith("min_of_")})
    best = [f"min_of_{n}_{m}" for m in ("mpjpe", "pa_mpjpe") for n in counts if n > 1]
    tail = [k for k in _LABELS if k in figures and k not in head]
    known = head + best + tail
    return known + [k for k in figures if k not in known and not k.startswith("min_of_1_")]


def _value(name: str, value: float) -> str:
    unit = figure_unit(name)
    return f"{value:.3f}" if not unit else f"{value:.1f} {unit}"


def format_table(result: EvaluationResult, reference: Reference | None, title: str = "") -> str:
    r"""The figures as a text table, the paper's figure beside ours where one applies."""
    rows = [(figure_label(k), _value(k, v), _paper(reference, k)) for k, v in result.figures.items()]
    ordered = {k: row for k, row in zip(result.figures, rows)}
    rows = [ordered[k] for k in _order(result.figures)]
    header = ("figure", "ours", "paper (ProHMR)" if reference else "")
    width = [max(len(r[i]) for r in [header, *rows]) for i in range(2)]
    lines = [title] if title else []
    lines.append(f"{header[0]:<{width[0]}}  {header[1]:>{width[1]}}  {header[2]}".rstrip())
    for i, (label, ours, paper) in enumerate(rows):
        if reference is None:
            paper = "no published reference" if i == 0 else ""
        lines.append(f"{label:<{width[0]}}  {ours:>{width[1]}}  {paper}".rstrip())
    if "calibration_bias" in result.figures:
        bias = result.figures["calibration_bias"]
        word = "over-confident (regions too small)" if bias < 0 else "under-confident (regions too large)"
        lines.append(f"calibration: on average {word} by {abs(bias):.3f}")
    worst = sorted(zip(result.per_joint_pa_mpjpe, result.joint_names), reverse=True)[:5]
    lines.append("worst joints (PA-MPJPE): " + ", ".join(f"{n} {e:.1f}" for e, n in worst))
    if reference is not None:
        notes = f"; {reference.notes}" if reference.notes else ""
        lines.append(f"paper: {reference.title}; {reference.source}{notes}")
    return "\n".join(lines)


def _paper(reference: Reference | None, name: str) -> str:
    if reference is None or name not in reference.figures:
        return "-" if reference is not None else ""
    return f"{reference.figures[name]:.1f} mm"


def write_csv(
    result: EvaluationResult, directory: str | Path, reference: Reference | None = None
) -> list[Path]:
    r"""``metrics.csv`` (figure, value, unit, paper), ``per_joint.csv``, ``min_of_n.csv`` and,
    with samples, ``calibration.csv`` (level, observed, one column per joint)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tables: dict[str, tuple[Sequence[str], list[Sequence[Any]]]] = {
        "metrics.csv": (
            ("figure", "value", "unit", "paper"),
            [(k, v, figure_unit(k), (reference.figures.get(k, "") if reference else ""))
             for k, v in result.figures.items()],
        ),  # fmt: skip
        "per_joint.csv": (
            ("joint", "mpjpe_mm", "pa_mpjpe_mm"),
            list(zip(result.joint_names, result.per_joint_mpjpe, result.per_joint_pa_mpjpe)),
        ),
        "min_of_n.csv": (
            ("n", "mpjpe_mm", "pa_mpjpe_mm"),
            list(zip(result.min_of_n, result.min_of_n_mpjpe, result.min_of_n_pa_mpjpe)),
        ),
    }
    if result.calibration_levels:
        tables["calibration.csv"] = (
            ("level", "observed", *result.calibration_joints),
            [(q, o, *row) for q, o, row in zip(result.calibration_levels, result.calibration_observed,
                                                result.calibration_per_joint)],
        )  # fmt: skip
    paths = []
    for name, (header, rows) in tables.items():
        path = directory / name
        with path.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(header)
            writer.writerows(rows)
        paths.append(path)
    return paths


def write_json(
    result: EvaluationResult,
    path: str | Path,
    info: SetInfo | None = None,
    reference: Reference | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Everything in one JSON file: set, result, reference and ``extra`` (e.g. the model)."""
    from hmrflow import __version__

    document = {
        "hmrflow_version": __version__,
        "set": asdict(info) if info is not None else None,
        **(extra or {}),
        "units": {k: figure_unit(k) for k in result.figures},
        "result": result.to_dict(),
        "reference": asdict(reference) if reference is not None else None,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


# ----------------------------------------------------------------------- plots


def _figure(size: tuple[float, float]):
    try:
        from matplotlib.figure import Figure
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plots need matplotlib: pip install 'hmrflow[plot]' (or pass --no-plots)"
        ) from error
    return Figure(figsize=size, dpi=120, layout="constrained")


def plot_min_of_n(
    result: EvaluationResult, path: str | Path, reference: Reference | None = None, title: str = ""
) -> Path:
    """Min-of-N MPJPE and PA-MPJPE against N (the paper's points where they apply)."""
    figure = _figure((5.5, 4.0))
    ax = figure.add_subplot()
    n = list(result.min_of_n)
    ax.plot(n, result.min_of_n_mpjpe, "o-", color="tab:blue", label="MPJPE (ours)")
    ax.plot(n, result.min_of_n_pa_mpjpe, "s-", color="tab:orange", label="PA-MPJPE (ours)")
    if reference is not None:
        for metric, colour, marker in (("mpjpe", "tab:blue", "o"), ("pa_mpjpe", "tab:orange", "s")):
            names = {m: f"min_of_{m}_{metric}" if m > 1 else metric for m in n}
            points = [(m, reference.figures[name]) for m, name in names.items() if name in reference.figures]
            if points:
                ax.plot(*zip(*points), marker, color=colour, mfc="none", ms=9, ls=":",
                        label=f"{'PA-' if metric == 'pa_mpjpe' else ''}MPJPE (ProHMR paper)")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xticks(n, [str(v) for v in n])
    ax.minorticks_off()
    ax.set_xlabel("N (hypotheses, the mode included)")
    ax.set_ylabel("best of N error (mm)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2, fontsize=8, frameon=False)
    ax.set_title(title or "min-of-N error")
    return _save(figure, path)


def plot_calibration(result: EvaluationResult, path: str | Path, title: str = "") -> Path:
    """Observed coverage against the nominal level, with the diagonal and per-joint curves."""
    if not result.calibration_levels:
        raise ValueError("no calibration curve: it needs at least 2 random samples per example")
    figure = _figure((4.8, 4.8))
    ax = figure.add_subplot()
    levels = [0.0, *result.calibration_levels, 1.0]
    ax.fill_between([0, 1], [0, 1], [1, 1], color="tab:green", alpha=0.06)
    ax.fill_between([0, 1], [0, 0], [0, 1], color="tab:red", alpha=0.06)
    ax.text(0.03, 0.96, "under-confident", color="tab:green", fontsize=9, va="top")
    ax.text(0.97, 0.03, "over-confident", color="tab:red", fontsize=9, ha="right")
    ax.plot([0, 1], [0, 1], "--", color="black", lw=1, label="perfect calibration")
    columns = list(zip(*result.calibration_per_joint))
    for k, column in enumerate(columns):
        ax.plot(levels, [0.0, *column, 1.0], color="gray", lw=0.6, alpha=0.45,
                label="single joints" if k == 0 else None)  # fmt: skip
    ax.plot(levels, [0.0, *result.calibration_observed, 1.0], "o-", color="tab:blue", ms=3.5,
            label=f"all joints (error {result.figures['calibration_error']:.3f})")  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("nominal level q of the central sample region")
    ax.set_ylabel("fraction of ground-truth joints inside")
    ax.grid(alpha=0.3)
    # The legend goes in the half the curve leaves empty.
    over = result.figures.get("calibration_bias", 0.0) < 0
    ax.legend(loc="upper left" if over else "lower right", fontsize=8,
              bbox_to_anchor=(0.0, 0.9) if over else (1.0, 0.08))  # fmt: skip
    ax.set_title(title or "calibration")
    return _save(figure, path)


def plot_per_joint(result: EvaluationResult, path: str | Path, title: str = "") -> Path:
    """Horizontal bars of the mode's MPJPE and PA-MPJPE per joint."""
    K = len(result.joint_names)
    figure = _figure((6.0, 1.2 + 0.28 * K))
    ax = figure.add_subplot()
    rows = list(range(K))[::-1]  # first joint at the top
    ax.barh([r + 0.2 for r in rows], result.per_joint_mpjpe, height=0.4, color="tab:blue", label="MPJPE")
    pa = result.per_joint_pa_mpjpe
    ax.barh([r - 0.2 for r in rows], pa, height=0.4, color="tab:orange", label="PA-MPJPE")
    ax.set_yticks(rows, result.joint_names)
    ax.set_ylim(-0.7, K - 0.3)
    ax.set_xlabel("error of the mode (mm)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    ax.set_title(title or "per-joint error", pad=24)
    return _save(figure, path)


def _save(figure: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def write_report(
    result: EvaluationResult,
    directory: str | Path,
    info: SetInfo | None = None,
    reference: Reference | None = None,
    extra: dict[str, Any] | None = None,
    plots: bool = True,
) -> list[Path]:
    """CSV files, ``results.json`` and (with ``plots``) the PNG plots in ``directory``."""
    directory = Path(directory)
    paths = write_csv(result, directory, reference)
    paths.append(write_json(result, directory / "results.json", info, reference, extra))
    if plots:
        name = info.name if info is not None else ""
        paths.append(plot_min_of_n(result, directory / "min_of_n.png", reference, f"min-of-N error, {name}"))
        if result.calibration_levels:
            paths.append(plot_calibration(result, directory / "calibration.png", f"calibration, {name}"))
        paths.append(plot_per_joint(result, directory / "per_joint.png", f"per-joint error, {name}"))
    return paths
