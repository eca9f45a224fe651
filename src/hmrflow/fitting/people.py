r"""The people a fitter fits: their detections, cameras, person boxes and the model's evidence.

Every fitter (:mod:`~hmrflow.fitting.keypoint_fit`, :mod:`~hmrflow.fitting.baseline`,
:mod:`~hmrflow.fitting.temporal`, :mod:`~hmrflow.fitting.multiview`) takes :class:`People`:
B rows, each one person in one image, with that image's pinhole camera (the body is fitted
in that camera's frame).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from hmrflow.body.joints import rotate_global_orientation
from hmrflow.geometry import box_to_camera_rotation, crop_camera_to_full_translation
from hmrflow.geometry.boxes import keypoint_box, normalize_keypoints
from hmrflow.geometry.pinhole import PinholeCamera
from hmrflow.models.config import check_orientation_frame

__all__ = ["People"]


@dataclass(frozen=True)
class People:
    r"""B people to fit, each with its own image and camera.

    Attributes:
        keypoints: ``(B, K, 3)`` detections in the evidence order (COCO-17 + feet), image
            px and confidence (0 = missing).
        camera: ``(B,)`` :class:`~hmrflow.geometry.PinholeCamera` of each person's image
            (no extrinsics: the fitted body lives in that camera's frame); every fitter
            projects with all of it: ``f_x``, ``f_y`` and the principal point.
        evidence: ``(B, ...)`` the model's input; by default the keypoints in normalised
            box coordinates (keypoint models). Image models need their crops here.
        box_center: ``(B, 2)`` px; box_size: ``(B,)`` px: the person box the evidence
            refers to.
    """

    keypoints: Tensor
    camera: PinholeCamera
    evidence: Tensor
    box_center: Tensor
    box_size: Tensor

    def __len__(self) -> int:
        return self.keypoints.shape[0]

    @property
    def image_size(self) -> Tensor:
        """``(B, 2)`` (W, H) px."""
        return self.camera.image_size

    @property
    def focal_length(self) -> Tensor:
        """``(B, 2)`` ``(f_x, f_y)`` px."""
        return self.camera.focal_length

    @property
    def principal_point(self) -> Tensor:
        """``(B, 2)`` ``(c_x, c_y)`` px."""
        return self.camera.principal_point

    @classmethod
    def from_keypoints(
        cls,
        keypoints: Tensor,
        image_size: Tensor,
        focal_length: Tensor | None = None,
        box_scale: float = 1.2,
    ) -> People:
        r"""People from keypoints ``(B, K, 3)`` px and confidence -- or ``(B, K, 4)`` with a
        detector's relative depth px (BlazePose's ``z``; NaN: none), which goes into the
        evidence only (:mod:`hmrflow.models.keypoint_encoder`) -- and image sizes ``(B, 2)``
        (or ``(2,)``).

        The camera is centred on the image, with ``focal_length`` px (``(B,)``, ``(B, 2)``
        ``(f_x, f_y)``, scalar, or None: the image diagonal, :func:`~hmrflow.geometry.pinhole.default_focal_length`);
        :meth:`from_camera` takes any camera. The person box is the square around the
        confident keypoints, ``box_scale`` times their extent (the training data's box),
        and the evidence is the keypoints in it.
        """
        keypoints = torch.as_tensor(keypoints, dtype=torch.get_default_dtype())
        if keypoints.dim() != 3 or keypoints.shape[-1] not in (3, 4):
            raise ValueError(f"keypoints must be (B, K, 3) or (B, K, 4), got {tuple(keypoints.shape)}")
        B = keypoints.shape[0]
        image_size = torch.as_tensor(image_size, dtype=keypoints.dtype, device=keypoints.device).expand(B, 2)
        if focal_length is not None:
            focal_length = torch.as_tensor(focal_length, dtype=keypoints.dtype, device=keypoints.device)
            focal_length = focal_length.expand(B, 2) if focal_length.shape[-1:] == (2,) else focal_length.expand(B)
        return cls.from_camera(keypoints, PinholeCamera.centred(image_size.clone(), focal_length), box_scale)

    @classmethod
    def from_camera(cls, keypoints: Tensor, camera: PinholeCamera, box_scale: float = 1.2) -> People:
        r"""People from keypoints ``(B, K, 3 or 4)`` px seen by ``camera`` ``(B,)`` (see :meth:`from_keypoints`)."""
        depth = keypoints[..., 3:]
        keypoints = _clean(keypoints[..., :3])
        center, extent = keypoint_box(keypoints[..., :2], keypoints[..., 2] > 0)
        size = extent * box_scale
        evidence = normalize_keypoints(torch.cat([keypoints, depth.to(keypoints)], -1), center, size)
        return cls(keypoints, camera, evidence, center, size)

    def full_translation(self, crop_camera: Tensor) -> Tensor:
        r"""The regressed weak-perspective cameras ``(B, 3)`` of the person boxes as
        translations ``(B, 3)`` in each full image's camera frame (the one place this is
        derived; :func:`~hmrflow.geometry.crop_camera_to_full_translation`: the box centre
        seen through the principal point with ``f_x`` and ``f_y``, the depth from
        ``sqrt(f_x f_y)``)."""
        # the principal point stands for the image centre (twice it: the "image size" it centres)
        return crop_camera_to_full_translation(
            crop_camera, self.box_center, self.box_size, 2 * self.principal_point, self.camera.focal_length
        )

    def box_rotation(self) -> Tensor:
        r"""``(B, 3, 3)`` rotations from each person's box frame to the camera frame
        (:func:`~hmrflow.geometry.box_to_camera_rotation`)."""
        return box_to_camera_rotation(self.box_center, self.camera.focal_length, self.principal_point)

    def frame_to_camera(self, frame: str) -> Tensor | None:
        r"""``(B, 3, 3)`` rotations from ``frame``, a model's ``orientation_frame``, to each
        person's camera frame: the box rotation for ``"box"``, None (no turn) for ``"camera"``."""
        check_orientation_frame(frame)
        return self.box_rotation() if frame == "box" else None

    def pose_to_camera(self, rotmats: Tensor, frame: str) -> Tensor:
        r"""Poses ``(B, [S,] J, 3, 3)`` a model gave in ``frame`` (its ``orientation_frame``), in
        each person's camera frame."""
        return rotate_global_orientation(rotmats, self.frame_to_camera(frame))

    def pose_to_model(self, rotmats: Tensor, frame: str) -> Tensor:
        r"""The inverse of :meth:`pose_to_camera`: camera-frame poses in a model's ``frame``."""
        return rotate_global_orientation(rotmats, self.frame_to_camera(frame), inverse=True)

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> People:
        """The people on ``device`` with floating ``dtype`` (None: unchanged)."""
        return People(
            self.keypoints.to(device, dtype),
            self.camera.to(device, dtype),
            self.evidence.to(device, dtype),
            self.box_center.to(device, dtype),
            self.box_size.to(device, dtype),
        )

    def __getitem__(self, index: int | slice | Tensor) -> People:
        return People(
            self.keypoints[index], self.camera[index], self.evidence[index], self.box_center[index], self.box_size[index]
        )

    @staticmethod
    def stack(views: Sequence[People]) -> People:
        r"""V groups of B people -> ``B * V`` rows, instant-major (row ``b V + v``: person ``b`` of view ``v``)."""

        def stack(values: list[Tensor]) -> Tensor:
            return torch.stack(values, 1).flatten(0, 1)

        camera = PinholeCamera.stack([v.camera for v in views], 1).flatten(0, 1)
        return People(stack([v.keypoints for v in views]), camera, stack([v.evidence for v in views]),
                      stack([v.box_center for v in views]), stack([v.box_size for v in views]))  # fmt: skip


def _clean(keypoints: Tensor) -> Tensor:
    """Non-finite or non-positive-confidence points -> confidence 0, coordinates 0."""
    valid = torch.isfinite(keypoints).all(-1) & (keypoints[..., 2] > 0)
    return torch.where(valid[..., None], keypoints, torch.zeros_like(keypoints))
