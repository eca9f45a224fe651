"""``hmrflow fit`` and ``hmrflow fit-multiview``: fit bodies to 2D keypoint files."""

from __future__ import annotations

import argparse
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
else from --image-size. The focal length is --focal px, else the image diagonal
(a 53 degree field of view). Outputs in --out: per input image NAME.json (parameters:
axis-angle pose, betas, translation, camera, errors) and NAME.npz, one OBJ mesh per
person, and NAME_fit.png renders when images and the renderer are available.

  hmrflow fit frame_keypoints.json --images frames/ --out fits/
  hmrflow fit person_keypoints_val2017.json --images val2017/ --drop-hips
  hmrflow fit people.npy --image-size 1920 1080 --steps 30

`hmrflow fit --evaluate` instead prints the evaluation tables on synthetic sets with
ground truth (regression vs learned-prior fitting vs baseline; multi-view 1/2/4 views).
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
    parser.add_argument("--size", type=int, default=256, help="--evaluate: people per single-view set")
    parser.add_argument("--multiview-size", type=int, default=128, help="--evaluate: bodies per view count")
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
    parser.add_argument("--focal", type=float, help="focal length, px (default: image diagonal)")
    parser.add_argument("--steps", type=int, default=None, help="L-BFGS outer steps (fit: 10, evaluate: 30)")
    parser.add_argument("--device", default="cpu")


# ---------------------------------------------------------------------------------- inputs


@dataclass
class ImagePeople:
    """The people of one image: keypoints ``(P, 23, 3)`` in the evidence order."""

    name: str
    keypoints: Any  # numpy (P, 23, 3)
    image_size: tuple[int, int] | None
    image: Path | None


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
        from PIL import Image
    except ImportError:
        log.warning("Pillow is not installed (pip install 'hmrflow[render]'); image sizes need --image-size")
        return None
    with Image.open(path) as image:
        return image.size


def read_people(path: Path, images: Path | None) -> list[ImagePeople]:
    """The people of one keypoint file, per image; errors name the file."""
    import numpy as np

    from hmrflow.data.keypoint_files import (
        body25_to_evidence,
        coco17_to_evidence,
        read_coco_keypoints_json,
        read_openpose_json,
    )

    if path.suffix == ".npy":
        array = np.load(path, allow_pickle=False).astype(np.float64)
        if array.ndim == 2:
            array = array[None]
        converters = {25: body25_to_evidence, 17: coco17_to_evidence, 23: lambda a: a}
        if array.ndim != 3 or array.shape[-1] != 3 or array.shape[1] not in converters:
            raise ValueError(f"{path}: expected (P, 25|17|23, 3) keypoints, got shape {array.shape}")
        image = _image_for(path.stem, images)
        return [ImagePeople(path.stem, converters[array.shape[1]](array), _image_size(image), image)]
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if isinstance(data, dict) and "people" in data:
        people = read_openpose_json(path)
        stem = path.stem.removesuffix("_keypoints")
        image = _image_for(stem, images)
        arrays = np.stack([body25_to_evidence(p) for p in people]) if people else np.zeros((0, 23, 3))
        return [ImagePeople(stem, arrays, _image_size(image), image)]
    sizes = _coco_image_sizes(data)
    out = []
    for name, people in read_coco_keypoints_json(path).items():
        image = images / name if images is not None and (images / name).is_file() else None
        arrays = np.stack([coco17_to_evidence(p) for p in people]) if people else np.zeros((0, 23, 3))
        out.append(ImagePeople(Path(name).stem, arrays, sizes.get(name) or _image_size(image), image))
    return out


def _coco_image_sizes(data: Any) -> dict[str, tuple[int, int]]:
    sizes = {}
    if isinstance(data, dict):
        for image in data.get("images", []) or []:
            if isinstance(image, dict) and {"file_name", "width", "height"} <= set(image):
                sizes[str(image["file_name"])] = (int(image["width"]), int(image["height"]))
    return sizes


def usable(keypoints: Any, name: str, minimum: int = 4) -> list[int]:
    """Indices of people with at least ``minimum`` finite confident keypoints; warn about the rest."""
    import numpy as np

    keep = []
    for i, person in enumerate(keypoints):
        finite = np.isfinite(person).all(-1) & (np.nan_to_num(person[:, 2]) > 0)
        if finite.sum() >= minimum:
            keep.append(i)
        else:
            log.warning("%s: person %d has %d usable keypoints (< %d): skipped", name, i, finite.sum(), minimum)
    return keep


# ---------------------------------------------------------------------------------- fit


def run(args: argparse.Namespace) -> int:
    import torch

    from hmrflow.training.checkpoint import load_model

    model = load_model(args.model, device=args.device)
    if args.evaluate:
        return _evaluate(model, args)
    if not args.files:
        print("hmrflow fit: give keypoint files (or --evaluate); see `hmrflow fit --help`")
        return 2
    from hmrflow.fitting.keypoint_fit import FitConfig
    from hmrflow.fitting.lbfgs import StopRules

    config = FitConfig(rules=StopRules(max_steps=args.steps or 10), drop_hips=args.drop_hips)
    args.out.mkdir(parents=True, exist_ok=True)
    failures = done = 0
    for path in map(Path, args.files):
        try:
            images = read_people(path, args.images)
        except (OSError, ValueError) as error:  # KeypointFileError is a ValueError
            log.error("%s", error)
            failures += 1
            continue
        for item in images:
            try:
                done += _fit_image(model, item, config, args)
            except ValueError as error:
                log.error("%s: %s", item.name, error)
                failures += 1
    print(f"fitted {done} people; results in {args.out}" + (f"; {failures} inputs failed" if failures else ""))
    return 1 if failures and not done else 0


def _fit_image(model: Any, item: ImagePeople, config: Any, args: argparse.Namespace) -> int:
    import torch

    from hmrflow.fitting.baseline import fit_baseline
    from hmrflow.fitting.keypoint_fit import People, fit_keypoints

    size = item.image_size or (tuple(args.image_size) if args.image_size else None)
    if size is None:
        raise ValueError("unknown image size: give --images or --image-size")
    keep = usable(item.keypoints, item.name)
    if not keep:
        log.warning("%s: no person to fit", item.name)
        return 0
    keypoints = torch.as_tensor(item.keypoints[keep], dtype=torch.float32, device=args.device)
    focal = None if args.focal is None else torch.tensor(args.focal)
    people = People.from_keypoints(keypoints, torch.tensor(size, dtype=torch.float32), focal, config.box_scale)
    fitter = fit_baseline if args.baseline else fit_keypoints
    fit = fitter(model, people, config)
    write_fit(args.out, item.name, fit, people, model, keep)
    if not args.no_render:
        render_fit(args.out / f"{item.name}_fit.png", item.image, fit, people, model)
    return len(keep)


def fit_record(fit: Any, people: Any, index: list[int]) -> list[dict[str, Any]]:
    """JSON-ready parameters of each fitted person."""
    from hmrflow.geometry import rotmat_to_rotvec

    pose = rotmat_to_rotvec(fit.rotmats)
    records = []
    for row, person in enumerate(index):
        records.append(
            {
                "person": person,
                "pose_axis_angle": pose[row].tolist(),
                "betas": fit.betas[row].tolist(),
                "translation": fit.translation[row].tolist(),
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

    summary = {
        "people": fit_record(fit, people, index),
        "camera": "OpenCV frame, principal point at the image centre; pose axis-angle, joint 0 global",
    }
    (out / f"{name}.json").write_text(json.dumps(summary, indent=1))
    np.savez(
        out / f"{name}.npz",
        rotmats=fit.rotmats.cpu().numpy(),
        betas=fit.betas.cpu().numpy(),
        translation=fit.translation.cpu().numpy(),
        joints=fit.joints.cpu().numpy(),
        keypoints_2d=fit.keypoints_2d.cpu().numpy(),
        person=np.asarray(index),
    )
    faces = model.body.faces.cpu().numpy()
    for row, person in enumerate(index):
        write_obj(out / f"{name}_person{person}.obj", fit.vertices[row].cpu().numpy(), faces)


def write_obj(path: Path, vertices: Any, faces: Any) -> None:
    """A plain Wavefront OBJ (metres, camera frame)."""
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in vertices]
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
    from hmrflow.fitting.evaluate import EvaluationConfig, evaluate_fitting, format_tables

    config = EvaluationConfig(size=args.size, multiview_size=args.multiview_size, steps=args.steps or 30)
    print(format_tables(evaluate_fitting(model, config, progress=True)))
    return 0


# ---------------------------------------------------------------------------------- multi-view


def run_multiview(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from hmrflow.fitting.keypoint_fit import People
    from hmrflow.fitting.lbfgs import StopRules
    from hmrflow.fitting.multiview import MultiViewConfig, fit_multiview, fit_multiview_calibrated
    from hmrflow.training.checkpoint import load_model

    model = load_model(args.model, device=args.device)
    views, names = [], []
    for path in map(Path, args.files):
        try:
            items = read_people(path, args.images)
        except (OSError, ValueError) as error:
            log.error("%s: view skipped: %s", path, error)
            continue
        item = items[0] if items else None
        chosen = _choose_person(item, args.person) if item is not None else None
        size = (item.image_size if item else None) or (tuple(args.image_size) if args.image_size else None)
        if chosen is None or size is None:
            log.error("%s: view skipped (%s)", path, "no usable person" if chosen is None else "unknown image size")
            continue
        keypoints = torch.as_tensor(chosen[None], dtype=torch.float32)
        focal = None if args.focal is None else torch.tensor(args.focal)
        views.append(People.from_keypoints(keypoints, torch.tensor(size, dtype=torch.float32), focal))
        names.append(path.name)
    if not views:
        print("hmrflow fit-multiview: no usable view")
        return 1
    config = MultiViewConfig(rules=StopRules(max_steps=args.steps or 10), reprojection=args.reprojection,
                             drop_hips=args.drop_hips)  # fmt: skip
    if args.calibration is not None:
        try:
            cameras = read_calibration(args.calibration, [Path(f).name for f in args.files], names)
        except (OSError, ValueError, KeyError, TypeError) as error:
            print(f"hmrflow fit-multiview: {args.calibration}: {error}")
            return 2
        fit = fit_multiview_calibrated(model, views, cameras, config)
    else:
        fit = fit_multiview(model, views, config)
    args.out.mkdir(parents=True, exist_ok=True)
    from hmrflow.geometry import rotmat_to_rotvec

    with torch.no_grad():
        transl = fit.translation if fit.translation.dim() == 2 else None
        body = model.body(fit.consensus, fit.betas, transl)
    record = {
        "views": names,
        "calibrated": args.calibration is not None,
        "pose_axis_angle": rotmat_to_rotvec(fit.consensus[0]).tolist(),
        "betas": fit.betas[0].tolist(),
        "frame": "world" if args.calibration is not None else f"camera of {names[0]}",
        "view_poses_axis_angle": rotmat_to_rotvec(fit.rotmats[0]).tolist(),
        "stop_reason": fit.results[0].reason.value,
        "energy": fit.results[0].loss_history,
    }
    (args.out / "multiview.json").write_text(json.dumps(record, indent=1))
    np.savez(args.out / "multiview.npz", rotmats=fit.consensus[0].numpy(), betas=fit.betas[0].numpy(),
             view_rotmats=fit.rotmats[0].numpy(), joints=body.joints[0].numpy())  # fmt: skip
    write_obj(args.out / "multiview.obj", body.vertices[0].numpy(), model.body.faces.cpu().numpy())
    print(f"one body from {len(views)} views written to {args.out}")
    return 0


def _choose_person(item: ImagePeople, index: int | None) -> Any:
    import numpy as np

    keep = usable(item.keypoints, item.name)
    if index is not None:
        return item.keypoints[index] if index in keep else None
    if not keep:
        return None
    scores = [np.nan_to_num(item.keypoints[i][:, 2]).sum() for i in keep]
    return item.keypoints[keep[int(np.argmax(scores))]]


def read_calibration(path: Path, files: list[str], used: list[str]) -> Any:
    """Cameras of the used views from a JSON list in the order of ``files``."""
    import torch

    from hmrflow.fitting.multiview import Cameras

    entries = json.loads(path.read_text())
    if not isinstance(entries, list) or len(entries) != len(files):
        raise ValueError(f"expected a list of {len(files)} cameras (one per view file)")
    chosen = [entries[files.index(name)] for name in used]
    rotation = torch.tensor([c["R"] for c in chosen], dtype=torch.float32)
    translation = torch.tensor([c["t"] for c in chosen], dtype=torch.float32)
    focal = torch.tensor([[float(c["f"]) if not isinstance(c["f"], list) else c["f"][0]] for c in chosen])[:, 0]
    center = torch.tensor([c["c"] for c in chosen], dtype=torch.float32)
    if rotation.shape[1:] != (3, 3) or translation.shape[1:] != (3,) or center.shape[1:] != (2,):
        raise ValueError("each camera needs R (3x3), t (3), f and c (2)")
    return Cameras(rotation[None], translation[None], focal[None].float(), center[None])
