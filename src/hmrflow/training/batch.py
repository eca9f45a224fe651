r"""The training batch: every data source (synthetic keypoints, synthetic images, ProHMR-format
datasets) becomes one :class:`TrainingBatch`, whose missing labels are masked.

Shapes: B batch, K keypoints (the model's evidence keypoints, COCO-17 + 6 foot points),
J joints (24), S betas, R crop side. 2D points are in normalised box/crop coordinates
(the box spans ``[-0.5, 0.5]``), 3D points in metres in the camera frame, or in the box
frame for a model whose ``orientation_frame`` is ``"box"``; the last channel of every point
array is a confidence (0 = no label).

Example:
    >>> from hmrflow.body import BodyModel
    >>> from hmrflow.data.synthetic import SyntheticKeypoints
    >>> data = SyntheticKeypoints(BodyModel.from_name("anny_lowpoly"), poses=None)
    >>> batch = TrainingBatch.from_synthetic(data.sample(4, torch.Generator().manual_seed(0)))
    >>> batch.joints_3d.shape, batch.has_pose.tolist()
    (torch.Size([4, 24, 4]), [1.0, 1.0, 1.0, 1.0])
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import torch
from torch import Tensor

from hmrflow.body.joints import NUM_JOINTS, rotate_global_orientation
from hmrflow.data.prohmr_format import ProHMRSample
from hmrflow.data.synthetic import SyntheticBatch
from hmrflow.geometry import box_to_camera_rotation
from hmrflow.models.config import OrientationFrame, check_orientation_frame

__all__ = ["TrainingBatch", "as_training_batch"]


@dataclass(frozen=True)
class TrainingBatch:
    r"""B training examples with their labels and which of them exist.

    Attributes:
        evidence: ``(B, K, 3)`` 2D keypoints given to a keypoint model + confidence.
        target_2d: ``(B, K, 3)`` the true 2D keypoints + confidence.
        joints_3d: ``(B, J, 4)`` the 24 joints + confidence (0 where the source has none).
        keypoints_3d: ``(B, K, 4)`` 3D keypoints + confidence.
        rotmats: ``(B, J, 3, 3)`` local rotations, joint 0 in the camera frame.
        has_pose: ``(B,)`` 1 where ``rotmats`` is a label.
        betas: ``(B, S)``.
        has_betas: ``(B,)`` 1 where ``betas`` is a label.
        images: ``(B, 3, R, R)`` ImageNet-normalised crops, or None (keypoint data).
    """

    evidence: Tensor
    target_2d: Tensor
    joints_3d: Tensor
    keypoints_3d: Tensor
    rotmats: Tensor
    has_pose: Tensor
    betas: Tensor
    has_betas: Tensor
    images: Tensor | None = None

    def __len__(self) -> int:
        return self.evidence.shape[0]

    def __getitem__(self, index: int | slice | Tensor) -> TrainingBatch:
        return TrainingBatch(**{k: (v[index] if v is not None else None) for k, v in _items(self)})

    def to(self, device: torch.device | str) -> TrainingBatch:
        return TrainingBatch(**{k: (v.to(device) if v is not None else None) for k, v in _items(self)})

    @property
    def has_joints(self) -> Tensor:
        """``(B,)`` bool: every joint of the example has a 3D label."""
        return (self.joints_3d[..., 3] > 0).all(dim=-1)

    @staticmethod
    def from_synthetic(batch: SyntheticBatch, frame: OrientationFrame = "camera") -> TrainingBatch:
        """Synthetic keypoint data: every label exists.

        ``frame``: the frame of the 3D labels and the global orientation, the camera's or the
        person box's (:func:`~hmrflow.geometry.box_to_camera_rotation`, with the detector's
        box; the model's ``orientation_frame``).
        """
        check_orientation_frame(frame)
        ones = batch.rotmats.new_ones(len(batch))
        rotmats, joints_3d, keypoints_3d = batch.rotmats, batch.joints_3d, batch.keypoints_3d
        if frame == "box":
            turn = box_to_camera_rotation(batch.box_center, batch.focal_length, batch.image_size / 2)
            rotmats = rotate_global_orientation(rotmats, turn, inverse=True)
            joints_3d, keypoints_3d = joints_3d @ turn, keypoints_3d @ turn  # rows: (turn^T p)^T = p^T turn
        return TrainingBatch(
            evidence=batch.evidence,
            target_2d=batch.target_2d,
            joints_3d=_with_confidence(joints_3d),
            keypoints_3d=_with_confidence(keypoints_3d),
            rotmats=rotmats,
            has_pose=ones,
            betas=batch.betas,
            has_betas=ones.clone(),
        )

    @staticmethod
    def from_prohmr(sample: ProHMRSample) -> TrainingBatch:
        """A batch of :class:`~hmrflow.data.prohmr_format.ProHMRSample` (collated).

        The evidence and 2D targets are the sample's keypoints in the evidence order;
        the 24 joints have no 3D label (the 3D loss uses the keypoints' hips as pelvis).
        """
        B = sample.evidence.shape[0]
        return TrainingBatch(
            evidence=sample.evidence,
            target_2d=sample.evidence,
            joints_3d=sample.evidence_3d.new_zeros(B, NUM_JOINTS, 4),
            keypoints_3d=sample.evidence_3d,
            rotmats=sample.rotmats,
            has_pose=sample.has_pose.float(),
            betas=sample.betas,
            has_betas=sample.has_betas.float(),
            images=sample.image,
        )

    @staticmethod
    def concatenate(batches: list[TrainingBatch]) -> TrainingBatch:
        """Stack batches along B; betas are zero-padded to the widest, keypoint evidence without
        depth gets a NaN depth column beside evidence with one; images are kept if all have them."""
        if any(b.images is None for b in batches):
            batches = [replace(b, images=None) for b in batches]
        width = max(b.betas.shape[-1] for b in batches)
        out: dict[str, Any] = {}
        for f in fields(TrainingBatch):
            parts = [getattr(b, f.name) for b in batches]
            if f.name == "betas":
                parts = [torch.nn.functional.pad(p, (0, width - p.shape[-1])) for p in parts]
            if f.name == "evidence" and len({p.shape[-1] for p in parts}) > 1 and all(p.dim() == 3 for p in parts):
                columns = max(p.shape[-1] for p in parts)
                parts = [torch.nn.functional.pad(p, (0, columns - p.shape[-1]), value=float("nan")) for p in parts]
            out[f.name] = None if parts[0] is None else torch.cat(parts)
        return TrainingBatch(**out)


def as_training_batch(
    batch: TrainingBatch | SyntheticBatch | ProHMRSample, frame: OrientationFrame = "camera"
) -> TrainingBatch:
    """Any batch the data modules produce as a :class:`TrainingBatch`; synthetic keypoint
    batches with their labels in ``frame`` (:meth:`TrainingBatch.from_synthetic`;
    ProHMR-format labels stay as the dataset gives them: it has no full-image camera)."""
    if isinstance(batch, TrainingBatch):
        return batch
    if isinstance(batch, SyntheticBatch):
        return TrainingBatch.from_synthetic(batch, frame)
    if isinstance(batch, ProHMRSample):
        return TrainingBatch.from_prohmr(batch)
    raise TypeError(f"not a training batch: {type(batch).__name__}")


def _with_confidence(points: Tensor) -> Tensor:
    return torch.cat([points, torch.ones_like(points[..., :1])], dim=-1)


def _items(batch: TrainingBatch) -> list[tuple[str, Tensor | None]]:
    return [(f.name, getattr(batch, f.name)) for f in fields(batch)]
