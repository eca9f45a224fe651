"""``hmrflow demo clip.mp4`` / ``hmrflow demo frames/ --video``: the video path of ``hmrflow demo``.

``cli/demo.py`` registers these arguments (:func:`add_video_arguments`) and hands a run
whose inputs are videos to :func:`run_video` (:func:`is_video_run`).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

from hmrflow.cli.common import exit_status, intrinsics_setting, torch_device
from hmrflow.errors import InputError
from hmrflow.folders import prepared_output_folder

__all__ = ["VIDEO_SUFFIXES", "add_video_arguments", "is_video_run", "run_video", "video_config"]

#: File suffixes taken as videos (any other file is a photo).
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp")

VIDEO_HELP = """\
`hmrflow demo clip.mp4` (or a folder of frames with --video): every person in every
frame is detected (mediapipe, at most --max-people), tracked across frames and fitted over
the whole track at once with smoothness terms (--temporal-weight; 0 fits every frame
alone); per track: params.npz (every frame under SMPL's names; `hmrflow export` reads it),
animation.bvh and animation.glb (frame rate of the video), animation.html (a player); an
overlay video; index.html. Outputs in --out/<video name>/. Keypoints found before: --keypoints
clip.npy, an array (frames, people, K, 3) per video, confidence 0 where a person is absent."""


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """The video options of ``hmrflow demo`` (``--max-people``, ``--steps``, ``--out`` are shared)."""
    group = parser.add_argument_group("videos", VIDEO_HELP)
    group.add_argument("--video", action="store_true", help="the inputs are videos: a folder is a clip of frames")
    group.add_argument("--fps", type=float, default=None,
                       help="frame rate of a folder of frames (default 30), or in place of a video's own")  # fmt: skip
    group.add_argument("--temporal-weight", type=float, default=1.0, metavar="W",
                       help="scales the smoothness weights of the fit over time; 0: every frame fitted alone "
                       "(default: %(default)s)")  # fmt: skip
    group.add_argument("--frames", type=int, default=None, metavar="N", help="only the first N frames of each clip")
    group.add_argument("--no-overlay-video", action="store_true", help="do not write the overlay video")


def is_video_run(args: argparse.Namespace) -> bool:
    """The inputs are videos: ``--video``, or a file with a video suffix among them.

    Raises:
        InputError: Videos and photos given together.
    """
    inputs = list(getattr(args, "images", None) or [])
    videos = [p for p in inputs if p.suffix.lower() in VIDEO_SUFFIXES]
    if not (getattr(args, "video", False) or videos):
        return False
    others = [p for p in inputs if p not in videos and not p.is_dir()]
    if others:
        raise InputError(f"videos and photos in one run: {others[0]} is not a video ({', '.join(VIDEO_SUFFIXES)}); "
                         "run them apart")  # fmt: skip
    if not inputs:
        raise InputError("--video: give the videos or folders of frames to run")
    return True


def check_video_settings(args: argparse.Namespace) -> None:
    """The numeric settings of a video run, before anything is loaded.

    Raises:
        InputError: A setting out of its range.
    """
    if not (math.isfinite(args.temporal_weight) and args.temporal_weight >= 0):
        raise InputError(f"--temporal-weight must be a number >= 0, not {args.temporal_weight}")
    if args.fps is not None and not (math.isfinite(args.fps) and args.fps > 0):
        raise InputError(f"--fps must be a positive number, not {args.fps}")
    if args.frames is not None and args.frames < 1:
        raise InputError(f"--frames must be >= 1, not {args.frames}")
    if args.steps < 1:
        raise InputError("--steps must be >= 1")
    if args.max_people < 1:
        raise InputError(f"--max-people must be >= 1, not {args.max_people}")
    if getattr(args, "no_fit", False):
        raise InputError("--no-fit: videos are always fitted (--temporal-weight 0 fits every frame alone)")
    if getattr(args, "detect", "auto") == "never" and not getattr(args, "keypoints", None):
        raise InputError("--detect never: a video then needs its keypoints (--keypoints clip.npy, (frames, people, K, 3))")
    args.intrinsics = intrinsics_setting(args)


def video_config(args: argparse.Namespace) -> Any:
    """The :class:`~hmrflow.application.video_pipeline.VideoConfig` of the command's settings."""
    from hmrflow.application.video_results import VideoConfig

    return VideoConfig(temporal_weight=args.temporal_weight, fit_steps=args.steps, max_people=args.max_people,
                       max_frames=args.frames, fps=args.fps, intrinsics=args.intrinsics,
                       overlay=not args.no_overlay_video)  # fmt: skip


def _keypoints(args: argparse.Namespace, count: int) -> list[Any]:
    """Per video, keypoints given with ``--keypoints`` (``.npy`` ``(F, P, K, 3)`` or ``(F, K, 3)``), or None."""
    files = list(getattr(args, "keypoints", None) or [])
    if not files:
        return [None] * count
    if len(files) != count:
        raise InputError(f"{count} video(s) but {len(files)} keypoint file(s): give one .npy per video")
    import numpy as np

    arrays = []
    for path in files:
        if path.suffix.lower() != ".npy" or not path.is_file():
            raise InputError(f"{path}: keypoints of a video are a .npy array (frames, people, K, 3)")
        array = np.load(path, allow_pickle=False)
        arrays.append(array[:, None] if array.ndim == 3 else array)
    return arrays


def _names(paths: list[Path], out: Path) -> list[str]:
    """An output folder name per video: its stem, made unique among themselves and what ``out`` holds."""
    from hmrflow.application.run_record import unique_name

    used = {child.name for child in out.iterdir()}
    return [unique_name(path.stem if path.is_file() else path.name, used) for path in paths]


def _check_readable(videos: list[Path], fps: float | None) -> None:
    """Every clip opens (readable, at least one frame), before the model loads.

    Raises:
        VideoInputError: The first clip that does not, naming it and why.
    """
    from hmrflow.video import open_frames

    for path in videos:
        open_frames(path, fps)


def run_video(args: argparse.Namespace) -> int:
    """Run every video of the command line; one line per video; exit status as for photos."""
    start = time.perf_counter()
    check_video_settings(args)
    videos = list(args.images)
    given = _keypoints(args, len(videos))
    _check_readable(videos, args.fps)
    device = torch_device(args.device)
    with prepared_output_folder(args.out) as out:
        from hmrflow.application.video_pipeline import VideoPipeline
        from hmrflow.models.checkpoint import load_model

        model = load_model(args.model, device=device)
        config = video_config(args)
        weight = "every frame alone" if args.temporal_weight == 0 else f"temporal weight {args.temporal_weight:g}"
        print(f"hmrflow demo: {len(videos)} video(s) -> {out}/ | fit: {args.steps} steps, {weight} | device: {device}")
        failed, indexes = [], []
        with VideoPipeline(model, config) as pipeline:
            for path, name, keypoints in zip(videos, _names(videos, out), given):
                try:
                    result = pipeline.run(path, out / name, keypoints)
                except InputError as error:
                    if len(videos) == 1:  # one line from cli/main.py, exit status 2
                        raise
                    print(f"failed: {error}", file=sys.stderr)
                    failed.append(path.name)
                    continue
                indexes.append(result.files["index"])
                print(f"{path.name}: {result.describe()}")
    shown = f"; open {indexes[0]}" if len(indexes) == 1 else ""
    print(f"done in {time.perf_counter() - start:.1f} s: {len(indexes)} of {len(videos)} video(s) ok{shown}")
    return exit_status(failed, len(videos), "videos")
