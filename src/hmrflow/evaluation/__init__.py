"""hmrflow.evaluation: metrics (pure functions on tensors), evaluators, benchmark runners."""

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
]
