"""hmrflow.evaluation: metrics (pure functions on tensors), evaluators, sets and reports."""

from hmrflow.evaluation.evaluator import DEFAULT_MIN_OF_N, EvaluationResult, Evaluator, figure_unit
from hmrflow.evaluation.metrics import (
    MM_PER_M,
    CalibrationCurve,
    align_pelvis,
    calibration_curve,
    min_of_n,
    mpjpe,
    pa_mpjpe,
    per_joint_errors,
    sample_diversity,
)
from hmrflow.evaluation.reference import REFERENCES, Reference, reference_for
from hmrflow.evaluation.sets import (
    SYNTHETIC_SETS,
    EvaluationBatch,
    EvaluationData,
    EvaluationSet,
    SetInfo,
    synthetic_set,
)

__all__ = [
    "MM_PER_M",
    "CalibrationCurve",
    "align_pelvis",
    "calibration_curve",
    "min_of_n",
    "mpjpe",
    "pa_mpjpe",
    "per_joint_errors",
    "sample_diversity",
    "DEFAULT_MIN_OF_N",
    "EvaluationResult",
    "Evaluator",
    "figure_unit",
    "REFERENCES",
    "Reference",
    "reference_for",
    "SYNTHETIC_SETS",
    "EvaluationBatch",
    "EvaluationData",
    "EvaluationSet",
    "SetInfo",
    "synthetic_set",
]
