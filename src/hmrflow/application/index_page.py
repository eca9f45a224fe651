r"""A demo output folder's manifest (``demo.json``) and its ``index.html``.

The manifest lists every photo's results, so that a later run into the same folder adds
its photos (in new folders: ``photo_2``, ...) and keeps the earlier ones; ``index.html``
is made from it and links every output.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hmrflow.application.results import ImageResult, PersonResult

__all__ = ["MANIFEST", "MANIFEST_FORMAT", "index_entry", "read_manifest", "write_index", "write_manifest"]

#: The manifest of a demo's output folder: every photo's results, earlier runs' included.
MANIFEST = "demo.json"
#: The manifest's ``format`` value.
MANIFEST_FORMAT = "hmrflow-demo-index"


def _relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root``, with ``/`` (a link in index.html)."""
    return os.path.relpath(path, root).replace(os.sep, "/")


def index_entry(result: ImageResult, out_dir: Path) -> dict[str, Any]:
    """What index.html shows of one photo, JSON-ready; paths relative to ``out_dir``."""
    entry: dict[str, Any] = {
        "image": str(result.path),
        "name": result.path.name,
        "error": result.error,
        "keypoint_source": result.keypoint_source,
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
        "folder": None,
        "overlay": None,
        "keypoints": None,
        "people": [],
    }
    if not result.ok or result.folder is None:
        return entry
    overlay = result.folder / "overlay.jpg"
    entry.update(
        folder=_relative(result.folder, out_dir),
        overlay=_relative(overlay, out_dir) if overlay.is_file() else None,
        keypoints=_relative(result.folder / "keypoints.json", out_dir),
        people=[_person_entry(p, files, out_dir) for p, files in zip(result.people, result.files)],
    )
    return entry


def _person_entry(person: PersonResult, files: dict[str, Path], out_dir: Path) -> dict[str, Any]:
    return {
        "final": "fit" if person.fit is not None else "mode",
        "labels_mirrored": bool(person.labels_mirrored),
        "initial_error_px": round(float(person.initial_error), 3),
        "reprojection_error_px": round(float(person.reprojection_error), 3),
        "mode_log_prob": round(float(person.mode.log_prob[0]), 3),
        "samples": len(person.sample_vertices),
        "files": {key: _relative(path, out_dir) for key, path in files.items()},
    }


def read_manifest(out_dir: Path) -> dict[str, Any]:
    """The manifest in ``out_dir`` (an empty one if there is none).

    Raises:
        InputError: The manifest exists but cannot be read (it is left as it is).
    """
    from hmrflow.errors import InputError

    path = Path(out_dir) / MANIFEST
    if not path.exists():
        return {"format": MANIFEST_FORMAT, "version": 1, "runs": [], "photos": []}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: cannot read the list of earlier results ({error}); move it away") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise InputError(f"{path}: not an hmrflow demo manifest ({MANIFEST_FORMAT!r}); move it away")
    runs, photos = data.get("runs"), data.get("photos")
    if not isinstance(runs, list) or not isinstance(photos, list):
        raise InputError(f"{path}: a damaged hmrflow demo manifest (no 'runs' or 'photos' list); move it away")
    runs_ok = all(isinstance(run, dict) and isinstance(run.get("details"), list) for run in runs)
    if not runs_ok or not all(isinstance(photo, dict) and "name" in photo for photo in photos):
        raise InputError(f"{path}: a damaged hmrflow demo manifest (an entry is not an object); move it away")
    return data


def write_manifest(out_dir: Path, manifest: dict[str, Any]) -> Path:
    """Write ``manifest`` to ``out_dir / MANIFEST`` (through a temporary file: never half written)."""
    path = Path(out_dir) / MANIFEST
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(manifest, indent=1) + "\n")
    partial.replace(path)
    return path


def _photo_section(entry: dict[str, Any], label: str) -> str:
    """One photo's section of index.html."""
    name = html.escape(str(entry["name"])) + (f" <small>({html.escape(label)})</small>" if label else "")
    if entry.get("error") is not None:
        return f'<section class="failed"><h2>{name}</h2><p>failed: {html.escape(str(entry["error"]))}</p></section>'

    def link(path: str) -> str:
        return html.escape(path, quote=True)

    parts = [f"<section><h2>{name}</h2>"]
    timing = ", ".join(f"{k} {v:.2f} s" for k, v in entry.get("timings", {}).items())
    count = len(entry.get("people", []))
    found = f"{count} {'person' if count == 1 else 'people'} found"
    parts.append(f"<p>{found}; keypoints: {html.escape(str(entry.get('keypoint_source', '')))}; {timing}</p>")
    if entry.get("overlay"):
        overlay = link(entry["overlay"])
        parts.append(f'<a href="{overlay}"><img class="wide" src="{overlay}" alt="overlay"></a>')
    if entry.get("keypoints"):
        parts.append(f'<p><a href="{link(entry["keypoints"])}">keypoints.json</a></p>')
    for i, person in enumerate(entry.get("people", [])):
        parts.append(
            f"<h3>person {i}</h3><p>final body: {html.escape(str(person['final']))}; reprojection error "
            f"{person['initial_error_px']:.1f} px (regression) -> {person['reprojection_error_px']:.1f} px; "
            f"log p(mode) {person['mode_log_prob']:.1f}; {person['samples']} samples"
            + ("; left/right labels mirrored back" if person.get("labels_mirrored") else "")
            + "</p><div class=row>"
        )
        files = person.get("files", {})
        for key in ("overlay", "samples"):
            if key in files:
                parts.append(f'<a href="{link(files[key])}"><img src="{link(files[key])}" alt="{key}"></a>')
        links = [
            f'<a href="{link(path)}">{html.escape(key if key != "viewer" else "3D viewer")}</a>'
            for key, path in files.items()
            if key not in ("overlay", "samples")
        ]
        parts.append("</div><p>" + " | ".join(links) + "</p>")
    parts.append("</section>")
    return "\n".join(parts)


def write_index(
    out_dir: Path, photos: list[dict[str, Any]], title: str, details: list[str], before: str = ""
) -> Path:
    """``index.html`` linking every output; failed photos are listed with their errors.

    Arguments:
        photos: :func:`index_entry` of each photo; its ``"label"``, if any, follows its name.
        details: Lines listed under the title; before: HTML put before the photos.
    """
    body = "\n".join(_photo_section(entry, str(entry.get("label", ""))) for entry in photos)
    info = "".join(f"<li>{html.escape(line)}</li>" for line in details)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 1400px; }}
section {{ border-top: 1px solid #ddd; padding: 8px 0 16px; }}
section.failed p {{ color: #a00; }}
img {{ max-height: 440px; margin: 4px 8px 4px 0; border: 1px solid #eee; }}
img.wide {{ max-height: 480px; }}
img.full {{ max-height: none; max-width: 100%; }}
.row {{ display: flex; flex-wrap: wrap; align-items: flex-start; }}
</style></head><body>
<h1>{html.escape(title)}</h1><ul>{info}</ul>
{before}
{body}
</body></html>
"""
    path = out_dir / "index.html"
    path.write_text(page)
    return path
