"""``hmrflow body``: the open body model (export from Anny, fidelity report, pictures)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = """\
The body models hmrflow ships are derived from Anny (Apache-2.0 code, CC0 MakeHuman
assets) and stored in SMPL's file format: `anny` (13,718 vertices) and `anny_lowpoly`
(1,508 vertices, the default for training). They load by name with no extra installed.

  hmrflow body export-anny OUT_DIR     rebuild both files from Anny (needs the anny extra:
                                       pip install 'hmrflow[anny]'; first run ~2 minutes)
  hmrflow body report                  measure the shipped files against Anny itself
  hmrflow body pictures OUT_DIR        front and side views of a few shapes and poses
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "body",
        help="the open body model: export from Anny, fidelity report, pictures",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=lambda args: parser.print_help() or 2)
    commands = parser.add_subparsers(title="body commands", metavar="COMMAND", dest="action")

    export = commands.add_parser(
        "export-anny", help="build the SMPL-format files from Anny", description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("out_dir", help="folder for anny.npz and anny_lowpoly.npz")
    export.add_argument("--betas", type=int, default=10, help="shape components (default: %(default)s)")
    export.add_argument("--samples", type=int, default=1000, help="adult phenotypes sampled (default: %(default)s)")
    export.add_argument("--lowpoly-vertices", type=int, default=1500, help="low-poly target size (default: %(default)s)")
    export.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    export.add_argument("--cache-dir", help="Anny's cache folder (default: $ANNY_CACHE_DIR)")
    export.set_defaults(func=run_export)

    report = commands.add_parser(
        "report", help="fidelity of the shipped files against Anny (needs the anny extra)",
        description="Vertex, joint and posed-mesh errors (mm) of the shipped body models "
        "against Anny's own forward on held-out adult shapes.",
    )
    report.add_argument("--shapes", type=int, default=40, help="held-out shapes (default: %(default)s)")
    report.add_argument("--cache-dir", help="Anny's cache folder (default: $ANNY_CACHE_DIR)")
    report.set_defaults(func=run_report)

    pictures = commands.add_parser(
        "pictures", help="front and side views of shapes and poses",
        description="Write one PNG per shipped body model: rows of shapes, front and side "
        "views of the rest pose and a few poses. Needs matplotlib (the plot extra).",
    )
    pictures.add_argument("out_dir", help="output folder")
    pictures.set_defaults(func=run_pictures)


def run_export(args: argparse.Namespace) -> int:
    from hmrflow.body.anny_export import export_anny

    result = export_anny(
        args.out_dir, num_betas=args.betas, num_samples=args.samples, seed=args.seed,
        lowpoly_vertices=args.lowpoly_vertices, cache_dir=args.cache_dir,
    )  # fmt: skip
    for path in result.paths:
        print(f"wrote {path}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from hmrflow.body import BodyModel
    from hmrflow.body.anny_report import fidelity_report

    fidelity_report(
        BodyModel.from_name("anny"), BodyModel.from_name("anny_lowpoly"),
        num_shapes=args.shapes, cache_dir=args.cache_dir,
    )  # fmt: skip
    return 0


def run_pictures(args: argparse.Namespace) -> int:
    from hmrflow.body import BodyModel
    from hmrflow.body.anny_report import render_pictures

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("anny", "anny_lowpoly"):
        print(f"wrote {render_pictures(BodyModel.from_name(name), out / f'{name}.png')}")
    return 0
