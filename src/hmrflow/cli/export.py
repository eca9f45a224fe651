"""``hmrflow export``: saved body parameters -> BVH, animated GLB and a player page."""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from hmrflow.application.animation_files import FORMATS, SavedParameters, read_parameter_files
from hmrflow.errors import InputError

log = logging.getLogger(__name__)

DEFAULT_BODY = "anny_lowpoly"

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

    from hmrflow.application.animation_files import write_animation_files
    from hmrflow.geometry.rotations import rotvec_to_rotmat

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
    title = f"{name}: {rotmats.shape[0]} frames at {fps:g} fps"
    written = write_animation_files(out, name, body, betas, rotmats, transl, fps, title, formats)
    return [written[f] for f in FORMATS if f in written]
