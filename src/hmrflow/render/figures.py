r"""Figures: image grids, label and depth images made visible, PNG writing.

Example:
    >>> grid = image_grid([np.zeros((8, 8, 3), np.uint8)] * 3, columns=2, pad=1)
    >>> grid.shape
    (19, 19, 3)
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from hmrflow.render.mesh import part_colors

__all__ = ["depth_to_rgb", "image_grid", "labels_to_rgb", "save_image"]


def image_grid(images: Sequence[np.ndarray], columns: int, pad: int = 2, fill: int = 255) -> np.ndarray:
    """Tile equally sized ``(H, W, 3)`` uint8 images, row by row, ``pad`` px apart and around."""
    if not images:
        raise ValueError("no images to tile")
    h, w = images[0].shape[:2]
    rows = -(-len(images) // columns)
    grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, 3), fill, dtype=np.uint8)
    for i, image in enumerate(images):
        if image.shape[:2] != (h, w):
            raise ValueError(f"image {i} is {image.shape[:2]}, the first {h, w}")
        r, c = divmod(i, columns)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y : y + h, x : x + w] = image[..., :3]
    return grid


def labels_to_rgb(labels: np.ndarray, num_labels: int = 24, background: int = 0) -> np.ndarray:
    """Label image ``(H, W)`` (-1 background) -> ``(H, W, 3)`` uint8, one colour per label."""
    palette = (part_colors(max(num_labels, int(labels.max()) + 1)) * 255).astype(np.uint8)
    out = np.full(labels.shape + (3,), background, dtype=np.uint8)
    valid = labels >= 0
    out[valid] = palette[labels[valid]]
    return out


def depth_to_rgb(depth: np.ndarray) -> np.ndarray:
    """Depth ``(H, W)`` metres (0 = none) -> grey ``(H, W, 3)`` uint8, near bright, far dark."""
    valid = depth > 0
    out = np.zeros(depth.shape, dtype=np.uint8)
    if valid.any():
        low, high = depth[valid].min(), depth[valid].max()
        t = (depth - low) / max(high - low, 1e-6)
        out[valid] = (255 - 200 * t[valid]).astype(np.uint8)
    return np.repeat(out[..., None], 3, axis=2)


def save_image(image: np.ndarray, path: str | os.PathLike[str]) -> None:
    """Write an ``(H, W, 3)`` uint8 image (format from the file name: .png, .jpg)."""
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(image)).save(path)
