r"""Known cameras of the multi-view demo, and their file.

Calibration files (JSON, :meth:`Calibration.from_file`): ``{"cameras": {"<view name>":
{"image_size": [W, H], "focal_length": [fx, fy], "principal_point": [cx, cy],
"rotation": 3x3, "translation": [3]}}}``, world -> camera ``X_c = R X_w + t`` in metres,
OpenCV axes; the view name is the photo's file stem. The bundled one is the pose2sim
demo's Qualisys calibration, converted by ``scripts/make_demo_assets.py``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from hmrflow.application.inputs import DemoInputError

__all__ = ["Calibration"]


@dataclass(frozen=True)
class Calibration:
    r"""Known pinhole cameras, by view name.

    Attributes:
        names: V view names; rotation: ``(V, 3, 3)``; translation: ``(V, 3)`` metres;
        focal_length: ``(V, 2)`` px; principal_point: ``(V, 2)`` px;
        image_size: ``(V, 2)`` (W, H) px.
    """

    names: tuple[str, ...]
    rotation: np.ndarray
    translation: np.ndarray
    focal_length: np.ndarray
    principal_point: np.ndarray
    image_size: np.ndarray

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Calibration:
        """Read a calibration JSON file (see the module docstring)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            cams = data["cameras"]
            names = tuple(cams)
            return cls(
                names,
                np.array([cams[n]["rotation"] for n in names], np.float64).reshape(-1, 3, 3),
                np.array([cams[n]["translation"] for n in names], np.float64).reshape(-1, 3),
                np.array([cams[n]["focal_length"] for n in names], np.float64).reshape(-1, 2),
                np.array([cams[n]["principal_point"] for n in names], np.float64).reshape(-1, 2),
                np.array([cams[n]["image_size"] for n in names], np.int64).reshape(-1, 2),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DemoInputError(f"{path}: not a calibration file ({type(error).__name__}: {error})") from None

    def select(self, names: list[str]) -> Calibration:
        """The cameras of ``names``, in that order."""
        missing = [n for n in names if n not in self.names]
        if missing:
            raise DemoInputError(f"the calibration has no camera named {missing} (it has {list(self.names)})")
        index = [self.names.index(n) for n in names]
        return Calibration(tuple(names), self.rotation[index], self.translation[index],
                           self.focal_length[index], self.principal_point[index], self.image_size[index])  # fmt: skip

    def projections(self) -> np.ndarray:
        """``(V, 3, 4)`` projection matrices ``K [R | t]``."""
        k = np.zeros((len(self.names), 3, 3))
        k[:, 0, 0], k[:, 1, 1] = self.focal_length[:, 0], self.focal_length[:, 1]
        k[:, :2, 2], k[:, 2, 2] = self.principal_point, 1.0
        return k @ np.concatenate([self.rotation, self.translation[..., None]], axis=-1)

    def cameras(self, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"):  # noqa: ANN201
        """The :class:`~hmrflow.fitting.multiview.Cameras` of one instant (B = 1)."""
        from hmrflow.fitting.multiview import Cameras

        def t(a: np.ndarray) -> Tensor:
            return torch.as_tensor(a, dtype=dtype, device=device)[None]

        return Cameras(t(self.rotation), t(self.translation), t(self.focal_length.mean(-1)), t(self.principal_point))
