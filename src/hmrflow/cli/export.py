"""``hmrflow export``: saved body parameters -> BVH, animated GLB and a player page."""

from __future__ import annotations

import argparse
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hmrflow.errors import InputError

log = logging.getLogger(__name__)

DEFAULT_BODY = "anny_lowpoly"
FORMATS = ("bvh", "glb", "html")

HELP = """\
Turn saved body parameters into animation files: a BVH file (Blender: File > Import >
Motion Capture (.bvh)), an animated, skinned GLB (Blender: File > Import > glTF; or any
glTF viewer) and an HTML player page that needs nothing but a browser.

PARAMS are the files `hmrflow demo` and `hmrflow fit` write, in frame order:
  params.json / params.npz   (hmrflow demo, one per person): one frame each
  NAME.json / NAME.npz       (hmrflow fit, one per image): one frame each; pick the
                             person with --person when the image has several
  one .npz with stacked arrays: global_orient (T,1,3) or (T,3), body_pose (T,23,3) or
                             (T,69) axis-angle, betas (S,) or (T,S), transl (T,3),
                             optional fps; camera frame (OpenCV axes, y down), metres
Several files are frames in the order given (use a sorted glob: frame_*/person0/params.json).
The body shape is the mean of the frames' betas; the bone offsets of the BVH and the GLB's
mesh are that shape's.

Outputs, in --out: NAME.bvh, NAME.glb, NAME.html (NAME from --name), all in metres in
the Y-up frame of hmrflow's mesh files (the camera frame turned to (x, -y, -z)): the
first frame looks as the camera saw it. BVH channels: the root (pelvis) has Xposition
Yposition Zposition Zrotation Xrotation Yrotation, every other joint Zrotation Xrotation
Yrotation (R = Rz Rx Ry, degrees).

Examples:
  hmrflow export out/demo/frame_*/person0/params.json --out anim/ --fps 25
  hmrflow export fits/frame_*.json --person 1 --out anim/ --format bvh
  hmrflow export motion.npz --out anim/ --name walk
"""


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


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="saved parameters -> BVH, animated GLB and a player page",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "params", nargs="+", type=Path, metavar="PARAMS", help="parameter files (.json, .npz), in frame order"
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
    parser.add_argument("--fps", type=float, help="frames per second (default: the file's, else 30)")
    parser.add_argument(
        "--format", default="bvh,glb,html", help="comma-separated subset of bvh,glb,html (default: %(default)s)"
    )
    parser.add_argument("--name", default="animation", help="file name stem of the outputs (default: %(default)s)")
    parser.add_argument("--person", type=int, help="the person to take from files of several people (`hmrflow fit`'s)")
    parser.add_argument("--body", help=f"body model name or file (default: the files' body_model, else {DEFAULT_BODY})")
    parser.set_defaults(func=run)


def _formats(text: str) -> list[str]:
    chosen = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise InputError(f"--format {text!r}: choose among {', '.join(FORMATS)} (comma-separated)")
    return list(dict.fromkeys(chosen))


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


def run(args: argparse.Namespace) -> int:
    from hmrflow.folders import output_folder

    formats = _formats(args.format)
    if args.fps is not None and not (math.isfinite(args.fps) and args.fps > 0):
        raise InputError(f"--fps {args.fps}: must be a positive number")
    if not args.name or "/" in args.name or args.name in (".", ".."):
        raise InputError(f"--name {args.name!r}: a plain file name stem, like 'walk'")
    params = read_parameter_files(args.params, args.person)
    body = load_body(args.body or params.body_model or DEFAULT_BODY)
    out = output_folder(args.out)
    fps = args.fps or params.fps or 30.0
    written = export(params, body, out, args.name, formats, fps)
    frames = params.transl.shape[0]
    for path in written:
        print(f"wrote {path}")
    print(f"{frames} frame(s) at {fps:g} fps from {len(args.params)} file(s)")
    return 0


def load_body(spec: str) -> Any:
    """The body model named ``spec`` (a shipped name or a file)."""
    from hmrflow.models.prohmr import load_body_model

    try:
        return load_body_model(spec)
    except ValueError as error:  # an unknown name (file problems are InputErrors already)
        if isinstance(error, InputError):
            raise
        raise InputError(f"--body {spec!r}: {error}") from None


def export(params: SavedParameters, body: Any, out: Path, name: str, formats: list[str], fps: float) -> list[Path]:
    """Write the chosen formats of ``params`` (of the body model ``body``) into ``out``; the paths written."""
    import torch

    from hmrflow.body.bvh_export import write_bvh
    from hmrflow.body.gltf_animation import animated_glb_bytes
    from hmrflow.geometry.rotations import rotvec_to_rotmat
    from hmrflow.render.animation_page import write_animation_page

    betas_all = params.betas
    if betas_all.shape[1] > body.num_betas:
        raise InputError(f"betas have {betas_all.shape[1]} components but the body model {body.name!r} has "
                         f"{body.num_betas}: pass the right one with --body")  # fmt: skip
    spread = float(np.abs(betas_all - betas_all.mean(0)).max())
    if spread > 1e-3:
        log.info("the frames' betas differ by up to %.3g: using their mean", spread)
    rotvecs = np.concatenate([params.global_orient[:, None], params.body_pose], axis=1)
    rotmats = rotvec_to_rotmat(torch.as_tensor(rotvecs)).float()
    betas = torch.as_tensor(betas_all.mean(0), dtype=torch.float32)
    transl = torch.as_tensor(params.transl, dtype=torch.float32)
    written = []
    if "bvh" in formats:
        write_bvh(out / f"{name}.bvh", body, betas, rotmats, transl, fps)
        written.append(out / f"{name}.bvh")
    if "glb" in formats or "html" in formats:
        glb = animated_glb_bytes(body, betas, rotmats, transl, fps)
        if "glb" in formats:
            (out / f"{name}.glb").write_bytes(glb)
            written.append(out / f"{name}.glb")
        if "html" in formats:
            write_animation_page(out / f"{name}.html", glb, f"{name}: {rotmats.shape[0]} frames at {fps:g} fps")
            written.append(out / f"{name}.html")
    return written
