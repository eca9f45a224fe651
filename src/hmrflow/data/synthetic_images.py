r"""Synthetic image data: the synthetic keypoint data, rendered as photos of people.

Every example starts as one of :class:`~hmrflow.data.synthetic.SyntheticKeypoints` (pose,
shape, camera, clean and corrupted 2D keypoints, person box, 3D labels) and is rendered
with that camera: the body mesh with a random skin tone and clothing
(:class:`~hmrflow.render.scene.BodyPainter`), a random light, over a background (a crop
of a bundled photo or a procedural texture), with pixel noise and JPEG compression.

Only the square region around the person box is rendered, ``context`` times the box
side, at ``resolution`` px: a crop of the source image is the same pinhole camera with
a scaled focal length and a shifted principal point, so the stored image is a small
photo in its own right, with its own intrinsics (``focal_length``, ``principal_point``)
and every 2D label moved into it. Parts of the region that fall outside the source image
are black, as in a padded crop, and keypoints there are not visible. 3D labels (camera
frame) are those of the keypoint data, unchanged.

Labels of an example (``ImageExample.labels``; K = 23 keypoints COCO-17 + feet, J = 24):
``rotmats (J, 3, 3)``, ``betas (S,)``, ``translation (3,)``, ``focal_length (2,)`` px,
``principal_point (2,)`` px, ``image_size (2,)`` (W, H), ``keypoints_2d (K, 3)``
(corrupted detections, px + confidence), ``clean_2d (K, 3)`` (true projections +
visibility), ``box_center (2,)``, ``box_size ()`` px, ``evidence (K, 3)``, ``target_2d
(K, 3)`` (normalised box coordinates, as in the keypoint data), ``joints_3d (J, 3)``,
``keypoints_3d (K, 3)`` (metres), and the source camera: ``source_focal_length ()``,
``source_image_size (2,)``, ``crop_corner (2,)`` (source px of the stored image's
top-left corner), ``crop_scale ()`` (stored px per source px).

Shards and the torch Dataset that reads them: :mod:`hmrflow.data.image_shards`.

Example:
    >>> from hmrflow.body import BodyModel
    >>> with SyntheticImages(BodyModel.from_name("anny_lowpoly"), None,
    ...                      SyntheticImageConfig(resolution=96)) as gen:
    ...     example = gen.sample(1, torch.Generator().manual_seed(0))[0]
    >>> example.image.shape, example.labels["clean_2d"].shape
    ((96, 96, 3), (23, 3))
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from hmrflow.body.model import BodyModel
from hmrflow.data.synthetic import SyntheticBatch, SyntheticConfig, SyntheticKeypoints
from hmrflow.render.camera import Camera
from hmrflow.render.mesh import Mesh, Topology, part_labels
from hmrflow.render.renderer import Renderer
from hmrflow.render.scene import Backgrounds, BodyPainter, numpy_rng, sample_light

__all__ = ["LABEL_FIELDS", "ImageExample", "SyntheticImageConfig", "SyntheticImages", "encode_jpeg"]

log = logging.getLogger(__name__)

#: The per-example label arrays, in the order they are stored.
LABEL_FIELDS: tuple[str, ...] = (
    "rotmats", "betas", "translation", "focal_length", "principal_point", "image_size",
    "keypoints_2d", "clean_2d", "box_center", "box_size", "evidence", "target_2d",
    "joints_3d", "keypoints_3d", "source_focal_length", "source_image_size", "crop_corner", "crop_scale",
)  # fmt: skip


@dataclass(frozen=True)
class SyntheticImageConfig:
    r"""Synthetic image data.

    Attributes:
        resolution: Side of the stored square images, px.
        context: Stored image side over the person box side (room for crop augmentation).
        supersample: Anti-aliasing: the renderer draws this many times larger and averages.
        samples: Multisampling (MSAA) of the renderer (fast on GPUs, slow on the CPU).
        photo_probability: Chance of a photo background (else a procedural texture).
        noise_std: Range of the per-image pixel noise std, in 0-255 levels.
        jpeg_quality: Range of JPEG qualities.
        min_visible: Examples with fewer visible keypoints are drawn again.
        min_box_size: Examples whose person box is smaller (source px) are drawn again.
        part_labels: Also make a part-label image (argmax skinning joint, -1 background).
        keypoints: The synthetic keypoint data (pose, shape, camera, corruption).
    """

    resolution: int = 320
    context: float = 1.5
    supersample: int = 2
    samples: int = 0
    photo_probability: float = 0.6
    noise_std: tuple[float, float] = (0.0, 4.0)
    jpeg_quality: tuple[int, int] = (80, 95)
    min_visible: int = 8
    min_box_size: float = 24.0
    part_labels: bool = False
    keypoints: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass(frozen=True)
class ImageExample:
    r"""One synthetic image with its labels.

    Attributes:
        image: ``(R, R, 3)`` uint8 RGB (before JPEG compression).
        labels: :data:`LABEL_FIELDS` name -> float32 array (see the module docstring).
        jpeg_quality: Quality to store the image with.
        parts: ``(R, R)`` int16 part labels (-1 background) or None.
    """

    image: np.ndarray
    labels: dict[str, np.ndarray]
    jpeg_quality: int
    parts: np.ndarray | None = None


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of an ``(H, W, 3)`` uint8 image (deterministic)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()


class SyntheticImages:
    r"""Renders :class:`ImageExample` s of the synthetic keypoint data.

    Arguments:
        body: The body model (its mesh is rendered and its keypoints labelled).
        poses: Real poses ``(F, J, 3, 3)`` for the pose sampler (or None).
        config: :class:`SyntheticImageConfig`.
        backgrounds: Background source (default: the bundled photos and procedural ones).
        renderer: A renderer to use (default: one made here; released by :meth:`close`).
    """

    def __init__(
        self,
        body: BodyModel,
        poses: torch.Tensor | None,
        config: SyntheticImageConfig | None = None,
        backgrounds: Backgrounds | None = None,
        renderer: Renderer | None = None,
    ):
        self.config = config or SyntheticImageConfig()
        self.body = body
        self.keypoints = SyntheticKeypoints(body, poses, self.config.keypoints)
        self.painter = BodyPainter.from_body(body)
        self.backgrounds = backgrounds or Backgrounds.bundled(self.config.photo_probability)
        self._renderer = renderer
        self._owns_renderer = renderer is None
        self.topology = Topology(body.faces.cpu().numpy(), body.num_vertices)
        self.part_labels = part_labels(body.weights)

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the K labelled keypoints."""
        return self.keypoints.names

    @property
    def renderer(self) -> Renderer:
        if self._renderer is None:
            self._renderer = Renderer(samples=self.config.samples, supersample=self.config.supersample)
        return self._renderer

    def close(self) -> None:
        """Release the renderer made here."""
        if self._renderer is not None and self._owns_renderer:
            self._renderer.release()
            self._renderer = None

    def __enter__(self) -> SyntheticImages:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sample(self, count: int, generator: torch.Generator) -> list[ImageExample]:
        """``count`` examples; the same generator state always gives the same examples."""
        examples: list[ImageExample] = []
        for _ in range(100):
            if len(examples) >= count:
                return examples
            batch = self.keypoints.sample(math.ceil((count - len(examples)) * 1.25) + 2, generator)
            batch = batch[self.usable(batch)][: count - len(examples)]
            examples += self.render_batch(batch, generator)
        if len(examples) < count:
            raise ValueError(
                f"only {len(examples)} of {count} drawn examples had >= {self.config.min_visible} visible keypoints "
                f"and a box >= {self.config.min_box_size} px; loosen these settings or the camera ranges"
            )
        return examples

    def usable(self, batch: SyntheticBatch) -> torch.Tensor:
        """``(B,)`` bool: enough visible keypoints and a large enough box."""
        visible = (batch.clean_2d[..., 2] > 0).sum(-1)
        return (visible >= self.config.min_visible) & (batch.box_size >= self.config.min_box_size)

    @torch.no_grad()
    def render_batch(self, batch: SyntheticBatch, generator: torch.Generator) -> list[ImageExample]:
        """Render every example of a keypoint batch."""
        if not len(batch):
            return []
        vertices = self.body(batch.rotmats, batch.betas, batch.translation).vertices
        return [self._render_one(batch[i : i + 1], vertices[i], generator) for i in range(len(batch))]

    def _render_one(self, item: SyntheticBatch, vertices: torch.Tensor, generator: torch.Generator) -> ImageExample:
        cfg = self.config
        R = cfg.resolution
        size = item.image_size[0].tolist()
        center = item.box_center[0].tolist()
        side = float(item.box_size[0]) * cfg.context
        camera = Camera.from_focal(float(item.focal_length[0]), (int(size[0]), int(size[1]))).crop(center, side, R)
        mesh = Mesh(vertices, self.topology, colors=self.painter.sample(generator), labels=self.part_labels)
        light = sample_light(generator)
        background = self.backgrounds.sample(R, generator)
        out = self.renderer.render(mesh, camera, light=light, background=background, labels=cfg.part_labels)
        corner = np.array([center[0] - side / 2, center[1] - side / 2], dtype=np.float64)
        scale = R / side
        image, quality = self._finish(out.color, corner, scale, size, generator)
        labels = self._labels(item, camera, corner, scale)
        parts = out.labels.astype(np.int16) if out.labels is not None else None
        if parts is not None:
            parts[_outside_source(R, corner, scale, size)] = -1
        return ImageExample(image=image, labels=labels, jpeg_quality=quality, parts=parts)

    def _finish(
        self, image: np.ndarray, corner: np.ndarray, scale: float, size: list[float], generator: torch.Generator
    ) -> tuple[np.ndarray, int]:
        """Pixel noise, black outside the source image, a JPEG quality."""
        rng = numpy_rng(generator)
        std = rng.uniform(*self.config.noise_std)
        noisy = image.astype(np.float32) + rng.standard_normal(image.shape, dtype=np.float32) * np.float32(std)
        image = np.clip(noisy + 0.5, 0, 255).astype(np.uint8)
        image[_outside_source(image.shape[0], corner, scale, size)] = 0
        low, high = self.config.jpeg_quality
        return image, int(rng.integers(low, high + 1))

    def _labels(self, item: SyntheticBatch, camera: Camera, corner: np.ndarray, scale: float) -> dict[str, np.ndarray]:
        R = self.config.resolution

        def numpy(x: torch.Tensor) -> np.ndarray:
            return x[0].numpy().astype(np.float32)

        def move(points: np.ndarray, inside: bool = False) -> np.ndarray:
            """Source px -> stored px; with ``inside``, visible only inside the stored image."""
            xy = (points[:, :2] - corner) * scale
            confidence = points[:, 2:].copy()
            if inside:
                confidence *= ((xy >= 0) & (xy <= R)).all(-1, keepdims=True)
            return np.concatenate([xy * (confidence > 0), confidence], axis=1).astype(np.float32)

        return {
            "rotmats": numpy(item.rotmats),
            "betas": numpy(item.betas),
            "translation": numpy(item.translation),
            "focal_length": np.asarray(camera.focal_length, np.float32),
            "principal_point": np.asarray(camera.principal_point, np.float32),
            "image_size": np.asarray(camera.image_size, np.float32),
            "keypoints_2d": move(numpy(item.keypoints_2d)),
            "clean_2d": move(numpy(item.clean_2d), inside=True),
            "box_center": ((numpy(item.box_center) - corner) * scale).astype(np.float32),
            "box_size": np.float32(float(item.box_size[0]) * scale),
            "evidence": numpy(item.evidence),
            "target_2d": numpy(item.target_2d),
            "joints_3d": numpy(item.joints_3d),
            "keypoints_3d": numpy(item.keypoints_3d),
            "source_focal_length": np.float32(float(item.focal_length[0])),
            "source_image_size": numpy(item.image_size),
            "crop_corner": corner.astype(np.float32),
            "crop_scale": np.float32(scale),
        }


def _outside_source(resolution: int, corner: np.ndarray, scale: float, size: Any) -> np.ndarray:
    """``(R, R)`` bool: stored pixels whose centres fall outside the source image."""
    centers = (np.arange(resolution) + 0.5) / scale
    x = corner[0] + centers
    y = corner[1] + centers
    out_x = (x < 0) | (x > size[0])
    out_y = (y < 0) | (y > size[1])
    return out_y[:, None] | out_x[None, :]
