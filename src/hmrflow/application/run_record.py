r"""What a command has written into its output folder: ``demo.json`` and ``index.html``.

``hmrflow demo`` and ``hmrflow fit`` write one folder per photo (or keypoint image) into
``--out``. A second run into the same folder keeps the first's results: new folders take
names not yet used (``photo_2``, ...), ``demo.json`` (the manifest,
:func:`~hmrflow.application.index_page.read_manifest`) lists every run and every photo, and
``index.html`` is written again from it after every photo, so it shows all runs. An
``index.html`` from before manifests (or written by hand) is kept as ``index-earlier.html``.

Example:
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> record = RunRecord(out, "hmrflow fit", ["body model anny_lowpoly"])
    >>> record.unique_name("photo"), len(record.manifest["runs"])
    ('photo', 1)
    >>> record.write().name
    'index.html'
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from hmrflow.application.index_page import index_entry, read_manifest, write_index, write_manifest
from hmrflow.application.results import ImageResult

__all__ = ["RunRecord", "unique_name"]

log = logging.getLogger(__name__)


def unique_name(stem: str, taken: set[str]) -> str:
    """``stem``, or ``stem_2``, ``stem_3``, ...: the first not in ``taken``, which it joins.

    Example:
        >>> taken = {"clip"}
        >>> unique_name("clip", taken), unique_name("clip", taken), sorted(taken)
        ('clip_2', 'clip_3', ['clip', 'clip_2', 'clip_3'])
    """
    name, k = stem, 2
    while name in taken:
        name, k = f"{stem}_{k}", k + 1
    taken.add(name)
    return name


class RunRecord:
    r"""One run of a command into ``out``: its manifest entry, the names taken, the index.

    Arguments:
        out: The output folder (it exists).
        command: The command, as the index's title shows it (``"hmrflow demo"``).
        details: Lines that describe the run (model, settings); more may be added to
            ``run["details"]`` later (make the record before loading anything, so that a
            damaged manifest stops the run first).

    Raises:
        InputError: ``out/demo.json`` is not a manifest of hmrflow's.
    """

    def __init__(self, out: Path, command: str, details: list[str] | None = None):
        self.out = Path(out)
        self.command = command
        self.manifest = read_manifest(self.out)
        self._taken = {child.name for child in self.out.iterdir()}
        self._taken |= {str(e["folder"]).split("/")[0] for e in self.manifest["photos"] if e.get("folder")}
        self._keep_unlisted_index()
        self.run = {"started": datetime.now().isoformat(timespec="seconds"), "command": command,
                    "details": list(details or [])}  # fmt: skip
        self.manifest["runs"].append(self.run)

    def unique_name(self, stem: str) -> str:
        """A folder name no earlier photo or file has (:func:`unique_name`); taken from now on."""
        return unique_name(stem, self._taken)

    def add(self, result: ImageResult) -> Path:
        """List ``result`` under this run and write the manifest and the index again."""
        self.manifest["photos"].append(index_entry(result, self.out) | {"run": len(self.manifest["runs"]) - 1})
        return self.write()

    def write(self) -> Path:
        """Write ``demo.json`` and ``index.html`` (every run's photos); the index's path."""
        write_manifest(self.out, self.manifest)
        runs, photos = self.manifest["runs"], self.manifest["photos"]
        if len(runs) == 1:
            details = list(runs[0]["details"])
        else:  # several runs: say which run each photo comes from
            details = [f"run {k + 1} ({r.get('command', 'hmrflow demo')}, {r.get('started', '?')}): "
                       + "; ".join(r["details"]) for k, r in enumerate(runs)]  # fmt: skip
            photos = [entry | {"label": f"run {int(entry.get('run', 0)) + 1}"} for entry in photos]
        details.append("frames: camera frame of each photo (OpenCV: x right, y down), metres")
        commands = {r.get("command", "hmrflow demo") for r in runs}
        title = commands.pop() if len(commands) == 1 else "hmrflow"
        return write_index(self.out, photos, title, details)

    def _keep_unlisted_index(self) -> None:
        """An index.html the manifest does not know is kept, renamed."""
        index = self.out / "index.html"
        if self.manifest["runs"] or not index.is_file():
            return
        kept, k = self.out / "index-earlier.html", 2
        while kept.exists():
            kept, k = self.out / f"index-earlier-{k}.html", k + 1
        index.rename(kept)
        log.warning("the earlier %s (not in %s/demo.json) is kept as %s", index.name, self.out, kept.name)
