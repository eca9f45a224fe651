r"""The demo's colours (the mode, the fit, the samples, and the samples' spread per vertex)
and the labels written on its pictures."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["FIT_COLOR", "MODE_COLOR", "SAMPLE_COLOR", "labelled", "spread_colors"]

MODE_COLOR = (0.45, 0.62, 0.92)
FIT_COLOR = (0.55, 0.85, 0.55)
SAMPLE_COLOR = (0.98, 0.62, 0.30)


def spread_colors(spread: np.ndarray, scale_m: float | None = None) -> tuple[np.ndarray, float]:
    r"""Per-vertex colours ``(N, 3)`` of the samples' spread ``(N,)`` metres, and the scale (m).

    Colours run from dark blue (0) through yellow to red (``scale_m``, default the 98th
    percentile of the spread).
    """
    spread = np.asarray(spread, np.float32)
    scale = float(scale_m if scale_m is not None else max(np.percentile(spread, 98), 1e-6))
    return _colormap(np.clip(spread / scale, 0, 1)), scale


def _colormap(t: np.ndarray) -> np.ndarray:
    """``t`` in [0, 1] -> RGB: dark blue, cyan, yellow, red."""
    stops = np.array([[0.15, 0.2, 0.55], [0.2, 0.7, 0.85], [0.98, 0.88, 0.3], [0.85, 0.15, 0.1]], np.float32)
    position = t * (len(stops) - 1)
    low = np.minimum(position.astype(int), len(stops) - 2)
    frac = (position - low)[:, None]
    return (stops[low] * (1 - frac) + stops[low + 1] * frac).astype(np.float32)


def labelled(image: np.ndarray, text: str, position: tuple[int, int] = (8, 6)) -> np.ndarray:
    """A copy of ``image`` ``(H, W, 3)`` uint8 with ``text`` written at ``position`` (x, y px):
    dark letters outlined in white, legible on any background. Needs Pillow."""
    from PIL import Image, ImageDraw

    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    font = _font()
    x, y = position
    for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        draw.text((x + dx, y + dy), text, fill=(255, 255, 255), font=font)
    draw.text(position, text, fill=(20, 20, 20), font=font)
    return np.asarray(canvas)


def _font(size: int = 14) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()
