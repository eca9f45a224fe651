r"""Time per frame of the video demo on a real clip, part by part.

Clip: pose2sim's Demo_MultiPerson ``cam01.mp4`` (fetched by ``scripts/fetch_data.sh``;
1088 x 1920, 60 fps, two people), its first ``--frames`` frames. Parts, each timed alone
(seconds per frame of the clip):

* ``decode`` -- reading the frames (OpenCV);
* ``detect`` -- the mediapipe detector on every frame (look, mask, look again; its start
  counted apart), or ``--keypoints set``: the real-multiview-v1 detections of this view;
* ``track`` -- linking the detections into tracks;
* ``fit`` -- every track fitted: the temporal fit (``--temporal-weight``, default 1) and,
  measured in the same run as the baseline, every frame fitted alone (weight 0);
* ``write`` -- params.npz, BVH, animated GLB and player page of every track;
* ``overlay`` -- the overlay video (the bodies rendered over every frame, mp4v; its
  second decoding of the frames taken out).

    OMP_NUM_THREADS=1 python benchmarks/bench_video_demo.py --frames 100
    OMP_NUM_THREADS=1 python benchmarks/bench_video_demo.py --frames 100 --keypoints set
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from hmrflow.application.detector import MediaPipeDetector
from hmrflow.application.video_outputs import write_overlay_video, write_track
from hmrflow.application.video_pipeline import (
    VideoPipeline,
    detections_from_keypoints,
    fit_track,
    limited,
    video_camera,
)
from hmrflow.application.video_results import VideoConfig
from hmrflow.data.real_multiview import RealMultiview
from hmrflow.models.checkpoint import load_model
from hmrflow.video import open_frames, track_people

ROOT = Path(__file__).resolve().parents[1]
VIDEO = Path(os.environ.get("HMRFLOW_DATA", ROOT / ".cache" / "data")) / "pose2sim/Demo_MultiPerson/videos/cam01.mp4"


def timed(step, *args):  # noqa: ANN001, ANN201
    begin = time.perf_counter()
    out = step(*args)
    return out, time.perf_counter() - begin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--steps", type=int, default=30, help="L-BFGS steps (the demo's default)")
    parser.add_argument("--temporal-weight", type=float, default=1.0)
    parser.add_argument("--keypoints", choices=("detector", "set"), default="detector")
    args = parser.parse_args()
    model = load_model()
    config = VideoConfig(temporal_weight=args.temporal_weight, fit_steps=args.steps, max_frames=args.frames,
                         max_people=2, progress=False)  # fmt: skip
    source = open_frames(VIDEO)
    frames, seconds = {}, {}
    (_, seconds["decode"]) = timed(lambda: sum(1 for f in source if f.index < args.frames))
    if args.keypoints == "set":
        data = RealMultiview.load()
        keypoints = (data.keypoints_2d[:, : args.frames, 0] * data.detected[:, : args.frames, 0, None, None])
        detections, seconds["detect"] = timed(detections_from_keypoints, keypoints.transpose(1, 0, 2, 3))
        start = 0.0
    else:
        detector, start = timed(MediaPipeDetector)
        with detector, VideoPipeline(model, config, detector) as pipeline:
            detections, seconds["detect"] = timed(pipeline.detect, source)
        seconds["detect"] -= seconds["decode"]  # detect() decodes too
    count = len(detections)
    tracks, seconds["track"] = timed(track_people, detections, config.tracking)
    camera = video_camera(source.size, None)
    fits, seconds["fit"] = timed(lambda: [fit_track(model, t, camera, config) for t in tracks])
    alone = replace(config, temporal_weight=0.0)
    _, frames["fit, every frame alone (baseline)"] = timed(lambda: [fit_track(model, t, camera, alone) for t in tracks])
    with tempfile.TemporaryDirectory() as out:
        folder = Path(out)
        _, seconds["write"] = timed(lambda: [write_track(f, folder / f"track{f.id}", model.body, source.fps, camera,
                                                         config.temporal_weight) for f in fits])  # fmt: skip
        _, seconds["overlay"] = timed(write_overlay_video, folder / "overlay.mp4", limited(source, count), fits,
                                      camera, model.body, source.fps, config.overlay_size)  # fmt: skip
        seconds["overlay"] -= seconds["decode"]  # the overlay decodes the frames again
    total = sum(seconds.values())
    print(f"{VIDEO.name}: {count} frames ({source.size[0]} x {source.size[1]}, {source.fps:g} fps), "
          f"{len(tracks)} track(s) ({', '.join(str(len(t)) for t in tracks)} detections); keypoints: {args.keypoints}; "
          f"{args.steps} L-BFGS steps, temporal weight {args.temporal_weight:g}; threads {torch.get_num_threads()}")
    if args.keypoints == "detector":
        print(f"detector start (once per run): {start:.1f} s")
    print(f"{'part':<40}{'s/frame':>9}{'share':>8}")
    for name, value in seconds.items():
        print(f"{name:<40}{value / count:>9.3f}{value / total:>8.0%}")
    print(f"{'whole path':<40}{total / count:>9.3f}")
    for name, value in frames.items():
        print(f"{name:<40}{value / count:>9.3f}   (in place of 'fit': {np.round(value / seconds['fit'], 2)}x)")


if __name__ == "__main__":
    main()
