r"""Pinhole cameras for the renderer, in the OpenCV convention of :mod:`hmrflow.geometry.cameras`.

A fit's :class:`~hmrflow.geometry.PinholeCamera` becomes the renderer's with
:meth:`Camera.from_pinhole` (plain floats, numpy matrices for OpenGL).

The camera sits at the origin of the camera frame and looks along ``+Z``; image ``x``
points right and ``y`` down; a point ``(X, Y, Z)`` lands on the continuous pixel
``(f_x X / Z + c_x, f_y Y / Z + c_y)`` with the origin at the top-left corner of the
image, so pixel ``(i, j)`` (column, row) has its centre at ``(i + 0.5, j + 0.5)``.

OpenGL's clip space is built from this directly (:meth:`Camera.projection_matrix`):
``x_ndc = 2 u / W - 1`` and ``y_ndc = 2 v / H - 1``. Image rows thus grow with OpenGL's
window ``y``, whose row 0 is the first row a framebuffer read returns: the pixels read
back are already in image order (row 0 at the top) and need no flip.

Example:
    >>> cam = Camera.from_fov(64, 48, fov_y_deg=60.0)
    >>> cam.project(np.array([[0.0, 0.0, 2.0]]))
    array([[32., 24.]], dtype=float32)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from hmrflow.geometry.pinhole import PinholeCamera

__all__ = ["Camera"]


@dataclass(frozen=True)
class Camera:
    r"""A pinhole camera: focal lengths and principal point in pixels, image size ``(W, H)``.

    Attributes:
        focal_length: ``(f_x, f_y)`` px.
        principal_point: ``(c_x, c_y)`` px, from the top-left corner of the image.
        image_size: ``(W, H)`` px.
        near, far: Clipping distances along ``+Z`` in metres.
    """

    focal_length: tuple[float, float]
    principal_point: tuple[float, float]
    image_size: tuple[int, int]
    near: float = 0.05
    far: float = 100.0

    @classmethod
    def from_focal(
        cls,
        focal_length: float | tuple[float, float],
        image_size: tuple[int, int],
        principal_point: tuple[float, float] | None = None,
        **kwargs: float,
    ) -> Camera:
        """A camera from one or two focal lengths; the principal point defaults to the image centre."""
        fx, fy = (focal_length, focal_length) if np.isscalar(focal_length) else focal_length  # type: ignore[misc]
        width, height = int(image_size[0]), int(image_size[1])
        cx, cy = principal_point if principal_point is not None else (width / 2, height / 2)
        return cls((float(fx), float(fy)), (float(cx), float(cy)), (width, height), **kwargs)

    @classmethod
    def from_pinhole(cls, camera: PinholeCamera, **kwargs: float) -> Camera:
        """The renderer's view of one :class:`~hmrflow.geometry.PinholeCamera` (batch shape ``()``;
        its extrinsics, if any, are applied to the meshes by the caller). The one conversion."""
        if camera.batch_shape != ():
            raise ValueError(f"one camera is rendered at a time, got a batch of {tuple(camera.batch_shape)}")
        (fx, fy), (cx, cy) = camera.focal_length.tolist(), camera.principal_point.tolist()
        width, height = (int(round(v)) for v in camera.image_size.tolist())
        return cls((float(fx), float(fy)), (float(cx), float(cy)), (width, height), **kwargs)

    @classmethod
    def from_fov(cls, width: int, height: int, fov_y_deg: float, **kwargs: float) -> Camera:
        """A centred camera with the given vertical field of view."""
        focal = height / 2 / math.tan(math.radians(fov_y_deg) / 2)
        return cls.from_focal(focal, (width, height), **kwargs)

    @property
    def width(self) -> int:
        return self.image_size[0]

    @property
    def height(self) -> int:
        return self.image_size[1]

    def crop(self, center: tuple[float, float], size: float, resolution: int) -> Camera:
        r"""The camera that sees the square box of side ``size`` px around ``center`` as a
        ``resolution`` px image (a crop is a scaled focal and a shifted principal point)."""
        scale = resolution / size
        fx, fy = self.focal_length
        cx, cy = self.principal_point
        return replace(
            self,
            focal_length=(fx * scale, fy * scale),
            principal_point=((cx - center[0]) * scale + resolution / 2, (cy - center[1]) * scale + resolution / 2),
            image_size=(resolution, resolution),
        )

    def scaled(self, factor: float) -> Camera:
        """The same view at ``factor`` times the resolution (pixel coordinates scale by ``factor``)."""
        (fx, fy), (cx, cy) = self.focal_length, self.principal_point
        return replace(
            self,
            focal_length=(fx * factor, fy * factor),
            principal_point=(cx * factor, cy * factor),
            image_size=(int(round(self.width * factor)), int(round(self.height * factor))),
        )

    def intrinsics(self) -> np.ndarray:
        """``(3, 3)`` matrix ``K``."""
        (fx, fy), (cx, cy) = self.focal_length, self.principal_point
        return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], dtype=np.float32)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Camera-frame points ``(..., 3)`` -> pixels ``(..., 2)``."""
        points = np.asarray(points, dtype=np.float32)
        uv = points[..., :2] / points[..., 2:]
        return (uv * np.float32(self.focal_length) + np.float32(self.principal_point)).astype(np.float32)

    def projection_matrix(self) -> np.ndarray:
        r"""``(4, 4)`` OpenGL projection (row-major) of camera-frame points, OpenCV axes.

        ``x_clip = (2 f_x / W) X + (2 c_x / W - 1) Z``, ``y_clip`` likewise with ``H``,
        ``w_clip = Z``, and ``z_ndc`` runs from -1 at ``near`` to 1 at ``far``.
        """
        (fx, fy), (cx, cy) = self.focal_length, self.principal_point
        width, height = self.image_size
        n, f = self.near, self.far
        return np.array(
            [
                [2 * fx / width, 0.0, 2 * cx / width - 1, 0.0],
                [0.0, 2 * fy / height, 2 * cy / height - 1, 0.0],
                [0.0, 0.0, (f + n) / (f - n), -2 * f * n / (f - n)],
                [0.0, 0.0, 1.0, 0.0],
            ],
            dtype=np.float32,
        )
