r"""Calibrated cameras, and the Qualisys ``.qca.txt`` calibration format.

A :class:`CalibratedCamera` maps the world to its image: ``X_c = R X_w + t`` (metres,
OpenCV camera axes: x right, y down, z forward), then ``u = f_x X_c,x / X_c,z + c_x``,
``v = f_y X_c,y / X_c,z + c_y`` in hmrflow's pixels (continuous, origin at the top-left
corner of the image; :mod:`hmrflow.geometry.cameras`). Lens distortion is kept as read
(``k1, k2, p1, p2, k3``, OpenCV's order) but not applied by hmrflow.

Qualisys (QTM) calibration files, as pose2sim's demos ship them: XML with one
``<camera serial=...>`` per camera, holding

* ``<fov_video left top right bottom>``: the image, pixel indices (inclusive), so
  ``W = right - left + 1``;
* ``<intrinsic focalLengthU/V centerPointU/V ...>`` in sub-pixel units of 1/64 px:
  ``f = focalLength / 64`` and ``c = centerPoint / 64 - fov offset`` (a pixel index,
  + 0.5 in hmrflow's continuous pixels);
* ``<transform r11 .. r33 x y z>``: the rotation ``M`` (rows ``r1*``, ``r2*``, ``r3*``)
  and the camera position in mm, with the camera's y and z axes opposite to OpenCV's:
  ``R = diag(1, -1, -1) M`` and ``t = diag(1, -1, -1) (-M pos / 1000)``.

(The conversion was checked by triangulation: the pose2sim demo's detections reproject
within a few pixels; see ``scripts/make_real_multiview.py``.)

Example:
    >>> text = '''<calibration><cameras><camera serial="cam01">
    ...   <fov_video left="0" top="0" right="1087" bottom="1919"/>
    ...   <transform r11="1" r12="0" r13="0" r21="0" r22="1" r23="0" r31="0" r32="0" r33="1"
    ...              x="0" y="0" z="-3000"/>
    ...   <intrinsic focalLengthU="64000" focalLengthV="64000" centerPointU="34816"
    ...              centerPointV="61440" radialDistortion1="0" radialDistortion2="0"
    ...              radialDistortion3="0" tangentalDistortion1="0" tangentalDistortion2="0"/>
    ... </camera></cameras></calibration>'''
    >>> camera = parse_qualisys(text)[0]
    >>> camera.name, camera.image_size, camera.focal_length.tolist(), camera.principal_point.tolist()
    ('cam01', (1088, 1920), [1000.0, 1000.0], [544.5, 960.5])
    >>> camera.translation.tolist()
    [0.0, 0.0, -3.0]
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["CalibratedCamera", "parse_qualisys", "read_qualisys", "stack_cameras"]

#: Qualisys stores focal lengths and principal points in 1/64 px.
SUBPIXELS = 64.0
_FLIP = np.diag([1.0, -1.0, -1.0])
_DISTORTION = ("radialDistortion1", "radialDistortion2", "tangentalDistortion1", "tangentalDistortion2",
               "radialDistortion3")  # fmt: skip


@dataclass(frozen=True)
class CalibratedCamera:
    r"""One calibrated camera (conventions in the module docstring).

    Attributes:
        name: The camera's name (Qualisys: its serial, e.g. ``"cam01"``).
        image_size: ``(W, H)`` px.
        focal_length: ``(2,)`` fx, fy px.
        principal_point: ``(2,)`` cx, cy px.
        rotation: ``(3, 3)`` world -> camera.
        translation: ``(3,)`` metres.
        distortion: ``(5,)`` k1, k2, p1, p2, k3 (not applied).
    """

    name: str
    image_size: tuple[int, int]
    focal_length: np.ndarray
    principal_point: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    distortion: np.ndarray

    @property
    def projection(self) -> np.ndarray:
        """``(3, 4)`` ``K [R | t]``."""
        K = np.array([[self.focal_length[0], 0.0, self.principal_point[0]],
                      [0.0, self.focal_length[1], self.principal_point[1]], [0.0, 0.0, 1.0]])  # fmt: skip
        return K @ np.hstack([self.rotation, self.translation[:, None]])


def _floats(element: ET.Element, keys: tuple[str, ...] | list[str]) -> np.ndarray:
    try:
        return np.array([float(element.attrib[key]) for key in keys])
    except KeyError as error:
        raise ValueError(f"Qualisys calibration: <{element.tag}> lacks {error.args[0]!r}") from None


def _child(camera: ET.Element, tag: str) -> ET.Element:
    found = camera.find(tag)
    if found is None:
        raise ValueError(f"Qualisys calibration: camera {camera.attrib.get('serial')!r} has no <{tag}>")
    return found


def _camera(element: ET.Element) -> CalibratedCamera:
    fov = _floats(_child(element, "fov_video"), ("left", "top", "right", "bottom"))
    transform = _child(element, "transform")
    intrinsic = _child(element, "intrinsic")
    m = _floats(transform, [f"r{i}{j}" for i in "123" for j in "123"]).reshape(3, 3)
    position = _floats(transform, ("x", "y", "z")) / 1000.0
    focal = _floats(intrinsic, ("focalLengthU", "focalLengthV")) / SUBPIXELS
    center = _floats(intrinsic, ("centerPointU", "centerPointV")) / SUBPIXELS - fov[:2] + 0.5
    return CalibratedCamera(
        name=element.attrib.get("serial", ""),
        image_size=(int(fov[2] - fov[0] + 1), int(fov[3] - fov[1] + 1)),
        focal_length=focal,
        principal_point=center,
        rotation=_FLIP @ m,
        translation=_FLIP @ (-m @ position),
        distortion=_floats(intrinsic, _DISTORTION),
    )


def parse_qualisys(text: str) -> list[CalibratedCamera]:
    r"""The cameras of a Qualisys ``.qca.txt`` document, in file order.

    Raises:
        ValueError: Not XML, no camera, or a camera without its fields.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise ValueError(f"Qualisys calibration: not XML ({error})") from None
    cameras = [_camera(element) for element in root.iter("camera")]
    if not cameras:
        raise ValueError("Qualisys calibration: no <camera>")
    return cameras


def read_qualisys(path: str | Path) -> list[CalibratedCamera]:
    """:func:`parse_qualisys` of a file."""
    return parse_qualisys(Path(path).read_text(encoding="ascii", errors="replace"))


def stack_cameras(cameras: list[CalibratedCamera]) -> dict[str, np.ndarray]:
    r"""V cameras -> arrays ``image_size (V, 2)``, ``focal_length (V, 2)``,
    ``principal_point (V, 2)``, ``rotation (V, 3, 3)``, ``translation (V, 3)``,
    ``distortion (V, 5)``, ``names (V,)``."""
    fields = ("image_size", "focal_length", "principal_point", "rotation", "translation", "distortion")
    arrays = {name: np.stack([np.asarray(getattr(c, name), dtype=np.float64) for c in cameras]) for name in fields}
    arrays["names"] = np.array([c.name for c in cameras])
    return arrays
