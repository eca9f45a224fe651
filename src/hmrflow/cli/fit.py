"""``hmrflow fit`` and ``hmrflow fit-multiview``: fit bodies to 2D keypoint files."""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path
from typing import Any

from hmrflow.cli.common import add_device_argument, exit_status, torch_device
from hmrflow.errors import InputError
from hmrflow.folders import prepared_output_folder

log = logging.getLogger(__name__)

FIT_HELP = """\
Fit 3D bodies to 2D keypoints, with the model's learned pose distribution as the prior
(or, with --baseline, an SMPLify-style fitter with a Gaussian-mixture pose prior).

Each FILE is one of:
  *.json   OpenPose BODY_25 output (one file per image, `--write_json`), or a COCO
           person-keypoint file (annotations or detector results; many images);
  *.npy    an array of people (P, 25, 3) BODY_25, (P, 17, 3) COCO-17 or (P, 23, 3) in
           the model's order (COCO-17 + feet), pixels and confidence.

Image sizes come from the image (--images DIR, found by the keypoint file's stem, with
OpenPose's `_keypoints` suffix removed; for COCO files by file name) or from the COCO file,
else from --image-size. The focal length is --focal-length px, else the image diagonal
(a 53 degree field of view). Outputs in --out: per input image NAME.json (SMPL's names:
global_orient and body_pose axis-angle, betas, transl, in the camera frame; the camera,
errors) and NAME.npz, one OBJ mesh per person (Y up: the camera frame turned to
(x, -y, -z)), and NAME_fit.png renders when images and the renderer are available.

  hmrflow fit frame_keypoints.json --images frames/ --out fits/
  hmrflow fit person_keypoints_val2017.json --images val2017/ --drop-hips
  hmrflow fit people.npy --image-size 1920 1080 --steps 30

Keypoint values, the same rules for every format: a confidence is in [0, 1] (0: the point
is missing, its coordinates are ignored, NaN included); a point with a positive confidence
needs finite coordinates within 10 image sizes of the image. A file that breaks them fails.

Exit status: 0 every input fitted (an image with nobody to fit is skipped with a warning:
COCO files list images without people); 1 some inputs failed (each is reported, the others
are still fitted and written; the last line on stderr names them); 2 a usage error.

`hmrflow fit --evaluate` instead prints the evaluation tables on synthetic sets with
ground truth (regression vs learned-prior fitting vs baseline; multi-view 1/2/4 views);
`--evaluate --data real-multiview-v1` the same on real people (detector keypoints in four
calibrated views, triangulated ground truth; shipped with hmrflow).
"""

MULTIVIEW_HELP = """\
Fit ONE body to several views of one instant. Each FILE is a view's keypoint file
(OpenPose JSON or .npy, as for `hmrflow fit`); the person fitted is --person (default:
the one with the most confident keypoints).

Without calibration the views are uncalibrated: each view keeps its own latent, the
body joints are pulled to agree across views, the shape is the views' mean, and each
view's keypoints are fitted too (--no-reprojection: ProHMR's energy, where the keypoints
act only through the model's contexts). With --calibration
CAMERAS.json, a list with one camera per view in FILE order,
  {"R": 3x3 world->camera, "t": [3] metres, "f": px (or [fx, fy]), "c": [cx, cy] px},
one body in the world is fitted to every view.

A view that cannot be used (unreadable, no usable person, unknown size) is left out and
the others are fitted. Exit status: 0 every view used; 1 some views failed (named on
stderr); 2 a usage error (a bad --calibration, --out or --device).

  hmrflow fit-multiview cam1.json cam2.json cam3.json cam4.json --image-size 1920 1080
  hmrflow fit-multiview v*.json --calibration cameras.json --out body/
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fit",
        help="fit bodies to 2D keypoint files (learned prior or baseline)",
        description=FIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="keypoint files")
    _common(parser)
    parser.add_argument("--baseline", action="store_true", help="SMPLify-style fitter with the GMM pose prior")
    parser.add_argument("--drop-hips", action="store_true", help="ignore the detector's hips")
    parser.add_argument("--no-render", action="store_true", help="write no renders")
    parser.add_argument("--evaluate", action="store_true", help="print the evaluation tables instead")
    parser.add_argument("--data", default="synthetic", metavar="NAME",
                        help="--evaluate: synthetic (the default) or real-multiview-v1")  # fmt: skip
    parser.add_argument("--size", type=int, default=None,
                        help="--evaluate: people per single-view set (synthetic 256, real: all)")  # fmt: skip
    parser.add_argument("--multiview-size", type=int, default=None,
                        help="--evaluate: bodies per view count (synthetic 128, real: all)")  # fmt: skip
    parser.set_defaults(func=run)

    multi = subparsers.add_parser(
        "fit-multiview",
        help="fit one body to several views of one instant",
        description=MULTIVIEW_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    multi.add_argument("files", nargs="+", metavar="FILE", help="one keypoint file per view")
    _common(multi)
    multi.add_argument("--calibration", type=Path, help="known cameras (JSON, see above)")
    multi.add_argument(
        "--no-reprojection", dest="reprojection", action="store_false",
        help="uncalibrated: no keypoint terms, only the views' agreement (ProHMR's energy)",
    )
    multi.add_argument("--person", type=int, default=None, help="person index in every file")
    multi.add_argument("--drop-hips", action="store_true", help="ignore the detector's hips")
    multi.set_defaults(func=run_multiview)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model file (default: the shipped keypoint model)")
    parser.add_argument("--out", type=Path, default=Path("fits"), help="output folder (default: fits)")
    parser.add_argument("--images", type=Path, help="folder of the images (sizes, renders)")
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("W", "H"), help="image size, px")
    parser.add_argument("--focal-length", type=float, help="focal length, px (default: image diagonal)")
    parser.add_argument("--steps", type=int, default=None, help="L-BFGS outer steps (fit: 10, evaluate: 30)")
    add_device_argument(parser)


def check_settings(args: argparse.Namespace) -> None:
    """The numeric settings, before anything is loaded.

    Raises:
        InputError: A setting out of its range.
    """
    if args.steps is not None and args.steps < 1:
        raise InputError("--steps must be >= 1")
    if args.focal_length is not None and not (math.isfinite(args.focal_length) and args.focal_length > 0):
        raise InputError(f"--focal-length must be a positive number of pixels, not {args.focal_length}")
    if args.image_size is not None and min(args.image_size) < 1:
        raise InputError(f"--image-size must be two positive numbers of pixels, not {args.image_size}")
    if getattr(args, "person", None) is not None and args.person < 0:
        raise InputError("--person must be >= 0")
    for flag in ("size", "multiview_size"):
        value = getattr(args, flag, None)
        if value is not None and value < 1:
            raise InputError(f"--{flag.replace('_', '-')} must be >= 1")
    if getattr(args, "data", "synthetic") != "synthetic":
        from hmrflow.evaluation.real_sets import REAL_SETS

        if args.data not in REAL_SETS:
            raise InputError(f"--data {args.data!r}: synthetic or one of {', '.join(REAL_SETS)}")


def _error_text(error: Exception) -> str:
    """An input's error as one line: the message, or the file and the reason for an OSError."""
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: {error.strerror or error}"
    return str(error)


# ---------------------------------------------------------------------------------- fit


def run(args: argparse.Namespace) -> int:
    """``hmrflow fit``: check the settings, --out and --device, load the model, fit every file."""
    from hmrflow.models.checkpoint import load_model

    check_settings(args)
    if not args.evaluate and not args.files:
        raise InputError("give keypoint files (or --evaluate); see `hmrflow fit --help`")
    device = torch_device(args.device)
    if args.evaluate:
        return _evaluate(load_model(args.model, device=device), args)
    with prepared_output_folder(args.out) as out:
        model = load_model(args.model, device=device)
        return _fit_files(model, args, out, device)


def _fit_files(model: Any, args: argparse.Namespace, out: Path, device: Any) -> int:
    """Fit every image of every file; a failed input is reported and the others go on."""
    from hmrflow.application.keypoint_fits import read_people
    from hmrflow.fitting.keypoint_fit import FitConfig
    from hmrflow.fitting.lbfgs import StopRules

    config = FitConfig(rules=StopRules(max_steps=args.steps or 10), drop_hips=args.drop_hips)
    failed: list[str] = []
    total = done = 0
    for path in map(Path, args.files):
        try:
            items = read_people(path, args.images)
        except (InputError, OSError) as error:
            log.error("%s", _error_text(error))
            failed.append(path.name)
            total += 1
            continue
        for item in items:
            total += 1
            try:
                done += _fit_image(model, item, config, args, out, device)
            except InputError as error:
                log.error("%s", error)
                failed.append(item.label)
    print(f"fitted {done} people from {total - len(failed)} of {total} inputs; results in {out}")
    return exit_status(failed, total, "inputs")


def _fit_image(model: Any, item: Any, config: Any, args: argparse.Namespace, out: Path, device: Any) -> int:
    """Fit the people of one image and write the files; returns how many were fitted."""
    from hmrflow.application.keypoint_fits import checked_people, people_of, render_fit, usable, write_fit
    from hmrflow.fitting.baseline import fit_baseline
    from hmrflow.fitting.keypoint_fit import fit_keypoints

    keypoints, size = checked_people(item, args.image_size)
    keep = usable(keypoints, item.label)
    if not keep:
        log.warning("%s: no person to fit", item.label)
        return 0
    people = people_of(keypoints[keep], size, args.focal_length, device, config.box_scale)
    fit = (fit_baseline if args.baseline else fit_keypoints)(model, people, config)
    write_fit(out, item.name, fit, people, model, keep)
    if not args.no_render:
        render_fit(out / f"{item.name}_fit.png", item.image, fit, people, model)
    return len(keep)


def _evaluate(model: Any, args: argparse.Namespace) -> int:
    from hmrflow.evaluation.real_sets import REAL_SETS
    from hmrflow.fitting.evaluate import EvaluationConfig, evaluate_fitting, format_tables

    if args.data in REAL_SETS:
        from hmrflow.fitting.evaluate_real import evaluate_real_fitting, format_real_tables

        config = EvaluationConfig(steps=args.steps or 30)
        tables = evaluate_real_fitting(model, config, size=args.size, multiview_size=args.multiview_size, progress=True)
        print(format_real_tables(tables))
        return 0
    config = EvaluationConfig(size=args.size or 256, multiview_size=args.multiview_size or 128, steps=args.steps or 30)
    print(format_tables(evaluate_fitting(model, config, progress=True)))
    return 0


# ---------------------------------------------------------------------------------- multi-view


def run_multiview(args: argparse.Namespace) -> int:
    """``hmrflow fit-multiview``: check the settings, calibration, --out and --device; fit one body."""
    from hmrflow.models.checkpoint import load_model

    check_settings(args)
    files = [Path(f) for f in args.files]
    entries = None
    if args.calibration is not None:
        from hmrflow.application.calibration import read_camera_list

        entries = read_camera_list(args.calibration, len(files))
    device = torch_device(args.device)
    with prepared_output_folder(args.out) as out:
        model = load_model(args.model, device=device)
        views, used = _read_views(files, args, device)
        failed = [f.name for f in files if f not in used]
        if not views:
            print("hmrflow fit-multiview: no usable view")
            return exit_status(failed, len(files), "views")
        _fit_and_write(model, views, used, entries, files, args, out)
    return exit_status(failed, len(files), "views")


def _read_views(files: list[Path], args: argparse.Namespace, device: Any) -> tuple[list[Any], list[Path]]:
    """Each usable view's person as ``People`` (on ``device``), and the files used; the rest are reported."""
    from hmrflow.application.keypoint_fits import checked_people, choose_person, people_of, read_people

    views, used = [], []
    for path in files:
        try:
            items = read_people(path, args.images)
            if not items:
                raise InputError(f"{path}: no image in the file")
            keypoints, size = checked_people(items[0], args.image_size)
        except (InputError, OSError) as error:
            log.error("view %s skipped: %s", path.name, _error_text(error))
            continue
        chosen = choose_person(keypoints, items[0].label, args.person)
        if chosen is None:
            log.error("view %s skipped: no usable person", path.name)
            continue
        views.append(people_of(chosen[None], size, args.focal_length, device))
        used.append(path)
    return views, used


def _fit_and_write(model: Any, views: list[Any], used: list[Path], entries: list[dict[str, Any]] | None,
                   files: list[Path], args: argparse.Namespace, out: Path) -> None:  # fmt: skip
    """Fit one body to ``views`` (calibrated with ``entries``, if given) and write its files."""
    import torch

    from hmrflow.application.calibration import camera_list_cameras
    from hmrflow.application.keypoint_fits import write_multiview_fit
    from hmrflow.fitting.lbfgs import StopRules
    from hmrflow.fitting.multiview import MultiViewConfig, fit_multiview, fit_multiview_calibrated

    config = MultiViewConfig(rules=StopRules(max_steps=args.steps or 10), reprojection=args.reprojection,
                             drop_hips=args.drop_hips)  # fmt: skip
    cameras = None
    if entries is not None:
        sizes = torch.cat([view.image_size for view in views])
        cameras = camera_list_cameras([entries[files.index(path)] for path in used], sizes)
        fit = fit_multiview_calibrated(model, views, cameras, config)
    else:
        fit = fit_multiview(model, views, config)
    write_multiview_fit(out, fit, [path.name for path in used], entries is not None, model, cameras)
    print(f"one body from {len(views)} views written to {out}")
