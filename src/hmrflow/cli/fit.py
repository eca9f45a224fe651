"""``hmrflow fit`` and ``hmrflow fit-multiview``: fit bodies to 2D keypoint files."""

from __future__ import annotations

import argparse
import json
import logging
import math
from dataclasses import dataclass
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
  {"R": 3x3 world->camera, "t": [3] metres, "f": px (or [fx, fy]: fx is used), "c": [cx, cy] px},
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


# ---------------------------------------------------------------------------------- inputs


@dataclass
class ImagePeople:
    """The people of one image: keypoints ``(P, 23, 3)`` in the evidence order (checked values).

    Attributes:
        name: Output file names start with it; label: the input in messages (short);
        source: the input in errors (its path, and the image for COCO files).
    """

    name: str
    keypoints: Any  # numpy (P, 23, 3)
    image_size: tuple[int, int] | None
    image: Path | None
    label: str = ""
    source: str = ""


def _image_for(stem: str, images: Path | None) -> Path | None:
    if images is None:
        return None
    for candidate in sorted(images.glob(f"{stem}.*")):
        if candidate.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp", ".webp"):
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


def read_people(path: Path, images: Path | None) -> list[ImagePeople]:
    """The people of one keypoint file, per image; errors name the file.

    Raises:
        OSError: The file cannot be read (missing, a folder, ...).
        InputError: Not a keypoint file, or invalid values (see ``hmrflow fit --help``).
    """
    import numpy as np

    from hmrflow.data.keypoint_files import (
        KeypointFileError,
        body25_to_evidence,
        coco17_to_evidence,
        read_coco_keypoints_json,
        read_keypoint_array,
        read_openpose_json,
    )

    if path.suffix.lower() == ".npy":
        image = _image_for(path.stem, images)
        return [ImagePeople(path.stem, read_keypoint_array(path), _image_size(image), image, path.name, str(path))]
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise KeypointFileError(f"{path}: not valid JSON ({error})") from None
    if isinstance(data, dict) and "people" in data:
        people = read_openpose_json(path)
        stem = path.stem.removesuffix("_keypoints")
        image = _image_for(stem, images)
        arrays = np.stack([body25_to_evidence(p) for p in people]) if people else np.zeros((0, 23, 3))
        return [ImagePeople(stem, arrays, _image_size(image), image, path.name, str(path))]
    sizes = _coco_image_sizes(data)
    out = []
    for name, people in read_coco_keypoints_json(path).items():
        image = images / name if images is not None and (images / name).is_file() else None
        arrays = np.stack([coco17_to_evidence(p) for p in people]) if people else np.zeros((0, 23, 3))
        size = sizes.get(name) or _image_size(image)
        out.append(ImagePeople(Path(name).stem, arrays, size, image, f"{path.name} [{name}]", f"{path} [{name}]"))
    return out


def _coco_image_sizes(data: Any) -> dict[str, tuple[int, int]]:
    sizes = {}
    if isinstance(data, dict):
        for image in data.get("images", []) or []:
            if isinstance(image, dict) and {"file_name", "width", "height"} <= set(image):
                sizes[str(image["file_name"])] = (int(image["width"]), int(image["height"]))
    return sizes


def usable(keypoints: Any, name: str, minimum: int = 4) -> list[int]:
    """Indices of people with at least ``minimum`` confident keypoints; warn about the rest."""
    keep = []
    for i, person in enumerate(keypoints):
        count = int((person[:, 2] > 0).sum())
        if count >= minimum:
            keep.append(i)
        else:
            log.warning("%s: person %d has %d usable keypoints (< %d): skipped", name, i, count, minimum)
    return keep


def checked_people(item: ImagePeople, image_size: list[int] | None) -> tuple[Any, tuple[int, int]]:
    """The item's keypoints checked against its image (:func:`check_keypoints`) and that image's size.

    Raises:
        InputError: No image size is known, or a keypoint lies far outside the image.
    """
    from hmrflow.data.keypoint_files import check_keypoints

    size = item.image_size or (tuple(image_size) if image_size else None)
    if size is None:
        raise InputError(f"{item.source}: unknown image size: give --images or --image-size")
    return check_keypoints(item.keypoints, item.source, size), size  # type: ignore[return-value]


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


def _fit_image(model: Any, item: ImagePeople, config: Any, args: argparse.Namespace, out: Path, device: Any) -> int:
    """Fit the people of one image and write the files; returns how many were fitted."""
    import torch

    from hmrflow.fitting.baseline import fit_baseline
    from hmrflow.fitting.keypoint_fit import People, fit_keypoints

    keypoints, size = checked_people(item, args.image_size)
    keep = usable(keypoints, item.label)
    if not keep:
        log.warning("%s: no person to fit", item.label)
        return 0
    kp = torch.as_tensor(keypoints[keep], dtype=torch.float32, device=device)
    focal = None if args.focal_length is None else torch.tensor(args.focal_length, device=device)
    image_size = torch.tensor(size, dtype=torch.float32, device=device)
    people = People.from_keypoints(kp, image_size, focal, config.box_scale)
    fitter = fit_baseline if args.baseline else fit_keypoints
    fit = fitter(model, people, config)
    write_fit(out, item.name, fit, people, model, keep)
    if not args.no_render:
        render_fit(out / f"{item.name}_fit.png", item.image, fit, people, model)
    return len(keep)


def fit_record(fit: Any, people: Any, index: list[int]) -> list[dict[str, Any]]:
    """JSON-ready parameters of each fitted person (SMPL's names, camera frame)."""
    from hmrflow.body.parameters import parameter_arrays

    named = parameter_arrays(fit.rotmats, fit.betas, fit.translation)
    records = []
    for row, person in enumerate(index):
        records.append(
            {
                "person": person,
                **{name: value[row].tolist() for name, value in named.items()},
                "focal_length": float(people.focal_length[row]),
                "image_size": people.image_size[row].tolist(),
                "reprojection_error_px": _finite(fit.reprojection_error[row]),
                "initial_error_px": _finite(fit.initial_error[row]),
                "stop_reason": fit.results[row].reason.value,
                "steps": fit.results[row].steps,
                "energy": fit.results[row].loss_history,
            }
        )
    return records


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def write_fit(out: Path, name: str, fit: Any, people: Any, model: Any, index: list[int]) -> None:
    """``NAME.json``, ``NAME.npz`` and one OBJ per person."""
    import numpy as np

    from hmrflow.body.parameters import parameter_arrays

    summary = {
        "people": fit_record(fit, people, index),
        "frame": "camera frame (OpenCV: y down), principal point at the image centre; OBJ meshes: (x, -y, -z), Y up",
    }
    (out / f"{name}.json").write_text(json.dumps(summary, indent=1))
    np.savez(
        out / f"{name}.npz",
        **parameter_arrays(fit.rotmats, fit.betas, fit.translation),
        rotmats=fit.rotmats.cpu().numpy(),
        joints=fit.joints.cpu().numpy(),
        keypoints_2d=fit.keypoints_2d.cpu().numpy(),
        person=np.asarray(index),
    )
    faces = model.body.faces.cpu().numpy()
    for row, person in enumerate(index):
        write_obj(out / f"{name}_person{person}.obj", fit.vertices[row].cpu().numpy(), faces)


def write_obj(path: Path, vertices: Any, faces: Any) -> None:
    """A plain Wavefront OBJ of camera-frame vertices, written in the Y-up frame of meshes (metres)."""
    from hmrflow.body.parameters import camera_to_y_up

    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in camera_to_y_up(vertices)]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    path.write_text("\n".join(lines) + "\n")


def render_fit(path: Path, image_path: Path | None, fit: Any, people: Any, model: Any) -> None:
    """Meshes over the image, when the image and the renderer are available."""
    if image_path is None:
        log.info("no image for %s: render skipped", path.name)
        return
    try:
        import numpy as np
        from PIL import Image

        from hmrflow.render.figures import save_image
        from hmrflow.render.overlay import fit_camera, overlay_meshes, pose_meshes
    except ImportError as error:
        print(f"renders skipped: the renderer is not available ({error}); pip install 'hmrflow[render]'")
        return
    try:
        image = np.asarray(Image.open(image_path).convert("RGB"))
        faces = model.body.faces.cpu().numpy()
        meshes = [m for v in fit.vertices.cpu().numpy() for m in pose_meshes(v, faces)]
        camera = fit_camera(float(people.focal_length[0]), people.image_size[0])
        save_image(overlay_meshes(image, meshes, camera), path)
    except Exception as error:  # noqa: BLE001 - no GPU/EGL, etc.: the fit itself is saved
        print(f"render skipped for {path.name}: {type(error).__name__}: {error}")


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
    entries = read_calibration_file(args.calibration, len(files)) if args.calibration is not None else None
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
    import torch

    from hmrflow.fitting.keypoint_fit import People

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
        chosen = _choose_person(keypoints, items[0].label, args.person)
        if chosen is None:
            log.error("view %s skipped: no usable person", path.name)
            continue
        kp = torch.as_tensor(chosen[None], dtype=torch.float32, device=device)
        focal = None if args.focal_length is None else torch.tensor(args.focal_length, device=device)
        views.append(People.from_keypoints(kp, torch.tensor(size, dtype=torch.float32, device=device), focal))
        used.append(path)
    return views, used


def _fit_and_write(
    model: Any,
    views: list[Any],
    used: list[Path],
    entries: list[dict[str, Any]] | None,
    files: list[Path],
    args: argparse.Namespace,
    out: Path,
) -> None:
    """Fit one body to ``views`` (calibrated with ``entries``, if given) and write its files."""
    import numpy as np
    import torch

    from hmrflow.body.parameters import parameter_arrays
    from hmrflow.fitting.lbfgs import StopRules
    from hmrflow.fitting.multiview import MultiViewConfig, fit_multiview, fit_multiview_calibrated
    from hmrflow.geometry import rotmat_to_rotvec

    config = MultiViewConfig(rules=StopRules(max_steps=args.steps or 10), reprojection=args.reprojection,
                             drop_hips=args.drop_hips)  # fmt: skip
    if entries is not None:
        cameras = calibration_cameras([entries[files.index(path)] for path in used], views[0].keypoints.device)
        fit = fit_multiview_calibrated(model, views, cameras, config)
    else:
        fit = fit_multiview(model, views, config)
    names = [path.name for path in used]
    with torch.no_grad():
        # Calibrated: the world translation; uncalibrated: none (view 0's frame, at its origin).
        transl = fit.translation if fit.translation.dim() == 2 else fit.betas.new_zeros(len(fit.betas), 3)
        body = model.body(fit.consensus, fit.betas, transl)
    named = parameter_arrays(fit.consensus[0], fit.betas[0], transl[0])
    record = {
        "views": names,
        "calibrated": entries is not None,
        **{name: value.tolist() for name, value in named.items()},
        "frame": "world" if entries is not None else f"camera of {names[0]}",
        "view_poses_axis_angle": rotmat_to_rotvec(fit.rotmats[0]).tolist(),
        "stop_reason": fit.results[0].reason.value,
        "energy": fit.results[0].loss_history,
    }
    (out / "multiview.json").write_text(json.dumps(record, indent=1))
    np.savez(out / "multiview.npz", rotmats=fit.consensus[0].cpu().numpy(), betas=fit.betas[0].cpu().numpy(),
             view_rotmats=fit.rotmats[0].cpu().numpy(), joints=body.joints[0].cpu().numpy())  # fmt: skip
    write_obj(out / "multiview.obj", body.vertices[0].cpu().numpy(), model.body.faces.cpu().numpy())
    print(f"one body from {len(views)} views written to {out}")


def _choose_person(keypoints: Any, label: str, index: int | None) -> Any:
    """Person ``index`` if usable, else (no index) the usable one with the most confidence."""
    import numpy as np

    keep = usable(keypoints, label)
    if index is not None:
        return keypoints[index] if index in keep else None
    if not keep:
        return None
    scores = [keypoints[i][:, 2].sum() for i in keep]
    return keypoints[keep[int(np.argmax(scores))]]


def read_calibration_file(path: Path, count: int) -> list[dict[str, Any]]:
    """The cameras of ``count`` views from a JSON list (see ``hmrflow fit-multiview --help``).

    Returns one ``{"R", "t", "f", "c"}`` per view, as float arrays (``f`` a number).

    Raises:
        OSError: The file cannot be read.
        InputError: Not JSON, another number of cameras, or a camera with missing,
            misshaped or non-finite values; the message names the file and the camera.
    """
    import numpy as np

    try:
        entries = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"--calibration {path}: not valid JSON ({error})") from None
    if not isinstance(entries, list) or len(entries) != count:
        raise InputError(f"--calibration {path}: expected a list of {count} cameras (one per view file)")
    shapes = {"R": (3, 3), "t": (3,), "c": (2,)}
    cameras = []
    for i, entry in enumerate(entries):
        try:
            camera = {key: np.asarray(entry[key], dtype=np.float64).reshape(shape) for key, shape in shapes.items()}
            focal = np.asarray(entry["f"], dtype=np.float64).reshape(-1)
            camera["f"] = float(focal[0])
        except (KeyError, TypeError, ValueError, IndexError):
            raise InputError(
                f"--calibration {path}: camera {i} needs R (3x3), t (3), f (a number or [fx, fy]) and c (2)"
            ) from None
        if not all(np.isfinite(v).all() for v in camera.values()) or camera["f"] <= 0:
            raise InputError(f"--calibration {path}: camera {i} has non-finite values or a focal length <= 0")
        cameras.append(camera)
    return cameras


def calibration_cameras(entries: list[dict[str, Any]], device: Any = "cpu") -> Any:
    """:class:`~hmrflow.fitting.multiview.Cameras` (B = 1) of the views' calibration entries."""
    import numpy as np
    import torch

    from hmrflow.fitting.multiview import Cameras

    def stack(key: str) -> Any:
        return torch.as_tensor(np.stack([e[key] for e in entries]), dtype=torch.float32, device=device)[None]

    return Cameras(stack("R"), stack("t"), stack("f"), stack("c"))
