r"""Person boxes around 2D keypoints, and keypoints in a box's normalised coordinates.

A person box is the square around a person's confident keypoints (its side a margin
times their larger extent, as detectors and training crops have it); the model's
keypoint evidence is the keypoints in that box, ``(x - centre) / side``, so that the box
spans ``[-0.5, 0.5]`` (ProHMR's crop normalisation). Pixels, any leading dimensions.

Example:
    >>> import torch
    >>> xy = torch.tensor([[[100.0, 50.0], [140.0, 130.0], [0.0, 0.0]]])
    >>> center, side = keypoint_box(xy, torch.tensor([[True, True, False]]))
    >>> center.tolist(), side.tolist()
    ([[120.0, 90.0]], [80.0])
    >>> normalize_keypoints(torch.tensor([[[140.0, 130.0, 1.0]]]), center, side).tolist()
    [[[0.25, 0.5, 1.0]]]
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["box_iou", "keypoint_box", "normalize_keypoints"]


def keypoint_box(xy: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
    r"""Square box around the valid points: centre ``(..., 2)`` and side ``(...)`` in px.

    Arguments:
        xy: ``(..., K, 2)`` points; valid: ``(..., K)`` bool. Rows with fewer than two
        valid points get a box of side 1 px around their one point (or the origin), so
        that the point normalises to 0 rather than to its pixel position.

    Example:
        >>> keypoint_box(torch.tensor([[[600.0, 400.0], [5.0, 5.0]]]), torch.tensor([[True, False]]))
        (tensor([[600., 400.]]), tensor([1.]))
    """
    big = torch.finfo(xy.dtype).max
    v = valid[..., None]
    low = torch.where(v, xy, torch.full_like(xy, big)).amin(dim=-2)
    high = torch.where(v, xy, torch.full_like(xy, -big)).amax(dim=-2)
    ok = valid.sum(-1) >= 2
    lone = (xy * v).sum(-2)  # with fewer than two valid points: the one point, or the origin
    center = torch.where(ok[..., None], (low + high) / 2, lone)
    side = torch.where(ok, (high - low).amax(-1), torch.ones_like(low[..., 0]))
    return center, side.clamp_min(1.0)


def normalize_keypoints(keypoints: Tensor, box_center: Tensor, box_size: Tensor) -> Tensor:
    r"""Image keypoints ``(..., K, C)``, C = 2, 3 or 4 -> normalised box coordinates (confidence kept).

    ``(x - center) / size``: the box spans ``[-0.5, 0.5]``, ProHMR's crop normalisation.
    Points with zero confidence get coordinates 0. A fourth column, a relative depth px
    (:mod:`hmrflow.models.keypoint_encoder`), is divided by the size (no centre: its origin
    is the hips), NaN where the point is missing.

    Example:
        >>> points = torch.tensor([[[150.0, 50.0, 1.0, -20.0], [300.0, 300.0, 0.0, 5.0]]])
        >>> normalize_keypoints(points, torch.tensor([[100.0, 100.0]]), torch.tensor([200.0])).tolist()
        [[[0.25, -0.25, 1.0, -0.10000000149011612], [0.0, 0.0, 0.0, nan]]]
    """
    xy = (keypoints[..., :2] - box_center[..., None, :]) / box_size[..., None, None]
    if keypoints.shape[-1] == 2:
        return xy
    confident = keypoints[..., 2:3] > 0
    columns = [xy * confident, keypoints[..., 2:3]]
    if keypoints.shape[-1] > 3:
        depth = keypoints[..., 3:4] / box_size[..., None, None]
        columns.append(torch.where(confident, depth, torch.full_like(depth, float("nan"))))
    return torch.cat(columns, dim=-1)


def box_iou(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    r"""Intersection over union of boxes ``(A, 4)`` and ``(B, 4)`` (x0, y0, x1, y1 px): ``(A, B)``;
    0 where both are empty.

    Example:
        >>> box_iou(np.array([[0.0, 0, 2, 2]]), np.array([[1.0, 0, 3, 2], [5.0, 5, 6, 6]]))
        array([[0.33333333, 0.        ]])
    """
    first, second = np.asarray(first, np.float64), np.asarray(second, np.float64)
    low = np.maximum(first[:, None, :2], second[None, :, :2])
    high = np.minimum(first[:, None, 2:], second[None, :, 2:])
    inter = np.clip(high - low, 0, None).prod(-1)
    area_first = np.clip(first[:, 2:] - first[:, :2], 0, None).prod(-1)
    area_second = np.clip(second[:, 2:] - second[:, :2], 0, None).prod(-1)
    union = area_first[:, None] + area_second[None] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
