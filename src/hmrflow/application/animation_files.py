r"""Animation files of one person's motion: saved parameters in, BVH, animated GLB and a player out.

:func:`read_parameter_files` reads what ``hmrflow demo``, ``hmrflow fit`` and the video
demo save (one ``params.json``/``.npz`` per frame, or one ``.npz`` of stacked ``(T, ...)``
arrays) under SMPL's names, in the camera frame; :func:`write_animation_files` writes the
motion of one body shape as a BVH file, an animated skinned GLB and an HTML player page,
in the Y-up frame of hmrflow's mesh files (:mod:`hmrflow.body.animation`). ``hmrflow
export`` and the video demo both write through it.

Example:
    >>> import tempfile
    >>> import torch
    >>> from hmrflow.body import BodyModel
    >>> body = BodyModel.from_name("anny_lowpoly")
    >>> out = Path(tempfile.mkdtemp())
    >>> rotmats = torch.eye(3).expand(4, 24, 3, 3)
    >>> files = write_animation_files(out, "walk", body, torch.zeros(10), rotmats, torch.zeros(4, 3), 30.0, "test")
    >>> sorted(files)
    ['bvh', 'glb', 'html']
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from hmrflow.body.bvh_export import write_bvh
from hmrflow.body.gltf_animation import animated_glb_bytes
from hmrflow.body.model import BodyModel
from hmrflow.errors import InputError
from hmrflow.render.animation_page import write_animation_page

__all__ = ["FORMATS", "SavedParameters", "read_parameter_file", "read_parameter_files", "write_animation_files"]

#: The animation files :func:`write_animation_files` can write.
FORMATS = ("bvh", "glb", "html")


@dataclass(frozen=True)
class SavedParameters:
    r"""Parameters of one person over ``T`` frames (camera frame, SMPL's names).

    Attributes:
        global_orient: ``(T, 3)`` axis-angle.
        body_pose: ``(T, 23, 3)`` axis-angle.
        betas: ``(T, S)``.
        transl: ``(T, 3)`` metres.
        body_model: the body model the files name, or None.
        fps: the frame rate a file states, or None.
    """

    global_orient: np.ndarray
    body_pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    body_model: str | None = None
    fps: float | None = None


def _array(value: Any, path: Path, field: str, size: int | None, width: int) -> np.ndarray:
    """``value`` as float64 rows of ``width`` (``size`` numbers in all where given)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{path}: {field} is not an array of numbers") from None
    if array.size == 0 or array.size % width or (size is not None and array.size != size):
        want = f"{size} numbers" if size is not None else f"a multiple of {width} numbers"
        raise InputError(f"{path}: {field} has shape {array.shape}, expected {want}")
    if not np.isfinite(array).all():
        raise InputError(f"{path}: {field} holds non-finite values")
    return array.reshape(-1, width)


def _record(data: Any, path: Path, person: int | None) -> dict[str, Any]:
    """The one person's record of a JSON file (`demo`'s: the top level; `fit`'s: ``people``)."""
    if isinstance(data, dict) and "global_orient" in data:
        return data
    if isinstance(data, dict) and isinstance(data.get("people"), list):
        people = [p for p in data["people"] if isinstance(p, dict)]
        numbers = [p.get("person", i) for i, p in enumerate(people)]
        if person is None and len(people) == 1:
            return people[0]
        if person is None:
            raise InputError(f"{path}: holds people {numbers}; choose one with --person")
        if person not in numbers:
            raise InputError(f"{path}: no person {person} (it holds people {numbers})")
        return people[numbers.index(person)]
    raise InputError(f"{path}: not a parameter file (no global_orient, body_pose, betas, transl)")


def _frames(fields: dict[str, Any], path: Path, stacked: bool) -> SavedParameters:
    missing = [k for k in ("global_orient", "body_pose", "betas", "transl") if k not in fields]
    if missing:
        raise InputError(f"{path}: missing {', '.join(missing)}")
    orient = _array(fields["global_orient"], path, "global_orient", None if stacked else 3, 3)
    frames = orient.shape[0]
    pose = _array(fields["body_pose"], path, "body_pose", 69 * frames, 69).reshape(frames, 23, 3)
    transl = _array(fields["transl"], path, "transl", 3 * frames, 3)
    betas = np.asarray(fields["betas"], dtype=np.float64)
    betas = _array(betas, path, "betas", None, betas.shape[-1] if betas.ndim else 1)
    if betas.shape[0] not in (1, frames):
        raise InputError(f"{path}: betas has {betas.shape[0]} rows for {frames} frames")
    body_model = fields.get("body_model")
    fps = fields.get("fps")
    return SavedParameters(orient, pose, np.broadcast_to(betas, (frames, betas.shape[1])), transl,
                           str(body_model) if body_model is not None else None,
                           float(fps) if fps is not None else None)  # fmt: skip


def read_parameter_file(path: Path, person: int | None = None) -> SavedParameters:
    """One ``.json`` (one frame) or ``.npz`` (one frame, or ``T`` stacked frames) parameter file.

    Raises:
        InputError: a missing, unreadable or misshaped file, or an ambiguous person.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"{path}: not valid JSON ({error})") from None
        return _frames(_record(data, path, person), path, stacked=False)
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                fields = {key: archive[key] for key in archive.files}
        except (OSError, ValueError, EOFError) as error:
            raise InputError(f"{path}: not a readable .npz file ({error})") from None
        if "body_model" in fields:
            fields["body_model"] = str(fields["body_model"])
        if "person" in fields:  # `hmrflow fit`: one row per person of one image
            fields = _person_row(fields, path, person)
        return _frames(fields, path, stacked=True)
    raise InputError(f"{path}: parameter files are .json or .npz, not {suffix or 'without a suffix'}")


def _person_row(fields: dict[str, Any], path: Path, person: int | None) -> dict[str, Any]:
    numbers = [int(n) for n in np.atleast_1d(fields["person"])]
    if person is None and len(numbers) != 1:
        raise InputError(f"{path}: holds people {numbers}; choose one with --person")
    row = 0 if person is None else (numbers.index(person) if person in numbers else -1)
    if row < 0:
        raise InputError(f"{path}: no person {person} (it holds people {numbers})")
    names = ("global_orient", "body_pose", "betas", "transl")
    return {**fields, **{k: np.asarray(fields[k])[row] for k in names if k in fields}}


def read_parameter_files(paths: list[Path], person: int | None = None) -> SavedParameters:
    """The files' frames one after the other (see :func:`read_parameter_file`)."""
    parts = [read_parameter_file(p, person) for p in paths]
    widths = {p.betas.shape[1] for p in parts}
    if len(widths) > 1:
        raise InputError(f"the files' betas have different lengths {sorted(widths)}: one person, one body model")
    models = {p.body_model for p in parts if p.body_model is not None}
    if len(models) > 1:
        raise InputError(f"the files name different body models {sorted(models)}")
    rates = {p.fps for p in parts if p.fps is not None}
    return SavedParameters(
        np.concatenate([p.global_orient for p in parts]), np.concatenate([p.body_pose for p in parts]),
        np.concatenate([p.betas for p in parts]), np.concatenate([p.transl for p in parts]),
        models.pop() if models else None, rates.pop() if len(rates) == 1 else None,
    )  # fmt: skip


def write_animation_files(
    folder: Path,
    stem: str,
    body: BodyModel,
    betas: Tensor,
    rotmats: Tensor,
    transl: Tensor,
    fps: float,
    title: str,
    formats: Sequence[str] = FORMATS,
) -> dict[str, Path]:
    r"""Write ``stem.bvh``, ``stem.glb`` and ``stem.html`` (those of ``formats``) into ``folder``.

    Arguments:
        betas: ``(S,)`` the one body shape; rotmats: ``(T, 24, 3, 3)``; transl: ``(T, 3)``
            metres, camera frame; fps: frames per second; title: the player page's.

    Returns:
        The files written, by format.
    """
    written: dict[str, Path] = {}
    if "bvh" in formats:
        written["bvh"] = folder / f"{stem}.bvh"
        write_bvh(written["bvh"], body, betas, rotmats, transl, fps)
    if "glb" in formats or "html" in formats:
        glb = animated_glb_bytes(body, betas, rotmats, transl, fps)
        if "glb" in formats:
            written["glb"] = folder / f"{stem}.glb"
            written["glb"].write_bytes(glb)
        if "html" in formats:
            written["html"] = folder / f"{stem}.html"
            write_animation_page(written["html"], glb, title)
    return written
