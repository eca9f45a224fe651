"""``hmrflow demo-multiview``: several views of one instant -> one body, checked with the calibration."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from hmrflow.cli.common import (
    add_device_argument,
    add_intrinsics_arguments,
    exit_status,
    intrinsics_setting,
    torch_device,
)
from hmrflow.errors import InputError
from hmrflow.folders import prepared_output_folder

HELP = """\
Combine several photos of one instant, taken from different sides, into one 3D body.

Each view first gets the single-view demo (keypoints, the model's distribution, the fit).
Then the uncalibrated refinement (ProHMR's multi-view fitting: the cameras are unknown)
pulls the views' poses to one body pose with the learned prior, keeping each view's body
on its photo with that view's keypoints (--no-reprojection: ProHMR's original, without). Last, as a check, the
known calibration fits one body in the world seen by every camera; the detections,
triangulated with the same calibration, are the reference the three are compared with.

With no photo, it runs on the bundled instant: four synchronised views of the pose2sim
demo recording and their calibration. Results go to --out: views.jpg (the views side by
side: keypoints, each view alone, the refinement, the calibrated fit), calibrated/
(mesh files, parameters, a 3D viewer), each view's single-view outputs, and index.html.

A view that fails (unreadable photo, nobody found, a size other than its camera's) is
left out and the others go on (two views at least are needed for the multi-view fits).
Exit status: 0 every view done; 1 some views failed (the last line on stderr names them);
2 a usage error (photos without calibration, a bad calibration file, a bad --out or --device).
"""

EPILOG = """\
examples:
  hmrflow demo-multiview                                  the bundled instant
  hmrflow demo-multiview cam1.jpg cam2.jpg --calibration calib.json

calibration JSON: {"image_size": [W, H], "cameras": {"cam1": {"focal_length": [fx, fy],
"principal_point": [cx, cy], "rotation": 3x3, "translation": [x, y, z]}, ...}} with
world -> camera X_c = R X_w + t in metres (OpenCV axes); cameras named by the photos'
file stems.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo-multiview",
        help="several views of one instant -> one body (bundled 4-view example by default)",
        description=HELP,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "images", nargs="*", type=Path, metavar="IMAGE", help="the views (default: the bundled instant)"
    )
    parser.add_argument("--calibration", type=Path, default=None, help="calibration JSON (default: the bundled one)")
    parser.add_argument(
        "--out", type=Path, default=Path("outputs/demo-multiview"), help="output folder (default: %(default)s)"
    )
    parser.add_argument("--model", default=None, help="a model file or checkpoint; default (or the name default): the shipped model")
    parser.add_argument(
        "--samples", type=int, default=10, help="samples per view besides the mode (default: %(default)s)"
    )
    parser.add_argument("--no-fit", action="store_true", help="skip the single-view fits")
    parser.add_argument(
        "--steps", type=int, default=30, help="L-BFGS steps of the multi-view fits (default: %(default)s)"
    )
    parser.add_argument("--no-reprojection", action="store_true",
                        help="refine without the views' keypoint terms (ProHMR's original refinement)")  # fmt: skip
    parser.add_argument("--detect", choices=("auto", "always", "never"), default="auto",
                        help="keypoint source, as in `hmrflow demo` (default: %(default)s)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="random seed of the samples (default: %(default)s)")
    add_intrinsics_arguments(parser)  # the views' own demos; the multi-view fits use the calibration
    add_device_argument(parser)
    parser.set_defaults(func=run)


def check_settings(args: argparse.Namespace) -> None:
    """The numeric settings, before anything is loaded.

    Raises:
        InputError: A setting out of its range.
    """
    if args.samples < 0:
        raise InputError("--samples must be >= 0")
    if args.steps < 1:
        raise InputError("--steps must be >= 1")
    args.intrinsics = intrinsics_setting(args)


def run(args: argparse.Namespace) -> int:
    """``hmrflow demo-multiview``: check the inputs, --out and --device, then run the views."""
    start = time.perf_counter()
    from hmrflow.application.calibration import Calibration
    from hmrflow.application.multiview import bundled_multiview, run_multiview
    from hmrflow.application.multiview_outputs import check_table
    from hmrflow.application.pipeline import DemoConfig
    from hmrflow.models.checkpoint import load_model

    images, calibration_path = bundled_multiview()
    if args.images:
        if args.calibration is None:
            raise InputError("photos need their --calibration")
        images = list(args.images)
        if len(images) < 2:
            raise InputError(f"one instant needs at least two views, got {len(images)}")
    check_settings(args)
    calibration = Calibration.from_file(args.calibration or calibration_path)
    calibration.select([p.stem for p in images])  # every photo has its camera
    device = torch_device(args.device)
    with prepared_output_folder(args.out) as out:
        model = load_model(args.model, device=device)
        config = DemoConfig(num_samples=args.samples, fit=not args.no_fit, seed=args.seed, detect=args.detect,
                            intrinsics=args.intrinsics)  # fmt: skip
        model_name = args.model or "the shipped model"
        print(f"hmrflow demo-multiview: {len(images)} views -> {out}/ | model: {model_name} | device: {device}")
        result = run_multiview(
            model, images, calibration, out, config, steps=args.steps, reprojection=not args.no_reprojection
        )
    if result.fitted:
        for line in check_table(result):
            print("  " + line)
    else:
        print(f"  no multi-view fit: {len(result.views)} of {len(images)} views worked, two are needed")
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    print(f"done in {time.perf_counter() - start:.1f} s ({timing}): open {result.files['index']}")
    return exit_status([view.path.name for view in result.failed], len(images), "views")
