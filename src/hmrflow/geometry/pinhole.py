r"""One pinhole camera for the whole package: intrinsics, image size, optional extrinsics.

The conventions are those of :mod:`hmrflow.geometry.cameras` (OpenCV camera frame, pixels
from the top-left corner of the image, sizes ``(W, H)``). A world point ``X`` (metres) is
seen at ``P = R X + t`` in the camera frame (``R``, ``t`` world -> camera; absent: the
world is the camera frame) and lands on the pixel ``(f_x P_x / P_z + c_x, f_y P_y / P_z + c_y)``.

Every field carries the same leading batch dimensions ``...`` (one camera per person, per
view, per view of each instant, ...); index a camera like a tensor to pick some.

Example:
    >>> camera = PinholeCamera.centred(torch.tensor([640.0, 480.0]), torch.tensor(800.0))
    >>> camera.project(torch.tensor([[0.1, -0.2, 4.0]]))
    tensor([[340., 200.]])
    >>> camera.focal_length, camera.principal_point
    (tensor([800., 800.]), tensor([320., 240.]))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import torch
from torch import Tensor

from hmrflow.geometry.cameras import perspective_projection

__all__ = ["PinholeCamera", "default_focal_length"]


def default_focal_length(image_size: Tensor) -> Tensor:
    r"""The image diagonal ``sqrt(W^2 + H^2)`` px (a 53 degree diagonal field of view) of
    sizes ``(..., 2)``: ``(...)``, the focal length assumed for photos of unknown cameras."""
    return image_size.norm(dim=-1)


@dataclass(frozen=True)
class PinholeCamera:
    r"""Pinhole cameras with leading batch dimensions ``...``.

    Attributes:
        focal_length: ``(..., 2)`` ``(f_x, f_y)`` px.
        principal_point: ``(..., 2)`` ``(c_x, c_y)`` px.
        image_size: ``(..., 2)`` ``(W, H)`` px.
        rotation: ``(..., 3, 3)`` world -> camera, or None (the identity).
        translation: ``(..., 3)`` metres, world -> camera, or None (zero).
    """

    focal_length: Tensor
    principal_point: Tensor
    image_size: Tensor
    rotation: Tensor | None = None
    translation: Tensor | None = None

    @classmethod
    def centred(cls, image_size: Tensor, focal_length: Tensor | float | None = None) -> PinholeCamera:
        r"""Cameras of images ``(..., 2)`` with the principal point at the image centre.

        Arguments:
            focal_length: px, scalar, ``(...)`` or ``(..., 2)``; None: the image diagonal
                (:func:`default_focal_length`).
        """
        image_size = torch.as_tensor(image_size)
        if not image_size.is_floating_point():
            image_size = image_size.to(torch.get_default_dtype())
        if focal_length is None:
            focal_length = default_focal_length(image_size)
        focal = torch.as_tensor(focal_length, dtype=image_size.dtype, device=image_size.device)
        if focal.dim() < image_size.dim() or focal.shape[-1:] != (2,):
            focal = focal[..., None]
        focal = focal.expand(image_size.shape).clone()
        return cls(focal, image_size / 2, image_size.clone())

    @staticmethod
    def stack(cameras: Sequence[PinholeCamera], dim: int = 0) -> PinholeCamera:
        """Cameras of the same batch shape stacked along a new batch dimension ``dim``."""
        if not cameras:
            raise ValueError("no cameras to stack")

        def stack(name: str) -> Tensor | None:
            values = [getattr(c, name) for c in cameras]
            if all(v is None for v in values):
                return None
            if any(v is None for v in values):
                raise ValueError(f"some cameras have a {name} and some have none")
            return torch.stack(values, dim)

        return PinholeCamera(**{f.name: stack(f.name) for f in fields(PinholeCamera)})

    @property
    def batch_shape(self) -> torch.Size:
        """The leading dimensions ``...``."""
        return self.focal_length.shape[:-1]

    @property
    def calibrated(self) -> bool:
        """Whether the camera has extrinsics (a world frame of its own)."""
        return self.rotation is not None or self.translation is not None

    def __getitem__(self, index: int | slice | Tensor | tuple) -> PinholeCamera:
        return PinholeCamera(**{f.name: _index(getattr(self, f.name), index) for f in fields(self)})

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> PinholeCamera:
        """The cameras on ``device`` with floating ``dtype`` (None: unchanged)."""
        return PinholeCamera(**{f.name: _to(getattr(self, f.name), device, dtype) for f in fields(self)})

    def flatten(self, start: int = 0, end: int = -1) -> PinholeCamera:
        """Batch dimensions ``start`` to ``end`` (of ``...``; -1: the last) merged into one."""
        last = len(self.batch_shape) - 1 if end < 0 else end
        return PinholeCamera(**{f.name: _flatten(getattr(self, f.name), start, last) for f in fields(self)})

    def expand(self, *sizes: int) -> PinholeCamera:
        """The cameras repeated to batch shape ``sizes`` (broadcasting ``...`` as ``Tensor.expand``; views, not copies).

        Example:
            >>> PinholeCamera.centred(torch.tensor([640.0, 480.0]), 800.0).expand(3).focal_length.shape
            torch.Size([3, 2])
        """
        n = len(self.batch_shape)
        return PinholeCamera(**{f.name: _expand(getattr(self, f.name), sizes, n) for f in fields(self)})

    def unflatten(self, dim: int, sizes: tuple[int, ...]) -> PinholeCamera:
        """Batch dimension ``dim`` split into ``sizes``."""
        return PinholeCamera(**{f.name: _unflatten(getattr(self, f.name), dim, sizes) for f in fields(self)})

    def intrinsics(self) -> Tensor:
        """``(..., 3, 3)`` matrices ``K``."""
        k = self.focal_length.new_zeros(*self.batch_shape, 3, 3)
        k[..., 0, 0], k[..., 1, 1] = self.focal_length.unbind(-1)
        k[..., :2, 2], k[..., 2, 2] = self.principal_point, 1.0
        return k

    def projection_matrix(self) -> Tensor:
        """``(..., 3, 4)`` matrices ``K [R | t]`` (triangulation)."""
        rotation = self.rotation
        if rotation is None:
            rotation = torch.eye(3, dtype=self.focal_length.dtype, device=self.focal_length.device)
            rotation = rotation.expand(*self.batch_shape, 3, 3)
        translation = self.translation if self.translation is not None else self.focal_length.new_zeros(
            *self.batch_shape, 3
        )
        return self.intrinsics() @ torch.cat([rotation, translation[..., None]], dim=-1)

    def world_to_camera(self, points: Tensor) -> Tensor:
        r"""World points ``(..., N, 3)`` in the camera frame: ``R X + t``."""
        if self.rotation is not None:
            points = points @ self.rotation.transpose(-1, -2)
        if self.translation is not None:
            points = points + self.translation.unsqueeze(-2)
        return points

    def project(self, points: Tensor, translation: Tensor | None = None) -> Tensor:
        r"""World points ``(..., N, 3)`` to pixels ``(..., N, 2)``.

        Arguments:
            translation: ``(..., 3)`` an offset added in the camera frame after the
                extrinsics (a body's translation when the points are in its own frame).
        """
        points = self.world_to_camera(points)
        return perspective_projection(points, translation, self.focal_length, self.principal_point)


def _index(value: Tensor | None, index: int | slice | Tensor | tuple) -> Tensor | None:
    return None if value is None else value[index]


def _to(value: Tensor | None, device: torch.device | str | None, dtype: torch.dtype | None) -> Tensor | None:
    if value is None:
        return None
    return value.to(device=device, dtype=dtype if value.is_floating_point() else None)


def _flatten(value: Tensor | None, start: int, end: int) -> Tensor | None:
    return None if value is None else value.flatten(start, end)


def _expand(value: Tensor | None, sizes: tuple[int, ...], batch_dims: int) -> Tensor | None:
    return None if value is None else value.expand(*sizes, *value.shape[batch_dims:])


def _unflatten(value: Tensor | None, dim: int, sizes: tuple[int, ...]) -> Tensor | None:
    return None if value is None else value.unflatten(dim, sizes)
