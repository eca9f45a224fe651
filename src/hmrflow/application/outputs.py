r"""The demo's outputs: pictures, mesh files, parameters, the viewer and index.html.

Per photo, in its folder: ``overlay.jpg`` (the photo with the detected keypoints, and
every person's final body drawn over it) and ``keypoints.json`` (the keypoints used, in
the file's pixels: pass it back with ``--keypoints``). Per person, in ``personN/``:

* ``overlay.jpg``: the person's box: keypoints | body over the photo | body from the side;
* ``samples.png``: the mode (blue, opaque) and the samples (orange, translucent) from the
  front and the side, and the mode coloured by how far the samples spread at each vertex;
  drawn upright by default (:mod:`hmrflow.application.upright_view`: the person's
  estimated gravity, one rotation for all their meshes), or in the camera's view;
* ``mesh.obj``, ``mesh.ply``, ``mesh.glb`` (the final body), ``samples.glb`` (mode, fit
  and samples as separate nodes), all in metres in the Y-up world frame of
  :mod:`hmrflow.body.parameters` (the camera frame turned to ``(x, -y, -z)``): upright in
  Blender and glTF viewers;
* ``params.json`` and ``params.npz``: the final body under SMPL's names (``global_orient``,
  ``body_pose`` axis-angle, ``betas``, ``transl``, camera frame), the poses (rotation
  matrices and axis-angle) of the mode, the fit and the samples with their
  log-likelihoods, camera, keypoints; ``body(rotmats, betas, transl)`` gives the mesh
  (in the camera frame; the mesh files hold it turned to Y up);
* ``viewer.html``: an interactive, self-contained 3D view (:mod:`hmrflow.application.viewer`).

``index.html`` in the output folder links everything (:mod:`hmrflow.application.index_page`).

Needs the ``render`` extra (moderngl, Pillow, trimesh) for pictures and mesh files.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from hmrflow.application.records import camera_arrays, camera_record, pose_record, rotvecs, rounded
from hmrflow.application.style import FIT_COLOR, MODE_COLOR, SAMPLE_COLOR, labelled, spread_colors
from hmrflow.application.upright_view import Levelling, View, check_view, gravity_record
from hmrflow.body.joints import SMPL_JOINT_NAMES
from hmrflow.body.parameters import camera_to_y_up, parameter_arrays
from hmrflow.data.keypoint_files import EVIDENCE_NAMES

if TYPE_CHECKING:
    from hmrflow.application.inputs import Photo
    from hmrflow.application.results import ImageResult, PersonResult
    from hmrflow.body import BodyModel
    from hmrflow.render.camera import Camera

__all__ = [
    "OutputWriter",
    "colored_mesh",
    "params_dict",
    "write_meshes",
    "write_params",
]

log = logging.getLogger(__name__)

#: Opacity of the body drawn over a photo.
OVERLAY_OPACITY = 0.85


def final_parameters(person: PersonResult) -> dict[str, np.ndarray]:
    """The person's final body under SMPL's names (:func:`~hmrflow.body.parameters.parameter_arrays`)."""
    rotmats, betas, transl = (torch.as_tensor(a) for a in (person.final.rotmats[0], person.betas, person.translation))
    return parameter_arrays(rotmats, betas, transl)


def params_dict(person: PersonResult, image: str, index: int, body_name: str, scale: float = 1.0) -> dict[str, Any]:
    """The JSON parameters of one person (see the module docstring)."""
    named = final_parameters(person)
    return {
        "format": "hmrflow-demo-params",
        "version": 2,
        "image": image,
        "person": index,
        "image_size": [int(v) for v in person.camera.image_size.tolist()],
        "image_scale": scale,
        "body_model": body_name,
        "frame": "camera frame of the photo (OpenCV: x right, y down, +z forward), metres; "
        "vertices = body(rotmats, betas, transl) for every pose below; mesh files: (x, -y, -z), Y up",
        "joint_names": list(SMPL_JOINT_NAMES),
        "final": "fit" if person.fit is not None else "mode",
        "labels_mirrored": bool(person.labels_mirrored),
        "global_orient": rounded(named["global_orient"]),
        "body_pose": rounded(named["body_pose"]),
        "betas": rounded(person.betas),
        "transl": rounded(person.translation),
        "camera": {
            **camera_record(person.camera),
            "weak_perspective": rounded(person.weak_perspective),
            "box_center": rounded(person.box_center, 3),
            "box_size": round(person.box_size, 3),
        },
        "gravity_up": gravity_record(person),
        "regression": {
            "betas": rounded(person.regressed_betas),
            "transl": rounded(person.regressed_translation),
        },
        "mode": pose_record(person.mode.rotmats[0], person.mode.log_prob[0]),
        "fit": None if person.fit is None else pose_record(person.fit.rotmats[0], person.fit.log_prob[0]),
        "samples": [pose_record(r, lp) for r, lp in zip(person.samples.rotmats, person.samples.log_prob)],
        "keypoints": {
            "names": list(EVIDENCE_NAMES),
            "detected": rounded(person.keypoints, 3),
            "box_normalised": rounded(person.evidence, 5),
            "projected": rounded(person.projected, 3),
        },
        "reprojection_error_px": {
            "regression": round(person.initial_error, 3),
            "final": round(person.reprojection_error, 3),
        },
        "fit_report": None if person.fit_report is None else vars(person.fit_report),
    }


def write_params(person: PersonResult, folder: Path, image: str, index: int, body: BodyModel, scale: float) -> None:
    """``params.json`` and ``params.npz`` of one person."""
    data = params_dict(person, image, index, body.name, scale)
    (folder / "params.json").write_text(json.dumps(data, indent=1) + "\n")
    arrays: dict[str, np.ndarray] = {
        **final_parameters(person),
        "regressed_betas": person.regressed_betas,
        "regressed_transl": person.regressed_translation,
        "camera_weak_perspective": person.weak_perspective,
        **camera_arrays(person.camera),
        "box_center": person.box_center,
        "box_size": np.float32(person.box_size),
        "keypoints": person.keypoints,
        "keypoints_box_normalised": person.evidence,
        "projected_keypoints": person.projected,
        "vertices": person.vertices,  # camera frame, as every array here
        "faces": body.faces.cpu().numpy().astype(np.int32),
        "joints": person.joints,
        "spread": person.spread,
    }
    for name, pose in (("mode", person.mode), ("fit", person.fit), ("samples", person.samples)):
        if pose is None:
            continue
        rotmats = pose.rotmats if name == "samples" else pose.rotmats[0]
        arrays[f"{name}_rotmats"] = rotmats
        arrays[f"{name}_axis_angle"] = rotvecs(rotmats).astype(np.float32)
        arrays[f"{name}_log_prob"] = pose.log_prob if name == "samples" else pose.log_prob[0]
        arrays[f"{name}_z"] = pose.z if name == "samples" else pose.z[0]
    np.savez_compressed(folder / "params.npz", **arrays)


def colored_mesh(vertices: np.ndarray, faces: np.ndarray, color: tuple[float, float, float], alpha: float = 1.0) -> Any:
    """A ``trimesh.Trimesh`` of ``vertices`` ``(N, 3)`` and ``faces`` ``(F, 3)``, every vertex
    coloured ``color`` (RGB in [0, 1]) with opacity ``alpha``; not processed (order kept)."""
    import trimesh

    mesh = trimesh.Trimesh(vertices=np.asarray(vertices, np.float64), faces=faces, process=False)
    rgba = np.array([*color, alpha]) * 255
    mesh.visual.vertex_colors = np.tile(rgba.astype(np.uint8), (len(vertices), 1))
    return mesh


def write_meshes(person: PersonResult, faces: np.ndarray, folder: Path) -> None:
    """``mesh.obj``, ``mesh.ply``, ``mesh.glb`` and ``samples.glb`` of one person (trimesh)."""
    import trimesh

    final_color = FIT_COLOR if person.fit is not None else MODE_COLOR
    mesh = colored_mesh(camera_to_y_up(person.vertices), faces, final_color)
    mesh.export(folder / "mesh.obj", include_color=False, include_texture=False)
    mesh.export(folder / "mesh.ply")
    scene = trimesh.Scene()
    scene.add_geometry(mesh, node_name="body", geom_name="body")
    scene.export(folder / "mesh.glb")
    scene = trimesh.Scene()
    scene.add_geometry(colored_mesh(camera_to_y_up(person.mode_vertices), faces, MODE_COLOR), node_name="mode",
                       geom_name="mode")  # fmt: skip
    if person.fit is not None:
        scene.add_geometry(mesh.copy(), node_name="fit", geom_name="fit")
    for s, vertices in enumerate(person.sample_vertices):
        name = f"sample{s:02d}"
        scene.add_geometry(colored_mesh(camera_to_y_up(vertices), faces, SAMPLE_COLOR, 0.35), node_name=name,
                           geom_name=name)  # fmt: skip
    scene.export(folder / "samples.glb")


def _turn_about_vertical(points: np.ndarray, center: np.ndarray, degrees: float) -> np.ndarray:
    """Turn camera-frame points ``(..., 3)`` about the camera's vertical axis (y) through ``center``.

    On levelled points (:class:`~hmrflow.application.upright_view.Levelling`) that axis is
    the estimated vertical."""
    a = np.radians(degrees)
    rotation = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]], np.float32)
    return (points - center) @ rotation.T + center


def _framing_camera(points: np.ndarray, size: tuple[int, int], fill: float = 0.85) -> tuple[Camera, np.ndarray]:
    """A camera that sees ``points (M, 3)`` filling ``fill`` of a ``size`` image, and the shift to apply."""
    from hmrflow.render.camera import Camera

    width, height = size
    low, high = points.min(0), points.max(0)
    center = (low + high) / 2
    focal = 2.0 * max(width, height)
    half = (high - low) / 2
    distance = max(focal * half[0] / (fill * width / 2), focal * half[1] / (fill * height / 2)) + half[2]
    return Camera.from_focal(focal, size), np.array([0.0, 0.0, distance], np.float32) - center


class OutputWriter:
    r"""Writes the demo's outputs; holds one renderer for all photos (made on first use).

    Arguments:
        body: The body model (faces, name).
        pictures: Render pictures (needs moderngl and EGL; if they fail, the pictures are
            skipped with a warning and everything else is written).
        viewer: Write ``viewer.html``.
        figure_size: ``(W, H)`` of each panel of the figure of samples.
        crop_size: Side of the per-person overlay panels.
        view: ``"upright"`` (default): the figure of samples, the side view and the viewer
            draw each person levelled by their estimated gravity; ``"camera"``: in the
            camera's frame. The body over the photo is always in the camera's view.
    """

    def __init__(
        self,
        body: BodyModel,
        pictures: bool = True,
        viewer: bool = True,
        figure_size: tuple[int, int] = (320, 440),
        crop_size: int = 440,
        view: View = "upright",
    ):
        self.body = body
        self.view = check_view(view)
        self.faces = body.faces.cpu().numpy().astype(np.int32)
        self.pictures = pictures
        self.viewer = viewer
        self.figure_size = figure_size
        self.crop_size = crop_size
        self._renderer: Any = None
        self._topology: Any = None
        self.render_error: str | None = None

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.release()
            self._renderer = None

    def renderer(self) -> Any:
        """The renderer, or None when rendering is not possible here (the reason is logged once)."""
        if self._renderer is None and self.render_error is None and self.pictures:
            from hmrflow.render.context import RenderBackendError
            from hmrflow.render.mesh import Topology
            from hmrflow.render.renderer import Renderer

            try:
                self._renderer = Renderer(supersample=2)
                self._topology = Topology(self.faces)
            except RenderBackendError as error:
                self.render_error = str(error)
                log.warning("no pictures: %s", error)
        return self._renderer

    # ------------------------------------------------------------------ pictures

    def _meshes(
        self, vertices: np.ndarray, color: tuple[float, float, float], alpha: float = 1.0, colors: Any = None
    ) -> Any:
        from hmrflow.render.mesh import Mesh

        return Mesh(vertices, self._topology, colors=colors, color=color, alpha=alpha)

    def _draw(self, meshes: list[Any], camera: Camera, background: Any) -> np.ndarray:
        out = self._renderer.render(meshes, camera, background=None)
        if isinstance(background, np.ndarray):
            k = OVERLAY_OPACITY * out.alpha[..., None]
            rgb = out.color.astype(np.float32)
            # color is premultiplied over black: un-premultiply, then blend at OVERLAY_OPACITY.
            straight = np.where(out.alpha[..., None] > 0, rgb / np.maximum(out.alpha[..., None], 1e-6), 0)
            image = background.astype(np.float32) * (1 - k) + straight * k
            return np.clip(image + 0.5, 0, 255).astype(np.uint8)
        under = np.asarray(background, np.float32).reshape(1, 1, 3) * 255
        image = out.color.astype(np.float32) + (1 - out.alpha[..., None]) * under
        return np.clip(image + 0.5, 0, 255).astype(np.uint8)

    def photo_overlay(self, photo: Photo, people: list[PersonResult], keypoints: np.ndarray) -> np.ndarray:
        """The whole photo twice: with the keypoints, and with every person's final body."""
        from hmrflow.render.camera import Camera
        from hmrflow.render.overlay import draw_keypoints

        pixels = photo.pixels
        marked = pixels
        radius = max(2.0, max(pixels.shape[:2]) / 300)
        for person_keypoints in keypoints:
            marked = draw_keypoints(marked, person_keypoints, EVIDENCE_NAMES, radius=radius, width=max(1, int(radius)))
        camera = Camera.from_pinhole(people[0].camera)
        meshes = [self._meshes(q.vertices, FIT_COLOR if q.fit is not None else MODE_COLOR) for q in people]
        drawn = self._draw(meshes, camera, pixels)
        return np.concatenate([marked, np.full((pixels.shape[0], 6, 3), 255, np.uint8), drawn], axis=1)

    def person_overlay(self, photo: Photo, person: PersonResult) -> np.ndarray:
        """The person's box: keypoints | final body over the photo | the same body from the side."""
        from hmrflow.render.camera import Camera
        from hmrflow.render.overlay import draw_keypoints

        camera = Camera.from_pinhole(person.camera)
        size = person.box_size * 1.1
        crop = camera.crop(tuple(person.box_center), size, self.crop_size)
        background = self._crop_pixels(photo.pixels, person.box_center, size)
        k = self.crop_size / size
        shifted = person.keypoints.copy()
        shifted[:, :2] = (shifted[:, :2] - person.box_center + size / 2) * k
        shifted[shifted[:, 2] <= 0] = 0
        marked = draw_keypoints(background, shifted, EVIDENCE_NAMES, radius=3.5, width=2)
        color = FIT_COLOR if person.fit is not None else MODE_COLOR
        drawn = self._draw([self._meshes(person.vertices, color)], crop, background)
        level = Levelling.of_person(person, self.view).apply(person.vertices)
        side = _turn_about_vertical(level, level.mean(0), -90.0)
        side_camera, shift = _framing_camera(side, (self.crop_size, self.crop_size))
        side_image = self._draw([self._meshes(side + shift, color)], side_camera, (1.0, 1.0, 1.0))
        gap = np.full((self.crop_size, 6, 3), 255, np.uint8)
        panels = [labelled(marked, "keypoints"), gap, labelled(drawn, "body"), gap, labelled(side_image, "side")]
        return np.concatenate(panels, axis=1)

    def _crop_pixels(self, pixels: np.ndarray, center: np.ndarray, size: float) -> np.ndarray:
        from PIL import Image

        from hmrflow.data.augment import Augmentation, crop_matrix, warp_image

        matrix = crop_matrix(np.asarray(center, np.float64), float(size), self.crop_size, Augmentation())
        return warp_image(Image.fromarray(pixels), matrix, self.crop_size)

    def samples_figure(self, person: PersonResult) -> np.ndarray:
        """Mode and samples from the front and the side, and the spread of the samples (in :attr:`view`)."""
        level = Levelling.of_person(person, self.view)
        mode, samples = level.apply(person.mode_vertices), level.apply(person.sample_vertices)
        everything = np.concatenate([mode[None], samples]) if len(samples) else mode[None]
        center = everything.reshape(-1, 3).mean(0)
        panels = []
        for name, degrees in (("front", 0.0), ("side", -90.0)):
            turned = _turn_about_vertical(everything, center, degrees)
            camera, shift = _framing_camera(turned.reshape(-1, 3), self.figure_size)
            meshes = [self._meshes(turned[0] + shift, MODE_COLOR)]
            meshes += [self._meshes(v + shift, SAMPLE_COLOR, alpha=0.22) for v in turned[1:]]
            panels.append(labelled(self._draw(meshes, camera, (1.0, 1.0, 1.0)), f"{name}: mode + {len(samples)} samples"))
        colors, scale = spread_colors(person.spread)
        camera, shift = _framing_camera(mode, self.figure_size)
        spread = self._draw([self._meshes(mode + shift, MODE_COLOR, colors=colors)], camera, (1.0, 1.0, 1.0))
        panels.append(labelled(spread, f"body pose spread: blue 0 - red {100 * scale:.0f} cm"))
        gap = np.full((self.figure_size[1], 6, 3), 255, np.uint8)
        return np.concatenate([panels[0], gap, panels[1], gap, panels[2]], axis=1)

    # ------------------------------------------------------------------ files

    def write_person(self, photo: Photo, person: PersonResult, index: int, folder: Path) -> dict[str, Path]:
        """Every per-person file; returns name -> path."""
        from hmrflow.render.figures import save_image

        folder.mkdir(parents=True, exist_ok=True)
        files: dict[str, Path] = {}
        if photo.pixels is not None and self.renderer() is not None:
            save_image(self.person_overlay(photo, person), folder / "overlay.jpg")
            save_image(self.samples_figure(person), folder / "samples.png")
            files.update(overlay=folder / "overlay.jpg", samples=folder / "samples.png")
        write_meshes(person, self.faces, folder)
        write_params(person, folder, photo.path.name, index, self.body, photo.scale)
        for name in ("mesh.obj", "mesh.ply", "mesh.glb", "samples.glb", "params.json", "params.npz"):
            files[name] = folder / name
        if self.viewer:
            from hmrflow.application.viewer import person_viewer

            person_viewer(person, self.faces, f"{photo.path.name}, person {index}", folder / "viewer.html", self.view)
            files["viewer"] = folder / "viewer.html"
        return files

    def write_image(self, result: ImageResult, photo: Photo) -> list[dict[str, Path]]:
        """The photo's files and every person's; returns the per-person files.

        The keypoints written and drawn are each person's (mirrored back where the
        labelling check swapped them); pictures need the photo's pixels."""
        from hmrflow.application.detector import DETECTOR_NAME
        from hmrflow.application.inputs import write_keypoints_json
        from hmrflow.render.figures import save_image

        folder = result.folder
        assert folder is not None
        folder.mkdir(parents=True, exist_ok=True)
        keypoints = np.stack([p.keypoints for p in result.people])
        original = [k.copy() for k in keypoints]
        for k in original:
            k[:, :2] /= photo.scale
        source = result.keypoint_source or DETECTOR_NAME
        write_keypoints_json(folder / "keypoints.json", photo.path.name, photo.original_size, original, source)
        if photo.pixels is not None and self.renderer() is not None:
            save_image(self.photo_overlay(photo, result.people, keypoints), folder / "overlay.jpg")
        return [self.write_person(photo, p, i, folder / f"person{i}") for i, p in enumerate(result.people)]
