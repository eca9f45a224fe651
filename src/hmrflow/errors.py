"""Errors about the user's inputs, importable without torch (the CLI catches them).

Every error here carries a message that names the file or setting and the problem; the
``hmrflow`` command prints it after the subcommand's name and exits with status 2.
"""

from __future__ import annotations

__all__ = [
    "InputError",
    "CheckpointError",
    "ConfigError",
    "BodyModelFileError",
    "KeypointFileError",
    "ProHMRFormatError",
    "ShardFormatError",
    "DataSourceError",
]


class InputError(ValueError):
    """An input that cannot be used: a missing or corrupt file, a bad setting."""


class CheckpointError(InputError):
    """A checkpoint that cannot be read or does not fit its model."""


class DataSourceError(InputError):
    """A data source that cannot be used: missing files or module, or unfit for the model."""


class ConfigError(InputError):
    """A configuration that does not match its dataclass."""


class BodyModelFileError(InputError):
    """A body model file is missing, unreadable, incomplete or inconsistent."""


class ShardFormatError(InputError):
    """A folder that is not a synthetic image dataset (or a damaged one); names the file."""


class KeypointFileError(InputError):
    """A keypoint file that cannot be read; the message names the file."""


class ProHMRFormatError(InputError):
    """A ProHMR-format file with missing, misshaped or invalid fields; names the file."""
