r"""The video demo's outputs: per track the parameters of every frame and animation files;
an overlay video; ``video.json`` and ``index.html``.

In the clip's folder:

* ``track<i>/params.npz``: the track's frames from its first to its last detection, stacked
  under SMPL's names -- ``global_orient (T, 1, 3)``, ``body_pose (T, 23, 3)`` axis-angle,
  ``betas (T, S)``, ``transl (T, 3)`` metres, camera frame of the video -- with ``frame
  (T,)`` the video's frame indices, ``fitted`` / ``observed`` ``(T,)`` (a frame that was
  not fitted holds the last fitted one's values), ``reprojection_error (T,)`` px,
  ``fps``, ``body_model``, ``temporal_weight`` and the camera (``focal_length``
  ``[fx, fy]``, ``principal_point``, ``image_size``). ``hmrflow export`` reads it:
  ``hmrflow export track0/params.npz --out anim/`` gives the same animation files.
* ``track<i>/animation.bvh`` (the body's skeleton with the fitted shape's bone offsets,
  the video's frame rate; Blender: File > Import > Motion Capture), ``animation.glb``
  (skinned, animated; Blender: File > Import > glTF) and ``animation.html`` (a player
  page that needs nothing but a browser), all in the Y-up frame of mesh files
  (:mod:`hmrflow.body.animation`): the first frame looks as the camera saw it.
* ``overlay.mp4``: the frames with every track's fitted body drawn over them (the
  project's renderer, :mod:`hmrflow.render`; OpenCV's ``mp4v`` codec, which desktop
  players and Blender read; some browsers do not), at most ``overlay_size`` px long
  (even sides).
* ``video.json`` (the run: clip, camera, settings, per track its frames and errors,
  timings, files) and ``index.html`` linking everything.
"""

from __future__ import annotations

import html
import json
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hmrflow.application.animation_files import write_animation_files
from hmrflow.application.records import camera_arrays, camera_record
from hmrflow.application.video_results import TrackFit, VideoConfig, VideoResult
from hmrflow.body.model import BodyModel
from hmrflow.body.parameters import parameter_arrays
from hmrflow.errors import InputError
from hmrflow.folders import output_folder
from hmrflow.geometry.pinhole import PinholeCamera

__all__ = ["TRACK_COLORS", "held_frames", "track_arrays", "write_overlay_video", "write_track", "write_video"]

log = logging.getLogger(__name__)

#: Colours of the tracks' bodies in the overlay video (track i: ``TRACK_COLORS[i % 6]``).
TRACK_COLORS = ((0.45, 0.62, 0.92), (0.98, 0.62, 0.30), (0.55, 0.85, 0.55), (0.85, 0.45, 0.75),
                (0.95, 0.85, 0.35), (0.45, 0.85, 0.85))  # fmt: skip


def held_frames(fitted: np.ndarray) -> np.ndarray:
    r"""``(T,)`` for every frame the last fitted frame at or before it (``fitted (T,)`` bool, the first True).

    Example:
        >>> held_frames(np.array([True, False, False, True, False])).tolist()
        [0, 0, 0, 3, 3]
    """
    index = np.where(fitted, np.arange(len(fitted)), -1)
    held = np.maximum.accumulate(index)
    if len(held) and held[0] < 0:
        raise InputError("a track's first frame must be fitted")
    return held


def track_arrays(fit: TrackFit, camera: PinholeCamera, fps: float, body_name: str, weight: float) -> dict[str, Any]:
    """The arrays of ``track<i>/params.npz`` (the module docstring)."""
    held = torch.as_tensor(held_frames(fit.fitted.cpu().numpy()))
    arrays: dict[str, Any] = parameter_arrays(fit.rotmats[held].cpu(), fit.betas[held].cpu(), fit.translation[held].cpu())
    arrays |= {"frame": fit.frames.astype(np.int64), "fitted": fit.fitted.cpu().numpy(),
               "observed": fit.observed.cpu().numpy(),
               "reprojection_error": fit.reprojection_error.float().cpu().numpy(),
               "fps": np.float64(fps), "body_model": np.str_(body_name), "temporal_weight": np.float64(weight),
               "track": np.int64(fit.id)}  # fmt: skip
    return arrays | camera_arrays(camera)


def write_track(fit: TrackFit, folder: Path, body: BodyModel, fps: float, camera: PinholeCamera,
                weight: float) -> dict[str, Path]:  # fmt: skip
    """Write one track's ``params.npz``, ``animation.bvh``, ``.glb`` and ``.html`` into ``folder``."""
    folder = output_folder(folder)
    np.savez(folder / "params.npz", **track_arrays(fit, camera, fps, body.name, weight))
    held = torch.as_tensor(held_frames(fit.fitted.cpu().numpy()))
    rotmats, transl = fit.rotmats[held].float().cpu(), fit.translation[held].float().cpu()
    betas = fit.betas[fit.fitted].float().cpu().mean(0)
    title = f"track {fit.id}: {len(fit)} frames at {fps:g} fps"
    written = write_animation_files(folder, "animation", body, betas, rotmats, transl, fps, title)
    return {"params": folder / "params.npz", "bvh": written["bvh"], "glb": written["glb"], "player": written["html"]}


def _overlay_camera(camera: PinholeCamera, size: int) -> Any:
    """The renderer's camera of the overlay video: ``camera`` scaled to at most ``size`` px long,
    each side cut to an even number of px (video codecs want even sizes)."""
    from dataclasses import replace

    from hmrflow.render.camera import Camera

    full = Camera.from_pinhole(camera)
    factor = min(1.0, size / max(full.image_size))
    view = full.scaled(factor) if factor < 1 else full
    return replace(view, image_size=(view.width - view.width % 2, view.height - view.height % 2))


def write_overlay_video(path: Path, frames: Iterable[Any], tracks: list[TrackFit], camera: PinholeCamera,
                        body: BodyModel, fps: float, size: int = 1280) -> int:  # fmt: skip
    r"""Draw every track's fitted body over the frames and write them to ``path`` (mp4v).

    Returns:
        The frames written.

    Raises:
        RenderBackendError: No headless rendering here; InputError: OpenCV cannot write ``path``.
    """
    import cv2

    from hmrflow.render.mesh import Mesh, Topology
    from hmrflow.render.renderer import Renderer

    view = _overlay_camera(camera, size)
    topology = Topology(body.faces.cpu().numpy().astype(np.int32))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), view.image_size)
    if not writer.isOpened():
        raise InputError(f"{path}: OpenCV cannot write an mp4v video here")
    written = 0
    try:
        with Renderer(supersample=2) as renderer:
            for frame in frames:
                image = frame.image
                if image.shape[1::-1] != view.image_size:
                    image = cv2.resize(image, view.image_size, interpolation=cv2.INTER_AREA)
                meshes = [Mesh(fit.vertices[t].cpu().numpy(), topology, color=TRACK_COLORS[fit.id % len(TRACK_COLORS)])
                          for fit in tracks for t in [frame.index - int(fit.frames[0])]
                          if 0 <= t < len(fit) and bool(fit.fitted[t])]  # fmt: skip
                if meshes:
                    image = renderer.render(meshes, view, background=np.ascontiguousarray(image)).color
                writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
                written += 1
    finally:
        writer.release()
    return written


def write_video(result: VideoResult, frames: Iterable[Any], body: BodyModel, config: VideoConfig) -> None:
    """Write everything of the module docstring into ``result.folder``; fills ``result.files``."""
    assert result.folder is not None
    folder = output_folder(result.folder)
    clock = time.perf_counter()
    for fit in result.tracks:
        for key, path in write_track(fit, folder / f"track{fit.id}", body, result.fps, result.camera,
                                     config.temporal_weight).items():  # fmt: skip
            result.files[f"track{fit.id}/{key}"] = path
    result.timings["parameters + animation files"] = time.perf_counter() - clock
    note = ""
    if config.overlay:
        clock = time.perf_counter()
        note = _overlay(result, frames, body, config)
        result.timings["overlay video"] = time.perf_counter() - clock
    result.files["summary"] = write_summary(result, config, note)
    result.files["index"] = write_video_index(result, config, note)


def _overlay(result: VideoResult, frames: Iterable[Any], body: BodyModel, config: VideoConfig) -> str:
    """Write ``overlay.mp4``; an empty string, or why there is none."""
    from hmrflow.render.context import RenderBackendError

    path = result.folder / "overlay.mp4"  # type: ignore[operator]
    try:
        count = write_overlay_video(path, frames, result.tracks, result.camera, body, result.fps, config.overlay_size)
    except (RenderBackendError, InputError) as error:
        log.warning("no overlay video: %s", error)
        return f"no overlay video: {error}"
    result.files["overlay"] = path
    return "" if count == result.frames else f"the overlay video has {count} of {result.frames} frames"


def _track_record(fit: TrackFit, folder: Path) -> dict[str, Any]:
    error = fit.reprojection_error[fit.observed]
    return {"track": fit.id, "first_frame": int(fit.frames[0]), "last_frame": int(fit.frames[-1]),
            "frames": len(fit), "detected": int(fit.observed.sum()), "fitted": int(fit.fitted.sum()),
            "reprojection_error_px": round(float(error.mean()), 3) if len(error) else None,
            "fit_seconds": round(fit.seconds, 3), "temporal": fit.temporal,
            "files": {key: str(path.relative_to(folder)) for key, path in _track_files(fit, folder).items()}}  # fmt: skip


def _track_files(fit: TrackFit, folder: Path) -> dict[str, Path]:
    names = {"params": "params.npz", "bvh": "animation.bvh", "glb": "animation.glb", "player": "animation.html"}
    return {key: folder / f"track{fit.id}" / name for key, name in names.items()}


def write_summary(result: VideoResult, config: VideoConfig, note: str = "") -> Path:
    """``video.json``: the clip, the camera, the settings, the tracks, the timings and the files."""
    folder = result.folder
    assert folder is not None
    record = {"format": "hmrflow-video-demo", "version": 1, "video": str(result.path), "frames": result.frames,
              "fps": result.fps, "size": list(result.size), "camera": camera_record(result.camera),
              "keypoints": result.source, "temporal_weight": config.temporal_weight, "fit_steps": config.fit_steps,
              "tracks": [_track_record(fit, folder) for fit in result.tracks],
              "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
              "overlay": "overlay.mp4" if "overlay" in result.files else None, "note": note}  # fmt: skip
    path = folder / "video.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path


def write_video_index(result: VideoResult, config: VideoConfig, note: str = "") -> Path:
    """``index.html`` of the clip: the overlay video, then per track its figures and files."""
    folder = result.folder
    assert folder is not None
    esc = html.escape
    fit = "every frame alone" if config.temporal_weight == 0 else f"temporal, weight {config.temporal_weight:g}"
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    lines = [f"{result.frames} frames at {result.fps:g} fps, {result.size[0]} x {result.size[1]} px; "
             f"keypoints: {result.source}", f"fit: {fit}, {config.fit_steps} L-BFGS steps", f"time: {timings}",
             "frames: camera frame of the video (OpenCV: x right, y down), metres; animation files Y up"]  # fmt: skip
    parts = [f"<li>{esc(line)}</li>" for line in lines + ([note] if note else [])]
    body = []
    if "overlay" in result.files:
        body.append('<video controls loop src="overlay.mp4" style="max-width:100%;max-height:600px"></video>'
                    '<p><a href="overlay.mp4">overlay.mp4</a> (mp4v)</p>')  # fmt: skip
    for fit_ in result.tracks:
        record = _track_record(fit_, folder)
        links = " | ".join(f'<a href="{esc(path, quote=True)}">{esc(key)}</a>' for key, path in record["files"].items())
        error = record["reprojection_error_px"]
        body.append(f"<section><h2>track {fit_.id}</h2><p>frames {record['first_frame']}-{record['last_frame']}: "
                    f"{record['detected']} detected, {record['fitted']} fitted; reprojection error "
                    f"{'-' if error is None else f'{error:.1f} px'}</p><p>{links}</p></section>")  # fmt: skip
    title = f"hmrflow demo: {result.path.name}"
    page = (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            "<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}"
            "section{border-top:1px solid #ddd;padding:8px 0}</style></head><body>"
            f"<h1>{esc(title)}</h1><ul>{''.join(parts)}</ul>\n" + "\n".join(body) + "\n</body></html>\n")  # fmt: skip
    path = folder / "index.html"
    path.write_text(page)
    return path
