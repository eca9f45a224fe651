r"""Fitting bodies to keypoint files (``hmrflow fit`` and ``hmrflow fit-multiview``).

The keypoint files are read by the one reader (:func:`~hmrflow.application.inputs.read_keypoint_images`:
npy, OpenPose, COCO annotations and results, hmrflow JSON), people are kept by the one
filter (:func:`~hmrflow.application.inputs.usable_people`), cameras are
:class:`~hmrflow.geometry.PinholeCamera` (known ones in the calibration format of
:mod:`hmrflow.application.calibration`), and the fits are written with SMPL's names and the
camera (:func:`~hmrflow.application.outputs.camera_record`), meshes in the Y-up frame.

Outputs per image ``NAME``: ``NAME.json``, ``NAME.npz``, ``NAME_person<i>.obj`` and, when
the image and the renderer are there, ``NAME_fit.png``; multi-view: ``multiview.json``,
``.npz`` and ``.obj``.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hmrflow.application.inputs import KeypointFile, read_keypoint_images, usable_people
from hmrflow.application.outputs import camera_arrays, camera_record
from hmrflow.body.parameters import camera_to_y_up, parameter_arrays
from hmrflow.data.keypoint_files import check_keypoints
from hmrflow.errors import InputError
from hmrflow.fitting.keypoint_fit import BodyFit, People
from hmrflow.models import ProbabilisticHMR

__all__ = ["ImagePeople", "choose_person", "fit_record", "read_people", "usable", "write_fit", "write_multiview_fit",
           "write_obj"]  # fmt: skip

log = logging.getLogger(__name__)

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class ImagePeople:
    r"""The people of one image: keypoints ``(P, 23, 3)`` in the evidence order (checked values).

    Attributes:
        name: Output file names start with it; label: the input in messages (short);
        source: the input in errors (its path, and the image for COCO files).
        image_size: ``(W, H)`` px if known; image: the image file, if found.
    """

    name: str
    keypoints: np.ndarray
    image_size: tuple[int, int] | None
    image: Path | None
    label: str = ""
    source: str = ""


def _image_for(stem: str, images: Path | None) -> Path | None:
    if images is None:
        return None
    for candidate in sorted(images.glob(f"{stem}.*")):
        if candidate.suffix.lower() in _IMAGE_SUFFIXES:
            return candidate
    return None


def _image_size(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        log.warning("Pillow is not installed (pip install 'hmrflow[render]'); image sizes need --image-size")
        return None
    try:
        with Image.open(path) as image:
            return image.size
    except (UnidentifiedImageError, OSError) as error:
        raise InputError(f"{path}: cannot read the image's size ({error})") from None


def _stem(found: KeypointFile) -> str:
    """The image stem a keypoint file names: OpenPose's ``_keypoints``, hmrflow's ``.keypoints`` removed."""
    return found.path.stem.removesuffix("_keypoints").removesuffix(".keypoints")


def _image_people(found: KeypointFile, images: Path | None) -> ImagePeople:
    keypoints = np.stack(found.people) if found.people else np.zeros((0, 23, 3))
    if found.kind == "coco":
        name = str(found.image_name)
        image = images / name if images is not None and (images / name).is_file() else None
        size = found.image_size or _image_size(image)
        return ImagePeople(Path(name).stem, keypoints, size, image, f"{found.path.name} [{name}]",
                           f"{found.path} [{name}]")  # fmt: skip
    stem = _stem(found) if found.kind != "array" else found.path.stem
    image = _image_for(stem, images)
    size = found.image_size or _image_size(image)
    return ImagePeople(stem, keypoints, size, image, found.path.name, str(found.path))


def read_people(path: Path, images: Path | None) -> list[ImagePeople]:
    """The people of one keypoint file, per image (the one reader); errors name the file.

    Raises:
        InputError: Not a keypoint file, or invalid values (see ``hmrflow fit --help``).
    """
    return [_image_people(found, images) for found in read_keypoint_images(path)]


def usable(keypoints: np.ndarray, name: str) -> list[int]:
    """Indices of the people the one filter keeps (:func:`~hmrflow.application.inputs.usable_people`); warn about the rest."""
    keep = usable_people(keypoints)
    for i in np.flatnonzero(~keep):
        count = int((keypoints[i, :, 2] > 0).sum())
        log.warning("%s: person %d has %d usable keypoints (too few): skipped", name, i, count)
    return [int(i) for i in np.flatnonzero(keep)]


def checked_people(item: ImagePeople, image_size: list[int] | None) -> tuple[np.ndarray, tuple[int, int]]:
    """The item's keypoints checked against its image and that image's size.

    Raises:
        InputError: No image size is known, or a keypoint lies far outside the image.
    """
    size = item.image_size or (tuple(image_size) if image_size else None)
    if size is None:
        raise InputError(f"{item.source}: unknown image size: give --images or --image-size")
    return check_keypoints(item.keypoints, item.source, size), size  # type: ignore[return-value]


def choose_person(keypoints: np.ndarray, label: str, index: int | None) -> np.ndarray | None:
    """Person ``index`` if usable, else (no index) the usable one with the most confidence."""
    keep = usable(keypoints, label)
    if index is not None:
        return keypoints[index] if index in keep else None
    if not keep:
        return None
    scores = [keypoints[i][:, 2].sum() for i in keep]
    return keypoints[keep[int(np.argmax(scores))]]


def people_of(keypoints: np.ndarray, size: tuple[int, int], focal_length: float | None, device: Any,
              box_scale: float = 1.2) -> People:  # fmt: skip
    """:class:`~hmrflow.fitting.keypoint_fit.People` of keypoints ``(P, K, 3)`` in a ``size`` image."""
    kp = torch.as_tensor(keypoints, dtype=torch.float32, device=device)
    focal = None if focal_length is None else torch.tensor(focal_length, device=device)
    return People.from_keypoints(kp, torch.tensor(size, dtype=torch.float32, device=device), focal, box_scale)


# ---------------------------------------------------------------------------------- writing


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def fit_record(fit: BodyFit, people: People, index: list[int]) -> list[dict[str, Any]]:
    """JSON-ready parameters of each fitted person (SMPL's names, camera frame, the camera)."""
    named = parameter_arrays(fit.rotmats, fit.betas, fit.translation)
    cameras = people.camera.to("cpu")
    return [
        {
            "person": person,
            **{name: value[row].tolist() for name, value in named.items()},
            "camera": camera_record(cameras[row]),
            "reprojection_error_px": _finite(fit.reprojection_error[row]),
            "initial_error_px": _finite(fit.initial_error[row]),
            "stop_reason": fit.results[row].reason.value,
            "steps": fit.results[row].steps,
            "energy": fit.results[row].loss_history,
        }
        for row, person in enumerate(index)
    ]


def write_obj(path: Path, vertices: np.ndarray, faces: np.ndarray) -> None:
    """A plain Wavefront OBJ of camera-frame vertices, written in the Y-up frame of meshes (metres)."""
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in camera_to_y_up(vertices)]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    path.write_text("\n".join(lines) + "\n")


def write_fit(out: Path, name: str, fit: BodyFit, people: People, model: ProbabilisticHMR, index: list[int]) -> None:
    """``NAME.json``, ``NAME.npz`` and one OBJ per person."""
    summary = {
        "body_model": model.body.name,
        "people": fit_record(fit, people, index),
        "frame": "camera frame (OpenCV: y down), principal point at the image centre; OBJ meshes: (x, -y, -z), Y up",
    }
    (out / f"{name}.json").write_text(json.dumps(summary, indent=1))
    cameras = camera_arrays(people.camera.to("cpu"))
    np.savez(
        out / f"{name}.npz",
        **parameter_arrays(fit.rotmats, fit.betas, fit.translation),
        **{f"camera_{key}": value for key, value in cameras.items()},
        rotmats=fit.rotmats.cpu().numpy(),
        joints=fit.joints.cpu().numpy(),
        keypoints_2d=fit.keypoints_2d.cpu().numpy(),
        person=np.asarray(index),
    )
    faces = model.body.faces.cpu().numpy()
    for row, person in enumerate(index):
        write_obj(out / f"{name}_person{person}.obj", fit.vertices[row].cpu().numpy(), faces)


def render_fit(path: Path, image_path: Path | None, fit: BodyFit, people: People, model: ProbabilisticHMR) -> None:
    """Meshes over the image, when the image and the renderer are available."""
    if image_path is None:
        log.info("no image for %s: render skipped", path.name)
        return
    try:
        from PIL import Image

        from hmrflow.render.camera import Camera
        from hmrflow.render.figures import save_image
        from hmrflow.render.overlay import overlay_meshes, pose_meshes
    except ImportError as error:
        print(f"renders skipped: the renderer is not available ({error}); pip install 'hmrflow[render]'")
        return
    try:
        image = np.asarray(Image.open(image_path).convert("RGB"))
        faces = model.body.faces.cpu().numpy()
        meshes = [m for v in fit.vertices.cpu().numpy() for m in pose_meshes(v, faces)]
        camera = Camera.from_pinhole(people.camera[0].to("cpu"))
        save_image(overlay_meshes(image, meshes, camera), path)
    except Exception as error:  # noqa: BLE001 - no GPU/EGL, etc.: the fit itself is saved
        print(f"render skipped for {path.name}: {type(error).__name__}: {error}")


def write_multiview_fit(out: Path, fit: Any, names: list[str], calibrated: bool, model: ProbabilisticHMR,
                        cameras: Any = None) -> None:  # fmt: skip
    """``multiview.json``, ``.npz`` and ``.obj`` of one body fitted to several views."""
    from hmrflow.geometry import rotmat_to_rotvec

    with torch.no_grad():
        # Calibrated: the world translation; uncalibrated: none (view 0's frame, at its origin).
        transl = fit.translation if fit.translation.dim() == 2 else fit.betas.new_zeros(len(fit.betas), 3)
        body = model.body(fit.consensus, fit.betas, transl)
    named = parameter_arrays(fit.consensus[0], fit.betas[0], transl[0])
    record = {
        "views": names,
        "calibrated": calibrated,
        "body_model": model.body.name,
        **{name: value.tolist() for name, value in named.items()},
        "frame": "world" if calibrated else f"camera of {names[0]}",
        "view_poses_axis_angle": rotmat_to_rotvec(fit.rotmats[0]).tolist(),
        "stop_reason": fit.results[0].reason.value,
        "energy": fit.results[0].loss_history,
    }
    if cameras is not None:
        record["cameras"] = [camera_record(c) for c in cameras[0].to("cpu")]
    (out / "multiview.json").write_text(json.dumps(record, indent=1))
    np.savez(out / "multiview.npz", rotmats=fit.consensus[0].cpu().numpy(), betas=fit.betas[0].cpu().numpy(),
             view_rotmats=fit.rotmats[0].cpu().numpy(), joints=body.joints[0].cpu().numpy())  # fmt: skip
    write_obj(out / "multiview.obj", body.vertices[0].cpu().numpy(), model.body.faces.cpu().numpy())
