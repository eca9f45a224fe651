r"""AMASS / SMPL-family ``.npz`` motion files (for users who have AMASS).

AMASS files hold ``poses`` (T, 72 for SMPL, 156 for SMPL+H, 165 for SMPL-X) axis-angle,
``trans`` (T, 3) metres, ``betas`` and ``mocap_framerate`` (``mocap_frame_rate`` in some
releases). SMPL+H and SMPL-X put finger joints after the 22 body joints, so only the first
22 joints are read there and our two hand joints stay at rest. AMASS's world is Z up;
``up="z"`` turns it to SMPL's Y up by a -90 degree rotation about X, applied to the global
orientation and, about the rest pelvis, to the translation.

Example (with a file of your own)::
    seq = read_amass("CMU/01/01_01_poses.npz")
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from hmrflow.data.pose_sources.sequence import PoseSequence
from hmrflow.geometry.rotations import rotvec_to_rotmat

__all__ = ["Z_UP_TO_Y_UP", "read_amass", "read_pose_file", "smpl_params_to_sequence"]

#: Rotation taking Z-up world coordinates to Y-up ones: (x, y, z) -> (x, z, -y).
Z_UP_TO_Y_UP: tuple[tuple[float, float, float], ...] = ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, -1.0, 0.0))


def smpl_params_to_sequence(
    poses: Tensor,
    transl: Tensor,
    fps: float,
    source: str,
    betas: Tensor | None = None,
    up: str = "y",
    rest_pelvis: Tensor | None = None,
) -> PoseSequence:
    r"""SMPL-family pose parameters to a :class:`PoseSequence` in SMPL's Y-up frame.

    Arguments:
        poses: Axis-angle, shape ``(T, 3 * L)`` with ``L >= 22`` joints (global orientation first).
        transl: SMPL translation, shape ``(T, 3)``.
        fps: Frame rate.
        source: Text for :attr:`PoseSequence.source`.
        betas: Optional shape coefficients.
        up: ``"y"`` (SMPL's frame, kept) or ``"z"`` (AMASS's world, turned to Y up).
        rest_pelvis: The body's rest pelvis joint ``(3,)`` for an exact translation when
            ``up="z"`` (SMPL rotates about it); default zero (then the translation is off
            by a constant of about the pelvis height).
    """
    rotvecs = poses.reshape(poses.shape[0], -1, 3)
    count = 24 if rotvecs.shape[1] == 24 else 22
    rotmats = torch.eye(3, dtype=poses.dtype, device=poses.device).repeat(poses.shape[0], 24, 1, 1)
    rotmats[:, :count] = rotvec_to_rotmat(rotvecs[:, :count])
    if up.lower() == "z":
        W = torch.tensor(Z_UP_TO_Y_UP, dtype=poses.dtype, device=poses.device)
        J0 = torch.zeros(3, dtype=poses.dtype, device=poses.device) if rest_pelvis is None else rest_pelvis.to(poses)
        rotmats[:, 0] = W @ rotmats[:, 0]
        transl = (transl + J0) @ W.T - J0
    elif up.lower() != "y":
        raise ValueError(f"up must be 'y' or 'z', not {up!r}")
    return PoseSequence(rotmats, transl, float(fps), source, betas)


def read_amass(
    path: str | Path,
    up: str = "z",
    rest_pelvis: Tensor | None = None,
    fps: float | None = None,
    dtype: torch.dtype = torch.float32,
) -> PoseSequence:
    r"""Read an AMASS (or SMPL ``poses``/``trans``) ``.npz`` into a :class:`PoseSequence`.

    Arguments:
        path: The ``.npz`` file.
        up: The file's up axis: ``"z"`` for AMASS, ``"y"`` for SMPL-frame files.
        rest_pelvis: See :func:`smpl_params_to_sequence`.
        fps: Frame rate where the file has none (it is read from ``mocap_framerate``).
        dtype: dtype of the output.
    """
    with np.load(path, allow_pickle=False) as data:
        if "poses" not in data:
            raise KeyError(f"{path}: no 'poses' array (keys: {sorted(data.keys())})")
        poses = torch.as_tensor(np.asarray(data["poses"]), dtype=dtype)
        if poses.shape[-1] < 66:
            raise ValueError(f"{path}: 'poses' has {poses.shape[-1]} values per frame, need >= 66")
        transl = data["trans"] if "trans" in data else data["transl"] if "transl" in data else None
        transl = torch.zeros(poses.shape[0], 3, dtype=dtype) if transl is None else torch.as_tensor(transl, dtype=dtype)
        stored = next((float(data[k]) for k in ("mocap_framerate", "mocap_frame_rate", "fps") if k in data), None)
        betas = torch.as_tensor(data["betas"], dtype=dtype) if "betas" in data else None
    fps = stored if stored is not None else fps
    if fps is None:
        raise ValueError(f"{path}: no frame rate in the file; pass fps=")
    return smpl_params_to_sequence(poses, transl, fps, f"amass:{Path(path).name}", betas, up, rest_pelvis)


def read_pose_file(path: str | Path, dtype: torch.dtype = torch.float32) -> PoseSequence:
    r"""A pose ``.npz`` of either kind: one :meth:`PoseSequence.save` wrote, or AMASS/SMPL."""
    with np.load(path, allow_pickle=False) as data:
        own = "transl" in data and "fps" in data
    return PoseSequence.from_file(path, dtype) if own else read_amass(path, dtype=dtype)
