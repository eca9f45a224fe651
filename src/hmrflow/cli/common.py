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

__all__ = ["add_device_argument", "torch_device", "exit_status"]

DEVICE_HELP = "torch device: auto (a GPU when there is one), cpu, cuda, cuda:1, mps (default: %(default)s)"


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    """``--device``, the same flag with the same default in every subcommand."""
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)


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

