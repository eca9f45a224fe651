"""``hmrflow data``: look at the training data (pose sheets, synthetic-set statistics)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hmrflow.errors import InputError
from hmrflow.folders import output_file

HELP = """\
Look at the data the models learn from.

  hmrflow data sheet poses.png        16 poses from the pose sampler and 16 frames of the
                                      bundled CMU clip, drawn as meshes with skeletons
  hmrflow data stats                  percentiles of pose angles, camera parameters and
                                      keypoint visibility of the synthetic training stream
                                      and validation set of a training configuration
  hmrflow data coverage OUT/          how well generated poses cover real motion (the CMU
                                      clip, or --reference deepmimic: DeepMimic's clips):
                                      joint-angle histograms against the limits, the hip x
                                      knee flexion plane, nearest-neighbour distances, and a
                                      sheet of the pose families (PNG figures and a table)

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


COVERAGE_HELP = """\
Compare pose generators with real motion (the bundled CMU clip, 688 frames): the v1
sampler as the defaults configure it (CMU frames mixed, within the v1 limits), the v1
limits alone (no real frames), the pose families alone, and a mix (a share of family
poses, the "rom" limits, real frames kept as they are). Prints, per set, the distance
from each CMU frame to its nearest generated pose (mean joint position after root
alignment, mm; mean joint angle, deg), the share of the set within the "rom" limits and
the share that interpenetrates itself; writes angles.png (per-joint angle histograms with
the rom and v1 ranges), hip_knee.png (hip x knee flexion), nearest.png (distributions of
the nearest-neighbour distances) and families.png (poses of every family, drawn with the
body model; omit with --no-sheet). The first two sets contain the CMU frames themselves,
so their distances are small by construction: the families and the limits-only set are
the held-out comparison. With --reference deepmimic the sets are measured against the 15
shipped DeepMimic clips instead (969 frames: walking, running, kicking, dancing, crawling,
rolling, getting up from the floor, ...), which none of them contains: every set is then
held out. Needs matplotlib (pip install 'hmrflow[plot]').
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
    coverage = commands.add_parser(
        "coverage", help="pose coverage of real motion (figures and a table)", description=COVERAGE_HELP,
        formatter_class=raw,
    )
    coverage.add_argument("output", metavar="OUT_DIR", help="folder for the PNG figures")
    coverage.add_argument("--size", type=int, default=8000, help="poses per generated set (default: %(default)s)")
    coverage.add_argument("--seed", type=int, default=0, help="generator seed (default: %(default)s)")
    coverage.add_argument(
        "--family-fraction", type=float, default=0.5, help="share of family poses in the mix (default: %(default)s)"
    )
    coverage.add_argument(
        "--reference", choices=("cmu", "deepmimic"), default="cmu",
        help="real motion the sets are measured against (default: %(default)s; the sets mix CMU frames only)",
    )  # fmt: skip
    coverage.add_argument("--body", default="anny_lowpoly", help="body model of the sheet (default: %(default)s)")
    coverage.add_argument("--no-sheet", action="store_true", help="no families.png")
    coverage.set_defaults(func=run_coverage)
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
    from hmrflow.data.pose_sources import load_real_motion
    from hmrflow.data.stats import format_statistics, synthetic_statistics
    from hmrflow.data.synthetic import (
        SyntheticBatch,
        SyntheticKeypoints,
        make_evaluation_set,
    )
    from hmrflow.training.config import ExperimentConfig

    config = load_config(ExperimentConfig, config_path(args.config), args.overrides)
    generator = SyntheticKeypoints(
        _body(config.model.body_model), load_real_motion(config.data.synthetic.poses.real_motion), config.data.synthetic
    )
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


def _coverage_sets(size: int, seed: int, family_fraction: float, real):
    """The generated sets compared by ``hmrflow data coverage``: name -> poses (size, J, 3, 3)."""
    import torch

    from hmrflow.data.pose_families import sample_families
    from hmrflow.data.pose_sampler import PoseSampler, PoseSamplerConfig

    def rng():
        return torch.Generator().manual_seed(seed)

    mix = PoseSamplerConfig(limits="rom", clamp_real=False, family_fraction=family_fraction)
    return {
        "v1 sampler (CMU mixed)": PoseSampler(real).sample(size, rng()),
        "v1 limits only": PoseSampler(None).sample(size, rng()),
        "families": sample_families(size, rng()).rotmats,
        f"mix: rom, CMU kept, {family_fraction:g} families": PoseSampler(real, config=mix).sample(size, rng()),
    }


def _families_sheet(path: Path, body_name: str, seed: int) -> Path:
    """One row of poses per pose family, facing the viewer (lying bodies stay lying)."""
    import torch

    from hmrflow.data.figures import pose_sheet
    from hmrflow.data.pose_families import FAMILIES, sample_families

    groups = []
    for index, name in enumerate(FAMILIES):
        poses = sample_families(8, torch.Generator().manual_seed(seed + index), [name], heading=False).rotmats
        groups.append((name, poses))
    return pose_sheet(groups, _body(body_name), path, columns=8, style="mesh", canonical=False, panel_size=1.0)


def run_coverage(args: argparse.Namespace) -> int:
    from hmrflow.data.coverage import (
        angle_histogram_figure,
        format_coverage,
        hip_knee_figure,
        nearest_neighbour_figure,
        summarize_coverage,
    )
    from hmrflow.data.pose_sources import load_real_motion

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError("needs matplotlib (pip install 'hmrflow[plot]')") from None
    if args.size < 1:
        raise InputError(f"--size must be at least 1, not {args.size}")
    if not 0.0 <= args.family_fraction <= 1.0:
        raise InputError(f"--family-fraction must be in [0, 1], not {args.family_fraction}")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder")
    real = load_real_motion([args.reference])
    real_name = {"cmu": "CMU clip", "deepmimic": "DeepMimic clips"}[args.reference]
    sets = _coverage_sets(args.size, args.seed, args.family_fraction, load_real_motion(["cmu"]))
    summaries = [summarize_coverage(name, poses, real) for name, poses in sets.items()]
    print(format_coverage(summaries, f"the {real_name} ({len(real)} frames)"))
    written = [
        angle_histogram_figure(sets, out / "angles.png"),
        hip_knee_figure(sets, real, real_name, out / "hip_knee.png"),
        nearest_neighbour_figure(summaries, real_name, out / "nearest.png"),
    ]
    if not args.no_sheet:
        written.append(_families_sheet(out / "families.png", args.body, args.seed))
    print("figures: " + ", ".join(str(path) for path in written))
    return 0
