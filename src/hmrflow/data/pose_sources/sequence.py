r"""The common output of every pose source: a :class:`PoseSequence` on our 24-joint tree."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from hmrflow.geometry.rotations import rotmat_to_rotvec, rotvec_to_rotmat

__all__ = ["PoseSequence"]

log = logging.getLogger(__name__)


@dataclass
class PoseSequence:
    r"""Motion on the SMPL 24-joint tree (SMPL's frame: Y up, the body faces +Z, +X left).

    Attributes:
        rotmats: Local joint rotations, shape ``(T, J, 3, 3)``; joint 0 is the global
            orientation, joints 1..23 the SMPL body joints relative to their parents, the
            rest pose a T-pose.
        transl: Root translation in metres, shape ``(T, 3)``, SMPL's convention: the
            pelvis joint lands at ``rest_pelvis + transl``.
        fps: Frames per second.
        source: Where the motion came from (free text).
        betas: Optional SMPL shape coefficients (AMASS files carry them), shape ``(L,)``.

    Example:
        >>> seq = PoseSequence(torch.eye(3).expand(4, 24, 3, 3), torch.zeros(4, 3), 30.0, "demo")
        >>> seq.rotvecs.shape, len(seq.subsample(15.0))
        (torch.Size([4, 24, 3]), 2)
    """

    rotmats: Tensor
    transl: Tensor
    fps: float
    source: str
    betas: Tensor | None = None

    def __len__(self) -> int:
        return self.rotmats.shape[0]

    @property
    def rotvecs(self) -> Tensor:
        r"""Axis-angle form of :attr:`rotmats`, shape ``(T, J, 3)``."""
        return rotmat_to_rotvec(self.rotmats)

    def subsample(self, fps: float) -> PoseSequence:
        r"""Keep every ``round(self.fps / fps)``-th frame (no interpolation)."""
        step = max(1, round(self.fps / fps))
        if abs(self.fps / step - fps) > 1e-3 * fps:
            log.warning("subsample: %.3f fps is not an integer fraction of %.3f fps", fps, self.fps)
        return replace(self, rotmats=self.rotmats[::step], transl=self.transl[::step], fps=self.fps / step)

    def save(self, path: str | Path) -> None:
        r"""Write a compressed ``.npz``: ``poses`` (T, 72) float32 axis-angle, ``transl``, ``fps``, ``source``."""
        arrays: dict[str, np.ndarray] = {
            "poses": self.rotvecs.reshape(len(self), -1).detach().cpu().numpy().astype(np.float32),
            "transl": self.transl.detach().cpu().numpy().astype(np.float32),
            "fps": np.array(self.fps, dtype=np.float64),
            "source": np.array(self.source),
        }
        if self.betas is not None:
            arrays["betas"] = self.betas.detach().cpu().numpy().astype(np.float32)
        np.savez_compressed(path, **arrays)

    @classmethod
    def from_file(cls, path: str | Path, dtype: torch.dtype = torch.float32) -> PoseSequence:
        r"""Read a file written by :meth:`save` (any pose file: :func:`~hmrflow.data.pose_sources.read_pose_file`).

        Raises:
            ValueError: The file lacks ``poses``, ``transl`` or ``fps``.
        """
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in ("poses", "transl", "fps") if key not in data]
            if missing:
                raise ValueError(f"{path}: not a pose sequence file of hmrflow (no {', '.join(missing)})")
            poses = torch.as_tensor(data["poses"], dtype=dtype, device="cpu")  # files are read to the CPU
            betas = torch.as_tensor(data["betas"], dtype=dtype, device="cpu") if "betas" in data else None
            return cls(
                rotmats=rotvec_to_rotmat(poses.reshape(poses.shape[0], -1, 3)),
                transl=torch.as_tensor(data["transl"], dtype=dtype, device="cpu"),
                fps=float(data["fps"]),
                source=str(data["source"]) if "source" in data else str(path),
                betas=betas,
            )
