"""``hmrflow demo``: photos in, a distribution of 3D bodies out."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from hmrflow.errors import InputError

HELP = """\
Recover 3D bodies from photos, with their uncertainty.

For each photo: 2D keypoints (from --keypoints files, from precomputed detections beside
the photo, or from the mediapipe detector) give a box around each person; the model
gives a probability distribution over the 3D pose; the most likely body (the mode) and
--samples other plausible bodies are drawn; the mode is then fitted to the keypoints
with the learned prior (skip with --no-fit). Results go to --out, one folder per photo:
the body over the photo, a figure of the samples (front, side and where they disagree),
mesh files (OBJ, PLY, GLB), parameters (JSON, npz), an interactive 3D viewer (an HTML
file that needs no network), and index.html linking everything.

With no photo, it runs on the bundled example (frames of the pose2sim demo recording).
"""

EPILOG = """\
examples:
  hmrflow demo                                 the bundled example -> outputs/demo/index.html
  hmrflow demo photo.jpg --samples 25          your photo (needs the detector, see below)
  hmrflow demo a.jpg b.jpg --keypoints a_keypoints.json b_keypoints.json
  hmrflow demo photos/*.jpg --keypoints coco_results.json     (one COCO file for all)

keypoint files: OpenPose BODY_25 JSON, COCO keypoint JSON, or the keypoints.json this
command writes. The detector (mediapipe) lives in its own environment because it needs
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
    parser.add_argument("images", nargs="*", type=Path, metavar="IMAGE", help="photos (default: the bundled example)")
    parser.add_argument(
        "--keypoints", nargs="+", type=Path, metavar="FILE",
        help="keypoint files: one per photo in the same order, or one COCO file for all",
    )  # fmt: skip
    parser.add_argument("--no-fit", action="store_true", help="skip fitting the body to the keypoints")
    parser.add_argument(
        "--samples", type=int, default=10, help="samples per person besides the mode (default: %(default)s)"
    )
    parser.add_argument("--out", type=Path, default=Path("outputs/demo"), help="output folder (default: %(default)s)")
    parser.add_argument("--model", default=None, help="a model file or checkpoint (default: the shipped model)")
    parser.add_argument(
        "--detect", choices=("auto", "always", "never"), default="auto",
        help="auto: keypoint files, then precomputed ones beside the photo, then the detector; "
        "always: the detector unless --keypoints; never: files only (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--fit-steps", type=int, default=30, help="L-BFGS steps of the fit (default: %(default)s)")
    parser.add_argument(
        "--focal-length", type=float, default=None, help="focal length in px (default: the image diagonal)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of the samples (default: %(default)s)")
    parser.add_argument("--no-viewer", action="store_true", help="do not write the HTML viewers")
    parser.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")
    parser.set_defaults(func=run)


def bundled_images() -> list[Path]:
    """The bundled example photos."""
    from importlib import resources

    folder = Path(str(resources.files("hmrflow") / "assets" / "demo" / "images"))
    return sorted(folder.glob("*.jpg"))


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


def folder_names(images: list[Path]) -> list[str]:
    """An output folder name per image: its stem, made unique."""
    names: list[str] = []
    for image in images:
        name, k = image.stem, 2
        while name in names:
            name, k = f"{image.stem}_{k}", k + 1
        names.append(name)
    return names


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    from hmrflow.demo.outputs import write_index
    from hmrflow.demo.pipeline import DemoConfig, DemoPipeline
    from hmrflow.training.checkpoint import load_model

    images = list(args.images) or bundled_images()
    keypoint_files = pair_keypoints(images, args.keypoints)
    if args.samples < 0:
        raise InputError("--samples must be >= 0")
    model = load_model(args.model, device=args.device)
    config = DemoConfig(
        num_samples=args.samples,
        fit=not args.no_fit,
        fit_steps=args.fit_steps,
        seed=args.seed,
        focal_length=args.focal_length,
        detect=args.detect,
        viewer=not args.no_viewer,
    )
    kind = model.config.encoder.kind
    model_name = args.model or "the shipped model"
    print(
        f"hmrflow demo: {len(images)} photo(s) -> {args.out}/ | model: {model_name} ({kind}-conditioned, "
        f"body {model.body.name}) | {args.samples} samples | fit: {'off' if args.no_fit else f'{args.fit_steps} steps'}"
    )
    print(f"  model loaded in {time.perf_counter() - start:.1f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    with DemoPipeline(model, config) as pipeline:
        for i, (image, keypoints, name) in enumerate(zip(images, keypoint_files, folder_names(images))):
            print(f"[{i + 1}/{len(images)}] {image.name} ...", end="", flush=True)
            result = pipeline.run_image(image, keypoints, args.out, name)
            results.append(result)
            print("\r" + f"[{i + 1}/{len(images)}] {image.name}: " + describe(result), flush=True)
        render_note = pipeline.writer.render_error
    fit = "off" if args.no_fit else f"{args.fit_steps} L-BFGS steps"
    details = [
        f"model: {model_name} ({kind}-conditioned), body model {model.body.name}",
        f"{args.samples} samples per person; fit with the learned prior: {fit}",
        "frames: camera frame of each photo (OpenCV: x right, y down), metres",
    ]
    if render_note:
        details.append(f"no pictures: {render_note}")
    index = write_index(args.out, results, "hmrflow demo", details)
    failed = [r for r in results if not r.ok]
    total = time.perf_counter() - start
    print(f"done in {total:.1f} s: {len(results) - len(failed)} of {len(results)} photo(s) ok; open {index}")
    return 1 if len(failed) == len(results) else 0


def describe(result) -> str:  # noqa: ANN001 - ImageResult
    """One terminal line about a photo: its people, errors and timings."""
    if not result.ok:
        return f"FAILED: {result.error}"
    timing = " | ".join(f"{k} {v:.2f} s" for k, v in result.timings.items())

    def person(i: int, p) -> str:  # noqa: ANN001 - PersonResult
        text = f"person {i}: keypoint error {p.initial_error:.1f} px (mode)"
        if p.fit is not None:
            change = float(p.fit.log_prob[0]) - float(p.mode.log_prob[0])
            text += f" -> {p.reprojection_error:.1f} px (fit, log p {change:+.1f} vs mode)"
        return text

    people = "; ".join(person(i, p) for i, p in enumerate(result.people))
    return f"{people} | keypoints: {result.keypoint_source} | {timing}"
