"""``hmrflow eval``: evaluate a model on a named synthetic or real set, or a ProHMR-format file."""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path
from typing import Any

from hmrflow.cli.common import add_device_argument, torch_device
from hmrflow.errors import InputError
from hmrflow.folders import output_folder

HELP = """\
Evaluate a model: the error of its best guess (the mode), the best of N hypotheses
(min-of-N), the likelihood it gives the true pose, the spread of its samples, and whether
its uncertainty is calibrated.

CHECKPOINT is a model file (`hmrflow train --export`), a training checkpoint, or
`default` for the shipped model. --data is a named synthetic set, a named set of real
people (shipped with hmrflow), or a ProHMR-format .npz file (Human3.6M protocol 2, 3DPW
test; you supply it):

  hmrflow eval default --data synthetic-keypoints-v1
  hmrflow eval default --data real-multiview-v1
  hmrflow eval runs/keypoints/model.pt --data synthetic-keypoints-occluded-v1 --hypotheses 50
  hmrflow eval model.pt --data 3dpw_test.npz --regressor J_regressor_h36m.npy
  hmrflow eval image_model.pt --data h36m_val_p2.npz --images data/h36m/images

Synthetic sets (generated with the model's own body model, identical for a given name):
{sets}

Real sets (keypoint models; each view of each person and frame is one example):
{real}

Output: a table here, and in --out: metrics.csv, per_joint.csv, min_of_n.csv,
calibration.csv, results.json, and min_of_n.png, calibration.png, per_joint.png (plots
need matplotlib: pip install 'hmrflow[plot]'). On Human3.6M protocol 2 and 3DPW the
paper's figures are printed beside ours; the synthetic sets have no published reference.
Keypoint models read their evidence from the file's 2D keypoints (--keypoints), image
models crop the images of --images (reading images needs Pillow).

Figures: MPJPE after aligning the pelvis, PA-MPJPE after a similarity Procrustes, in mm;
min-of-N over N hypotheses that include the mode; NLL in nats; calibration error 0 is
perfect (negative bias = over-confident). Synthetic sets are measured on the 24 body
joints, ProHMR-format files on the 14 evaluation joints, real sets on the 12 limb joints
(shoulders, elbows, wrists, hips, knees, ankles; MPJPE after aligning the hips' midpoint),
with the orientation of the torso (hips and shoulders) in degrees, and the mode's PA-MPJPE
apart on the views where the detector put a limb keypoint on something else (more than 10 %
of the person's height from the triangulated joint) and on the others.
--flip-test evaluates the flip-test ensemble: the mode averaged with the mirror image of the
mirrored evidence's mode, and half the samples drawn by that mirror twin.
"""


def _set_lines() -> str:
    from hmrflow.evaluation.sets import SYNTHETIC_SETS

    return "\n".join(f"  {name:<34} {spec.description}" for name, spec in SYNTHETIC_SETS.items())


def _real_lines() -> str:
    from hmrflow.evaluation.real_sets import REAL_SETS

    return "\n".join(f"  {name:<34} {text}" for name, text in REAL_SETS.items())


def _counts(text: str) -> list[int]:
    try:
        values = [int(v) for v in re.split(r"[,\s]+", text.strip()) if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1, got {text!r}")
    return values


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a model (errors, min-of-N, likelihood, calibration)",
        description=HELP.format(sets=_set_lines(), real=_real_lines()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("checkpoint", metavar="CHECKPOINT", help="model file, training checkpoint, or 'default'")
    add("--data", required=True, metavar="NAME_OR_PATH", help="synthetic or real set name, or ProHMR-format .npz")
    add("--hypotheses", type=int, default=25, metavar="N",
        help="poses per example: the mode and N - 1 samples (25)")  # fmt: skip
    add("--temperature", type=float, default=1.0, metavar="T",
        help="scale of the samples' latents: below 1 keeps them closer to the mode (1)")  # fmt: skip
    add("--flip-test", action="store_true",
        help="evaluate the flip-test ensemble: the mode averaged with the mirror image of the "
             "mirrored evidence's mode, half the samples drawn by that mirror twin")  # fmt: skip
    add("--min-of-n", type=_counts, default=None, metavar="N,N,...",
        help="min-of-N counts (default 1,5,10,25 up to --hypotheses, and --hypotheses)")  # fmt: skip
    add("--out", metavar="DIR", help="output folder (default runs/eval/MODEL/DATA)")
    add("--batch-size", type=int, default=128, metavar="N", help="examples per forward pass (128)")
    add_device_argument(parser)
    add("--seed", type=int, default=0, metavar="N", help="seed of the model's samples (0)")
    add("--size", type=int, metavar="N", help="synthetic sets: another size (then not the named set)")
    add("--regressor", metavar="FILE",
        help="ProHMR-format files: joint regressor .npy (17 x vertices, Human3.6M order)")  # fmt: skip
    add("--keypoints", choices=("auto", "body25", "extra"), default="auto",
        help="ProHMR-format files: evidence from body_keypoints_2d (body25) or extra_keypoints_2d "
             "(extra); auto: body25 when it holds any point")  # fmt: skip
    add("--images", metavar="DIR", help="ProHMR-format files, image models: image folder (the file's)")
    add("--workers", type=int, default=0, metavar="N", help="image models: loader processes (0)")
    add("--protocol", choices=("auto", "none", "h36m-p2", "3dpw-test"), default="auto",
        help="published protocol of a ProHMR-format file (auto: from its name)")  # fmt: skip
    add("--body-model", metavar="NAME_OR_FILE", help="another body model than the checkpoint's")
    add("--no-plots", action="store_true", help="write no PNG plots")
    add("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from hmrflow.models.checkpoint import load_model

    if args.hypotheses < 1:
        raise InputError(f"--hypotheses {args.hypotheses}: must be at least 1")
    if args.batch_size < 1:
        raise InputError(f"--batch-size {args.batch_size}: must be at least 1")
    if not (math.isfinite(args.temperature) and args.temperature >= 0):
        raise InputError(f"--temperature {args.temperature}: must be a number >= 0")
    path = None if args.checkpoint == "default" else args.checkpoint
    model_name = "default" if path is None else Path(path).name
    default_out = Path("runs/eval") / Path(model_name).stem / Path(args.data).stem
    out = output_folder(Path(args.out) if args.out else default_out)
    device = torch_device(args.device)
    model = load_model(path, body_model=args.body_model)  # on the CPU, where the data is made
    try:
        data = _load_data(args, model)
        regressor = _load_regressor(args.regressor, model) if args.regressor else None
    except (KeyError, ValueError, NotImplementedError) as error:
        raise InputError(str(error).strip("'\"")) from None
    model.to(device)

    from hmrflow.evaluation.reference import reference_for
    from hmrflow.evaluation.report import format_table, write_report
    from hmrflow.evaluation.runner import evaluate_model

    counts = args.min_of_n or [n for n in (1, 5, 10, 25) if n <= args.hypotheses] + [args.hypotheses]
    generator = torch.Generator(device=device).manual_seed(args.seed)
    try:
        result, predictor = evaluate_model(
            model, data, hypotheses=args.hypotheses, min_of_n=counts, batch_size=args.batch_size,
            regressor=regressor, generator=generator, progress=not args.no_progress,
            temperature=args.temperature, flip_test=args.flip_test,
        )  # fmt: skip
    except ImportError as error:  # no Pillow
        raise InputError(str(error)) from None
    result = _with_real_figures(result, model, data, args)
    reference = reference_for(data.info.protocol)
    if reference is not None and predictor.missing:
        print(f"note: joints {list(predictor.missing)} undefined for this body model: the protocol "
              f"differs from the paper's (pass --regressor)")  # fmt: skip
    title = (f"{model_name} on {data.info.name}: {result.count} examples, "
             f"{len(result.joint_names)} joints, {args.hypotheses} hypotheses")  # fmt: skip
    print(format_table(result, reference, title))
    extra: dict[str, Any] = {
        "model": {"checkpoint": model_name, "body_model": model.body.name,
                  "encoder": model.config.encoder.kind, "orientation_frame": model.config.orientation_frame},
        "run": {"hypotheses": args.hypotheses, "seed": args.seed, "flip_test": args.flip_test,
                "missing_joints": list(predictor.missing), "regressor": args.regressor},
    }  # fmt: skip
    try:
        paths = write_report(result, out, data.info, reference, extra, plots=not args.no_plots)
    except ImportError as error:
        print(f"hmrflow eval: {error}", file=sys.stderr)
        paths = write_report(result, out, data.info, reference, extra, plots=False)
    print(f"wrote {', '.join(p.name for p in paths)} to {out}")
    return 0


def _with_real_figures(result: Any, model: Any, data: Any, args: argparse.Namespace) -> Any:
    """``result`` with the real sets' own figures (orientation, stray detections), on them."""
    from dataclasses import replace

    from hmrflow.evaluation.real_sets import REAL_SETS

    if args.data not in REAL_SETS:
        return result
    from hmrflow.evaluation.real_sets import real_figures, stray_examples

    figures, _, _ = real_figures(model, data, stray_examples(), args.batch_size, flip_test=args.flip_test)
    return replace(result, figures={**result.figures, **figures})


def _load_data(args: argparse.Namespace, model: Any) -> Any:
    from hmrflow.evaluation.real_sets import REAL_SETS, real_set
    from hmrflow.evaluation.sets import SYNTHETIC_SETS, synthetic_set

    kind = model.config.encoder.kind
    if args.data in REAL_SETS:
        if kind != "keypoints":
            raise NotImplementedError(f"the real sets give keypoint evidence; this model takes {kind} evidence")
        return real_set(args.data, model.evidence_names)
    if args.data in SYNTHETIC_SETS:
        if kind != "keypoints":
            raise NotImplementedError(
                f"the synthetic sets give keypoint evidence; this model takes {kind} evidence"
            )
        return synthetic_set(args.data, model.body, model.config.encoder.keypoint_sets, size=args.size)
    if not args.data.endswith(".npz"):
        synthetic, real = ", ".join(SYNTHETIC_SETS), ", ".join(REAL_SETS)
        raise KeyError(f"--data {args.data!r}: not a synthetic set ({synthetic}), a real set ({real}) nor a .npz file")
    from hmrflow.data.prohmr_format import ProHMRFormatError
    from hmrflow.evaluation.prohmr_sets import open_prohmr_set

    protocol = None if args.protocol == "none" else args.protocol
    try:
        return open_prohmr_set(args.data, model, args.images, keypoints=args.keypoints,
                               protocol=protocol, num_workers=args.workers)  # fmt: skip
    except (ProHMRFormatError, FileNotFoundError) as error:
        raise ValueError(str(error)) from None


def _load_regressor(path: str, model: Any) -> Any:
    import numpy as np

    from hmrflow.evaluation.runner import regressor_keypoint_set

    array = np.load(path, allow_pickle=False)
    if hasattr(array, "files"):  # an .npz: its only (or first) array
        array = array[array.files[0]]
    return regressor_keypoint_set(np.asarray(array, dtype=np.float32), num_joints=model.body.num_joints)

