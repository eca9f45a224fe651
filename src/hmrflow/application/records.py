r"""The JSON and npz records of the outputs: numbers rounded for JSON, poses, cameras.

Poses are written twice, as rotation matrices ``(..., 3, 3)`` and as axis-angle vectors
``(..., 3)`` (the form SMPL files use); cameras under the names of
:class:`~hmrflow.geometry.pinhole.PinholeCamera`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from hmrflow.geometry import rotmat_to_rotvec

if TYPE_CHECKING:
    from hmrflow.geometry.pinhole import PinholeCamera

__all__ = ["camera_arrays", "camera_record", "pose_record", "rotvecs", "rounded"]


def rounded(array: Any, digits: int = 7) -> Any:
    """``array`` as nested lists of floats rounded to ``digits`` decimals (for JSON).

    Example:
        >>> rounded(np.array([[0.123456789, 2.0]]), 3)
        [[0.123, 2.0]]
    """
    return np.round(np.asarray(array, dtype=np.float64), digits).tolist()


def rotvecs(rotmats: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` as axis-angle vectors ``(..., 3)`` (float64)."""
    return rotmat_to_rotvec(torch.as_tensor(rotmats, dtype=torch.float64)).numpy()


def pose_record(rotmats: np.ndarray, log_prob: float) -> dict[str, Any]:
    """One pose ``(J, 3, 3)`` as JSON: ``rotmats``, ``axis_angle`` ``(J, 3)`` and ``log_prob``."""
    return {
        "rotmats": rounded(rotmats),
        "axis_angle": rounded(rotvecs(rotmats)),
        "log_prob": round(float(log_prob), 4),
    }


def camera_record(camera: PinholeCamera) -> dict[str, Any]:
    """A camera (batch shape ``()``) as JSON: ``focal_length`` ``[fx, fy]``, ``principal_point``,
    ``image_size`` px, and with extrinsics ``rotation`` and ``translation`` (world -> camera)."""
    record: dict[str, Any] = {
        "focal_length": rounded(camera.focal_length, 4),
        "principal_point": rounded(camera.principal_point, 4),
        "image_size": [int(round(v)) for v in camera.image_size.tolist()],
    }
    if camera.rotation is not None:
        record["rotation"] = rounded(camera.rotation)
    if camera.translation is not None:
        record["translation"] = rounded(camera.translation)
    return record


def camera_arrays(camera: PinholeCamera) -> dict[str, np.ndarray]:
    """A camera's arrays for an npz file (the names of :func:`camera_record`)."""
    arrays = {name: value.cpu().numpy() for name, value in vars(camera).items() if value is not None}
    arrays["image_size"] = arrays["image_size"].round().astype(np.int64)
    return arrays
