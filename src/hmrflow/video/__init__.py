"""Video input (application floor): frames of a video file or a folder, and people tracked across them.

* :mod:`hmrflow.video.frames` -- :func:`open_frames`: a video or a folder of pictures,
  read lazily, with its frame rate; clear errors for unreadable or empty inputs;
* :mod:`hmrflow.video.tracking` -- :func:`track_people`: per-frame detections (boxes and
  keypoints) linked into tracks.

Fitting a track over time is :func:`hmrflow.fitting.temporal.fit_sequence`.
"""

from hmrflow.video.frames import Frame, FrameSource, VideoInputError, open_frames
from hmrflow.video.tracking import Detection, Track, TrackingConfig, track_people

__all__ = [
    "Detection",
    "Frame",
    "FrameSource",
    "Track",
    "TrackingConfig",
    "VideoInputError",
    "open_frames",
    "track_people",
]
