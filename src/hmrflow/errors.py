"""Errors about the user's inputs, importable without torch (the CLI catches them).

Every error here carries a message that names the file or setting and the problem; the
``hmrflow`` command prints it after the subcommand's name and exits with status 2.
"""

from __future__ import annotations

__all__ = ["InputError", "CheckpointError"]


class InputError(ValueError):
    """An input that cannot be used: a missing or corrupt file, a bad setting."""


class CheckpointError(InputError):
    """A checkpoint that cannot be read or does not fit its model."""
