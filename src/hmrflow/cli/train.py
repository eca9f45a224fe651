"""``hmrflow train``: train a model from a bundled or own YAML configuration."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

HELP = """\
Train a probabilistic HMR model.

CONFIG is a bundled configuration name (see below) or a YAML file; it is read strictly
(an unknown key is an error) and key=value overrides follow it, dotted for nested keys:

  hmrflow train keypoints trainer.max_steps=2000 data.batch_size=32
  hmrflow train my.yaml trainer.output_dir=runs/mine --resume last
  hmrflow train image-synthetic trainer.devices=4 trainer.strategy=ddp

Bundled configurations ({names}):
  keypoints        the shipped keypoint-conditioned model; trains on a CPU
  image-synthetic  ResNet-34 on synthetic images (render them first: see the file)
  prohmr           ProHMR's recipe: ResNet-50 on H36M/MPII/COCO/MPI-INF-3DHP; copy the
                   file and set its placeholder dataset paths first

Data: data.sources mixes synthetic keypoints, synthetic image shards and ProHMR-format
datasets by weight. Mixed precision (trainer.precision=bf16-mixed or 16-mixed) reaches
the image backbone only. Checkpoints (with their configuration) and TensorBoard logs go
to trainer.output_dir; --resume continues a run exactly where it stopped.
trainer.init_from=FILE starts a new run from a model's weights (fine-tuning); with
trainer.init_widen=true that model may be narrower (e.g. model.encoder.width=1024
model.flow.context_features=1024 from the shipped 256): the wider model starts as the
same function and its new units learn from there.
Start your own from a bundled one: hmrflow train prohmr --print-config > my-prohmr.yaml
"""


def bundled_configs() -> list[str]:
    root = resources.files("hmrflow") / "configs"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def config_path(name: str) -> Path:
    """A bundled configuration by name, or a file path."""
    if name in bundled_configs():
        return Path(str(resources.files("hmrflow") / "configs" / f"{name}.yaml"))
    return Path(name)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model from a configuration",
        description=HELP.format(names=", ".join(bundled_configs())),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", help="bundled configuration name or YAML file")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="configuration overrides")
    parser.add_argument(
        "--resume", metavar="CKPT", help="continue from a checkpoint ('last': this run's newest usable one)"
    )
    parser.add_argument("--export", metavar="PATH", help="after training, write the model alone to PATH")
    parser.add_argument("--half", action="store_true", help="with --export: store the weights in float16 (half the size)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    parser.add_argument(
        "--print-config", action="store_true", help="print the full configuration (with overrides) as YAML and exit"
    )
    parser.set_defaults(func=run)


def _check_export(path: Path) -> None:
    """Fail now, not after hours of training, when the model cannot be written to ``path``.

    Raises:
        InputError: ``path`` is a folder, or its folder cannot be written.
    """
    from hmrflow.errors import InputError
    from hmrflow.folders import output_folder

    if path.is_dir():
        raise InputError(f"--export {path}: is a folder, not a file")
    output_folder(path.parent, "--export")


def run(args: argparse.Namespace) -> int:
    """Train (and export), as ``args`` say.

    A setting, file or checkpoint that cannot be used raises an
    :class:`~hmrflow.errors.InputError` before anything is written; ``hmrflow`` prints it
    as one line on stderr and exits with status 2.
    """
    from hmrflow.config import load_config
    from hmrflow.training.config import ExperimentConfig

    config = load_config(ExperimentConfig, config_path(args.config), args.overrides)
    if args.print_config:
        import yaml

        from hmrflow.config import config_to_dict

        print(yaml.safe_dump(config_to_dict(config), sort_keys=False), end="")
        return 0
    if args.export:
        _check_export(Path(args.export))
    from hmrflow.models.checkpoint import load_model, save_model
    from hmrflow.training.train import train

    last = train(config, resume=args.resume, progress=not args.no_progress)
    print(f"last checkpoint: {last}")
    if args.export:
        import torch

        save_model(load_model(last), config, args.export, torch.float16 if args.half else None)
        print(f"model written to {args.export}")
    return 0
