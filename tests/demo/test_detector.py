"""The detector in its own process: errors without it, real detections with it."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from hmrflow.application.detector import DetectorUnavailable, MediaPipeDetector, find_detector_python
from hmrflow.application.inputs import read_keypoint_file, sidecar_path
from hmrflow.cli.demo import bundled_images

DETECTOR = find_detector_python()


def test_a_python_without_mediapipe_is_reported_with_the_fix():
    # this environment's Python has no mediapipe: the worker starts, says so, and exits
    with pytest.raises(DetectorUnavailable, match="setup_detector.sh"):
        MediaPipeDetector(python=sys.executable)


def test_a_missing_environment_is_reported_with_the_fix(tmp_path):
    with pytest.raises(DetectorUnavailable, match="setup_detector.sh"):
        MediaPipeDetector(python=tmp_path / "nope" / "python")


@pytest.mark.skipif(DETECTOR is None, reason="the detector environment is not installed (scripts/setup_detector.sh)")
def test_the_detector_finds_the_bundled_person_and_nobody_in_a_blank_image():
    from PIL import Image

    image = bundled_images()[0]
    pixels = np.asarray(Image.open(image).convert("RGB"))
    with MediaPipeDetector() as detector:
        found = detector.detect(pixels)
        blank = detector.detect(np.full((240, 320, 3), 127, np.uint8))
    assert blank.keypoints is None
    assert found.keypoints is not None and found.image_size == (pixels.shape[1], pixels.shape[0])
    bundled = read_keypoint_file(sidecar_path(image)).people[0]
    both = (found.keypoints[:, 2] > 0) & (bundled[:, 2] > 0)
    assert both.sum() >= 15
    assert np.abs(found.keypoints[both, :2] - bundled[both, :2]).max() < 3.0  # the shipped ones are its output


def test_a_lazy_detector_tries_once_and_closes_only_what_it_started(monkeypatch):
    import hmrflow.application.detector as detector_module
    from hmrflow.application.detector import LazyDetector

    starts = []

    def unavailable():
        starts.append(1)
        raise DetectorUnavailable("no keypoint detector found; install it with scripts/setup_detector.sh")

    monkeypatch.setattr(detector_module, "MediaPipeDetector", unavailable)
    lazy = LazyDetector()
    for _ in range(3):
        with pytest.raises(DetectorUnavailable, match="setup_detector.sh"):
            lazy()
    assert len(starts) == 1

    class Running:
        closed = False

        def close(self):
            self.closed = True

    given = Running()
    borrowed = LazyDetector(given)
    assert borrowed() is given
    borrowed.close()
    assert not given.closed  # its owner closes it
