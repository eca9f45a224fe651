r"""Cameras: weak perspective in the crop, full-image translation, perspective projection.

Conventions, stated once for the whole package:

* **Camera frame** (OpenCV): the camera sits at the origin and looks along ``+Z``; image
  ``x`` points right and image ``y`` points down. A point ``P = R X + t`` in the camera
  frame projects to ``u = f_x P_x / P_z + c_x``, ``v = f_y P_y / P_z + c_y``. SMPL's body
  frame is Y up, so a person standing upright in the image has a global orientation that
  contains a half-turn about ``X`` (as in ProHMR's and SPIN's data).
* **Pixels**: continuous coordinates with the origin at the top-left corner of the image;
  an image of width ``W`` and height ``H`` has its centre at ``(W / 2, H / 2)`` (ProHMR's
  convention). Image sizes are always given as ``(W, H)``, i.e. ``(x, y)`` order.
* **Crops**: a square box of side ``box_size`` px centred on ``box_center`` in the image
  is resampled to a ``crop_size`` px square (224 by default), so the image point
  ``box_center + (x - crop_size / 2) * box_size / crop_size`` is seen at crop pixel ``x``.
* **Weak-perspective camera** ``(s, tx, ty)`` (ProHMR's head output) lives in the crop:
  it means the translation ``(tx, ty, 2 f / (crop_size * s))`` seen by a camera of focal
  ``f`` px (5000 by default) whose principal point is the crop centre.
* **Box frame**: the camera frame turned, without roll, so that its ``+Z`` looks along the
  ray through the person box's centre (:func:`box_to_camera_rotation`). A model that sees
  only the box sees the person from that ray, so the body's global orientation it can tell
  is the one in the box frame.
* **Normalised crop coordinates** (ProHMR's 2D keypoint targets and losses):
  ``x_norm = x_px / crop_size - 0.5``, so the crop spans ``[-0.5, 0.5]`` with 0 at its
  centre. ProHMR obtains them by projecting with focal ``f / crop_size`` and principal
  point 0 (``prohmr/models/prohmr.py``; targets in ``prohmr/datasets/utils.py``), i.e.
  ``perspective_projection(X, t, focal_length=f / crop_size)``.

Every function accepts any number of leading batch dimensions ``...``.

Example:
    >>> cam = torch.tensor([0.9, 0.05, 0.2])
    >>> t = weak_perspective_to_translation(cam)
    >>> uv = perspective_projection(torch.zeros(1, 3), t, 5000.0, torch.tensor([112.0, 112.0]))
    >>> torch.allclose(translation_to_weak_perspective(t), cam)
    True
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "DEFAULT_FOCAL_LENGTH",
    "DEFAULT_CROP_SIZE",
    "weak_perspective_to_translation",
    "translation_to_weak_perspective",
    "crop_camera_to_full_translation",
    "full_translation_to_crop_camera",
    "box_to_camera_rotation",
    "perspective_projection",
    "crop_to_image_pixels",
    "image_to_crop_pixels",
    "pixels_to_normalized",
    "normalized_to_pixels",
]

#: ProHMR's focal length in pixels for a 224 px crop.
DEFAULT_FOCAL_LENGTH = 5000.0
#: ProHMR's square crop side in pixels.
DEFAULT_CROP_SIZE = 224.0


def weak_perspective_to_translation(
    cam: Tensor,
    focal_length: float | Tensor = DEFAULT_FOCAL_LENGTH,
    crop_size: float | Tensor = DEFAULT_CROP_SIZE,
    eps: float = 1e-9,
) -> Tensor:
    r"""Weak-perspective crop camera ``(s, tx, ty)`` to a camera translation.

    Arguments:
        cam: Crop cameras ``(s, tx, ty)``, shape ``(..., 3)``.
        focal_length: Focal length in crop pixels, scalar or shape ``(...)``.
        crop_size: Crop side in pixels, scalar or shape ``(...)``.
        eps: Added to the denominator, as in ProHMR, so ``s = 0`` gives a finite depth.

    Returns:
        Translations ``(tx, ty, 2 f / (crop_size * s))`` in metres, shape ``(..., 3)``.

    Example:
        >>> weak_perspective_to_translation(torch.tensor([1.0, 0.1, -0.2]), 5000.0, 200.0)
        tensor([ 0.1000, -0.2000, 50.0000])
    """
    s, tx, ty = cam.unbind(-1)
    tz = 2 * focal_length / (crop_size * s + eps)
    return torch.stack((tx, ty, tz), dim=-1)


def translation_to_weak_perspective(
    translation: Tensor,
    focal_length: float | Tensor = DEFAULT_FOCAL_LENGTH,
    crop_size: float | Tensor = DEFAULT_CROP_SIZE,
) -> Tensor:
    r"""Inverse of :func:`weak_perspective_to_translation`.

    Arguments:
        translation: Camera translations in the crop camera, shape ``(..., 3)``.
        focal_length: Focal length in crop pixels, scalar or shape ``(...)``.
        crop_size: Crop side in pixels, scalar or shape ``(...)``.

    Returns:
        Crop cameras ``(2 f / (crop_size * t_z), t_x, t_y)``, shape ``(..., 3)``.
    """
    tx, ty, tz = translation.unbind(-1)
    s = 2 * focal_length / (crop_size * tz)
    return torch.stack((s, tx, ty), dim=-1)


def crop_camera_to_full_translation(
    cam: Tensor,
    box_center: Tensor,
    box_size: Tensor | float,
    image_size: Tensor,
    focal_length: float | Tensor = DEFAULT_FOCAL_LENGTH,
    eps: float = 1e-9,
) -> Tensor:
    r"""Weak-perspective crop camera to a translation for the full image.

    The full-image camera has focal ``focal_length`` px and its principal point at the
    image centre ``image_size / 2``. With ``t_z = 2 f / (box_size * s)``,
    ``t_xy = (tx, ty) + (box_center - image_size / 2) * t_z / f``.

    Points in the plane ``Z = 0`` of the body frame (depth ``t_z``) then project to
    exactly the image pixels that the crop camera gives them, mapped from the crop into the
    image (:func:`crop_to_image_pixels`), whatever ``focal_length``. Points off that plane
    agree up to the weak-perspective approximation, an error of order
    ``|box_center - image_center| * Z / t_z`` px (a crop is a shifted principal point,
    whereas this moves the body in 3D), plus, unless ``focal_length`` equals the crop's
    focal in image pixels ``f_crop * box_size / crop_size``, a term of order
    ``f |X| |Z| / t_z^2`` from the change of focal.

    Two focal lengths ``(f_x, f_y)`` (non-square pixels): the depth takes their geometric
    mean ``f = sqrt(f_x f_y)`` and each image axis its own focal in the offset
    (``t_x = tx + (b_x - W / 2) t_z / f_x``, the same for y), so the box centre stays
    exact and points of the plane ``Z = 0`` land at the crop's pixels scaled about it by
    ``sqrt(f_x / f_y)`` in x and ``sqrt(f_y / f_x)`` in y (a square-pixel crop camera
    cannot see a stretched image; the fit takes it from there). ``f_x = f_y`` gives the
    one-focal result bit for bit.

    Arguments:
        cam: Crop cameras ``(s, tx, ty)``, shape ``(..., 3)``.
        box_center: Box centres in image pixels ``(x, y)``, shape ``(..., 2)``.
        box_size: Box sides in image pixels, shape ``(...)``.
        image_size: Image sizes ``(W, H)`` in pixels, shape ``(..., 2)``; with a principal
            point off the image centre, pass twice the principal point.
        focal_length: Focal length of the full-image camera in pixels: scalar, ``(...)``,
            or ``(..., 2)`` for ``(f_x, f_y)`` (a tensor with as many dimensions as
            ``box_center`` and a last dimension of 2).
        eps: Added to the denominator, as in ProHMR.

    Returns:
        Translations in the full-image camera frame, shape ``(..., 3)``.

    Example:
        >>> t = crop_camera_to_full_translation(torch.tensor([1.0, 0.0, 0.0]), torch.tensor([400.0, 300.0]),
        ...     200.0, torch.tensor([640.0, 480.0]), torch.tensor([1600.0, 900.0]))
        >>> t  # depth 2 sqrt(1600 * 900) / 200
        tensor([ 0.6000,  0.8000, 12.0000])
        >>> perspective_projection(torch.zeros(1, 3), t, torch.tensor([1600.0, 900.0]), torch.tensor([320.0, 240.0]))
        tensor([[400., 300.]])
    """
    s, tx, ty = cam.unbind(-1)
    depth_focal, axis_focal = _depth_and_axis_focals(focal_length, box_center)
    tz = 2 * depth_focal / (box_size * s + eps)
    offset = (box_center - image_size / 2) * (tz.unsqueeze(-1) / axis_focal)
    return torch.stack((tx + offset[..., 0], ty + offset[..., 1], tz), dim=-1)


def full_translation_to_crop_camera(
    translation: Tensor,
    box_center: Tensor,
    box_size: Tensor | float,
    image_size: Tensor,
    focal_length: float | Tensor = DEFAULT_FOCAL_LENGTH,
) -> Tensor:
    r"""Inverse of :func:`crop_camera_to_full_translation`.

    Arguments:
        translation: Translations in the full-image camera frame, shape ``(..., 3)``.
        box_center: Box centres in image pixels ``(x, y)``, shape ``(..., 2)``.
        box_size: Box sides in image pixels, shape ``(...)``.
        image_size: Image sizes ``(W, H)`` in pixels, shape ``(..., 2)``.
        focal_length: Focal length of the full-image camera in pixels: scalar, ``(...)``
            or ``(..., 2)`` (as in :func:`crop_camera_to_full_translation`).

    Returns:
        Crop cameras ``(s, tx, ty)``, shape ``(..., 3)``.
    """
    tz = translation[..., 2]
    depth_focal, axis_focal = _depth_and_axis_focals(focal_length, box_center)
    s = 2 * depth_focal / (box_size * tz)
    offset = (box_center - image_size / 2) * (tz.unsqueeze(-1) / axis_focal)
    txy = translation[..., :2] - offset
    return torch.stack((s, txy[..., 0], txy[..., 1]), dim=-1)


def box_to_camera_rotation(box_center: Tensor, focal_length: Tensor, principal_point: Tensor) -> Tensor:
    r"""Rotations ``(..., 3, 3)`` from the box frame to the camera frame: ``P_camera = R P_box``.

    ``R`` is the smallest rotation that takes the optical axis ``(0, 0, 1)`` onto the ray
    ``d`` through the box centre, ``d ~ ((b - c) / f, 1)``: about the axis ``z x d``, so
    it adds no roll (``R = I + [v]_x + [v]_x^2 / (1 + d_z)`` with ``v = z x d``, ``|d| = 1``).

    Arguments:
        box_center: Box centres ``(..., 2)`` px.
        focal_length: ``(...)`` or ``(..., 2)`` ``(f_x, f_y)`` px.
        principal_point: ``(..., 2)`` px.

    Example:
        >>> R = box_to_camera_rotation(torch.tensor([420.0, 240.0]), torch.tensor(100.0), torch.tensor([320.0, 240.0]))
        >>> R @ torch.tensor([0.0, 0.0, 1.0])  # the ray through the box centre, 45 degrees right
        tensor([0.7071, 0.0000, 0.7071])
    """
    if focal_length.dim() < box_center.dim() or focal_length.shape[-1] != 2:
        focal_length = focal_length.unsqueeze(-1)
    xy = (box_center - principal_point) / focal_length
    ray = torch.cat([xy, torch.ones_like(xy[..., :1])], dim=-1)
    dx, dy, dz = (ray / torch.linalg.vector_norm(ray, dim=-1, keepdim=True)).unbind(-1)
    k = 1 / (1 + dz)
    rows = [
        torch.stack([1 - k * dx * dx, -k * dx * dy, dx], -1),
        torch.stack([-k * dx * dy, 1 - k * dy * dy, dy], -1),
        torch.stack([-dx, -dy, dz], -1),
    ]
    return torch.stack(rows, dim=-2)


def _depth_and_axis_focals(focal_length: float | Tensor, box_center: Tensor) -> tuple[float | Tensor, float | Tensor]:
    r"""The focal of the depth (scalar or ``(...)``) and of each image axis (scalar,
    ``(..., 1)`` or ``(..., 2)``) of a focal length given as scalar, ``(...)`` or ``(..., 2)``.

    Two focals: the depth's is their geometric mean, written ``f_x sqrt(f_y / f_x)`` so
    that ``f_x = f_y`` gives ``f_x`` exactly (``sqrt(f_x f_x)`` need not, in float32).
    """
    if not isinstance(focal_length, Tensor):
        return focal_length, focal_length
    if focal_length.dim() == box_center.dim() and focal_length.shape[-1] == 2:
        fx, fy = focal_length.unbind(-1)
        return fx * (fy / fx).sqrt(), focal_length
    return focal_length, focal_length.unsqueeze(-1)


def perspective_projection(
    points: Tensor,
    translation: Tensor | None = None,
    focal_length: float | Tensor = DEFAULT_FOCAL_LENGTH,
    principal_point: Tensor | None = None,
    rotation: Tensor | None = None,
) -> Tensor:
    r"""Pinhole projection to pixels: ``u = f (R X + t)_{x,y} / (R X + t)_z + c``.

    Arguments:
        points: 3D points in metres, shape ``(..., N, 3)``.
        translation: Camera translations, shape ``(..., 3)``; ``None`` for zero.
        focal_length: Focal lengths in pixels: a float, shape ``(...)`` for one focal per
            camera, or ``(..., 2)`` for ``(f_x, f_y)``. A tensor with exactly one dimension
            fewer than ``points`` is read as ``(..., 2)``; any other tensor as ``(...)``.
        principal_point: Principal points ``(c_x, c_y)`` in pixels, shape ``(..., 2)``;
            ``None`` for ``(0, 0)``.
        rotation: Camera rotations applied before the translation, shape
            ``(..., 3, 3)``; ``None`` for the identity.

    Returns:
        Pixel coordinates, shape ``(..., N, 2)``.

    Example:
        >>> perspective_projection(torch.tensor([[0.1, -0.2, 0.0]]),
        ...                        torch.tensor([0.0, 0.0, 10.0]), 1000.0,
        ...                        torch.tensor([320.0, 240.0]))
        tensor([[330., 220.]])
    """
    if rotation is not None:
        points = points @ rotation.transpose(-1, -2)
    if translation is not None:
        points = points + translation.unsqueeze(-2)
    uv = points[..., :2] / points[..., 2:]
    if isinstance(focal_length, Tensor):
        if focal_length.dim() == points.dim() - 1:
            focal_length = focal_length.unsqueeze(-2)
        else:
            focal_length = focal_length[..., None, None]
    uv = uv * focal_length
    if principal_point is not None:
        uv = uv + principal_point.unsqueeze(-2)
    return uv


def crop_to_image_pixels(
    points: Tensor,
    box_center: Tensor,
    box_size: Tensor | float,
    crop_size: float | Tensor = DEFAULT_CROP_SIZE,
) -> Tensor:
    r"""Map crop pixels to image pixels for an axis-aligned square crop.

    Arguments:
        points: Crop pixel coordinates, shape ``(..., K, 2)``.
        box_center: Box centres in image pixels, shape ``(..., 2)``.
        box_size: Box sides in image pixels, scalar or shape ``(...)``.
        crop_size: Crop side in pixels, scalar or shape ``(...)``.

    Returns:
        Image pixel coordinates, shape ``(..., K, 2)``.
    """
    scale = _per_batch(torch.as_tensor(box_size, dtype=points.dtype, device=points.device))
    crop = _per_batch(torch.as_tensor(crop_size, dtype=points.dtype, device=points.device))
    return box_center.unsqueeze(-2) + (points - crop / 2) * (scale / crop)


def image_to_crop_pixels(
    points: Tensor,
    box_center: Tensor,
    box_size: Tensor | float,
    crop_size: float | Tensor = DEFAULT_CROP_SIZE,
) -> Tensor:
    r"""Inverse of :func:`crop_to_image_pixels`: image pixels ``(..., K, 2)`` to crop pixels."""
    scale = _per_batch(torch.as_tensor(box_size, dtype=points.dtype, device=points.device))
    crop = _per_batch(torch.as_tensor(crop_size, dtype=points.dtype, device=points.device))
    return (points - box_center.unsqueeze(-2)) * (crop / scale) + crop / 2


def pixels_to_normalized(points: Tensor, crop_size: float | Tensor = DEFAULT_CROP_SIZE) -> Tensor:
    r"""Crop pixels to ProHMR's normalised crop coordinates ``x / crop_size - 0.5``.

    Arguments:
        points: Crop pixel coordinates, shape ``(..., K, 2)``.
        crop_size: Crop side in pixels, scalar or shape ``(...)``.

    Returns:
        Normalised coordinates in ``[-0.5, 0.5]`` inside the crop, shape ``(..., K, 2)``.

    Example:
        >>> pixels_to_normalized(torch.tensor([[0.0, 112.0]]))
        tensor([[-0.5000,  0.0000]])
    """
    crop = _per_batch(torch.as_tensor(crop_size, dtype=points.dtype, device=points.device))
    return points / crop - 0.5


def normalized_to_pixels(points: Tensor, crop_size: float | Tensor = DEFAULT_CROP_SIZE) -> Tensor:
    r"""Inverse of :func:`pixels_to_normalized`: ``(x_norm + 0.5) * crop_size``, ``(..., K, 2)``."""
    crop = _per_batch(torch.as_tensor(crop_size, dtype=points.dtype, device=points.device))
    return (points + 0.5) * crop


def _per_batch(value: Tensor) -> Tensor:
    """Per-batch value ``(...)`` -> ``(..., 1, 1)``, to broadcast against ``(..., K, 2)``."""
    return value[..., None, None]
