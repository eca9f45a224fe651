r"""Scene content for synthetic images: body appearance, lights and backgrounds.

* :class:`BodyPainter` gives per-vertex colours ``(N, 3)``: a skin tone, and clothing
  laid on by the skinning weights (a top with or without sleeves, shorts, trousers or a
  dress, shoes, hair), plain or striped.
* :func:`sample_light` draws a directional light in front of the body.
* :class:`Backgrounds` draws ``(R, R, 3)`` uint8 backgrounds: random crops of the bundled
  public-domain/CC0 photos (``assets/backgrounds``, see its ``ATTRIBUTION.md``) and
  procedural textures (gradients with a horizon, smooth noise, stripes, checkerboards).

Randomness comes from an explicit ``torch.Generator``; a numpy generator is seeded from
it (:func:`numpy_rng`).

Example:
    >>> bg = Backgrounds.bundled().sample(64, torch.Generator().manual_seed(0))
    >>> bg.shape, bg.dtype
    ((64, 64, 3), dtype('uint8'))
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import torch

from hmrflow.body.joints import SMPL_JOINT_NAMES
from hmrflow.render.renderer import Light

__all__ = ["SKIN_TONES", "BodyPainter", "Backgrounds", "numpy_rng", "sample_light"]

#: Skin tones from light to dark (sRGB in [0, 1]); samples interpolate between neighbours.
SKIN_TONES = np.array(
    [[0.98, 0.86, 0.77], [0.93, 0.76, 0.64], [0.85, 0.65, 0.50], [0.74, 0.52, 0.37],
     [0.58, 0.39, 0.26], [0.42, 0.27, 0.18], [0.30, 0.19, 0.13]],
    dtype=np.float32,
)  # fmt: skip

HAIR_COLORS = np.array(
    [[0.08, 0.06, 0.05], [0.20, 0.13, 0.08], [0.38, 0.25, 0.15], [0.62, 0.47, 0.30],
     [0.80, 0.68, 0.45], [0.55, 0.20, 0.10], [0.65, 0.65, 0.65]],
    dtype=np.float32,
)  # fmt: skip

_JOINT = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}


def numpy_rng(generator: torch.Generator) -> np.random.Generator:
    """A numpy generator seeded from (and advancing) a torch generator."""
    return np.random.default_rng(int(torch.randint(0, 2**62, (), generator=generator)))


def _joints(*names: str) -> list[int]:
    return [_JOINT[f"{side}_{name}"] for name in names for side in ("left", "right")]


def _random_color(rng: np.random.Generator) -> np.ndarray:
    """A clothing colour: mostly muted, sometimes saturated, sometimes near black or white."""
    kind = rng.random()
    if kind < 0.15:
        return np.full(3, rng.uniform(0.05, 0.18), np.float32)
    if kind < 0.25:
        return np.full(3, rng.uniform(0.75, 0.95), np.float32)
    hue, saturation, value = rng.random(), rng.uniform(0.2, 0.9), rng.uniform(0.25, 0.9)
    from hmrflow.render.mesh import _hsv_to_rgb

    return _hsv_to_rgb(np.array([hue]), np.array([saturation]), np.array([value]))[0]


class BodyPainter:
    r"""Per-vertex colours for a skinned body: skin, clothing and hair.

    Arguments:
        weights: ``(N, J)`` skinning weights on the SMPL joint tree.
        template: ``(N, 3)`` rest vertices (SMPL frame: Y up, the body faces +Z).
        rest_joints: ``(J, 3)`` rest joints.
        sharpness: Exponent applied to the weights before blending colours: higher gives
            crisper garment borders.
    """

    def __init__(self, weights: Any, template: Any, rest_joints: Any, sharpness: float = 6.0):
        w = np.asarray(torch.as_tensor(weights).detach().cpu(), dtype=np.float64) ** sharpness
        self.weights = (w / np.maximum(w.sum(1, keepdims=True), 1e-12)).astype(np.float32)
        self.template = np.asarray(torch.as_tensor(template).detach().cpu(), dtype=np.float32)
        joints = np.asarray(torch.as_tensor(rest_joints).detach().cpu(), dtype=np.float32)
        head = self.weights.argmax(1) == _JOINT["head"]
        y, z = self.template[:, 1], self.template[:, 2]
        top = y[head].max() if head.any() else joints[_JOINT["head"], 1]
        back = z < joints[_JOINT["head"], 2] - 0.01
        self.hair = head & ((y > top - 0.075) | (back & (y > joints[_JOINT["head"], 1] - 0.02)))
        self.height = y

    @classmethod
    def from_body(cls, body: Any, **kwargs: float) -> BodyPainter:
        """From a :class:`~hmrflow.body.BodyModel`."""
        rest = body.joint_regressor @ body.template
        return cls(body.weights, body.template, rest, **kwargs)

    def sample(self, generator: torch.Generator) -> np.ndarray:
        """``(N, 3)`` float32 colours in ``[0, 1]`` for one random person."""
        rng = numpy_rng(generator)
        skin = self._skin_tone(rng)
        top, bottom, shoes = _random_color(rng), _random_color(rng), _random_color(rng) * 0.6
        joint_colors = np.tile(skin, (len(SMPL_JOINT_NAMES), 1))
        torso = [_JOINT[n] for n in ("spine1", "spine2", "spine3")] + _joints("collar")
        sleeves = rng.choice(3, p=[0.25, 0.35, 0.4])  # none, short, long
        arms = _joints("shoulder")[: 2 * (sleeves > 0)] + _joints("elbow")[: 2 * (sleeves > 1)]
        legs = rng.choice(3, p=[0.3, 0.55, 0.15])  # shorts, trousers, dress
        lower = [_JOINT["pelvis"]] + _joints("hip") + _joints("knee")[: 2 * (legs == 1)]
        joint_colors[torso + arms] = top
        joint_colors[lower] = top if legs == 2 else bottom
        if rng.random() < 0.9:
            joint_colors[_joints("ankle", "foot")] = shoes
        colors = self.weights @ joint_colors
        if rng.random() < 0.25:  # stripes on the top
            stripe = np.sin(self.height * 2 * np.pi / rng.uniform(0.03, 0.08)) > 0
            on_top = self.weights[:, torso + arms].sum(1) > 0.5
            colors[stripe & on_top] = _random_color(rng)
        if rng.random() < 0.9:
            colors[self.hair] = HAIR_COLORS[rng.integers(len(HAIR_COLORS))] * rng.uniform(0.8, 1.1)
        return np.clip(colors, 0, 1).astype(np.float32)

    @staticmethod
    def _skin_tone(rng: np.random.Generator) -> np.ndarray:
        position = rng.uniform(0, len(SKIN_TONES) - 1)
        low = int(np.floor(position))
        high = min(low + 1, len(SKIN_TONES) - 1)
        tone = SKIN_TONES[low] + (position - low) * (SKIN_TONES[high] - SKIN_TONES[low])
        return (tone * rng.uniform(0.95, 1.05, 3)).astype(np.float32)


def sample_light(generator: torch.Generator) -> Light:
    """A directional light from in front of the body (behind the camera), above or to a side."""
    rng = numpy_rng(generator)
    azimuth = rng.uniform(-1.2, 1.2)
    elevation = rng.uniform(-0.2, 1.0)  # positive: from above (light travels down, +y)
    direction = (np.sin(azimuth) * np.cos(elevation), np.sin(elevation), np.cos(azimuth) * np.cos(elevation))
    tint = 1.0 + rng.uniform(-0.08, 0.08, 3)
    intensity = rng.uniform(0.75, 1.15)
    return Light(
        direction=tuple(float(d) for d in direction),  # type: ignore[arg-type]
        color=tuple(float(c) for c in np.clip(tint * intensity, 0, 1.5)),  # type: ignore[arg-type]
        ambient=float(rng.uniform(0.25, 0.55)),
        specular=float(rng.uniform(0.0, 0.25)),
        shininess=float(rng.uniform(8, 40)),
    )


@dataclass(frozen=True)
class Backgrounds:
    r"""Background images: crops of photos and procedural textures.

    Arguments:
        photos: uint8 images ``(H, W, 3)`` or ``(H, W)`` (grey ones are tinted).
        photo_probability: Chance of a photo crop rather than a procedural texture.
    """

    photos: tuple[np.ndarray, ...]
    photo_probability: float = 0.6

    @classmethod
    def bundled(cls, photo_probability: float = 0.6) -> Backgrounds:
        """The photos shipped in ``hmrflow/assets/backgrounds``."""
        from PIL import Image

        root = resources.files("hmrflow") / "assets" / "backgrounds"
        photos = []
        for entry in sorted(root.iterdir(), key=lambda p: p.name):
            if entry.name.endswith(".jpg"):
                with entry.open("rb") as handle:
                    photos.append(np.asarray(Image.open(handle)).copy())
        return cls(tuple(photos), photo_probability)

    def sample(self, size: int, generator: torch.Generator) -> np.ndarray:
        """One ``(size, size, 3)`` uint8 background."""
        rng = numpy_rng(generator)
        if self.photos and rng.random() < self.photo_probability:
            return self._photo(size, rng)
        kind = rng.integers(4)
        image = (_gradient, _smooth_noise, _stripes, _checker)[kind](size, rng)
        return np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)

    def _photo(self, size: int, rng: np.random.Generator) -> np.ndarray:
        from PIL import Image

        photo = self.photos[rng.integers(len(self.photos))]
        h, w = photo.shape[:2]
        side = int(rng.uniform(0.35, 1.0) * min(h, w))
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = Image.fromarray(photo[y : y + side, x : x + side]).resize((size, size), Image.BILINEAR)
        image = np.asarray(crop, dtype=np.float32) / 255
        if image.ndim == 2:  # grey photo: tint it
            image = image[..., None] * (0.6 + 0.4 * rng.random(3))[None, None]
        if rng.random() < 0.5:
            image = image[:, ::-1]
        gain, bias = rng.uniform(0.7, 1.2), rng.uniform(-0.1, 0.1)
        image = image * gain * rng.uniform(0.9, 1.1, 3) + bias
        return np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)


def _two_colors(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    a = rng.uniform(0.1, 0.9, 3)
    b = np.clip(a + rng.uniform(-0.4, 0.4, 3), 0, 1)
    return a, b


def _gradient(size: int, rng: np.random.Generator) -> np.ndarray:
    """Sky above a horizon, ground below, each a vertical gradient."""
    sky, sky2 = _two_colors(rng)
    ground, ground2 = _two_colors(rng)
    t = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
    horizon = rng.uniform(0.2, 0.8)
    upper = sky + (sky2 - sky) * (t / horizon)
    lower = ground + (ground2 - ground) * ((t - horizon) / (1 - horizon))
    column = np.where(t < horizon, upper, lower)
    return np.broadcast_to(column, (size, size, 3)) + _smooth_noise_map(size, rng, 8)[..., None] * 0.05


def _smooth_noise_map(size: int, rng: np.random.Generator, cells: int) -> np.ndarray:
    """``(size, size)`` bilinearly upsampled uniform noise in ``[-1, 1]``."""
    from PIL import Image

    grid = rng.uniform(-1, 1, (cells + 1, cells + 1)).astype(np.float32)
    return np.asarray(Image.fromarray(grid).resize((size, size), Image.BICUBIC), dtype=np.float32)


def _smooth_noise(size: int, rng: np.random.Generator) -> np.ndarray:
    """Several octaves of smooth noise mapped between two colours."""
    noise = sum(_smooth_noise_map(size, rng, 2 ** (o + 2)) * 0.5**o for o in range(4))
    t = (np.clip(noise / 1.5, -1, 1) * 0.5 + 0.5)[..., None]
    a, b = _two_colors(rng)
    return a + (b - a) * t


def _stripes(size: int, rng: np.random.Generator) -> np.ndarray:
    """Straight stripes at a random angle and period (walls, floors, fences)."""
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(0.04, 0.3) * size
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    phase = (x * np.cos(angle) + y * np.sin(angle)) / period
    t = (np.sin(2 * np.pi * phase) > rng.uniform(-0.5, 0.5)).astype(np.float32)[..., None]
    a, b = _two_colors(rng)
    return a + (b - a) * t + _smooth_noise_map(size, rng, 6)[..., None] * 0.06


def _checker(size: int, rng: np.random.Generator) -> np.ndarray:
    """A checkerboard (tiles), slightly rotated."""
    angle = rng.uniform(-0.5, 0.5)
    period = rng.uniform(0.05, 0.25) * size
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    u = (x * np.cos(angle) + y * np.sin(angle)) / period
    v = (-x * np.sin(angle) + y * np.cos(angle)) / period
    t = ((np.floor(u) + np.floor(v)) % 2)[..., None]
    a, b = _two_colors(rng)
    return a + (b - a) * t + _smooth_noise_map(size, rng, 6)[..., None] * 0.05
