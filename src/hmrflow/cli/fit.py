"""``hmrflow fit`` and ``hmrflow fit-multiview``: fit bodies to 2D keypoint files."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from hmrflow.cli.common import (
    add_device_argument,
    add_intrinsics_arguments,
    exit_status,
    intrinsics_setting,
    torch_device,
)
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

`hmrflow fit` is `hmrflow demo` fed with keypoint files: the same pipeline (the model's
mode, the fit, the left/right labelling check) and the same files, without samples.

Image sizes come from the image (--images DIR, found by the keypoint file's stem, with
OpenPose's `_keypoints` suffix removed; for COCO files by file name) or from the COCO file,
else from --image-size. The camera: --intrinsics (a focal length, fx,fy,cx,cy, or a K
file; --focal-length F is its shorthand), else a focal length of the image diagonal (a
53 degree field of view) and the principal point at the image centre.

Outputs in --out, the demo's layout, one folder per input image NAME (since 0.4; before,
NAME.json, NAME.npz and NAME_person<i>.obj lay side by side in --out):
  NAME/keypoints.json           the keypoints used (mirrored back where the check swapped them)
  NAME/overlay.jpg              the bodies over the image (with --images, unless --no-render)
  NAME/person<i>/params.json    SMPL's names: global_orient and body_pose axis-angle, betas,
                                transl (camera frame), the camera, the body model, errors,
                                labels_mirrored, the fit's stop reason and energies
  NAME/person<i>/params.npz     the same arrays, the vertices, joints and faces
  NAME/person<i>/mesh.obj .ply .glb, samples.glb   meshes, Y up: the camera frame turned to (x, -y, -z)
  NAME/person<i>/overlay.jpg, samples.png, viewer.html   (pictures: with --images, unless --no-render)
  index.html, demo.json         every run into this --out (a rerun keeps the earlier folders:
                                a taken NAME becomes NAME_2, ...), as `hmrflow demo` does
person<i> counts the people fitted, in the file's order (people with too few keypoints are
skipped with a warning).

Left/right labels: every person's keypoints are fitted as given and mirrored, and the
mirrored labelling is kept where it fits far better (about 3 times the time of a plain
fit; on real-multiview-v1 it put back 14 of 21 detector mirrors and 85 % of labels swapped
on purpose, with no correct labelling swapped); --no-mirror-check skips it; --baseline has none.

  hmrflow fit frame_keypoints.json --images frames/ --out fits/
  hmrflow fit person_keypoints_val2017.json --images val2017/ --drop-hips
  hmrflow fit people.npy --image-size 1920 1080 --steps 30 --intrinsics 1400,1400,960,540

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
one body in the world is fitted to every view. Uncalibrated views take --intrinsics
(shared by every view) or the default camera.

Outputs in --out: params.json / params.npz (SMPL's names; calibrated: in the world,
with the cameras), mesh.obj / .ply / .glb (Y up), as the multi-view demo's calibrated/.

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
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="keypoint files, or folders of them (every .json and .npy, sorted)")  # fmt: skip
    _common(parser)
    parser.add_argument("--baseline", action="store_true", help="SMPLify-style fitter with the GMM pose prior")
    parser.add_argument("--drop-hips", action="store_true", help="ignore the detector's hips")
    parser.add_argument("--no-render", action="store_true", help="write no pictures and no 3D viewers")
    parser.add_argument("--no-mirror-check", action="store_true",
                        help="skip the left/right labelling check (about 3x a plain fit's time)")  # fmt: skip
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
    parser.add_argument("--model", help="model file or checkpoint; default (or the name default): the shipped keypoint model")
    parser.add_argument("--out", type=Path, default=Path("fits"), help="output folder (default: fits)")
    parser.add_argument("--images", type=Path, help="folder of the images (sizes, renders)")
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("W", "H"), help="image size, px")
    add_intrinsics_arguments(parser)
    parser.add_argument("--steps", type=int, default=None, help="L-BFGS outer steps (fit: 10, evaluate: 30)")
    add_device_argument(parser)


def check_settings(args: argparse.Namespace) -> None:
    """The numeric settings, before anything is loaded.

    Raises:
        InputError: A setting out of its range.
    """
    if args.steps is not None and args.steps < 1:
        raise InputError("--steps must be >= 1")
    args.intrinsics = intrinsics_setting(args)
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
    if not args.evaluate:
        keypoint_paths(args.files)  # an empty folder is a usage error
    device = torch_device(args.device)
    if args.evaluate:
        return _evaluate(load_model(args.model, device=device), args)
    with prepared_output_folder(args.out) as out:
        from hmrflow.application.run_record import RunRecord

        record = RunRecord(out, "hmrflow fit")  # a damaged demo.json stops the run before the model loads
        model = load_model(args.model, device=device)
        return _fit_files(model, args, record)


def _fit_files(model: Any, args: argparse.Namespace, record: Any) -> int:
    """Fit every image of every file through the pipeline; a failed input is reported and the others go on."""
    from hmrflow.application.keypoint_fits import read_people
    from hmrflow.application.pipeline import DemoConfig, DemoPipeline

    config = DemoConfig(num_samples=0, fit_steps=args.steps or 10, fitter="baseline" if args.baseline else "prior",
                        mirror_check=not args.no_mirror_check, drop_hips=args.drop_hips, intrinsics=args.intrinsics,
                        detect="never", viewer=not args.no_render, pictures=not args.no_render)  # fmt: skip
    failed: list[str] = []
    total = done = 0
    fitter = "the SMPLify-style baseline" if args.baseline else "the learned prior"
    record.run["details"].append(f"body model {model.body.name}; fit with {fitter}: {config.fit_steps} L-BFGS steps")
    out = record.out
    with DemoPipeline(model, config) as pipeline:
        for path in keypoint_paths(args.files):
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
                    result = _fit_image(pipeline, item, args, out, record)
                except InputError as error:
                    log.error("%s", error)
                    failed.append(item.label)
                    continue
                if result is None:
                    continue
                print(f"{item.label}: {result.describe()}")
                if not result.ok:
                    log.error("%s", result.error)
                    failed.append(item.label)
                    continue
                record.add(result)
                done += len(result.people)
    record.write()
    print(f"fitted {done} people from {total - len(failed)} of {total} inputs; results in {out}")
    return exit_status(failed, total, "inputs")


def keypoint_paths(inputs: list[str]) -> list[Path]:
    """The keypoint files of the command line: a folder gives every .json and .npy file in it, sorted.

    Raises:
        InputError: A folder without keypoint files.
    """
    paths = []
    for path in map(Path, inputs):
        if not path.is_dir():
            paths.append(path)
            continue
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".json", ".npy"))
        if not found:
            raise InputError(f"{path}: no keypoint file (.json, .npy) in this folder")
        paths += found
    return paths


def _fit_image(pipeline: Any, item: Any, args: argparse.Namespace, out: Path, record: Any) -> Any:
    """Fit the people of one image and write its folder; None when nobody is usable."""
    from hmrflow.application.keypoint_fits import checked_people, usable

    keypoints, size = checked_people(item, args.image_size)
    if not usable(keypoints, item.label):
        log.warning("%s: no person to fit", item.label)
        return None
    photo = _photo(item, size, args.no_render)
    return pipeline.run_keypoints(photo, keypoints, item.label, out / record.unique_name(item.name))


def _photo(item: Any, size: tuple[int, int], no_pictures: bool) -> Any:
    """The item's photo (for pictures), or an unseen image of ``size``."""
    from hmrflow.application.inputs import Photo, load_photo

    if item.image is None or no_pictures:
        return Photo.unseen(item.image or Path(item.source), size)
    photo = load_photo(item.image)
    if photo.size != tuple(size):
        log.warning("%s is %s px, its keypoints say %s: no pictures", item.image, photo.size, tuple(size))
        return Photo.unseen(item.image, size)
    return photo


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
    from hmrflow.application.keypoint_fits import fit_views
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
        entries = None if entries is None else [entries[files.index(path)] for path in used]
        fit_views(model, views, [path.name for path in used], entries, out, steps=args.steps or 10,
                  reprojection=args.reprojection, drop_hips=args.drop_hips)  # fmt: skip
        print(f"one body from {len(views)} views written to {out}")
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
        views.append(people_of(chosen[None], size, args.intrinsics, device))
        used.append(path)
    return views, used
