r"""Readers for 2D keypoint files, and the mapping to the model's evidence order.

* OpenPose BODY_25 JSON (one file per image, ``--write_json``):
  :func:`read_openpose_json` gives one ``(25, 3)`` array (x px, y px, confidence) per person.
* COCO person-keypoint JSON (an annotation file with ``images`` and ``annotations``, or a
  results list): :func:`read_coco_keypoints_json` gives, per image file name, one
  ``(17, 3)`` array per person.

* NumPy arrays (``.npy``): :func:`read_keypoint_array` gives ``(P, 23, 3)`` in the
  evidence order from ``(P, 25, 3)`` BODY_25, ``(P, 17, 3)`` COCO-17 or ``(P, 23, 3)``.

Every reader checks the values with :func:`check_keypoints`, the same rules for every
format (and the demo and ``hmrflow fit`` check again against the image's size):

* a confidence is a number in [0, 1]; 0 means the keypoint is missing (COCO annotation
  files hold visibility flags 0, 1, 2 instead: labelled points get confidence 1);
* a missing keypoint's coordinates are ignored, NaN included, and set to 0;
* a keypoint with a positive confidence has finite coordinates (NaN or infinity there
  is an error), within :data:`IMAGE_MARGIN` image sizes of the image when its size is known.

All raise :class:`KeypointFileError` (an :class:`~hmrflow.errors.InputError`) naming the
file and the value for corrupt content, wrong lengths and invalid values; a missing file
raises ``FileNotFoundError``.

The keypoint models take evidence in the order :data:`EVIDENCE_NAMES`: COCO-17, then
the six foot points of OpenPose/Anny (left big toe, left small toe, left heel, right big
toe, right small toe, right heel) -- the body model's ``("coco", "feet")`` keypoint sets.
:func:`body25_to_evidence` and :func:`coco17_to_evidence` convert (missing points get
confidence 0 and coordinates 0).

Example:
    >>> kp = np.zeros((25, 3)); kp[0] = (10.0, 20.0, 0.9)   # BODY_25 nose
    >>> body25_to_evidence(kp)[0].tolist()
    [10.0, 20.0, 0.9]
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hmrflow.body.keypoints import BODY_25, COCO_17
from hmrflow.errors import KeypointFileError

__all__ = [
    "EVIDENCE_NAMES",
    "FEET_6",
    "IMAGE_MARGIN",
    "KeypointFileError",
    "body25_to_evidence",
    "check_keypoints",
    "coco17_to_evidence",
    "read_coco_keypoints_json",
    "read_keypoint_array",
    "read_openpose_json",
    "reorder_keypoints",
]

#: The body model's ``"feet"`` keypoint set, in its order (checked against the shipped model).
FEET_6: tuple[str, ...] = (
    "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)  # fmt: skip

#: The keypoint models' evidence order: COCO-17 then :data:`FEET_6` (K = 23).
EVIDENCE_NAMES: tuple[str, ...] = COCO_17 + FEET_6

#: Confident keypoints may lie at most this many image sizes (the longer side) outside
#: the image; farther is a unit or pairing mistake, not a keypoint.
IMAGE_MARGIN = 10


def _keypoint_name(index: int, count: int) -> str:
    """The name of keypoint ``index`` of a ``count``-keypoint layout (its number if unknown)."""
    names = {len(BODY_25): BODY_25, len(COCO_17): COCO_17, len(EVIDENCE_NAMES): EVIDENCE_NAMES}.get(count)
    return f"keypoint {index} ({names[index]})" if names else f"keypoint {index}"


def _where(people: np.ndarray, mask: np.ndarray, single: bool) -> tuple[str, np.ndarray]:
    """Which keypoint the first true entry of ``mask (P, K)`` is, and its ``(x, y, c)``."""
    person, index = (int(i) for i in np.argwhere(mask)[0])
    name = _keypoint_name(index, people.shape[1])
    return (name if single else f"person {person}, {name}"), people[person, index]


def check_keypoints(
    keypoints: np.ndarray, source: str | os.PathLike[str], image_size: tuple[int, int] | None = None
) -> np.ndarray:
    r"""Check keypoints ``(K, 3)`` or ``(P, K, 3)`` (x px, y px, confidence) by the module's rules.

    Arguments:
        source: Named in errors (the file, maybe with the entry).
        image_size: ``(W, H)`` px, to check the keypoints lie near the image.

    Returns:
        A float64 copy in which missing keypoints (confidence 0) have coordinates 0.

    Raises:
        KeypointFileError: A confidence outside [0, 1], a confident keypoint with
            non-finite coordinates or far outside the image; the message names ``source``.
    """
    array = np.array(keypoints, dtype=np.float64)
    if array.ndim not in (2, 3) or array.shape[-1] != 3:
        raise KeypointFileError(f"{source}: expected keypoints of shape (K, 3) or (P, K, 3), got {array.shape}")
    people = array if array.ndim == 3 else array[None]
    _check_confidences(people, source, array.ndim == 2)
    people[people[..., 2] == 0, :2] = 0.0
    _check_coordinates(people, source, array.ndim == 2, image_size)
    return people if array.ndim == 3 else people[0]


def _check_confidences(people: np.ndarray, source: str | os.PathLike[str], single: bool) -> None:
    confidence = people[..., 2]
    if not np.isfinite(confidence).all():
        where, value = _where(people, ~np.isfinite(confidence), single)
        raise KeypointFileError(f"{source}: {where} has confidence {value[2]}; confidences must be numbers in [0, 1]")
    if confidence.size and (confidence.min() < 0 or confidence.max() > 1):
        raise KeypointFileError(
            f"{source}: keypoint confidences must lie in [0, 1] (0: missing), "
            f"found {confidence.min():g} to {confidence.max():g}"
        )


def _check_coordinates(
    people: np.ndarray, source: str | os.PathLike[str], single: bool, image_size: tuple[int, int] | None
) -> None:
    confident = people[..., 2] > 0
    broken = confident & ~np.isfinite(people[..., :2]).all(-1)
    if broken.any():
        where, (x, y, c) = _where(people, broken, single)
        raise KeypointFileError(
            f"{source}: {where} has confidence {c:g} but coordinates ({x:g}, {y:g}); a keypoint with a "
            "positive confidence needs finite x and y (give a missing keypoint confidence 0)"
        )
    if image_size is None:
        return
    width, height = image_size
    margin = IMAGE_MARGIN * max(width, height)
    x, y = people[..., 0], people[..., 1]
    far = confident & ((x < -margin) | (x > width + margin) | (y < -margin) | (y > height + margin))
    if far.any():
        where, (x, y, _) = _where(people, far, single)
        raise KeypointFileError(
            f"{source}: {where} lies at ({x:g}, {y:g}) px, more than {IMAGE_MARGIN} image sizes outside "
            f"the {width}x{height} image (are the keypoints in pixels of this image?)"
        )


def reorder_keypoints(
    keypoints: np.ndarray, source_names: Sequence[str], target_names: Sequence[str]
) -> np.ndarray:
    r"""Keypoints ``(..., K_src, C)`` in ``source_names`` order -> ``(..., K_dst, C)``.

    Target names absent from the source are all zeros (confidence 0).
    """
    position = {name: i for i, name in enumerate(source_names)}
    if keypoints.shape[-2] != len(source_names):
        raise ValueError(f"expected {len(source_names)} keypoints, got shape {keypoints.shape}")
    out = np.zeros((*keypoints.shape[:-2], len(target_names), keypoints.shape[-1]), dtype=keypoints.dtype)
    for k, name in enumerate(target_names):
        if name in position:
            out[..., k, :] = keypoints[..., position[name], :]
    return out


def body25_to_evidence(keypoints: np.ndarray) -> np.ndarray:
    r"""OpenPose BODY_25 ``(..., 25, 3)`` -> evidence order ``(..., 23, 3)`` (same units)."""
    return reorder_keypoints(np.asarray(keypoints), BODY_25, EVIDENCE_NAMES)


def coco17_to_evidence(keypoints: np.ndarray, feet: np.ndarray | None = None) -> np.ndarray:
    r"""COCO-17 ``(..., 17, 3)`` (+ optional BODY_25-style feet ``(..., 6, 3)``) -> ``(..., 23, 3)``.

    Without ``feet`` the six foot points have confidence 0.
    """
    keypoints = np.asarray(keypoints)
    out = reorder_keypoints(keypoints, COCO_17, EVIDENCE_NAMES)
    if feet is not None:
        feet = np.asarray(feet)
        if feet.shape[-2:] != (len(FEET_6), keypoints.shape[-1]):
            raise ValueError(f"feet must have shape (..., 6, {keypoints.shape[-1]}), got {feet.shape}")
        out[..., len(COCO_17) :, :] = feet
    return out


def _load_json(path: str | os.PathLike[str]) -> Any:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"keypoint file not found: {path}")
    try:
        with path.open("rb") as handle:
            return json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise KeypointFileError(f"{path}: not valid JSON ({error})") from None


def _triplets(values: Any, count: int, path: Path, where: str, hint: str = "") -> np.ndarray:
    """A flat list of ``3 * count`` numbers -> ``(count, 3)`` float64 (values unchecked)."""
    if not isinstance(values, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        raise KeypointFileError(f"{path}: {where} must be a list of numbers")
    if len(values) != 3 * count:
        raise KeypointFileError(
            f"{path}: {where} has {len(values)} values, expected {3 * count} ({count} x (x, y, c)){hint}"
        )
    return np.asarray(values, dtype=np.float64).reshape(count, 3)


def read_openpose_json(path: str | os.PathLike[str]) -> list[np.ndarray]:
    r"""People in an OpenPose BODY_25 JSON file: a list of ``(25, 3)`` arrays (x px, y px, c).

    A file with no people gives an empty list. Other models' outputs (COCO-18 gives 54
    values, MPI-15 45) are errors that say so.
    """
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        raise KeypointFileError(f"{path}: not an OpenPose JSON file (no 'people' list)")
    people = []
    for i, person in enumerate(data["people"]):
        if not isinstance(person, dict) or "pose_keypoints_2d" not in person:
            raise KeypointFileError(f"{path}: people[{i}] has no 'pose_keypoints_2d'")
        values = person["pose_keypoints_2d"]
        hint = {54: "; this looks like OpenPose's COCO-18 model, not BODY_25", 45: "; this looks like MPI-15"}
        n = len(values) if isinstance(values, list) else -1
        where = f"people[{i}].pose_keypoints_2d"
        values = _triplets(values, len(BODY_25), path, where, hint.get(n, ""))
        people.append(check_keypoints(values, f"{path}: {where}"))
    return people


def _coco_keypoint_category(data: dict, path: Path) -> int | None:
    """The category id whose keypoints are the 17 COCO person keypoints (None if unlisted)."""
    for category in data.get("categories", []) or []:
        names = category.get("keypoints") if isinstance(category, dict) else None
        if names is not None:
            if len(names) != len(COCO_17):
                raise KeypointFileError(
                    f"{path}: category {category.get('name')!r} has {len(names)} keypoints, expected COCO's 17"
                )
            return category.get("id")
    return None


def _coco_array(values: Any, path: Path, where: str, score: bool) -> np.ndarray:
    """COCO ``[x, y, v] * 17`` -> ``(17, 3)``, checked; visibility flags 1, 2 become confidence 1."""
    kp = _triplets(values, len(COCO_17), path, where)
    if not score:
        flags = kp[:, 2]
        if not np.isin(flags, (0, 1, 2)).all():
            odd = sorted({float(v) for v in flags[~np.isin(flags, (0, 1, 2))]})
            raise KeypointFileError(f"{path}: {where}: visibility flags must be 0, 1 or 2, found {odd}")
        kp[:, 2] = (flags > 0).astype(np.float64)
    return check_keypoints(kp, f"{path}: {where}")


def read_coco_keypoints_json(
    path: str | os.PathLike[str], min_keypoints: int = 1
) -> dict[str, list[np.ndarray]]:
    r"""Person keypoints of a COCO JSON file, per image: ``{file name: [(17, 3) arrays]}``.

    Annotation files (``images`` + ``annotations``): the third value is COCO's visibility
    flag (0 unlabelled, 1 occluded, 2 visible) and becomes confidence 1 where labelled,
    0 elsewhere (coordinates zeroed). People with fewer than ``min_keypoints`` labelled
    points are left out; every listed image has an entry (maybe empty).

    Results lists (``[{"image_id", "keypoints", "score"}, ...]``, detector output) have
    no file names: they are keyed by ``str(image_id)`` and keep the per-point scores.
    """
    path = Path(path)
    data = _load_json(path)
    if isinstance(data, list):
        return _read_coco_results(data, path, min_keypoints)
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise KeypointFileError(f"{path}: not a COCO keypoint file (no 'annotations' list)")
    if not isinstance(data.get("images"), list):
        raise KeypointFileError(f"{path}: COCO file without an 'images' list")
    names: dict[Any, str] = {}
    for i, image in enumerate(data["images"]):
        if not isinstance(image, dict) or "id" not in image or "file_name" not in image:
            raise KeypointFileError(f"{path}: images[{i}] needs 'id' and 'file_name'")
        names[image["id"]] = str(image["file_name"])
    category = _coco_keypoint_category(data, path)
    out: dict[str, list[np.ndarray]] = {name: [] for name in names.values()}
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict) or "keypoints" not in ann:
            continue  # e.g. a detection annotation without keypoints
        if category is not None and ann.get("category_id", category) != category:
            continue
        if ann.get("image_id") not in names:
            raise KeypointFileError(f"{path}: annotations[{i}] refers to unknown image_id {ann.get('image_id')!r}")
        kp = _coco_array(ann["keypoints"], path, f"annotations[{i}].keypoints", score=False)
        if (kp[:, 2] > 0).sum() >= min_keypoints:
            out[names[ann["image_id"]]].append(kp)
    return out


def _read_coco_results(data: list, path: Path, min_keypoints: int) -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    for i, result in enumerate(data):
        if not isinstance(result, dict) or "image_id" not in result or "keypoints" not in result:
            raise KeypointFileError(f"{path}: results[{i}] needs 'image_id' and 'keypoints'")
        kp = _coco_array(result["keypoints"], path, f"results[{i}].keypoints", score=True)
        people = out.setdefault(str(result["image_id"]), [])
        if (kp[:, 2] > 0).sum() >= min_keypoints:
            people.append(kp)
    return out


#: Converters of the ``.npy`` layouts (keypoints per person) to the evidence order.
_ARRAY_LAYOUTS = {len(BODY_25): body25_to_evidence, len(COCO_17): coco17_to_evidence, len(EVIDENCE_NAMES): np.copy}


def read_keypoint_array(path: str | os.PathLike[str]) -> np.ndarray:
    r"""People of a ``.npy`` file, checked, in the evidence order: ``(P, 23, 3)`` px and confidence.

    The file holds ``(P, K, 3)`` (or one person ``(K, 3)``) with K = 25 (OpenPose BODY_25),
    17 (COCO-17) or 23 (the evidence order).

    Raises:
        FileNotFoundError: No such file.
        KeypointFileError: Not a NumPy array file, another shape, or invalid values.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"keypoint file not found: {path}")
    try:
        array = np.asarray(np.load(path, allow_pickle=False), dtype=np.float64)
    except (ValueError, TypeError, EOFError, OSError) as error:
        raise KeypointFileError(f"{path}: not a NumPy array of numbers ({error})") from None
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[-1] != 3 or array.shape[1] not in _ARRAY_LAYOUTS:
        raise KeypointFileError(f"{path}: expected (P, 25|17|23, 3) keypoints, got shape {array.shape}")
    return _ARRAY_LAYOUTS[array.shape[1]](check_keypoints(array, path))
