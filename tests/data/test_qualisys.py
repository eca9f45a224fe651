"""The Qualisys calibration reader, on a literal example and on the fetched pose2sim file."""

from __future__ import annotations

import numpy as np
import pytest

from hmrflow.data.qualisys import parse_qualisys, read_qualisys, stack_cameras
from tests.fetched import fetched

# Two cameras; the second turned 90 degrees about the vertical, its image cropped (fov offset).
EXAMPLE = """<?xml version='1.0' encoding='ASCII'?>
<calibration source="test">
  <cameras>
    <camera active="1" serial="camA">
      <fov_video bottom="1919" left="0" right="1087" top="0"/>
      <transform r11="1" r12="0" r13="0" r21="0" r22="1" r23="0" r31="0" r32="0" r33="1"
                 x="100" y="-200" z="3000"/>
      <intrinsic centerPointU="34816" centerPointV="61440" focalLengthU="96000" focalLengthV="95936"
                 radialDistortion1="-0.05" radialDistortion2="0.14" radialDistortion3="0"
                 tangentalDistortion1="0.001" tangentalDistortion2="0.002"/>
    </camera>
    <camera active="1" serial="camB">
      <fov_video bottom="1019" left="20" right="659" top="40"/>
      <transform r11="0" r12="-1" r13="0" r21="1" r22="0" r23="0" r31="0" r32="0" r33="1"
                 x="0" y="0" z="2000"/>
      <intrinsic centerPointU="21760" centerPointV="34560" focalLengthU="64000" focalLengthV="64000"
                 radialDistortion1="0" radialDistortion2="0" radialDistortion3="0"
                 tangentalDistortion1="0" tangentalDistortion2="0"/>
    </camera>
  </cameras>
</calibration>
"""


def test_parse_the_literal_example() -> None:
    first, second = parse_qualisys(EXAMPLE)
    assert (first.name, second.name) == ("camA", "camB")
    assert first.image_size == (1088, 1920) and second.image_size == (640, 980)
    np.testing.assert_allclose(first.focal_length, [1500.0, 1499.0])
    np.testing.assert_allclose(first.principal_point, [544.5, 960.5])  # 34816 / 64 = 544, + 0.5
    np.testing.assert_allclose(second.principal_point, [340.0 - 20 + 0.5, 540.0 - 40 + 0.5])  # fov offset
    np.testing.assert_allclose(first.rotation, np.diag([1.0, -1.0, -1.0]))
    np.testing.assert_allclose(first.translation, [-0.1, -0.2, 3.0])  # diag(1,-1,-1)(-M pos) / 1000
    np.testing.assert_allclose(first.distortion, [-0.05, 0.14, 0.001, 0.002, 0.0])
    M = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(second.rotation, np.diag([1.0, -1.0, -1.0]) @ M)
    for camera, position in ((first, [0.1, -0.2, 3.0]), (second, [0.0, 0.0, 2.0])):
        np.testing.assert_allclose(-camera.rotation.T @ camera.translation, position, atol=1e-12)
        assert np.isclose(np.linalg.det(camera.rotation), 1.0)


def test_projection_of_the_camera_axis_is_the_principal_point() -> None:
    camera = parse_qualisys(EXAMPLE)[0]
    centre = -camera.rotation.T @ camera.translation
    ahead = centre + camera.rotation.T @ np.array([0.0, 0.0, 2.0])  # 2 m along the optical axis
    image = camera.projection @ np.append(ahead, 1.0)
    np.testing.assert_allclose(image[:2] / image[2], camera.principal_point)


def test_stack_cameras() -> None:
    arrays = stack_cameras(parse_qualisys(EXAMPLE))
    assert arrays["rotation"].shape == (2, 3, 3) and arrays["image_size"].tolist() == [[1088, 1920], [640, 980]]
    assert arrays["names"].tolist() == ["camA", "camB"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("not xml", "not XML"),
        ("<calibration><cameras/></calibration>", "no <camera>"),
        (EXAMPLE.replace('r11="1" ', ""), "lacks 'r11'"),
        (EXAMPLE.replace("<fov_video", "<fov_other"), "has no <fov_video>"),
    ],
)
def test_bad_files_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_qualisys(text)


def test_the_fetched_pose2sim_calibration() -> None:
    cameras = read_qualisys(fetched("pose2sim/Demo_MultiPerson/calibration/Calib.qca.txt"))
    assert [c.name for c in cameras] == ["cam01", "cam02", "cam03", "cam04"]
    for camera in cameras:
        assert camera.image_size == (1088, 1920)
        assert 1600 < camera.focal_length.min() and camera.focal_length.max() < 1700
        height = (-camera.rotation.T @ camera.translation)[2]
        assert 1.5 < height < 2.2  # the cameras hang about 1.9 m up (z is up in this world)
