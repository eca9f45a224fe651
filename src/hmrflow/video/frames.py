r"""Frames of a video file or of a folder of pictures, read lazily, with their frame rate.

:func:`open_frames` checks its input at once (readable, at least one frame, a frame rate)
and raises :class:`VideoInputError` (an :class:`~hmrflow.errors.InputError`) naming the
file and the problem; iterating then decodes one frame at a time (every iteration starts
again at the first frame), so a long clip never sits in memory.

* Video files are decoded with OpenCV (the ``opencv-python-headless`` wheel, Apache-2.0,
  whose bundled FFmpeg is LGPL-2.1; the ``video`` extra). The rotation a phone stores in
  the file is applied. The frame rate is the container's; frame counts of some containers
  are estimates, so ``count`` is the number the container states (None when it states
  none), and iteration ends where decoding ends.
* A folder holds one picture per frame (``.jpg``, ``.jpeg``, ``.png``, ``.bmp``,
  ``.webp``, ``.tif``, ``.tiff``), in natural order of the names (``frame2`` before
  ``frame10``), read with Pillow; all must have the size of the first. A folder states no
  frame rate: pass ``fps`` (default :data:`FOLDER_FPS`).

Frames are :class:`Frame` records: the index, the time in seconds and the RGB image
``(H, W, 3)`` uint8.

Example (a folder of three pictures):
    >>> import tempfile
    >>> from PIL import Image
    >>> folder = Path(tempfile.mkdtemp())
    >>> for i in (1, 2, 10):
    ...     Image.new("RGB", (8, 6), (i, 0, 0)).save(folder / f"frame{i}.png")
    >>> frames = open_frames(folder, fps=25)
    >>> frames.size, frames.count, frames.fps
    ((8, 6), 3, 25.0)
    >>> [(f.index, f.time, int(f.image[0, 0, 0])) for f in frames]
    [(0, 0.0, 1), (1, 0.04, 2), (2, 0.08, 10)]
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hmrflow.errors import InputError

__all__ = ["FOLDER_FPS", "IMAGE_SUFFIXES", "Frame", "FrameSource", "VideoInputError", "open_frames"]

#: Frame rate of a folder of pictures when none is given.
FOLDER_FPS = 30.0
#: Picture files a folder of frames may hold (other files are ignored).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


class VideoInputError(InputError):
    """A video or folder of frames that cannot be used; the message names it and says why."""


@dataclass(frozen=True)
class Frame:
    """One frame: ``index`` from 0, ``time`` in seconds (index / fps), ``image`` ``(H, W, 3)`` uint8 RGB."""

    index: int
    time: float
    image: np.ndarray


@dataclass(frozen=True)
class FrameSource:
    r"""The frames of a video file or a folder; iterate for :class:`Frame` s (lazily).

    Attributes:
        path: The video file or folder.
        fps: Frames per second.
        size: (W, H) px of every frame.
        count: Frames the source states (a folder: its pictures; a video: the container's
            count, None when it has none).
        kind: ``"video"`` or ``"folder"``.
        files: The pictures of a folder, in order (empty for a video).
    """

    path: Path
    fps: float
    size: tuple[int, int]
    count: int | None
    kind: str
    files: tuple[Path, ...] = ()

    def __iter__(self) -> Iterator[Frame]:
        images = _folder_images(self) if self.kind == "folder" else _video_images(self.path)
        for index, image in enumerate(images):
            yield Frame(index, index / self.fps, image)


def open_frames(path: str | os.PathLike[str], fps: float | None = None) -> FrameSource:
    r"""Open a video file or a folder of pictures (module docstring), checking it now.

    Arguments:
        path: A video file or a folder of pictures.
        fps: Frames per second: required for nothing, used for folders (default
            :data:`FOLDER_FPS`) and, when given, in place of a video's own rate.

    Raises:
        VideoInputError: The path is missing, not a video, holds no frame, or states no
            usable frame rate; a folder holds no picture or an unreadable one.
    """
    path = Path(path)
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise VideoInputError(f"{path}: the frame rate must be a positive number, got {fps}")
    if path.is_dir():
        return _open_folder(path, FOLDER_FPS if fps is None else float(fps))
    if not path.is_file():
        raise VideoInputError(f"{path}: no such video file or folder of frames")
    return _open_video(path, fps)


def _natural_key(path: Path) -> list[Any]:
    """``frame10`` after ``frame2``: digits compared as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _open_folder(path: Path, fps: float) -> FrameSource:
    files = tuple(sorted((p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                        key=_natural_key))  # fmt: skip
    if not files:
        raise VideoInputError(f"{path}: the folder holds no pictures ({', '.join(IMAGE_SUFFIXES)}): no frames")
    size = _read_picture(files[0]).shape[1::-1]
    return FrameSource(path, fps, (int(size[0]), int(size[1])), len(files), "folder", files)


def _read_picture(path: Path) -> np.ndarray:
    r"""A picture as ``(H, W, 3)`` uint8 RGB."""
    try:
        from PIL import Image, ImageOps
    except ImportError as error:  # pragma: no cover - Pillow comes with the dev, render and train extras
        raise VideoInputError("reading a folder of frames needs Pillow: pip install 'hmrflow[render]'") from error
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                return np.repeat((np.asarray(image, dtype=np.float64) / 257).round().astype(np.uint8)[..., None], 3, -1)
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError) as error:
        raise VideoInputError(f"{path}: cannot read the picture ({error})") from error


def _folder_images(source: FrameSource) -> Iterator[np.ndarray]:
    for file in source.files:
        image = _read_picture(file)
        if image.shape[1::-1] != source.size:
            raise VideoInputError(f"{file}: {image.shape[1]} x {image.shape[0]} px, but the first frame of "
                                  f"{source.path} is {source.size[0]} x {source.size[1]}: frames must share one size")  # fmt: skip
        yield image


def _cv2() -> Any:
    try:
        import cv2
    except ImportError as error:
        raise VideoInputError("reading video files needs OpenCV: pip install 'hmrflow[video]' "
                              "(opencv-python-headless)") from error  # fmt: skip
    return cv2


def _capture(path: Path) -> Any:
    cv2 = _cv2()
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoInputError(f"{path}: not a video that can be read (unknown format or damaged file)")
    return capture


def _open_video(path: Path, fps: float | None) -> FrameSource:
    cv2 = _cv2()
    capture = _capture(path)
    try:
        ok, image = capture.read()
        if not ok or image is None:
            raise VideoInputError(f"{path}: the video holds no frame that can be decoded (empty or damaged)")
        stated = capture.get(cv2.CAP_PROP_FPS)
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()
    if fps is None:
        if not (math.isfinite(stated) and stated > 0):
            raise VideoInputError(f"{path}: the video states no frame rate; give one (fps)")
        fps = stated
    return FrameSource(path, float(fps), (image.shape[1], image.shape[0]), count if count > 0 else None, "video")


def _video_images(path: Path) -> Iterator[np.ndarray]:
    cv2 = _cv2()
    capture = _capture(path)
    try:
        while True:
            ok, image = capture.read()
            if not ok or image is None:
                return
            yield cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
