"""``hmrflow data``: look at the training data (pose sheets, synthetic-set statistics)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hmrflow.cli.common import output_file
from hmrflow.errors import InputError

HELP = """\
Look at the data the models learn from.

  hmrflow data sheet poses.png        16 poses from the pose sampler and 16 frames of the
                                      bundled CMU clip, drawn as meshes with skeletons
  hmrflow data stats                  percentiles of pose angles, camera parameters and
                                      keypoint visibility of the synthetic training stream
                                      and validation set of a training configuration

Both use the body model of the configuration (default: the shipped anny_lowpoly).
"""

SHEET_HELP = """\
Write a sheet of poses: COUNT from the pose sampler (real CMU frames mixed, mirrored and
perturbed, plus poses drawn within the joint limits) and COUNT evenly spaced frames of the
bundled CMU clip. Front view; the person's left side is blue, the right side red. Needs
matplotlib (pip install 'hmrflow[plot]').
"""

STATS_HELP = """\
Print distributions (percentiles) of the synthetic keypoint data a training configuration
uses: camera (pelvis depth, view elevation, azimuth, focal length, person box), the angle
of every joint's local rotation, and keypoint visibility, detections and confidences.
"train" is SIZE examples of the training stream; "val" is the fixed validation set
(data.val_size examples from data.val_seed).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data",
        help="pose sheets and statistics of the training data",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(title="data commands", metavar="COMMAND", dest="action")
    raw = argparse.RawDescriptionHelpFormatter
    sheet = commands.add_parser("sheet", help="draw sampler and CMU poses", description=SHEET_HELP, formatter_class=raw)
    sheet.add_argument("output", metavar="OUT.png", help="image file to write (.png, .pdf, .svg)")
    sheet.add_argument("--count", type=int, default=16, help="poses per group (default: %(default)s)")
    sheet.add_argument("--seed", type=int, default=0, help="sampler seed (default: %(default)s)")
    sheet.add_argument(
        "--style", choices=("both", "mesh", "skeleton"), default="both", help="drawing (default: %(default)s)"
    )
    sheet.add_argument("--body", default="anny_lowpoly", help="body model name or file (default: %(default)s)")
    sheet.add_argument(
        "--keep-orientation", action="store_true", help="keep the global orientation (default: upright, facing you)"
    )
    sheet.set_defaults(func=run_sheet)
    stats = commands.add_parser(
        "stats", help="print synthetic data distributions", description=STATS_HELP, formatter_class=raw
    )
    stats.add_argument(
        "--config", default="keypoints", help="training configuration name or YAML (default: %(default)s)"
    )
    stats.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="configuration overrides, e.g. data.synthetic.betas_std=0.5"
    )
    stats.add_argument("--size", type=int, default=4096, help="training-stream examples (default: %(default)s)")
    stats.add_argument("--seed", type=int, default=0, help="training-stream seed (default: %(default)s)")
    stats.add_argument(
        "--sets", nargs="+", choices=("train", "val"), default=["train", "val"], help="sets to summarise"
    )
    stats.add_argument("--no-progress", action="store_true", help="no progress bar")
    stats.set_defaults(func=run_stats)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _body(name: str):
    from hmrflow.body import BodyModel

    return BodyModel.from_file(name) if Path(name).suffix else BodyModel.from_name(name)


def run_sheet(args: argparse.Namespace) -> int:
    import torch

    from hmrflow.data.figures import pose_sheet
    from hmrflow.data.pose_sampler import PoseSampler
    from hmrflow.data.pose_sources import load_cmu_demo
    from hmrflow.data.synthetic import SyntheticConfig

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError("needs matplotlib (pip install 'hmrflow[plot]')") from None
    output_file(Path(args.output))
    real = load_cmu_demo().rotmats
    sampler = PoseSampler(real, config=SyntheticConfig().poses)
    sampled = sampler.sample(args.count, torch.Generator().manual_seed(args.seed))
    frames = torch.linspace(0, len(real) - 1, args.count).round().long()
    groups = [
        (f"pose sampler (seed {args.seed})", sampled),
        (f"CMU clip, frames {frames[0]}..{frames[-1]}", real[frames]),
    ]
    path = pose_sheet(
        groups,
        _body(args.body),
        args.output,
        style=args.style,
        canonical=not args.keep_orientation,
    )
    print(f"sheet written to {path}")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from hmrflow.cli.train import config_path
    from hmrflow.config import load_config
    from hmrflow.data.pose_sources import load_cmu_demo
    from hmrflow.data.stats import format_statistics, synthetic_statistics
    from hmrflow.data.synthetic import SyntheticBatch, SyntheticKeypoints, make_evaluation_set
    from hmrflow.training.config import ExperimentConfig

    config = load_config(ExperimentConfig, config_path(args.config), args.overrides)
    generator = SyntheticKeypoints(_body(config.model.body_model), load_cmu_demo().rotmats, config.data.synthetic)
    for name in args.sets:
        if name == "train":
            rng = torch.Generator().manual_seed(args.seed)
            chunks = range(0, args.size, 1024)
            parts = [
                generator.sample(min(1024, args.size - start), rng)
                for start in tqdm(chunks, desc="sampling", disable=args.no_progress, leave=False)
            ]
            batch, title = SyntheticBatch.concatenate(parts), f"training stream (seed {args.seed})"
        else:
            size, seed = config.data.val_size, config.data.val_seed
            batch, title = make_evaluation_set(generator, size, seed), f"validation set (seed {seed})"
        print(format_statistics(synthetic_statistics(batch, generator.names), title))
        print()
    return 0
