r"""Known cameras: the calibration format, and the reader of the bundled multi-view demo's file.

**The calibration format** (``hmrflow fit-multiview --calibration``, :func:`read_camera_list`):
a JSON list with one camera per view, in the order of the views::

    [{"R": 3x3 world -> camera, "t": [3] metres, "f": px or [fx, fy], "c": [cx, cy] px}, ...]

``X_c = R X_w + t``, OpenCV axes, pixels from the top-left corner of the image; the image
size is the view's. Both become one :class:`~hmrflow.geometry.PinholeCamera` per view.

**The bundled demo's files** (JSON, :meth:`Calibration.from_file`): ``{"cameras": {"<view name>":
{"image_size": [W, H], "focal_length": [fx, fy], "principal_point": [cx, cy],
"rotation": 3x3, "translation": [3]}}}``, world -> camera ``X_c = R X_w + t`` in metres,
OpenCV axes; the view name is the photo's file stem. The bundled one is the pose2sim
demo's Qualisys calibration, converted by ``scripts/make_demo_assets.py``.

**Known intrinsics of single photos** (``--intrinsics`` of every command, :func:`parse_intrinsics`):
a focal length in px (``1500``), ``fx,fy,cx,cy`` px, or a file: JSON ``{"K": 3x3}`` or a
3x3 text matrix. :class:`Intrinsics` makes the :class:`~hmrflow.geometry.PinholeCamera`
of an image; a given principal point replaces the image centre.

Example:
    >>> parse_intrinsics("1500")
    Intrinsics(fx=1500.0, fy=1500.0, cx=None, cy=None)
    >>> parse_intrinsics("1400,1410,500.5,960").camera(torch.tensor([1088.0, 1920.0])).principal_point
    tensor([500.5000, 960.0000])
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from hmrflow.application.inputs import DemoInputError
from hmrflow.errors import InputError
from hmrflow.geometry.pinhole import PinholeCamera

__all__ = ["Calibration", "Intrinsics", "IntrinsicsError", "camera_list_cameras", "parse_intrinsics",
           "read_camera_list"]  # fmt: skip


class IntrinsicsError(InputError):
    """A focal length, ``fx,fy,cx,cy`` or intrinsics file that cannot be used."""


@dataclass(frozen=True)
class Intrinsics:
    r"""Known intrinsics of a camera: focal lengths px and, if known, the principal point px.

    Attributes:
        fx, fy: Focal lengths px (> 0). cx, cy: Principal point px (None: the image centre).
    """

    fx: float
    fy: float
    cx: float | None = None
    cy: float | None = None

    def __post_init__(self) -> None:
        values = [self.fx, self.fy] + [v for v in (self.cx, self.cy) if v is not None]
        if not all(np.isfinite(values)) or min(self.fx, self.fy) <= 0:
            raise IntrinsicsError(f"intrinsics need finite values and focal lengths > 0, got {values}")
        if (self.cx is None) != (self.cy is None):
            raise IntrinsicsError("give both coordinates of the principal point (cx, cy) or neither")

    def camera(self, image_size: Tensor) -> PinholeCamera:
        r"""The camera ``(...)`` of images ``(..., 2)`` (W, H) px: these intrinsics, the principal
        point at the image centre unless given."""
        image_size = torch.as_tensor(image_size)
        if not image_size.is_floating_point():
            image_size = image_size.to(torch.get_default_dtype())

        def pair(x: float, y: float) -> Tensor:
            values = torch.tensor([x, y], dtype=image_size.dtype, device=image_size.device)
            return values.expand(image_size.shape).clone()

        point = image_size / 2 if self.cx is None else pair(self.cx, self.cy)  # type: ignore[arg-type]
        return PinholeCamera(pair(self.fx, self.fy), point, image_size.clone())


def parse_intrinsics(text: str) -> Intrinsics:
    """``--intrinsics`` (or ``--focal-length``): ``F``, ``fx,fy,cx,cy``, or a file (JSON
    ``{"K": 3x3}`` or a 3x3 text matrix).

    Raises:
        IntrinsicsError: Anything else, a missing or unreadable file, or bad values.
    """
    text = str(text).strip()
    parts = [p for p in text.replace(" ", ",").split(",") if p]
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = None
    if numbers is not None and len(numbers) == 1:
        return Intrinsics(numbers[0], numbers[0])
    if numbers is not None and len(numbers) == 4:
        return Intrinsics(*numbers)
    if numbers is not None:
        raise IntrinsicsError(f"{text!r}: give one focal length, or fx,fy,cx,cy (4 numbers), not {len(numbers)}")
    return _intrinsics_file(Path(text))


def _intrinsics_file(path: Path) -> Intrinsics:
    if not path.is_file():
        raise IntrinsicsError(f"{path}: neither a number, nor fx,fy,cx,cy, nor an intrinsics file")
    try:
        content = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise IntrinsicsError(f"{path}: cannot read this intrinsics file ({error})") from None
    try:
        data = json.loads(content)
        matrix = data["K"] if isinstance(data, dict) else data
    except json.JSONDecodeError:
        matrix = content.replace(",", " ").split()
    except (KeyError, TypeError):
        raise IntrinsicsError(f'{path}: a JSON intrinsics file holds {{"K": 3x3}}') from None
    try:
        k = np.asarray(matrix, dtype=np.float64).reshape(3, 3)
    except (ValueError, TypeError):
        raise IntrinsicsError(f"{path}: the intrinsics matrix K must be 3x3 numbers") from None
    if abs(k[0, 1]) > 1e-6 * abs(k[0, 0]) or np.abs(k[2] - (0, 0, 1)).max() > 1e-9 or k[1, 0] != 0:
        raise IntrinsicsError(f"{path}: K must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] (no skew), got {k.tolist()}")
    return Intrinsics(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]))


@dataclass(frozen=True)
class Calibration:
    r"""Known pinhole cameras, by view name.

    Attributes:
        names: V view names; rotation: ``(V, 3, 3)``; translation: ``(V, 3)`` metres;
        focal_length: ``(V, 2)`` px; principal_point: ``(V, 2)`` px;
        image_size: ``(V, 2)`` (W, H) px.
    """

    names: tuple[str, ...]
    rotation: np.ndarray
    translation: np.ndarray
    focal_length: np.ndarray
    principal_point: np.ndarray
    image_size: np.ndarray

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Calibration:
        """Read a calibration JSON file (see the module docstring)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            cams = data["cameras"]
            names = tuple(cams)
            return cls(
                names,
                np.array([cams[n]["rotation"] for n in names], np.float64).reshape(-1, 3, 3),
                np.array([cams[n]["translation"] for n in names], np.float64).reshape(-1, 3),
                np.array([cams[n]["focal_length"] for n in names], np.float64).reshape(-1, 2),
                np.array([cams[n]["principal_point"] for n in names], np.float64).reshape(-1, 2),
                np.array([cams[n]["image_size"] for n in names], np.int64).reshape(-1, 2),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DemoInputError(f"{path}: not a calibration file ({type(error).__name__}: {error})") from None

    def select(self, names: list[str]) -> Calibration:
        """The cameras of ``names``, in that order."""
        missing = [n for n in names if n not in self.names]
        if missing:
            raise DemoInputError(f"the calibration has no camera named {missing} (it has {list(self.names)})")
        index = [self.names.index(n) for n in names]
        return Calibration(tuple(names), self.rotation[index], self.translation[index],
                           self.focal_length[index], self.principal_point[index], self.image_size[index])  # fmt: skip

    def cameras(self, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> PinholeCamera:
        """The :class:`~hmrflow.geometry.PinholeCamera` of one instant: batch shape ``(1, V)``."""

        def t(a: np.ndarray) -> Tensor:
            return torch.as_tensor(a, dtype=dtype, device=device)[None]

        return PinholeCamera(t(self.focal_length), t(self.principal_point), t(self.image_size), t(self.rotation),
                             t(self.translation))  # fmt: skip


def read_camera_list(path: str | os.PathLike[str], count: int) -> list[dict[str, np.ndarray]]:
    """The cameras of ``count`` views in the calibration format (see the module docstring).

    Returns one ``{"R", "t", "f", "c"}`` per view, as float arrays (``f``: ``(2,)`` fx, fy).

    Raises:
        OSError: The file cannot be read.
        InputError: Not JSON, another number of cameras, or a camera with missing,
            misshaped or non-finite values; the message names the file and the camera.
    """
    try:
        entries = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"--calibration {path}: not valid JSON ({error})") from None
    if not isinstance(entries, list) or len(entries) != count:
        raise InputError(f"--calibration {path}: expected a list of {count} cameras (one per view file)")
    shapes = {"R": (3, 3), "t": (3,), "c": (2,)}
    cameras = []
    for i, entry in enumerate(entries):
        try:
            camera = {key: np.asarray(entry[key], dtype=np.float64).reshape(shape) for key, shape in shapes.items()}
            camera["f"] = np.broadcast_to(np.asarray(entry["f"], dtype=np.float64).reshape(-1), (2,)).copy()
        except (KeyError, TypeError, ValueError, IndexError):
            raise InputError(
                f"--calibration {path}: camera {i} needs R (3x3), t (3), f (a number or [fx, fy]) and c (2)"
            ) from None
        if not all(np.isfinite(v).all() for v in camera.values()) or (camera["f"] <= 0).any():
            raise InputError(f"--calibration {path}: camera {i} has non-finite values or a focal length <= 0")
        cameras.append(camera)
    return cameras


def camera_list_cameras(entries: list[dict[str, np.ndarray]], image_size: Tensor) -> PinholeCamera:
    """:func:`read_camera_list`'s entries of V views with their image sizes ``(V, 2)``: batch shape ``(1, V)``."""

    def stack(key: str) -> Tensor:
        return torch.as_tensor(np.stack([e[key] for e in entries]), dtype=image_size.dtype, device=image_size.device)

    return PinholeCamera(stack("f")[None], stack("c")[None], image_size[None], stack("R")[None], stack("t")[None])
