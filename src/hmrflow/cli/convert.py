"""``hmrflow convert-prohmr``: turn the released ProHMR checkpoint into an hmrflow model file."""

from __future__ import annotations

import argparse
from pathlib import Path

from hmrflow.errors import InputError
from hmrflow.folders import output_folder

HELP = """\
Convert the checkpoint released with ProHMR (Kolotouros et al., ICCV 2021; the Lightning
file the original's fetch_data.sh downloads, e.g. data/checkpoint.pt) into an hmrflow
model file: the ResNet-50 image encoder, the conditional flow over the 24-joint pose and
the shape/camera head with its mean betas and camera. The result runs with modern
PyTorch and no original code:

  hmrflow convert-prohmr data/checkpoint.pt prohmr.pt --smpl data/smpl/SMPL_NEUTRAL.pkl

  from hmrflow.models.checkpoint import load_model
  model = load_model("prohmr.pt")          # image crops 224x224, ImageNet-normalised RGB

SMPL meshes need your SMPL file (--smpl, or later load_model(..., body_model=PATH); SMPL
requires registration and is not shipped). Without it the model uses the open body model
'anny' (same 24-joint tree and conventions): poses, samples, log-likelihoods and the
camera work, but meshes are Anny's and SMPL's 10 betas do not carry over.

The file is read safely: tensors only; other pickled objects in it (hyper-parameters,
yacs configs) are replaced by inert stand-ins, never imported or run. The discriminator,
the SMPL buffers and bookkeeping buffers are left out; any other unexpected or missing
key, or a tensor of the wrong shape, stops the conversion with the key's name.
See docs/coming_from_prohmr.md for what maps to what.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert-prohmr",
        help="convert the released ProHMR checkpoint into an hmrflow model file",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="the released ProHMR checkpoint (.pt/.ckpt)")
    parser.add_argument("out", metavar="OUT", help="where to write the hmrflow model file")
    parser.add_argument(
        "--smpl", metavar="PATH", default=None,
        help="your SMPL model file (.pkl or .npz, gender-neutral as ProHMR) for SMPL meshes",
    )  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check the paths, convert, and print what was converted.

    Errors (an :class:`~hmrflow.errors.InputError`: a missing or foreign checkpoint, an
    unexpected key, an unusable SMPL file or output path) propagate to ``hmrflow``, which
    prints them as one line on stderr and exits with status 2.
    """
    from hmrflow.models.prohmr_convert import check_checkpoint_file, convert_prohmr

    checkpoint = check_checkpoint_file(args.checkpoint)
    out = _output_file(Path(args.out), checkpoint)
    converted = convert_prohmr(checkpoint, out, smpl_path=args.smpl)
    config = converted.model
    print(
        f"converted {len(converted.state_dict)} tensors: ResNet-{config.encoder.backbone_depth} "
        f"encoder, flow of {config.flow.num_layers} layers (D={config.flow.features}, "
        f"C={config.flow.context_features}, H={config.flow.hidden_features}), head of width "
        f"{config.head_hidden}; left out {len(converted.skipped)} (discriminator, SMPL, bookkeeping)"
    )
    print(f"body model: {config.body_model}")
    print(f"model written to {out}; load it with hmrflow.load_model({str(out)!r})")
    return 0


def _output_file(out: Path, checkpoint: Path) -> Path:
    """``out``, once its folder exists and is writable and it is neither a folder nor the input.

    Raises:
        InputError: ``out`` cannot be written.
    """
    if out.is_dir():
        raise InputError(f"OUT {out}: is a folder; name the model file to write, e.g. {out / 'prohmr.pt'}")
    if out.exists() and out.resolve() == checkpoint.resolve():
        raise InputError(f"OUT {out}: is the checkpoint being converted; write the model to another file")
    output_folder(out.parent, "OUT")
    return out
