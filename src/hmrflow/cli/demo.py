"""``hmrflow demo``: photos in, a distribution of 3D bodies out."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hmrflow.cli.common import (
    add_device_argument,
    add_intrinsics_arguments,
    exit_status,
    intrinsics_setting,
    torch_device,
)
from hmrflow.cli.demo_video import add_video_arguments, is_video_run, run_video
from hmrflow.errors import InputError
from hmrflow.folders import prepared_output_folder

if TYPE_CHECKING:
    pass

HELP = """\
Recover 3D bodies from photos, with their uncertainty.

For each photo: 2D keypoints (from --keypoints files, from precomputed detections beside
the photo, or from the mediapipe detector, which finds up to --max-people people; people
with fewer than 6 confident keypoints and the detector's cheap-to-spot ghosts are left
out) give a box around each person; the model
gives a probability distribution over the 3D pose; the most likely body (the mode) and
--samples other plausible bodies are drawn; the mode is then fitted to the keypoints
with the learned prior (skip with --no-fit), after checking each person's left/right
labels (both labellings fitted, the mirrored one kept where it fits far better: about 3x
the fit's time; on real-multiview-v1 it put back 14 of 21 detector mirrors and 85 % of
labels swapped on purpose, and swapped no correct labelling; skip with --no-mirror-check). Results go to --out, one
folder per photo:
the body over the photo, a figure of the samples (front, side and where they disagree),
mesh files (OBJ, PLY, GLB), parameters (JSON, npz), an interactive 3D viewer (an HTML
file that needs no network), and index.html linking everything.

With no photo, it runs on the bundled example (frames of the pose2sim demo recording).
A second run into the same --out keeps the first's results: a photo whose folder name is
taken gets photo_2/, ...; demo.json lists every run's photos and index.html shows them all.

Exit status: 0 every photo done; 1 some photos failed (each is reported, the others
still get their outputs; the last line on stderr names them); 2 a usage error.
"""

EPILOG = """\
examples:
  hmrflow demo                                 the bundled example -> outputs/demo/index.html
  hmrflow demo photo.jpg --samples 25          your photo (needs the detector, see below)
  hmrflow demo photos/ --max-people 2          every image file in a folder, sorted by name
  hmrflow demo photo.jpg --intrinsics 1400,1400,960,540   a known camera
  hmrflow demo a.jpg b.jpg --keypoints a_keypoints.json b_keypoints.json
  hmrflow demo photos/*.jpg --keypoints coco_results.json     (one COCO file for all)

keypoint files: OpenPose BODY_25 JSON, COCO keypoint JSON, .npy arrays (P, 25|17|23, 3) as
`hmrflow fit` reads them, or the keypoints.json this command writes. The detector (mediapipe) lives in its own environment because it needs
numpy < 2: install it once with `bash scripts/setup_detector.sh`.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="3D bodies with their uncertainty from photos (bundled example by default)",
        description=HELP,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("images", nargs="*", type=Path, metavar="IMAGE",
                        help="photos or folders of photos (default: the bundled example)")  # fmt: skip
    parser.add_argument(
        "--keypoints", nargs="+", type=Path, metavar="FILE",
        help="keypoint files: one per photo in the same order, or one COCO file for all",
    )  # fmt: skip
    parser.add_argument("--no-fit", action="store_true", help="skip fitting the body to the keypoints")
    parser.add_argument(
        "--samples", type=int, default=10, help="samples per person besides the mode (default: %(default)s)"
    )
    parser.add_argument(
        "--temperature", type=float, default=1.0,
        help="scale of the samples' latents: below 1 keeps them closer to the mode (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("outputs/demo"), help="output folder (default: %(default)s)")
    parser.add_argument("--model", default=None, help="a model file or checkpoint; default (or the name default): the shipped model")
    parser.add_argument(
        "--detect", choices=("auto", "always", "never"), default="auto",
        help="auto: keypoint files, then precomputed ones beside the photo, then the detector; "
        "always: the detector unless --keypoints; never: files only (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--steps", type=int, default=30, help="L-BFGS steps of the fit (default: %(default)s)")
    add_intrinsics_arguments(parser)
    parser.add_argument("--max-people", type=int, default=4, help="detector: people per photo at most (default: 4)")
    parser.add_argument("--no-mirror-check", action="store_true", help="skip the left/right labelling check")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the samples (default: %(default)s)")
    parser.add_argument("--no-viewer", action="store_true", help="do not write the HTML viewers")
    parser.add_argument(
        "--view", choices=("upright", "camera"), default="upright",
        help="figures and viewer: upright (gravity estimated from the body) or the camera's view "
        "(default: %(default)s)",
    )  # fmt: skip
    add_device_argument(parser)
    add_video_arguments(parser)
    parser.set_defaults(func=run)


def bundled_images() -> list[Path]:
    """The bundled example photos."""
    from importlib import resources

    folder = Path(str(resources.files("hmrflow") / "assets" / "demo" / "images"))
    return sorted(folder.glob("*.jpg"))


def photo_paths(inputs: list[Path]) -> list[Path]:
    """The photos of the command line: a folder gives every image file in it, sorted."""
    from hmrflow.application.inputs import image_files

    return [photo for path in inputs for photo in (image_files(path) if path.is_dir() else [path])]


def pair_keypoints(images: list[Path], keypoints: list[Path] | None) -> list[Path | None]:
    """One keypoint file per image (or the same COCO file for all); None where there is none."""
    if not keypoints:
        return [None] * len(images)
    if len(keypoints) == 1 and len(images) > 1:
        return [keypoints[0]] * len(images)
    if len(keypoints) != len(images):
        raise InputError(
            f"{len(images)} images but {len(keypoints)} keypoint files: give one per image "
            "(in the same order) or one COCO file for all"
        )
    return list(keypoints)


def check_settings(args: argparse.Namespace) -> None:
    """The numeric settings, before anything is loaded.

    Raises:
        InputError: A setting out of its range.
    """
    if args.samples < 0:
        raise InputError("--samples must be >= 0")
    if not (math.isfinite(args.temperature) and args.temperature >= 0):
        raise InputError(f"--temperature must be a number >= 0, not {args.temperature}")
    if args.steps < 1:
        raise InputError("--steps must be >= 1")
    if args.max_people < 1:
        raise InputError(f"--max-people must be >= 1, not {args.max_people}")
    args.intrinsics = intrinsics_setting(args)


def run(args: argparse.Namespace) -> int:
    """``hmrflow demo``: check the settings and --out, load the model, run every photo."""
    if is_video_run(args):  # videos, or folders of frames with --video (cli/demo_video.py)
        return run_video(args)
    start = time.perf_counter()
    images = photo_paths(args.images) or bundled_images()
    keypoint_files = pair_keypoints(images, args.keypoints)
    check_settings(args)
    device = torch_device(args.device)
    with prepared_output_folder(args.out) as out:
        from hmrflow.application.run_record import RunRecord

        record = RunRecord(out, "hmrflow demo")  # a damaged demo.json stops the run before the model loads
        return _run_photos(args, images, keypoint_files, record, device, start)


def _run_photos(
    args: argparse.Namespace,
    images: list[Path],
    keypoint_files: list[Path | None],
    record: Any,
    device: Any,
    start: float,
) -> int:
    """Load the model, run every photo, keep the manifest and index.html up to date."""
    from hmrflow.application.pipeline import DemoPipeline
    from hmrflow.models.checkpoint import load_model

    out = record.out
    names = [record.unique_name(image.stem) for image in images]
    model = load_model(args.model, device=device)
    kind = model.config.encoder.kind
    model_name = args.model or "the shipped model"
    print(
        f"hmrflow demo: {len(images)} photo(s) -> {out}/ | model: {model_name} ({kind}-conditioned, "
        f"body {model.body.name}) | {args.samples} samples | fit: {'off' if args.no_fit else f'{args.steps} steps'}"
        f" | device: {device}"
    )
    print(f"  model loaded in {time.perf_counter() - start:.1f} s")
    fit = "off" if args.no_fit else f"{args.steps} L-BFGS steps"
    record.run["details"] += [
        f"model: {model_name} ({kind}-conditioned), body model {model.body.name}",
        f"{args.samples} samples per person; fit with the learned prior: {fit}",
    ]
    results = []
    with DemoPipeline(model, demo_config(args)) as pipeline:
        for i, (image, keypoints, name) in enumerate(zip(images, keypoint_files, names)):
            live = "\r" if sys.stdout.isatty() else ""  # a line that the result overwrites; logs get the result
            if live:
                print(f"[{i + 1}/{len(images)}] {image.name} ...", end="", flush=True)
            result = pipeline.run_image(image, keypoints, out, name)
            results.append(result)
            print(f"{live}[{i + 1}/{len(images)}] {image.name}: {result.describe()}", flush=True)
            record.add(result)
        if pipeline.writer.render_error:
            record.run["details"].append(f"no pictures: {pipeline.writer.render_error}")
        index = record.write()
    failed = [r.path.name for r in results if not r.ok]
    total = time.perf_counter() - start
    print(f"done in {total:.1f} s: {len(results) - len(failed)} of {len(results)} photo(s) ok; open {index}")
    return exit_status(failed, len(results), "photos")


def demo_config(args: argparse.Namespace) -> Any:
    """The :class:`~hmrflow.application.pipeline.DemoConfig` of the command's settings."""
    from hmrflow.application.pipeline import DemoConfig

    return DemoConfig(
        num_samples=args.samples,
        temperature=args.temperature,
        fit=not args.no_fit,
        fit_steps=args.steps,
        seed=args.seed,
        intrinsics=args.intrinsics,
        max_people=args.max_people,
        mirror_check=not args.no_mirror_check,
        detect=args.detect,
        viewer=not args.no_viewer,
        view=args.view,
    )
