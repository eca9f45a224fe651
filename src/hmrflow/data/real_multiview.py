r"""``real-multiview-v1``: real people seen by four calibrated cameras, triangulated.

The set holds annotations only (no pixels): the 2D keypoints that mediapipe's BlazePose
found for two people in every view and frame of pose2sim's ``Demo_MultiPerson`` recording
(4 views, 1088 x 1920, 100 frames at 60 fps; a man on a treadmill and a woman in front of
it), the cameras, and the 3D joints triangulated from the views.
``scripts/make_real_multiview.py`` builds it from the pose2sim 0.10.49 wheel (BSD-3) that
``scripts/fetch_data.sh`` fetches; the file ships in ``hmrflow/assets/real/``.

Shapes: P = 2 people (0 the woman, 1 the man: ``person_names``), F = 100 frames, V = 4 views, K = 23
keypoints in the evidence order (:data:`~hmrflow.data.keypoint_files.EVIDENCE_NAMES`:
COCO-17, then left big toe, small toe, heel, right big toe, small toe, heel; BlazePose
has no small toes: they are always missing). Fields of :class:`RealMultiview`:

* ``keypoints_2d (P, F, V, K, 3)``: px (origin at the top-left corner of the image) and
  BlazePose's visibility as confidence; 0 where missing or not detected;
* ``keypoints_depth (P, F, V, K)``: BlazePose's relative depth of each keypoint, px
  (:func:`~hmrflow.application.detector.blazepose_depth`: its landmark ``z``, 0 at the hips'
  midpoint, positive away from the camera), NaN where the keypoint is missing (format 2);
* ``detected (P, F, V)``: the person was found in that view;
* ``boxes (P, F, V, 4)``: x0, y0, x1, y1 px of the detected person's 33 landmarks,
  clipped to the image; ``crops (P, F, V, 3)``: the crop x0, y0, side px it was found in;
* cameras: ``camera_names (V,)``, ``image_size (V, 2)`` (W, H), ``focal_length (V, 2)``,
  ``principal_point (V, 2)`` px, ``rotation (V, 3, 3)``, ``translation (V, 3)`` m
  (world -> camera ``X_c = R X_w + t``, OpenCV axes), ``distortion (V, 5)`` (k1, k2, p1,
  p2, k3 as calibrated; not applied: its effect, at most a few px, is under the detector's
  error and left the triangulation error unchanged);
* ``joints_3d (P, F, K, 3)``: metres, world frame (z up), NaN where not triangulated;
  ``joints_valid (P, F, K)``; ``joints_views (P, F, K, V)``: the views used;
* ``reprojection_error (P, F, V, K)``: px, in every view that saw the point (used or
  rejected), NaN elsewhere; ``threshold_px``: the largest error of a used view.

Every joint was triangulated by a confidence-weighted DLT from the views that saw it
(confidence > 0), the view with the largest reprojection error left out while that error
exceeded ``threshold_px`` (20 px) and more than two views remained
(:func:`~hmrflow.geometry.triangulation.triangulate_robust`). The ground truth therefore
carries the detector's own errors (a few px in every view); it is a consistency check
of real poses, not motion capture.

Example:
    >>> data = RealMultiview.load()
    >>> data.keypoints_2d.shape, data.joints_3d.shape, data.name
    ((2, 100, 4, 23, 3), (2, 100, 23, 3), 'real-multiview-v1')
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from hmrflow.data.keypoint_files import EVIDENCE_NAMES
from hmrflow.geometry.pinhole import PinholeCamera

__all__ = [
    "ASSET",
    "FORMAT_VERSION",
    "LIMB_JOINTS",
    "PERSON_NAMES",
    "SET_NAME",
    "STRAY_FRACTION",
    "RealMultiview",
    "array_fingerprint",
    "save_real_multiview",
]

SET_NAME = "real-multiview-v1"
FORMAT_VERSION = 2
PERSON_NAMES = ("woman", "man")
#: The shipped file.
ASSET = Path(str(resources.files("hmrflow") / "assets" / "real" / f"{SET_NAME}.npz"))
#: The 12 limb joints the evaluation uses (COCO names; the detector finds and the
#: triangulation recovers them best, and every body model defines them).
LIMB_JOINTS: tuple[str, ...] = (
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
#: A view's detection strays when one of its limb keypoints lies farther than this share of
#: the person's box height from the projection of the joint triangulated from all views
#: (:meth:`RealMultiview.stray_keypoints`): the detector put it on something else.
STRAY_FRACTION = 0.1


def array_fingerprint(arrays: dict[str, np.ndarray]) -> str:
    """A short SHA-256 of the named arrays (names, shapes, dtypes and bytes), ``fingerprint`` excluded."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        if name == "fingerprint":
            continue
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}{array.shape}{array.dtype.str}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def save_real_multiview(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` (the :class:`RealMultiview` fields) compressed, with their fingerprint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays, fingerprint=np.array(array_fingerprint(arrays)))
    return path


@dataclass(frozen=True)
class RealMultiview:
    r"""The set's arrays (shapes in the module docstring); text fields as ``str``/``tuple``."""

    name: str
    format_version: int
    source: str
    detector: str
    fingerprint: str
    person_names: tuple[str, ...]
    fps: float
    threshold_px: float
    camera_names: tuple[str, ...]
    image_size: np.ndarray
    focal_length: np.ndarray
    principal_point: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    distortion: np.ndarray
    calibration_rotation: np.ndarray
    calibration_translation: np.ndarray
    refined: np.ndarray
    keypoints_2d: np.ndarray
    keypoints_depth: np.ndarray
    detected: np.ndarray
    boxes: np.ndarray
    crops: np.ndarray
    joints_3d: np.ndarray
    joints_valid: np.ndarray
    joints_views: np.ndarray
    reprojection_error: np.ndarray

    @classmethod
    def load(cls, path: str | Path | None = None) -> RealMultiview:
        """Read the set (default: the shipped file); its fingerprint is checked.

        Raises:
            ValueError: The file's arrays do not match its fingerprint, or it lacks a field.
        """
        path = ASSET if path is None else Path(path)
        with np.load(path, allow_pickle=False) as file:
            arrays = {name: file[name] for name in file.files}
        missing = [f.name for f in fields(cls) if f.name not in arrays]
        if missing:
            raise ValueError(f"{path}: not a real multi-view set (no {', '.join(missing)})")
        if array_fingerprint(arrays) != str(arrays["fingerprint"]):
            raise ValueError(f"{path}: its arrays do not match its fingerprint (damaged or edited)")
        return cls(**{f.name: _field(arrays[f.name], f.type) for f in fields(cls)})

    @property
    def keypoint_names(self) -> tuple[str, ...]:
        """The K keypoint names (the evidence order)."""
        return EVIDENCE_NAMES

    def keypoints_with_depth(self) -> np.ndarray:
        """``(P, F, V, K, 4)`` the detections with BlazePose's relative depth px (NaN: none) as
        a fourth column, the keypoints :class:`~hmrflow.fitting.People` and the models read."""
        return np.concatenate([self.keypoints_2d, self.keypoints_depth[..., None]], -1)

    def camera_joints(self) -> np.ndarray:
        """``(P, F, V, K, 3)`` the 3D joints in each camera's frame (metres; NaN stays NaN)."""
        rotated = np.einsum("vij,pfkj->pfvki", self.rotation, self.joints_3d.astype(np.float64))
        return rotated + self.translation[None, None, :, None, :]

    def intrinsics(self, view: int | np.ndarray) -> PinholeCamera:
        r"""Camera(s) ``view`` (an index, or indices ``(B,)``) as a :class:`PinholeCamera` of
        their f_x, f_y, principal point and image size (no extrinsics), float32 on the CPU.

        Example:
            >>> RealMultiview.load().intrinsics(np.array([0, 3])).focal_length.shape
            torch.Size([2, 2])
        """

        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))

        return PinholeCamera(tensor(self.focal_length[view]), tensor(self.principal_point[view]),
                             tensor(self.image_size[view]))  # fmt: skip

    def projected(self) -> np.ndarray:
        """``(P, F, V, K, 2)`` the 3D joints projected into every view, px."""
        points = self.camera_joints()
        return points[..., :2] / points[..., 2:] * self.focal_length[:, None] + self.principal_point[:, None]

    def stray_keypoints(self, names: tuple[str, ...] = LIMB_JOINTS, fraction: float = STRAY_FRACTION) -> np.ndarray:
        r"""``(P, F, V, len(names))`` bool: the detected keypoint ``names[k]`` lies farther than
        ``fraction`` x the person's box height from its triangulated joint's projection
        (joints not triangulated are not judged).

        Example:
            >>> data = RealMultiview.load()
            >>> strays = data.stray_keypoints()
            >>> strays.shape, bool((strays.any(-1) <= data.detected).all())
            ((2, 100, 4, 12), True)
        """
        index = [self.keypoint_names.index(n) for n in names]
        detected = self.keypoints_2d[..., index, :]
        distance = np.linalg.norm(detected[..., :2] - self.projected()[..., index, :], axis=-1)
        judged = (detected[..., 2] > 0) & self.joints_valid[:, :, None, index] & self.detected[..., None]
        height = (self.boxes[..., 3] - self.boxes[..., 1])[..., None]
        return judged & (distance > fraction * height)

    def stray_views(self, names: tuple[str, ...] = LIMB_JOINTS, fraction: float = STRAY_FRACTION) -> np.ndarray:
        r"""``(P, F, V)`` bool: the view's detected keypoints ``names`` include a stray one
        (:meth:`stray_keypoints`).

        Example:
            >>> data = RealMultiview.load()
            >>> strays = data.stray_views()
            >>> strays.shape, bool((strays <= data.detected).all())
            ((2, 100, 4), True)
        """
        return self.stray_keypoints(names, fraction).any(-1)

    def error_summary(self, names: tuple[str, ...] = LIMB_JOINTS) -> dict[str, float]:
        """Reprojection errors of the used views and valid share of the joints ``names``."""
        index = [self.keypoint_names.index(n) for n in names]
        used = self.joints_views.transpose(0, 1, 3, 2)[..., index]  # (P, F, V, K')
        errors = self.reprojection_error[..., index]
        kept = errors[used]
        seen = self.keypoints_2d[..., index, 2] > 0
        return {
            "median_px": float(np.median(kept)),
            "mean_px": float(np.mean(kept)),
            "p90_px": float(np.percentile(kept, 90)),
            "max_px": float(np.max(kept)),
            "valid_fraction": float(self.joints_valid[..., index].mean()),
            "views_per_joint": float(used.sum(2).mean()),
            "rejected_fraction": float(1 - used.sum() / max(seen.sum(), 1)),
        }

    def summary(self) -> str:
        """A few lines for people: sizes, detections and errors."""
        P, F, V = self.detected.shape
        limb = self.error_summary()
        every = self.error_summary(tuple(n for n in self.keypoint_names if "small_toe" not in n))
        return "\n".join([
            f"{self.name} (fingerprint {self.fingerprint}): {P} people x {F} frames x {V} views",
            "detected per person (of F x V): " + ", ".join(
                f"{n} {int(self.detected[p].sum())}" for p, n in enumerate(self.person_names)),
            f"12 limb joints: valid {limb['valid_fraction']:.3f}, {limb['views_per_joint']:.2f} views each, "
            f"reprojection error of used views median {limb['median_px']:.1f} / mean {limb['mean_px']:.1f} / "
            f"p90 {limb['p90_px']:.1f} / max {limb['max_px']:.1f} px; "
            f"rejected observations {limb['rejected_fraction']:.3f}",
            f"21 points (no small toes): valid {every['valid_fraction']:.3f}, "
            f"median {every['median_px']:.1f} px, p90 {every['p90_px']:.1f} px",
        ])  # fmt: skip


def _field(value: np.ndarray, kind: object) -> object:
    """An npz array as the dataclass field's type (strings, tuples, numbers; arrays as they are)."""
    text = str(kind)
    if text == "str":
        return str(value)
    if text == "int":
        return int(value)
    if text == "float":
        return float(value)
    if text.startswith("tuple"):
        return tuple(str(v) for v in value)
    return value
