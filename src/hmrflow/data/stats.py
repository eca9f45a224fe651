r"""Distributions of a synthetic keypoint set: pose angles, camera, keypoint visibility.

:func:`synthetic_statistics` summarises a :class:`~hmrflow.data.synthetic.SyntheticBatch`
and :func:`format_statistics` prints it as percentile tables. Camera quantities are read
back from the labels: distance is the pelvis depth; the view elevation is the pitch of the
body's up axis seen from the camera (the camera elevation plus the body's own tilt);
the azimuth is where the body faces (0 = towards the camera, +-180 = away).

Example:
    >>> from hmrflow.body import BodyModel
    >>> from hmrflow.data.synthetic import SyntheticKeypoints
    >>> gen = SyntheticKeypoints(BodyModel.from_name("anny_lowpoly"), poses=None)
    >>> stats = synthetic_statistics(gen.sample(64, torch.Generator().manual_seed(0)), gen.names)
    >>> [d.name for d in stats.camera][:2]
    ['distance (pelvis depth)', 'view elevation']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from hmrflow.body.joints import SMPL_JOINT_NAMES
from hmrflow.data.synthetic import SyntheticBatch
from hmrflow.geometry.rotations import rotmat_to_rotvec

__all__ = [
    "PERCENTILES",
    "Distribution",
    "KeypointRates",
    "SyntheticStatistics",
    "format_statistics",
    "synthetic_statistics",
]

#: Percentiles printed by :func:`format_statistics`.
PERCENTILES: tuple[float, ...] = (0, 5, 25, 50, 75, 95, 100)


@dataclass(frozen=True)
class Distribution:
    """Samples of one quantity: a name, a unit and the values ``(M,)``."""

    name: str
    unit: str
    values: np.ndarray

    def percentiles(self, q: Sequence[float] = PERCENTILES) -> np.ndarray:
        return np.percentile(self.values, q) if len(self.values) else np.full(len(q), np.nan)


@dataclass(frozen=True)
class KeypointRates:
    """Per keypoint: share inside the image, share detected (confidence > 0), median confidence."""

    name: str
    in_image: float
    detected: float
    median_confidence: float


@dataclass(frozen=True)
class SyntheticStatistics:
    """Everything :func:`format_statistics` prints; ``size`` examples."""

    size: int
    pose: list[Distribution]
    camera: list[Distribution]
    keypoints: list[Distribution]
    rates: list[KeypointRates]


def _deg(x: torch.Tensor) -> np.ndarray:
    return torch.rad2deg(x).double().numpy()


def _camera(batch: SyntheticBatch) -> list[Distribution]:
    R0 = batch.rotmats[:, 0].double()
    up, forward = R0[:, :, 1], R0[:, :, 2]  # body Y and Z axes in the camera frame
    height = batch.image_size[:, 1].double()
    return [
        Distribution("distance (pelvis depth)", "m", batch.joints_3d[:, 0, 2].double().numpy()),
        Distribution("view elevation", "deg", _deg(torch.atan2(-up[:, 2], -up[:, 1]))),
        Distribution("azimuth (0 = facing camera)", "deg", _deg(torch.atan2(forward[:, 0], -forward[:, 2]))),
        Distribution("focal length", "px", batch.focal_length.double().numpy()),
        Distribution("box size", "px", batch.box_size.double().numpy()),
        Distribution("box size / image height", "", (batch.box_size / height).numpy()),
    ]


def _pose(batch: SyntheticBatch) -> list[Distribution]:
    angles = _deg(rotmat_to_rotvec(batch.rotmats.double()).norm(dim=-1))  # (B, J)
    rows = [Distribution("all body joints", "deg", angles[:, 1:].ravel())]
    rows += [Distribution(name, "deg", angles[:, j]) for j, name in enumerate(SMPL_JOINT_NAMES) if j > 0]
    return rows


def _keypoints(batch: SyntheticBatch) -> list[Distribution]:
    detected = batch.evidence[..., 2] > 0
    jitter = (batch.evidence[..., :2] - batch.target_2d[..., :2]).norm(dim=-1)
    return [
        Distribution("keypoints in image per example", "", batch.clean_2d[..., 2].sum(-1).double().numpy()),
        Distribution("detected keypoints per example", "", detected.sum(-1).double().numpy()),
        Distribution("confidence of detected points", "", batch.evidence[..., 2][detected].double().numpy()),
        Distribution("error of detected points", "box", jitter[detected].double().numpy()),
    ]


def synthetic_statistics(batch: SyntheticBatch, names: Sequence[str]) -> SyntheticStatistics:
    r"""Summarise a batch ``(B, ...)`` whose ``K`` evidence keypoints are called ``names``."""
    detected = batch.evidence[..., 2] > 0
    rates = []
    for k, name in enumerate(names):
        conf = batch.evidence[:, k, 2][detected[:, k]]
        rates.append(
            KeypointRates(
                name,
                float(batch.clean_2d[:, k, 2].mean()),
                float(detected[:, k].float().mean()),
                float(conf.median()) if len(conf) else float("nan"),
            )
        )
    return SyntheticStatistics(len(batch), _pose(batch), _camera(batch), _keypoints(batch), rates)


def _table(rows: Sequence[Distribution], q: Sequence[float]) -> list[str]:
    width = max(len(f"{r.name} [{r.unit}]") for r in rows)
    head = " " * width + "".join(f"{f'p{p:g}':>9}" for p in q)
    lines = [head]
    for row in rows:
        label = f"{row.name} [{row.unit}]" if row.unit else row.name
        lines.append(f"{label:<{width}}" + "".join(f"{v:9.3g}" for v in row.percentiles(q)))
    return lines


def format_statistics(
    stats: SyntheticStatistics, title: str = "synthetic set", q: Sequence[float] = PERCENTILES
) -> str:
    """The statistics as text tables (percentiles ``q``)."""
    lines = [f"== {title}: {stats.size} examples =="]
    for section, rows in (
        ("camera", stats.camera),
        ("pose: rotation angle of each joint's local rotation", stats.pose),
        ("keypoints", stats.keypoints),
    ):
        lines += ["", f"-- {section}", *_table(rows, q)]
    width = max(len(r.name) for r in stats.rates)
    lines += ["", "-- keypoint visibility", f"{'':<{width}}  in image  detected  median conf"]
    for r in stats.rates:
        lines.append(f"{r.name:<{width}}  {r.in_image:8.1%}  {r.detected:8.1%}  {r.median_confidence:11.3f}")
    return "\n".join(lines)
