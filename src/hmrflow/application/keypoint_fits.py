r"""Fitting bodies to keypoint files (``hmrflow fit`` and ``hmrflow fit-multiview``).

The keypoint files are read by the one reader (:func:`~hmrflow.application.inputs.read_keypoint_images`:
npy, OpenPose, COCO annotations and results, hmrflow JSON), people are kept by the one
filter (:func:`~hmrflow.application.inputs.usable_people`), cameras are
:class:`~hmrflow.geometry.PinholeCamera` (known ones in the calibration format of
:mod:`hmrflow.application.calibration`), and the fits are written with SMPL's names and the
camera. What ``hmrflow fit`` reads goes through the demo's pipeline and writer
(:meth:`~hmrflow.application.pipeline.DemoPipeline.run_keypoints`); what
``hmrflow fit-multiview`` fits is written by
:func:`~hmrflow.application.multiview_outputs.write_multiview_body`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hmrflow.application.calibration import Intrinsics
from hmrflow.application.inputs import KeypointFile, read_keypoint_images, usable_people
from hmrflow.data.keypoint_files import check_keypoints
from hmrflow.errors import InputError
from hmrflow.fitting.people import People

__all__ = ["ImagePeople", "checked_people", "choose_person", "fit_views", "people_of", "read_people", "usable"]

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


def people_of(keypoints: np.ndarray, size: tuple[int, int], intrinsics: Intrinsics | None, device: Any,
              box_scale: float = 1.2) -> People:  # fmt: skip
    """:class:`~hmrflow.fitting.people.People` of keypoints ``(P, K, 3)`` in a ``size`` image
    seen with ``intrinsics`` (None: the default camera)."""
    from hmrflow.application.prediction import photo_camera

    kp = torch.as_tensor(keypoints, dtype=torch.float32, device=device)
    return People.from_camera(kp, photo_camera(size, intrinsics, len(kp), device), box_scale)


def fit_views(model: Any, views: list[People], names: list[str], cameras: list[dict[str, Any]] | None, out: Path,
              steps: int = 10, reprojection: bool = True, drop_hips: bool = False) -> None:  # fmt: skip
    r"""Fit one body to ``views`` (one person each, named ``names``) and write it into ``out``.

    ``cameras``: one calibration entry per view (the format of
    :func:`~hmrflow.application.calibration.read_camera_list`): one body in the world; None:
    uncalibrated (each view keeps its latent, the body in view 0's camera frame).
    """
    from hmrflow.application.calibration import camera_list_cameras
    from hmrflow.application.multiview_outputs import write_multiview_body
    from hmrflow.fitting.lbfgs import StopRules
    from hmrflow.fitting.multiview import MultiViewConfig, fit_multiview, fit_multiview_calibrated
    from hmrflow.geometry import rotmat_to_rotvec

    config = MultiViewConfig(rules=StopRules(max_steps=steps), reprojection=reprojection, drop_hips=drop_hips)
    calibrated = cameras is not None
    world = None
    if calibrated:
        world = camera_list_cameras(cameras, torch.cat([view.image_size for view in views]))
        fit = fit_multiview_calibrated(model, views, world, config)
    else:
        fit = fit_multiview(model, views, config)
    # calibrated: the world translation; uncalibrated: none (view 0's frame, at its origin)
    translation = fit.translation[0] if calibrated else fit.betas.new_zeros(3)
    report = {"calibrated": calibrated, "stop_reason": fit.results[0].reason.value, "steps": fit.results[0].steps,
              "energy": fit.results[0].loss_history,
              "view_poses_axis_angle": rotmat_to_rotvec(fit.rotmats[0].detach().cpu()).tolist()}  # fmt: skip
    write_multiview_body(out, model.body, fit.consensus[0].cpu(), fit.betas[0].cpu(), translation.cpu(), names,
                         "world" if calibrated else f"camera of {names[0]}",
                         None if world is None else world[0], report)  # fmt: skip
