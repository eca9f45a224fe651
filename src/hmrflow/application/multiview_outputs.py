r"""Files of the multi-view demo (besides each view's single-view outputs).

* ``views.jpg``: the views side by side (columns), rows: detected keypoints, each view's
  own body, the uncalibrated refinement, the calibrated fit seen by each camera;
* ``calibrated/``: the calibrated body in the WORLD frame of the calibration (metres):
  ``mesh.obj``/``.ply``/``.glb``, ``params.json`` (SMPL's names: ``global_orient``,
  ``body_pose``, ``betas``, ``transl`` in the world; the pose's rotation matrices, the
  cameras, the check's figures) and ``viewer.html`` (the calibrated body with every
  view's own and refined body moved into the world by its camera, pelvis on pelvis);
* ``index.html``: the check's table, the figure, then every view's outputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from hmrflow.application.index_page import index_entry, write_index
from hmrflow.application.outputs import OutputWriter, colored_mesh
from hmrflow.application.records import camera_record, pose_record, rounded
from hmrflow.application.style import FIT_COLOR, MODE_COLOR, labelled
from hmrflow.body.parameters import camera_to_y_up, parameter_arrays
from hmrflow.data.keypoint_files import EVIDENCE_NAMES

if TYPE_CHECKING:
    from hmrflow.application.calibration import Calibration
    from hmrflow.application.results import MultiViewResult
    from hmrflow.body import BodyModel
    from hmrflow.geometry.pinhole import PinholeCamera

__all__ = ["check_table", "write_multiview", "write_multiview_body", "write_views_index"]

WORLD_COLOR = (0.55, 0.85, 0.55)
REFINED_COLOR = (0.75, 0.55, 0.9)


def write_multiview_body(
    folder: Path,
    body: BodyModel,
    rotmats: Any,
    betas: Any,
    translation: Any,
    views: list[str],
    frame: str,
    cameras: PinholeCamera | None = None,
    extra: dict[str, Any] | None = None,
    color: tuple[float, float, float] = WORLD_COLOR,
) -> dict[str, Path]:
    r"""One body fitted to several views: ``params.json``, ``params.npz`` and ``mesh.obj`` /
    ``.ply`` / ``.glb`` in ``folder`` (``hmrflow fit-multiview`` and the multi-view demo's
    ``calibrated/``).

    Arguments:
        rotmats: ``(J, 3, 3)``; betas: ``(S_b,)``; translation: ``(3,)`` metres (zeros for an
            uncalibrated fit); arrays or tensors.
        frame: ``"world ..."`` (the calibration's world frame: meshes as they are) or a view's
            camera frame (``"camera of NAME"``: meshes turned to Y up, ``(x, -y, -z)``).
        cameras: The views' cameras ``(V,)`` (written with the parameters), if known.
        extra: More JSON fields (the fit's report, the demo's check).
    """
    import trimesh

    folder.mkdir(parents=True, exist_ok=True)
    rotmats, betas, translation = (torch.as_tensor(np.asarray(a), dtype=torch.float32)
                                   for a in (rotmats, betas, translation))  # fmt: skip
    with torch.no_grad():
        posed = body(*(a.to(body.faces.device) for a in (rotmats[None], betas[None], translation[None])))
    vertices = posed.vertices[0].cpu().numpy()
    mesh_vertices = vertices if frame.startswith("world") else camera_to_y_up(vertices)
    mesh = colored_mesh(mesh_vertices, body.faces.cpu().numpy().astype(np.int32), color)
    mesh.export(folder / "mesh.obj", include_color=False, include_texture=False)
    mesh.export(folder / "mesh.ply")
    trimesh.Scene(mesh).export(folder / "mesh.glb")
    named = parameter_arrays(rotmats, betas, translation)
    mesh_frame = "as the parameters" if frame.startswith("world") else "(x, -y, -z) of it, Y up"
    params = {
        "format": "hmrflow-multiview-params",
        "version": 2,
        "frame": f"{frame}, metres; vertices = body(rotmats, betas, transl); meshes: {mesh_frame}",
        "views": list(views),
        "body_model": body.name,
        "global_orient": rounded(named["global_orient"]),
        "body_pose": rounded(named["body_pose"]),
        "betas": rounded(betas),
        "transl": rounded(translation),
        "pose": pose_record(rotmats.numpy(), float("nan")) | {"log_prob": None},
        **({} if cameras is None else {"cameras": {n: camera_record(c) for n, c in zip(views, cameras.to("cpu"))}}),
        **(extra or {}),
    }
    (folder / "params.json").write_text(json.dumps(params, indent=1) + "\n")
    arrays = {**named, "rotmats": rotmats.numpy(), "vertices": vertices, "joints": posed.joints[0].cpu().numpy(),
              "faces": body.faces.cpu().numpy().astype(np.int32)}  # fmt: skip
    np.savez_compressed(folder / "params.npz", **arrays)
    return {name: folder / name for name in ("mesh.obj", "mesh.ply", "mesh.glb", "params.json", "params.npz")}


def check_table(result: MultiViewResult) -> list[str]:
    """The check as text lines (terminal and index.html)."""
    lines = [f"{'':26}{'PA error vs triangulated':>26}{'disagreement of views':>24}"]
    for name, error in result.errors.items():
        between = result.disagreement.get(name)
        lines.append(f"{name:26}{error:>23.1f} mm{'' if between is None else f'{between:>21.1f} mm':>24}")
    reprojection = ", ".join(f"{n} {e:.1f}" for n, e in zip(result.names, result.reprojection))
    lines.append(f"calibrated fit reprojection error (px): {reprojection}")
    return lines


def _inputs(writer: OutputWriter, *arrays: Any) -> list[Any]:
    """Arrays or tensors (or None) as tensors on the body model's device."""
    device = writer.body.faces.device
    return [None if a is None else torch.as_tensor(a, device=device) for a in arrays]


def _body(writer: OutputWriter, rotmats: Any, betas: Any, translation: Any = None) -> np.ndarray:
    with torch.no_grad():
        return writer.body(*_inputs(writer, rotmats, betas, translation)).vertices.cpu().numpy()


def _cell(
    writer: OutputWriter, pixels: np.ndarray, vertices: np.ndarray | None, camera: Any, color: Any, label: str
) -> np.ndarray:
    from PIL import Image

    image = pixels if vertices is None else writer._draw([writer._meshes(vertices, color)], camera, pixels)
    half = Image.fromarray(image).resize((image.shape[1] // 2, image.shape[0] // 2), Image.Resampling.LANCZOS)
    return labelled(np.asarray(half), label)


def views_figure(
    writer: OutputWriter, result: MultiViewResult, calibration: Calibration, refined: Any, world: Any
) -> np.ndarray:
    """Columns: views; rows: keypoints, own body, uncalibrated refinement, calibrated fit."""
    from hmrflow.application.inputs import load_photo
    from hmrflow.render.camera import Camera
    from hmrflow.render.overlay import draw_keypoints

    world_vertices = _body(writer, world.consensus, world.betas, world.translation)[0]
    cameras = calibration.cameras(torch.float64)[0]
    columns = []
    for v, view in enumerate(result.views):
        person = view.people[0]
        pixels = load_photo(view.path).pixels
        own = Camera.from_pinhole(person.camera)
        refined_vertices = _body(writer, refined.rotmats[0, v], refined.betas[0], refined.translation[0, v])
        camera = Camera.from_pinhole(cameras[v])
        in_camera = world_vertices @ calibration.rotation[v].T.astype(np.float32) + calibration.translation[v].astype(
            np.float32
        )
        final = "fit" if person.fit is not None else "mode"
        marked = draw_keypoints(pixels, person.keypoints, EVIDENCE_NAMES, radius=4, width=3)
        cells = [
            _cell(writer, marked, None, None, None, f"{result.names[v]}: keypoints"),
            _cell(
                writer,
                pixels,
                person.vertices,
                own,
                FIT_COLOR if person.fit is not None else MODE_COLOR,
                f"this view alone ({final})",
            ),
            _cell(writer, pixels, refined_vertices, own, REFINED_COLOR, "uncalibrated refinement"),
            _cell(writer, pixels, in_camera, camera, WORLD_COLOR, "calibrated fit"),
        ]
        gap = np.full((4, cells[0].shape[1], 3), 255, np.uint8)
        columns.append(np.concatenate([c for cell in cells for c in (cell, gap)][:-1], axis=0))
    gap = np.full((columns[0].shape[0], 4, 3), 255, np.uint8)
    return np.concatenate([c for column in columns for c in (column, gap)][:-1], axis=1)


def _to_world(vertices: np.ndarray, rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    return ((vertices - translation) @ rotation).astype(np.float32)


def write_multiview(
    writer: OutputWriter, result: MultiViewResult, calibration: Calibration, refined: Any, world: Any, out_dir: Path
) -> dict[str, Path]:
    """Write ``views.jpg``, ``calibrated/`` and ``index.html``; returns name -> path."""

    from hmrflow.application.viewer import ViewerGroup, ViewerMesh, write_viewer
    from hmrflow.render.figures import save_image

    files: dict[str, Path] = {}
    if writer.renderer() is not None:
        save_image(views_figure(writer, result, calibration, refined, world), out_dir / "views.jpg")
        files["views"] = out_dir / "views.jpg"
    folder = out_dir / "calibrated"
    check = {
        "pa_error_mm": result.errors,
        "disagreement_mm": result.disagreement,
        "reprojection_px": dict(zip(result.names, result.reprojection)),
    }
    write_multiview_body(folder, writer.body, world.consensus[0], world.betas[0], world.translation[0], result.names,
                         "world frame of the calibration", calibration.cameras(torch.float64)[0],
                         {"check": check})  # fmt: skip
    vertices = _body(writer, world.consensus, world.betas, world.translation)[0]
    pelvis = _body_joint0(writer, world.consensus, world.betas, world.translation)
    meshes = [ViewerMesh("calibrated", "calibrated", vertices, WORLD_COLOR, info="calibrated fit")]
    for v, view in enumerate(result.views):
        person = view.people[0]
        rotation = calibration.rotation[v]
        for group, rotmats, betas, color in (
            ("own", person.mode.rotmats[0], person.regressed_betas, MODE_COLOR),
            ("refined", refined.rotmats[0, v].numpy(), refined.betas[0].numpy(), REFINED_COLOR),
        ):
            body = _to_world(_body(writer, rotmats, betas), rotation, np.zeros(3))
            root = _to_world(_body_joint0(writer, rotmats, betas), rotation, np.zeros(3))
            meshes.append(
                ViewerMesh(f"{group}{v}", group, body - root + pelvis, color, 0.35, info=f"{result.names[v]}: {group}")
            )
    groups = [
        ViewerGroup("calibrated", "calibrated fit (world)", WORLD_COLOR),
        ViewerGroup("own", "each view's mode", MODE_COLOR),
        ViewerGroup("refined", "uncalibrated refinement", REFINED_COLOR, visible=False),
    ]
    turn = calibration.rotation[0].T.astype(np.float32)
    for m in range(len(meshes)):  # the viewer takes camera axes (y down): show the world as camera 0 sees it
        meshes[m] = ViewerMesh(meshes[m].name, meshes[m].group, meshes[m].vertices @ turn,
                               meshes[m].color, meshes[m].alpha, meshes[m].colors, meshes[m].info)  # fmt: skip
    title = "hmrflow multi-view: calibrated fit and each view"
    note = "bodies of the views moved into the world by their cameras, pelvis on the calibrated pelvis"
    write_viewer(folder / "viewer.html", title, meshes, writer.faces, groups, note)
    for name in ("mesh.obj", "mesh.ply", "mesh.glb", "params.json", "viewer.html"):
        files[f"calibrated {name}"] = folder / name
    lines = check_table(result)
    figure = '<a href="views.jpg"><img class="full" src="views.jpg" alt="views"></a>' if "views" in files else ""
    links = " | ".join(
        f'<a href="calibrated/{n}">{n}</a>' for n in ("viewer.html", "mesh.obj", "mesh.ply", "mesh.glb", "params.json")
    )
    import html

    header = [
        "views: " + ", ".join(result.names),
        "timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items()),
    ]
    if result.failed:
        header.append("left out (failed): " + ", ".join(view.path.name for view in result.failed))
    table = html.escape("\n".join(lines))
    before = f"<section><h2>the check</h2><pre>{table}</pre>{figure}<p>calibrated fit: {links}</p></section>"
    files["index"] = _index(result, out_dir, header, before)
    return files


def _index(result: MultiViewResult, out_dir: Path, header: list[str], before: str = "") -> Path:
    """index.html: ``before``, then every view's outputs, then the failed views with their errors."""
    views = [index_entry(view, out_dir) for view in result.views + result.failed]
    return write_index(out_dir, views, "hmrflow demo-multiview", header, before=before)


def write_views_index(result: MultiViewResult, out_dir: Path, note: str) -> Path:
    """index.html of a run without multi-view fits: ``note``, the views' outputs and errors."""
    import html

    return _index(result, out_dir, [note], before=f"<section><h2>{html.escape(note)}</h2></section>")


def _body_joint0(writer: OutputWriter, rotmats: Any, betas: Any, translation: Any = None) -> np.ndarray:
    with torch.no_grad():
        out = writer.body(*_inputs(writer, rotmats, betas, translation), vertices=False)
    return out.joints[..., 0, :].reshape(3).cpu().numpy()
