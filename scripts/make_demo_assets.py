"""One-time extraction of the demo's bundled example from the pose2sim 0.10.49 wheel (BSD-3).

Writes into src/hmrflow/assets/demo/:

* images/camNN_fIII.jpg: three frames of the Demo_SinglePerson videos (4 synchronised views
  of a man, 1080x1920, 60 fps), halved to 540x960, for `hmrflow demo`;
* multiview/camNN.jpg: the four views of one instant, for `hmrflow demo-multiview`;
* multiview/calibration.json: the Qualisys calibration converted (see `convert_qualisys`)
  to the halved images, checked by triangulating the detected keypoints;
* <image stem>.keypoints.json beside every image: mediapipe's detections (so that the
  demo and the tests run without the detector environment);
* LICENSE-pose2sim.txt (the wheel's licence).

Needs: the wheel (`pip download --no-deps pose2sim==0.10.49 -d DIR`; done here when
--wheel is not given), imageio-ffmpeg (`pip install imageio-ffmpeg`: ships an ffmpeg
binary; only this script needs it) and the detector environment
(`bash scripts/setup_detector.sh`).

    .venv/bin/python scripts/make_demo_assets.py [--wheel pose2sim-0.10.49-py3-none-any.whl]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "src" / "hmrflow" / "assets" / "demo"
DEMO = "Pose2Sim/Demo_SinglePerson"
SCALE = 0.5  # 1080x1920 -> 540x960
QUALITY = 80
#: (camera, 0-based frame index) of the single-view demo images.
SINGLE = (("cam02", 89), ("cam01", 74), ("cam04", 19))
#: The instant of the multi-view demo.
MULTIVIEW_FRAME = 39
CAMERAS = ("cam01", "cam02", "cam03", "cam04")


def fetch_wheel(directory: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "pose2sim==0.10.49", "-d", str(directory)], check=True
    )
    return next(directory.glob("pose2sim-0.10.49-*.whl"))


def read_frames(video: bytes, indices: set[int]) -> dict[int, np.ndarray]:
    """Decode the frames ``indices`` (0-based) of an mp4 given as bytes."""
    import imageio_ffmpeg

    with tempfile.NamedTemporaryFile(suffix=".mp4") as handle:
        handle.write(video)
        handle.flush()
        reader = imageio_ffmpeg.read_frames(handle.name)
        meta = next(reader)
        width, height = meta["size"]
        frames = {}
        for i, raw in enumerate(reader):
            if i in indices:
                frames[i] = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3).copy()
            if len(frames) == len(indices):
                reader.close()
                break
    return frames


def save_jpeg(frame: np.ndarray, path: Path) -> tuple[int, int]:
    image = Image.fromarray(frame)
    size = (round(image.width * SCALE), round(image.height * SCALE))
    image = image.resize(size, Image.Resampling.LANCZOS)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=QUALITY, optimize=True, progressive=True)
    return size


def convert_qualisys(text: str, scale: float) -> dict:
    r"""Qualisys ``.qca.txt`` -> cameras of the scaled images, world -> camera ``X_c = R X_w + t``.

    Intrinsics: ``f = focalLength / 64``, ``c = centerPoint / 64 - fov offset`` (pixel
    indices), moved to continuous pixel coordinates (+0.5) and scaled. Extrinsics: the
    transform's rotation ``M`` (rows r1*, r2*, r3*) and position (mm):
    ``R = diag(1, -1, -1) M``, ``t = diag(1, -1, -1) (-M pos / 1000)`` metres.
    """
    root = ET.fromstring(text)
    flip = np.diag([1.0, -1.0, -1.0])
    cameras = {}
    for camera in root.findall("cameras/camera"):
        fov = camera.find("fov_video").attrib
        transform = camera.find("transform").attrib
        intrinsic = camera.find("intrinsic").attrib
        m = np.array([[float(transform[f"r{i}{j}"]) for j in (1, 2, 3)] for i in (1, 2, 3)])
        position = np.array([float(transform[k]) for k in "xyz"]) / 1000.0
        focal = np.array([float(intrinsic["focalLengthU"]), float(intrinsic["focalLengthV"])]) / 64
        center = np.array(
            [
                float(intrinsic["centerPointU"]) / 64 - float(fov["left"]),
                float(intrinsic["centerPointV"]) / 64 - float(fov["top"]),
            ]
        )
        cameras[camera.attrib["serial"]] = {
            "focal_length": [round(float(f * scale), 4) for f in focal],
            "principal_point": [round(float((c + 0.5) * scale), 4) for c in center],
            "rotation": (flip @ m).round(10).tolist(),
            "translation": (flip @ (-m @ position)).round(8).tolist(),
            "distortion": [
                float(intrinsic[k])
                for k in (
                    "radialDistortion1",
                    "radialDistortion2",
                    "tangentalDistortion1",
                    "tangentalDistortion2",
                    "radialDistortion3",
                )
            ],  # fmt: skip
        }
    return cameras


def detect(paths: list[Path]) -> None:
    from hmrflow.application.detector import DETECTOR_NAME, MediaPipeDetector
    from hmrflow.application.inputs import sidecar_path, write_keypoints_json

    with MediaPipeDetector() as detector:
        for path in paths:
            pixels = np.asarray(Image.open(path).convert("RGB"))
            found = detector.detect(pixels)
            if found.keypoints is None:
                raise SystemExit(f"no person found in {path}")
            landmarks = [{"blazepose_landmarks": np.round(found.landmarks, 4).tolist()}]
            write_keypoints_json(
                sidecar_path(path), path.name, found.image_size, [found.keypoints], DETECTOR_NAME, landmarks
            )
            print(f"{path.name}: {int((found.keypoints[:, 2] > 0).sum())} keypoints in {found.seconds:.2f} s")


def check_calibration(calibration: dict, views: list[Path]) -> float:
    """Triangulate the views' confident keypoints (DLT) and return the median reprojection error, px."""
    from hmrflow.application.inputs import read_keypoint_file, sidecar_path

    keypoints = [read_keypoint_file(sidecar_path(p)).people[0] for p in views]
    projections = []
    for path in views:
        cam = calibration["cameras"][path.stem]
        k = np.array([[cam["focal_length"][0], 0, cam["principal_point"][0]],
                      [0, cam["focal_length"][1], cam["principal_point"][1]], [0, 0, 1]])  # fmt: skip
        projections.append(k @ np.hstack([np.array(cam["rotation"]), np.array(cam["translation"])[:, None]]))
    errors = []
    for j in range(keypoints[0].shape[0]):
        seen = [v for v in range(len(views)) if keypoints[v][j, 2] > 0.5]
        if len(seen) < 3:
            continue
        rows = []
        for v in seen:
            x, y = keypoints[v][j, :2]
            rows += [x * projections[v][2] - projections[v][0], y * projections[v][2] - projections[v][1]]
        point = np.linalg.svd(np.array(rows))[2][-1]
        for v in seen:
            p = projections[v] @ point
            errors.append(np.linalg.norm(p[:2] / p[2] - keypoints[v][j, :2]))
    return float(np.median(errors))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", type=Path, help="the pose2sim 0.10.49 wheel (default: download it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or fetch_wheel(Path(tmp))
        with zipfile.ZipFile(wheel) as archive:
            videos = {cam: archive.read(f"{DEMO}/videos/{cam}.mp4") for cam in CAMERAS}
            calibration_text = archive.read(f"{DEMO}/calibration/Calib.qca.txt").decode("ascii")
            licence = next(n for n in archive.namelist() if n.endswith("licenses/LICENSE"))
            (ASSETS / "LICENSE-pose2sim.txt").parent.mkdir(parents=True, exist_ok=True)
            (ASSETS / "LICENSE-pose2sim.txt").write_bytes(archive.read(licence))
    written, sizes = [], {}
    for cam in CAMERAS:
        wanted = {MULTIVIEW_FRAME} | {i for c, i in SINGLE if c == cam}
        frames = read_frames(videos[cam], wanted)
        sizes[cam] = save_jpeg(frames[MULTIVIEW_FRAME], ASSETS / "multiview" / f"{cam}.jpg")
        written.append(ASSETS / "multiview" / f"{cam}.jpg")
        for c, i in SINGLE:
            if c == cam:
                path = ASSETS / "images" / f"{cam}_f{i:03d}.jpg"
                save_jpeg(frames[i], path)
                written.append(path)
    cameras = convert_qualisys(calibration_text, SCALE)
    for cam in CAMERAS:  # cam01/02 videos are 1080 px wide, cam03/04 1088 (the calibration's)
        cameras[cam] = {"image_size": list(sizes[cam]), **cameras[cam]}
    calibration = {
        "source": "pose2sim 0.10.49 Demo_SinglePerson/calibration/Calib.qca.txt (Qualisys), converted",
        "frame": MULTIVIEW_FRAME,
        "convention": "world -> camera X_c = R X_w + t (metres, OpenCV axes); pixels of the halved "
        f"images (scale {SCALE}), origin at the top-left corner of the image; distortion (k1, k2, p1, "
        "p2, k3) is that of the original Qualisys model and is not applied by hmrflow",
        "cameras": cameras,
    }
    (ASSETS / "multiview" / "calibration.json").write_text(json.dumps(calibration, indent=1) + "\n")
    detect(written)
    error = check_calibration(calibration, [ASSETS / "multiview" / f"{c}.jpg" for c in CAMERAS])
    print(f"calibration check: median reprojection error of triangulated keypoints {error:.1f} px")
    total = sum(p.stat().st_size for p in ASSETS.rglob("*") if p.is_file())
    print(f"wrote {len(written)} images; {ASSETS} holds {total / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
