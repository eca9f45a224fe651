r"""The demo's inputs: photos, keypoint files of four formats, and their checks.

Photos are decoded with Pillow (EXIF orientation applied) to 8-bit RGB and, when larger
than ``max_size`` px on their long side, scaled down; keypoints are scaled with them.
16-bit photos are scaled to 8 bits (Pillow reads 16-bit grey as 0-65535), transparent
ones are put on white, and floating-point or 32-bit integer photos are refused.

Keypoint files (:func:`read_keypoint_file` tells them apart by content, `.npy` by name):

* **hmrflow keypoints JSON** (what the demo's detector writes, and the bundled example's
  precomputed detections ``<image stem>.keypoints.json``)::

      {"format": "hmrflow-keypoints", "version": 1, "image": "photo.jpg",
       "image_size": [W, H], "detector": "...", "keypoint_names": [23 names],
       "people": [{"keypoints": [[x, y, confidence] * 23]}]}

  It names its image and size, so a file paired with the wrong photo is caught.
* **OpenPose BODY_25 JSON** (one file per image).
* **NumPy arrays** ``.npy`` ``(P, K, 3)`` px and confidence, K = 25 (BODY_25), 17 (COCO-17)
  or 23 (the evidence order), as ``hmrflow fit`` reads them.
* **COCO keypoint JSON** (annotations with ``images``, or a results list); one file may
  hold many images, looked up by file name (results lists: by ``image_id``).

Keypoint values follow :func:`hmrflow.data.keypoint_files.check_keypoints` in every
format: confidences in [0, 1] (0: missing), finite coordinates for confident points, and
(checked against the photo) no confident point more than 10 image sizes off the photo.

Every error here is an :class:`~hmrflow.errors.InputError` (:class:`DemoInputError` or
:class:`~hmrflow.data.keypoint_files.KeypointFileError`) whose message names the file and
says what to do; the demo reports it and goes on with the other images.

Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.keypoints.json")
    >>> write_keypoints_json(path, "a.jpg", (64, 48), [np.ones((23, 3))], detector="test")
    >>> found = read_keypoint_file(path)
    >>> found.image_name, found.image_size, found.people[0].shape
    ('a.jpg', (64, 48), (23, 3))
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hmrflow.data.keypoint_files import (
    EVIDENCE_NAMES,
    KeypointFileError,
    body25_to_evidence,
    check_keypoints,
    coco17_to_evidence,
    read_coco_keypoints_json,
    read_keypoint_array,
    read_openpose_json,
)
from hmrflow.errors import InputError

__all__ = [
    "FORMAT",
    "DemoInputError",
    "KeypointFile",
    "Photo",
    "check_keypoints_fit_image",
    "GHOST_CONFIDENCE",
    "GHOST_INSIDE",
    "IMAGE_SUFFIXES",
    "MIN_KEYPOINTS",
    "drop_ghosts",
    "image_files",
    "inside_union",
    "keypoints_for_image",
    "read_keypoint_images",
    "usable_people",
    "load_photo",
    "read_keypoint_file",
    "sidecar_path",
    "write_keypoints_json",
]

#: The ``format`` value of hmrflow keypoint files.
FORMAT = "hmrflow-keypoints"


#: A person needs at least this many confident keypoints to be fitted (every command).
MIN_KEYPOINTS = 6


def usable_people(keypoints: np.ndarray, minimum: int = MIN_KEYPOINTS) -> np.ndarray:
    r"""``(P,)`` bool: the people of ``keypoints`` ``(P, K, 3)`` with at least ``minimum`` confident keypoints."""
    return (np.asarray(keypoints)[..., 2] > 0).sum(-1) >= minimum


class DemoInputError(InputError):
    """An input the demo cannot use (corrupt photo, no person, mismatched keypoints)."""


#: A detection whose box lies this much (share of its area) inside the other people's boxes ...
GHOST_INSIDE = 0.6
#: ... and whose confident keypoints' mean confidence is under this is a ghost (see :func:`drop_ghosts`).
GHOST_CONFIDENCE = 0.8


def drop_ghosts(
    boxes: np.ndarray, keypoints: np.ndarray, inside: float = GHOST_INSIDE, confidence: float = GHOST_CONFIDENCE
) -> np.ndarray:
    r"""``(P,)`` bool: the detections to keep, of ``boxes`` ``(P, 4)`` x0, y0, x1, y1 px and
    ``keypoints`` ``(P, K, 3)``.

    The look-mask-look detector sometimes reads a person out of the paint over people
    already found (a "ghost"): its box lies mostly over theirs and its keypoints are
    unsure. A detection is dropped when more than ``inside`` of its box's area lies inside
    the union of the other kept detections' boxes and the mean confidence of its confident
    keypoints is under ``confidence``. A real person partly hidden behind another keeps
    confident keypoints and stays. Measured on pose2sim Demo_MultiPerson (100 frame-views,
    ``benchmarks/bench_people_filter.py``): 3 of 10 ghosts dropped, 0 of 173 real people.

    Example:
        >>> boxes = np.array([[0.0, 0, 100, 300], [10, 20, 60, 200]])
        >>> sure, unsure = np.full((23, 3), 0.95), np.full((23, 3), 0.5)
        >>> drop_ghosts(boxes, np.stack([sure, unsure])).tolist(), drop_ghosts(boxes, np.stack([sure, sure])).tolist()
        ([True, False], [True, True])
    """
    boxes, keypoints = np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(keypoints, np.float64)
    keep = np.ones(len(boxes), bool)
    for i in range(len(boxes)):
        conf = keypoints[i, :, 2]
        if (conf[conf > 0].mean() if (conf > 0).any() else 0.0) >= confidence:
            continue
        others = [boxes[j] for j in range(len(boxes)) if j != i and keep[j]]
        keep[i] = inside_union(boxes[i], others) <= inside
    return keep


def inside_union(box: np.ndarray, others: list[np.ndarray]) -> float:
    """The share of ``box``'s area (x0, y0, x1, y1) inside the union of the ``others``.

    Example:
        >>> inside_union(np.array([0.0, 0, 4, 2]), [np.array([0.0, 0, 2, 2]), np.array([1.0, 0, 3, 1])])
        0.625
    """
    area = (box[2] - box[0]) * (box[3] - box[1])
    if not others or area <= 0:
        return 0.0
    clipped = [np.clip(o, [box[0], box[1], box[0], box[1]], [box[2], box[3], box[2], box[3]]) for o in others]
    xs, ys = np.unique([v for o in clipped for v in (o[0], o[2])]), np.unique([v for o in clipped for v in (o[1], o[3])])
    covered = 0.0
    for x0, x1 in zip(xs[:-1], xs[1:]):
        for y0, y1 in zip(ys[:-1], ys[1:]):
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            if any(o[0] <= cx <= o[2] and o[1] <= cy <= o[3] for o in clipped):
                covered += (x1 - x0) * (y1 - y0)
    return float(covered / area)


#: File suffixes taken as photos from a folder (``hmrflow demo photos/``).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def image_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Every image file in ``folder`` (not its subfolders; by suffix), sorted by name.

    Raises:
        DemoInputError: ``folder`` holds no image file.
    """
    folder = Path(folder)
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        kinds = ", ".join(IMAGE_SUFFIXES)
        raise DemoInputError(f"{folder}: no image file in this folder (looked for {kinds})")
    return found


@dataclass(frozen=True)
class Photo:
    r"""A decoded photo, or an image known only by its size (``hmrflow fit`` without ``--images``).

    Attributes:
        pixels: ``(H, W, 3)`` uint8 RGB, as processed (maybe scaled down); None: not seen.
        path: Where it came from (the keypoint file for an unseen image).
        scale: Processed size over the file's size (1 unless scaled down).
        known_size: ``(W, H)`` px of an unseen image (ignored when there are pixels).
    """

    pixels: np.ndarray | None
    path: Path
    scale: float = 1.0
    known_size: tuple[int, int] | None = None

    @classmethod
    def unseen(cls, path: Path, size: tuple[int, int]) -> Photo:
        """An image of ``size`` ``(W, H)`` px whose pixels are not at hand."""
        return cls(None, Path(path), 1.0, (int(size[0]), int(size[1])))

    @property
    def size(self) -> tuple[int, int]:
        """``(W, H)`` px of :attr:`pixels` (or :attr:`known_size`)."""
        if self.pixels is None:
            assert self.known_size is not None, "an unseen photo needs its size"
            return self.known_size
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])

    @property
    def original_size(self) -> tuple[int, int]:
        """``(W, H)`` px of the file."""
        return tuple(int(round(s / self.scale)) for s in self.size)  # type: ignore[return-value]


def load_photo(path: str | os.PathLike[str], max_size: int | None = None) -> Photo:
    """Decode ``path`` (any Pillow format) to RGB; scale it down to ``max_size`` px if larger.

    Raises:
        DemoInputError: Missing, unreadable, truncated or corrupt file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise DemoInputError(f"{path}: no such image file")
    try:
        with Image.open(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise DemoInputError(
            f"{path}: cannot read this image, the file is not an image or is corrupt ({error})"
        ) from None
    image = _rgb(image, path)
    scale = 1.0
    if max_size is not None and max(image.size) > max_size:
        scale = max_size / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        scale = size[0] / image.width
        image = image.resize(size, Image.Resampling.LANCZOS)
    return Photo(np.asarray(image, dtype=np.uint8).copy(), path, scale)


#: Pillow's modes of 16-bit grey pixels (0 - 65535).
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")


def _rgb(image: Any, path: Path) -> Any:
    """``image`` (a Pillow image of any mode) as 8-bit RGB; transparent pixels become white.

    Raises:
        DemoInputError: Floating-point or 32-bit pixels, or a mode Pillow cannot convert.
    """
    from PIL import Image

    if image.mode in _SIXTEEN_BIT or image.mode == "I":
        image = _eight_bit_grey(image, path)
    elif image.mode == "F":
        raise DemoInputError(f"{path}: floating-point pixels (mode F); save the photo as an 8- or 16-bit PNG or a JPEG")
    try:
        if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
        return image.convert("RGB")
    except ValueError as error:
        raise DemoInputError(f"{path}: cannot convert its {image.mode} pixels to RGB ({error})") from None


def _eight_bit_grey(image: Any, path: Path) -> Any:
    """16-bit grey (and 32-bit integer grey holding 8- or 16-bit values) -> 8-bit grey."""
    from PIL import Image

    values = np.asarray(image).astype(np.float64)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if low < 0 or high > 65535:
        raise DemoInputError(
            f"{path}: 32-bit pixels ({low:g} to {high:g}); save the photo with 8 or 16 bits per channel"
        )
    if image.mode in _SIXTEEN_BIT or high > 255:  # 16 bits, maybe in a 32-bit mode: 65535 -> 255
        values = values / 257.0
    return Image.fromarray(np.round(values).astype(np.uint8))


@dataclass(frozen=True)
class KeypointFile:
    r"""People read from a keypoint file, in the evidence order (COCO-17 + 6 foot points).

    Attributes:
        people: ``(23, 3)`` arrays, px of the image the file describes, and confidence.
        path: The file.
        kind: ``"hmrflow"``, ``"openpose"``, ``"coco"`` or ``"array"`` (``.npy``).
        image_name: The image the file says it describes (None if it does not say).
        image_size: ``(W, H)`` of that image (None if unknown).
        detector: What made the keypoints, if known.
    """

    people: list[np.ndarray]
    path: Path
    kind: str
    image_name: str | None = None
    image_size: tuple[int, int] | None = None
    detector: str | None = None


def sidecar_path(image: str | os.PathLike[str]) -> Path:
    """Where precomputed keypoints of ``image`` live: ``<stem>.keypoints.json`` beside it."""
    image = Path(image)
    return image.with_name(image.stem + ".keypoints.json")


def write_keypoints_json(
    path: str | os.PathLike[str],
    image_name: str,
    image_size: tuple[int, int],
    people: list[np.ndarray],
    detector: str,
    extra: list[dict] | None = None,
) -> None:
    r"""Write an hmrflow keypoints file: ``people`` ``(23, 3)`` px + confidence each.

    Arguments:
        extra: Per person, more fields to store (e.g. the detector's raw landmarks).
    """
    entries = []
    for i, person in enumerate(people):
        values = np.asarray(person, dtype=np.float64).reshape(len(EVIDENCE_NAMES), 3)
        entry: dict = {"keypoints": [[round(float(v), 3) for v in row] for row in values]}
        if extra is not None:
            entry.update(extra[i])
        entries.append(entry)
    data = {
        "format": FORMAT,
        "version": 1,
        "image": image_name,
        "image_size": [int(image_size[0]), int(image_size[1])],
        "detector": detector,
        "keypoint_names": list(EVIDENCE_NAMES),
        "people": entries,
    }
    Path(path).write_text(json.dumps(data, indent=1) + "\n")


def _read_hmrflow(data: dict, path: Path) -> KeypointFile:
    names = data.get("keypoint_names", list(EVIDENCE_NAMES))
    if list(names) != list(EVIDENCE_NAMES):
        raise DemoInputError(f"{path}: keypoint_names differ from hmrflow's evidence order {list(EVIDENCE_NAMES)}")
    people = []
    for i, person in enumerate(data.get("people", [])):
        try:
            values = np.asarray(person["keypoints"], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            raise DemoInputError(f"{path}: people[{i}] has no readable 'keypoints'") from None
        if values.shape != (len(EVIDENCE_NAMES), 3):
            raise DemoInputError(f"{path}: people[{i}].keypoints must be {len(EVIDENCE_NAMES)} (x, y, c) rows")
        people.append(check_keypoints(values, f"{path}: people[{i}].keypoints"))
    size = data.get("image_size")
    return KeypointFile(
        people,
        path,
        "hmrflow",
        image_name=data.get("image"),
        image_size=(int(size[0]), int(size[1])) if size else None,
        detector=data.get("detector"),
    )


def read_keypoint_file(path: str | os.PathLike[str], image_name: str | None = None) -> KeypointFile:
    """Read an hmrflow, OpenPose or COCO keypoint file (see the module docstring).

    Arguments:
        image_name: For COCO files with many images: the image to take (its file name).

    Raises:
        DemoInputError: Unreadable file, unknown format, or no entry for ``image_name``.
    """
    path = Path(path)
    if not path.is_file():
        raise DemoInputError(f"{path}: no such keypoint file")
    if path.suffix.lower() == ".npy":  # the arrays `hmrflow fit` reads
        try:
            return KeypointFile(list(read_keypoint_array(path)), path, "array")
        except KeypointFileError as error:
            raise DemoInputError(str(error)) from None
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DemoInputError(f"{path}: not valid JSON ({error})") from None
    except OSError as error:  # e.g. no permission: this photo fails, the others go on
        raise DemoInputError(f"{path}: cannot read this keypoint file ({error.strerror or error})") from None
    try:
        if isinstance(data, dict) and data.get("format") == FORMAT:
            return _read_hmrflow(data, path)
        if isinstance(data, dict) and "people" in data:
            people = [body25_to_evidence(p) for p in read_openpose_json(path)]
            return KeypointFile(people, path, "openpose", detector="OpenPose BODY_25")
        if isinstance(data, list) or (isinstance(data, dict) and "annotations" in data):
            return _read_coco(path, image_name)
    except KeypointFileError as error:
        raise DemoInputError(str(error)) from None
    raise DemoInputError(f"{path}: not a keypoint file hmrflow knows (hmrflow, OpenPose BODY_25 or COCO JSON, .npy)")


def _read_coco(path: Path, image_name: str | None) -> KeypointFile:
    images = read_coco_keypoints_json(path)
    if image_name is None:
        if len(images) != 1:
            raise DemoInputError(f"{path}: a COCO file with {len(images)} images; which image is meant?")
        image_name = next(iter(images))
    key = image_name if image_name in images else Path(image_name).name
    if key not in images:
        stem = Path(image_name).stem
        key = next((k for k in images if Path(k).stem == stem or k == stem), None)  # type: ignore[assignment]
    if key is None:
        listed = ", ".join(sorted(images)[:5]) + (" ..." if len(images) > 5 else "")
        raise DemoInputError(f"{path}: no keypoints for image {Path(image_name).name!r} (the file lists {listed})")
    return KeypointFile([coco17_to_evidence(p) for p in images[key]], path, "coco", image_name=key)


def check_keypoints_fit_image(found: KeypointFile, image: Path, image_size: tuple[int, int]) -> None:
    """Refuse keypoints made for another image: other name or size, or points off the image.

    Arguments:
        image: The photo's path; image_size: its ``(W, H)`` as in the file (before scaling).

    Raises:
        DemoInputError: The keypoints do not belong to this image.
        KeypointFileError: A confident point lies more than 10 image sizes off the image
            (:func:`~hmrflow.data.keypoint_files.check_keypoints`, as ``hmrflow fit`` checks).
    """
    hint = "is this the keypoint file of another image? (pass --keypoints files in the order of the images)"
    if found.image_name is not None and Path(found.image_name).stem != image.stem and found.kind == "hmrflow":
        raise DemoInputError(f"{found.path} holds the keypoints of {found.image_name!r}, not of {image.name!r}: {hint}")
    if found.image_size is not None and tuple(found.image_size) != tuple(image_size):
        raise DemoInputError(
            f"{found.path} was made for a {found.image_size[0]}x{found.image_size[1]} image, "
            f"{image.name} is {image_size[0]}x{image_size[1]}: {hint}"
        )
    if found.people:
        check_keypoints(np.stack(found.people), found.path, image_size)
    width, height = image_size
    margin = 0.05 * max(width, height)
    for i, person in enumerate(found.people):
        confident = person[:, 2] > 0
        x, y = person[confident, 0], person[confident, 1]
        outside = (x < -margin) | (x > width + margin) | (y < -margin) | (y > height + margin)
        if confident.any() and outside.mean() > 0.2:
            raise DemoInputError(
                f"{found.path}: {int(outside.sum())} of person {i}'s {int(confident.sum())} keypoints lie outside "
                f"the {width}x{height} image {image.name}: {hint}"
            )


def keypoints_for_image(path: str | os.PathLike[str], image: Path, image_size: tuple[int, int]) -> KeypointFile:
    """Read ``path`` for ``image`` (file size ``(W, H)``) and check that it belongs to it."""
    found = read_keypoint_file(path, image_name=image.name)
    check_keypoints_fit_image(found, image, image_size)
    return found


def read_keypoint_images(path: str | os.PathLike[str]) -> list[KeypointFile]:
    """Every image a keypoint file describes, one :class:`KeypointFile` each (a COCO file:
    one per image it lists, with the image's size when the file gives it; any other: one).

    Raises:
        DemoInputError: As :func:`read_keypoint_file`.
    """
    path = Path(path)
    if path.suffix.lower() != ".npy" and path.is_file():
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            data = None  # read_keypoint_file says why
        if isinstance(data, list) or (isinstance(data, dict) and "annotations" in data and data.get("format") != FORMAT):
            try:
                images = read_coco_keypoints_json(path)
            except KeypointFileError as error:
                raise DemoInputError(str(error)) from None
            sizes = _coco_image_sizes(data)
            return [
                KeypointFile([coco17_to_evidence(p) for p in people], path, "coco", name, sizes.get(name))
                for name, people in images.items()
            ]
    return [read_keypoint_file(path)]


def _coco_image_sizes(data: Any) -> dict[str, tuple[int, int]]:
    sizes = {}
    if isinstance(data, dict):
        for image in data.get("images", []) or []:
            if isinstance(image, dict) and {"file_name", "width", "height"} <= set(image):
                sizes[str(image["file_name"])] = (int(image["width"]), int(image["height"]))
    return sizes
