"""Checks every subcommand makes before any work: devices (output folders: :mod:`hmrflow.folders`).

They run before a model loads, so that an ordinary mistake costs a second, not a minute,
and ends in one line that names the problem (an :class:`~hmrflow.errors.InputError`).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from hmrflow.errors import InputError

if TYPE_CHECKING:
    import torch

    from hmrflow.application.calibration import Intrinsics

__all__ = ["add_device_argument", "add_intrinsics_arguments", "intrinsics_setting", "torch_device", "exit_status"]

DEVICE_HELP = "torch device: auto (a GPU when there is one), cpu, cuda, cuda:1, mps (default: %(default)s)"


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    """``--device``, the same flag with the same default in every subcommand."""
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)


INTRINSICS_HELP = (
    "known intrinsics of the photos: a focal length in px (1500), fx,fy,cx,cy px, or a file "
    '(JSON {"K": 3x3} or a 3x3 text matrix); a principal point replaces the image centre '
    "(default: a focal length of the image diagonal, the principal point at the centre)"
)


class _Intrinsics(argparse.Action):
    """Stores the text and the flag that gave it (``--intrinsics`` or ``--focal-length``)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:  # fmt: skip
        setattr(namespace, self.dest, values)
        namespace.intrinsics_flag = option_string


def add_intrinsics_arguments(parser: argparse.ArgumentParser) -> None:
    """``--intrinsics`` and its shorthand ``--focal-length F`` (one setting), the same in every subcommand."""
    parser.add_argument("--intrinsics", dest="intrinsics", action=_Intrinsics, default=None,
                        metavar="F|fx,fy,cx,cy|FILE", help=INTRINSICS_HELP)  # fmt: skip
    parser.add_argument("--focal-length", dest="intrinsics", action=_Intrinsics, metavar="F",
                        help="focal length in px: shorthand for --intrinsics F")  # fmt: skip


def intrinsics_setting(args: argparse.Namespace) -> Intrinsics | None:
    """The :class:`~hmrflow.application.calibration.Intrinsics` the command was given, or None.

    Raises:
        InputError: A value that is not a focal length, ``fx,fy,cx,cy`` or an intrinsics
            file; the message names the flag.
    """
    from hmrflow.application.calibration import parse_intrinsics

    text = getattr(args, "intrinsics", None)
    if text is None or not isinstance(text, str):
        return text
    flag = getattr(args, "intrinsics_flag", None) or "--intrinsics"
    if flag == "--focal-length":
        try:
            value = float(text)
        except ValueError:
            raise InputError(f"--focal-length must be a positive number of pixels, not {text!r}") from None
        if not (value > 0 and value != float("inf")):
            raise InputError(f"--focal-length must be a positive number of pixels, not {value}")
    try:
        return parse_intrinsics(text)
    except InputError as error:
        raise InputError(f"{flag} {text}: {error}") from None


def torch_device(name: str, flag: str = "--device") -> torch.device:
    """The device ``name`` names; ``auto`` takes CUDA, then MPS, then the CPU.

    Raises:
        InputError: ``name`` is not a device, or names one this machine does not have.
    """
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise InputError(f"{flag} {name}: not a device (use auto, cpu, cuda, cuda:N or mps)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch is a CPU build" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise InputError(f"{flag} {name}: CUDA is not available ({why}); use --device cpu or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(f"{flag} {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise InputError(f"{flag} {name}: MPS is not available on this machine; use --device cpu or auto")
    elif device.type != "cpu":
        raise InputError(f"{flag} {name}: unsupported device type {device.type!r} (use auto, cpu, cuda or mps)")
    return device


def exit_status(failed: list[str], total: int, what: str) -> int:
    """0 when nothing failed; otherwise print which ``what`` failed and return 1."""
    if not failed:
        return 0
    shown = ", ".join(failed[:10]) + (f" and {len(failed) - 10} more" if len(failed) > 10 else "")
    print(f"{len(failed)} of {total} {what} failed: {shown}", file=sys.stderr)
    return 1

