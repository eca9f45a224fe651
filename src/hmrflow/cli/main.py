"""The ``hmrflow`` command: one entry point, one module per subcommand.

Each subcommand module defines ``register(subparsers)``, which adds its parser and sets
``func`` to a callable taking the parsed arguments and returning an exit code. Modules
import heavy dependencies inside their functions, so ``hmrflow --help`` stays fast.

Exit status, everywhere: 0 all done; 1 some inputs failed (the summary line on stderr says
how many and which) or an unexpected error; 2 a usage or configuration error, or an input
that cannot be used. Errors are one line on stderr; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
from collections.abc import Sequence

from hmrflow.errors import InputError

#: Subcommand modules, in the order ``hmrflow --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "hmrflow.cli.demo",
    "hmrflow.cli.demo_multiview",
    "hmrflow.cli.train",
    "hmrflow.cli.eval",
    "hmrflow.cli.fit",
    "hmrflow.cli.convert",
    "hmrflow.cli.data",
    "hmrflow.cli.render",
    "hmrflow.cli.body",
    "hmrflow.cli.export",
)

EPILOG = """\
Start with `hmrflow demo`. Every subcommand has its own help: `hmrflow demo --help`.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hmrflow",
        description="Probabilistic 3D human mesh recovery with conditional normalizing flows.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    from hmrflow import __version__

    parser.add_argument("--version", action="version", version=f"hmrflow {__version__}")
    subparsers = parser.add_subparsers(title="subcommands", metavar="COMMAND", dest="command")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    for sub in subparsers.choices.values():  # `hmrflow demo --debug` works too
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except InputError as error:
        return _fail(args, str(error), 2)
    except OSError as error:  # a file the user named: missing, refused, a folder, ...
        where = f"{error.filename}: " if error.filename else ""
        return _fail(args, f"{where}{error.strerror or error}", 2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: one line, the traceback with --debug
        hint = "" if args.debug else " (run `hmrflow --debug ...` for the traceback)"
        return _fail(args, f"unexpected {type(error).__name__}: {error}{hint}", 1)


def _fail(args: argparse.Namespace, message: str, status: int) -> int:
    """Print ``message`` as one line on stderr (and the traceback with --debug)."""
    if args.debug:
        traceback.print_exc()
    line = " ".join(message.split())
    command = " ".join(filter(None, (args.command, getattr(args, "action", None))))
    print(f"hmrflow {command}: {line}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
