r"""Published reference figures of ProHMR (Kolotouros et al., ICCV 2021, arXiv 2108.11944).

Figures are in millimetres and keyed like :attr:`EvaluationResult.figures
<hmrflow.evaluation.evaluator.EvaluationResult.figures>` (``pa_mpjpe``, ``mpjpe``,
``min_of_5_pa_mpjpe``, ...), so a report can print them beside ours. They apply only where
the protocol is the same: the named dataset split, the 14 evaluation joints, min-of-N over
N hypotheses that include the mode. Synthetic sets have no published reference.

Example:
    >>> reference_for("3dpw-test").figures["pa_mpjpe"]
    59.8
    >>> reference_for("synthetic-keypoints-v1") is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Reference", "REFERENCES", "FITTING_REFERENCES", "reference_for", "guess_protocol"]


@dataclass(frozen=True)
class Reference:
    """Published figures for one protocol.

    Attributes:
        protocol: Short protocol name, e.g. ``"h36m-p2"``.
        title: Readable name of the protocol.
        source: Where the figures come from.
        figures: Figure name -> value in mm.
        notes: Caveats worth printing.
    """

    protocol: str
    title: str
    source: str
    figures: dict[str, float] = field(default_factory=dict)
    notes: str = ""


_PAPER = "ProHMR, Kolotouros et al., ICCV 2021 (arXiv 2108.11944)"

#: Regression (the model's mode and min-of-N), the protocols ``hmrflow eval`` runs.
REFERENCES: dict[str, Reference] = {
    "h36m-p2": Reference(
        protocol="h36m-p2",
        title="Human3.6M protocol 2 (S9, S11; frontal camera), 14 joints",
        source=_PAPER,
        figures={"pa_mpjpe": 41.2},
        notes="an independent reproduction of the released model got 42.8",
    ),
    "3dpw-test": Reference(
        protocol="3dpw-test",
        title="3DPW test split, 14 joints",
        source=_PAPER,
        figures={
            "pa_mpjpe": 59.8,
            "mpjpe": 97.0,
            "min_of_5_pa_mpjpe": 56.5,
            "min_of_10_pa_mpjpe": 54.6,
            "min_of_25_pa_mpjpe": 52.4,
        },
    ),
}

#: Fitting figures (for the fitting commands): PA-MPJPE in mm.
FITTING_REFERENCES: dict[str, Reference] = {
    "3dpw-test-fit-openpose": Reference(
        protocol="3dpw-test-fit-openpose",
        title="3DPW test, fitting to OpenPose keypoints from the regressed start",
        source=_PAPER,
        figures={"pa_mpjpe": 55.1, "smplify_pa_mpjpe": 60.9},
    ),
    "h36m-multiview-4": Reference(
        protocol="h36m-multiview-4",
        title="Human3.6M, 4-view refinement",
        source=_PAPER,
        figures={"pa_mpjpe_single_view": 43.7, "pa_mpjpe": 34.5},
    ),
}


def reference_for(protocol: str | None) -> Reference | None:
    """The published regression figures for ``protocol``, or None (no reference)."""
    return REFERENCES.get(protocol) if protocol else None


def guess_protocol(filename: str) -> str | None:
    """The protocol a ProHMR-format file name suggests (``h36m_val_p2.npz`` -> ``h36m-p2``).

    Example:
        >>> guess_protocol("data/3dpw_test.npz"), guess_protocol("h36m_val_p2.npz")
        ('3dpw-test', 'h36m-p2')
    """
    name = filename.lower().replace("-", "_").rsplit("/", 1)[-1]
    if "3dpw" in name and "test" in name:
        return "3dpw-test"
    if "h36m" in name and "p2" in name:
        return "h36m-p2"
    return None
