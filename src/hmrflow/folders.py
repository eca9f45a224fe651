"""Output folders and files, checked before any work: one line naming the problem.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = output_folder(Path(tempfile.mkdtemp()) / "results")
    >>> folder.is_dir()
    True
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hmrflow.errors import InputError

__all__ = ["output_file", "output_folder", "prepared_output_folder"]


def output_folder(path: Path, flag: str = "--out") -> Path:
    """Create ``path`` if needed and make sure files can be written into it.

    Raises:
        InputError: ``path`` is a file, lies under a file, or cannot be written.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{flag} {path}: is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise InputError(f"{flag} {path}: cannot write there ({reason})") from None
    return path


@contextmanager
def prepared_output_folder(path: Path, flag: str = "--out") -> Iterator[Path]:
    """:func:`output_folder`, undone if the command stops with an error
    before writing anything: the folders it made are removed again while they are empty."""
    made = [folder for folder in (path, *path.parents) if not folder.exists()]  # deepest first
    try:
        yield output_folder(path, flag)
    except BaseException:
        for folder in made:
            try:
                folder.rmdir()
            except OSError:  # not empty (outputs were written), or not ours to remove
                break
        raise


def output_file(path: Path, flag: str = "OUT") -> Path:
    """Make sure the file ``path`` can be written (its folder is created if needed).

    Raises:
        InputError: ``path`` is a folder, or its folder cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{flag} {path}: is a folder; name the file to write")
    output_folder(path.parent, flag=f"{flag} {path}: its folder")
    return path
