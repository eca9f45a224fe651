"""Frames of video files and folders: lazily read, frame rate, clear errors."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from hmrflow.errors import InputError
from hmrflow.video.frames import FOLDER_FPS, VideoInputError, open_frames
from tests.fetched import fetched

COLOURS = [(250, 0, 0), (0, 250, 0), (0, 0, 250), (250, 250, 0), (0, 250, 250)]


def write_video(path: Path, colours: list[tuple[int, int, int]], fps: float = 12.0, size=(64, 48)) -> Path:
    """An MJPEG .avi of plain RGB frames."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for colour in colours:
        writer.write(np.full((size[1], size[0], 3), colour[::-1], dtype=np.uint8))  # BGR
    writer.release()
    return path


def test_video_frames_rgb_in_order_with_rate(tmp_path: Path) -> None:
    frames = open_frames(write_video(tmp_path / "clip.avi", COLOURS))
    assert (frames.kind, frames.fps, frames.size, frames.count) == ("video", 12.0, (64, 48), 5)
    read = list(frames)
    assert [f.index for f in read] == list(range(5))
    assert [f.time for f in read] == pytest.approx([i / 12 for i in range(5)])
    for frame, colour in zip(read, COLOURS):
        assert frame.image.shape == (48, 64, 3) and frame.image.dtype == np.uint8
        assert np.abs(frame.image.reshape(-1, 3).mean(0) - colour).max() < 8  # RGB, not BGR
    assert len(list(frames)) == 5  # every iteration starts again


def test_video_frame_rate_can_be_given(tmp_path: Path) -> None:
    frames = open_frames(write_video(tmp_path / "clip.avi", COLOURS[:2]), fps=30)
    assert frames.fps == 30.0 and [f.time for f in frames] == pytest.approx([0, 1 / 30])
    with pytest.raises(VideoInputError, match="frame rate"):
        open_frames(tmp_path / "clip.avi", fps=0)


def test_unreadable_missing_and_empty_videos(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 20)
    with pytest.raises(VideoInputError, match="notes.mp4"):
        open_frames(text)
    with pytest.raises(VideoInputError, match="no such"):
        open_frames(tmp_path / "missing.mp4")
    empty = write_video(tmp_path / "empty.avi", [])
    with pytest.raises(InputError, match="empty.avi"):
        open_frames(empty)


def test_folder_natural_order_rate_and_errors(tmp_path: Path) -> None:
    for i, colour in zip((10, 2, 1), COLOURS):
        Image.new("RGB", (8, 6), colour).save(tmp_path / f"f{i}.png")
    (tmp_path / "readme.txt").write_text("ignored")
    frames = open_frames(tmp_path)
    assert (frames.kind, frames.fps, frames.count, frames.size) == ("folder", FOLDER_FPS, 3, (8, 6))
    assert [f.name for f in frames.files] == ["f1.png", "f2.png", "f10.png"]
    assert [tuple(f.image[0, 0]) for f in frames] == [COLOURS[2], COLOURS[1], COLOURS[0]]
    Image.new("RGB", (9, 6)).save(tmp_path / "f11.png")
    with pytest.raises(VideoInputError, match="one size"):
        list(open_frames(tmp_path))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VideoInputError, match="no pictures"):
        open_frames(empty)


def test_pose2sim_clip_is_read_lazily() -> None:
    path = fetched("pose2sim/Demo_MultiPerson/videos/cam01.mp4")
    frames = open_frames(path)
    assert (frames.fps, frames.size, frames.count) == (60.0, (1088, 1920), 100)
    first = list(islice(frames, 2))
    assert [f.index for f in first] == [0, 1] and first[0].image.shape == (1920, 1088, 3)
    assert first[0].image.std() > 5  # a real picture, not a blank frame
