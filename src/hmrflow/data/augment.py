r"""ProHMR's image augmentation, with one affine matrix for the image and its keypoints.

One :class:`Augmentation` (drawn by :meth:`Augmentation.sample` from an
:class:`AugmentConfig`; ProHMR's defaults) describes a crop: box scale 0.7-1.3, an
in-plane rotation (probability 0.6, up to +-60 degrees), a translation of +-2 % of the
box, a horizontal flip (probability 0.5), a per-channel colour scale 0.8-1.2 and, 10 %
of the time, an extreme crop to the hips, the shoulders or the head.

:func:`crop_matrix` turns a box and an augmentation into a ``(3, 3)`` matrix from image
pixels to crop pixels (conventions of :mod:`hmrflow.geometry.cameras`: continuous pixel
coordinates, origin at the top-left corner). :func:`warp_image` resamples the image with
that matrix and :func:`transform_points` moves keypoints with it, so both stay aligned.
The 3D side follows: the rotation turns the crop's content by ``rotation_deg`` on screen
(clockwise, image y pointing down), which is the rotation
:func:`camera_axis_rotation` about the camera's optical axis; the flip mirrors the
camera's x axis and swaps left and right, for keypoints (:func:`flip_points`) and poses
(:func:`~hmrflow.body.joints.mirror_poses`).

Example:
    >>> aug = Augmentation(rotation_deg=90.0)
    >>> M = crop_matrix(np.array([50.0, 50.0]), 100.0, 224, aug)
    >>> transform_points(M, np.array([[50.0, 0.0]])).round(6).tolist()  # top of the box
    [[224.0, 112.0]]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from hmrflow.body.joints import mirror_poses
from hmrflow.geometry import angle_to_rotmat

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "EXTREME_CROP_REGIONS",
    "AugmentConfig",
    "Augmentation",
    "augment_points_3d",
    "augment_rotmats",
    "camera_axis_rotation",
    "crop_matrix",
    "extreme_crop_box",
    "flip_points",
    "scale_colors",
    "transform_points",
    "warp_image",
]

_FACE = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "head_top", "jaw", "head")
_LOWER = (
    "knee", "ankle", "big_toe", "small_toe", "heel",
)  # fmt: skip

#: Extreme crops: region -> (whether a keypoint name belongs to it, box side / extent).
EXTREME_CROP_REGIONS: dict[str, tuple[str, float]] = {
    "hips": ("everything above the knees", 1.3),
    "shoulders": ("face, neck and shoulders", 1.45),
    "head": ("face and neck", 1.6),
}


def _in_region(name: str, region: str) -> bool:
    if region == "hips":
        return not any(part in name for part in _LOWER)
    if region == "shoulders":
        return name in _FACE or name in ("neck", "thorax", "left_shoulder", "right_shoulder")
    if region == "head":
        return name in _FACE or name == "neck"
    raise ValueError(f"unknown extreme crop region {region!r}; known: {list(EXTREME_CROP_REGIONS)}")


@dataclass(frozen=True)
class AugmentConfig:
    r"""ProHMR's augmentation settings (``prohmr/configs``: ``DATASETS.CONFIG``).

    Attributes:
        scale: Box scale ``1 + clip(N(0, 1), -1, 1) * scale``.
        rotation_deg: Rotation ``clip(N(0, 1), -2, 2) * rotation_deg`` ...
        rotation_probability: ... applied with this probability.
        translation: Box shift ``clip(N(0, 1), -1, 1) * translation`` box sides, per axis.
        flip_probability: Horizontal flip with left/right swap.
        color_scale: Per-channel factor uniform in ``1 +- color_scale``.
        extreme_crop_probability: Chance of an extreme crop ...
        extreme_crop_choices: ... to the hips, shoulders or head with these probabilities.
    """

    scale: float = 0.3
    rotation_deg: float = 30.0
    rotation_probability: float = 0.6
    translation: float = 0.02
    flip_probability: float = 0.5
    color_scale: float = 0.2
    extreme_crop_probability: float = 0.1
    extreme_crop_choices: tuple[float, float, float] = (0.7, 0.2, 0.1)


@dataclass(frozen=True)
class Augmentation:
    r"""One draw of the augmentation; the defaults are the identity.

    Attributes:
        scale: Box side factor (> 1 zooms out).
        rotation_deg: On-screen clockwise turn of the crop's content (image y down).
        translation: Box centre shift ``(x, y)`` in box sides.
        flip: Mirror the crop horizontally (and swap left and right labels).
        color: Per-channel (R, G, B) factors.
        extreme_crop: ``None`` or a region of :data:`EXTREME_CROP_REGIONS`.
    """

    scale: float = 1.0
    rotation_deg: float = 0.0
    translation: tuple[float, float] = (0.0, 0.0)
    flip: bool = False
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    extreme_crop: str | None = None

    @classmethod
    def sample(cls, config: AugmentConfig, generator: torch.Generator) -> Augmentation:
        """A random augmentation drawn as ProHMR draws it."""

        def normal(clip: float) -> float:
            return float(torch.randn((), generator=generator).clamp(-clip, clip))

        def uniform() -> float:
            return float(torch.rand((), generator=generator))

        scale = 1.0 + normal(1.0) * config.scale
        rotation = normal(2.0) * config.rotation_deg
        rotation = rotation if uniform() < config.rotation_probability else 0.0
        translation = (normal(1.0) * config.translation, normal(1.0) * config.translation)
        flip = uniform() < config.flip_probability
        color = tuple(1.0 + (2.0 * uniform() - 1.0) * config.color_scale for _ in range(3))
        extreme = None
        if uniform() < config.extreme_crop_probability:
            choice = torch.multinomial(torch.tensor(config.extreme_crop_choices), 1, generator=generator)
            extreme = tuple(EXTREME_CROP_REGIONS)[int(choice)]
        return cls(scale, rotation, translation, flip, color, extreme)  # type: ignore[arg-type]


def crop_matrix(center: np.ndarray, box_size: float, crop_size: int, augmentation: Augmentation) -> np.ndarray:
    r"""Affine ``(3, 3)`` matrix from image pixels to crop pixels.

    The square box of side ``box_size`` px centred on ``center`` ``(2,)`` is shifted by
    ``translation * box_size``, scaled by ``scale``, turned by ``rotation_deg`` and
    mirrored (``flip``), then resampled to ``crop_size`` px.
    """
    cx, cy = np.asarray(center, dtype=np.float64) + np.asarray(augmentation.translation) * box_size
    k = crop_size / (box_size * augmentation.scale)
    angle = math.radians(augmentation.rotation_deg)
    c, s = math.cos(angle), math.sin(angle)
    half = crop_size / 2.0
    to_origin = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]])
    turn = np.array([[k * c, -k * s, half], [k * s, k * c, half], [0.0, 0.0, 1.0]])
    matrix = turn @ to_origin
    if augmentation.flip:
        matrix = np.array([[-1.0, 0.0, float(crop_size)], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ matrix
    return matrix


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    r"""Apply a ``(3, 3)`` affine matrix to points ``(..., 2)``."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def warp_image(image: Image.Image, matrix: np.ndarray, crop_size: int, antialias: bool = True) -> np.ndarray:
    r"""Resample an RGB Pillow image into the crop: ``(crop_size, crop_size, 3)`` uint8.

    Bilinear; outside the image is black. With ``antialias``, a crop that shrinks the
    image by 2x or more first averages blocks of pixels (``Image.reduce``) over the
    region it reads, so thin structures do not alias.
    """
    from PIL import Image

    inverse = np.linalg.inv(matrix)
    step = math.sqrt(abs(np.linalg.det(inverse[:2, :2])))  # image px per crop px
    factor = int(step) if antialias else 1
    if factor >= 2:
        corners = transform_points(inverse, np.array([[0, 0], [crop_size, 0], [0, crop_size], [crop_size, crop_size]]))
        low = np.clip(np.floor(corners.min(0)).astype(int), 0, image.size)
        high = np.clip(np.ceil(corners.max(0)).astype(int), 0, image.size)
        if (high - low).min() >= factor:
            image = image.reduce(factor, box=(int(low[0]), int(low[1]), int(high[0]), int(high[1])))
            shift = np.array([[1.0 / factor, 0.0, -low[0] / factor], [0.0, 1.0 / factor, -low[1] / factor], [0, 0, 1]])
            inverse = shift @ inverse
    data = tuple(inverse[:2].reshape(-1).tolist())
    crop = image.transform((crop_size, crop_size), Image.Transform.AFFINE, data, resample=Image.Resampling.BILINEAR)
    return np.asarray(crop, dtype=np.uint8)


def scale_colors(image: Tensor, color: Sequence[float]) -> Tensor:
    r"""Per-channel colour scale of an image ``(..., 3, H, W)`` in ``[0, 1]``, clipped to ``[0, 1]``."""
    factors = torch.as_tensor(color, dtype=image.dtype, device=image.device)
    return (image * factors[:, None, None]).clamp(0.0, 1.0)


def camera_axis_rotation(rotation_deg: float | Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    r"""Rotation ``(..., 3, 3)`` about the camera's +Z axis that turns projections by ``rotation_deg``.

    Its top-left 2x2 block is the 2D rotation :func:`crop_matrix` applies to the image.
    """
    return angle_to_rotmat(torch.deg2rad(torch.as_tensor(rotation_deg, dtype=dtype)), "z")


def flip_points(points: Tensor, flip_index: Sequence[int]) -> Tensor:
    r"""Mirror points ``(..., K, C)`` (C >= 1; x negated, e.g. camera frame or normalised crop) and swap labels."""
    flipped = points[..., list(flip_index), :].clone()
    flipped[..., 0] = -flipped[..., 0]
    return flipped


def augment_points_3d(points: Tensor, augmentation: Augmentation, flip_index: Sequence[int]) -> Tensor:
    r"""3D keypoints ``(..., K, 3 or 4)`` (camera frame, optional confidence) under the augmentation.

    Rotation about the optical axis, then the mirror of x with the left/right swap.
    """
    R = camera_axis_rotation(augmentation.rotation_deg, points.dtype).to(points.device)
    xyz = points[..., :3] @ R.transpose(-1, -2)
    out = torch.cat([xyz, points[..., 3:]], dim=-1)
    return flip_points(out, flip_index) if augmentation.flip else out


def augment_rotmats(rotmats: Tensor, augmentation: Augmentation) -> Tensor:
    r"""Local rotations ``(..., J, 3, 3)`` (joint 0 in the camera frame) under the augmentation.

    The global orientation turns with the camera-axis rotation; a flip mirrors the pose
    (:func:`~hmrflow.body.joints.mirror_poses`).
    """
    R = camera_axis_rotation(augmentation.rotation_deg, rotmats.dtype).to(rotmats.device)
    out = torch.cat([(R @ rotmats[..., :1, :, :]), rotmats[..., 1:, :, :]], dim=-3)
    return mirror_poses(out) if augmentation.flip else out


def extreme_crop_box(
    keypoints: np.ndarray, names: Sequence[str], region: str
) -> tuple[np.ndarray, float] | None:
    r"""Square box ``(center (2,), side)`` around the region's confident keypoints, or None.

    Arguments:
        keypoints: ``(K, 3)`` image px and confidence.
        names: ``K`` keypoint names (duplicates allowed, e.g. BODY_25 + extra points).
        region: ``"hips"``, ``"shoulders"`` or ``"head"``.

    Returns None when fewer than two of the region's points are confident.
    """
    keep = np.array([_in_region(name, region) for name in names]) & (keypoints[:, 2] > 0)
    if keep.sum() < 2:
        return None
    xy = keypoints[keep, :2]
    low, high = xy.min(0), xy.max(0)
    side = float((high - low).max()) * EXTREME_CROP_REGIONS[region][1]
    if side <= 1.0:
        return None
    return (low + high) / 2.0, side
