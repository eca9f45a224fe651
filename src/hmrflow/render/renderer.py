r"""Headless mesh renderer (moderngl on EGL): colour, coverage, metric depth and part labels.

One :class:`Renderer` holds one OpenGL context, its shader programs, its framebuffers
(made for the first image size it sees and remade only when the size changes) and one
set of GPU buffers per mesh slot, rewritten in place frame after frame; a new mesh every
frame costs a normal computation and an upload, nothing else. The same code runs on
Mesa's llvmpipe (CPU) and on NVIDIA's EGL driver.

Two passes per frame:

* **colour**: opaque meshes first (depth-tested and written), then translucent ones
  (``alpha < 1``) far to near, depth-tested but not written, blended. Shading: ambient +
  Lambert + Blinn-Phong from one directional light in the camera frame, two-sided (a
  normal facing away from the viewer is turned round). Anti-aliasing, when asked for,
  draws into a larger and/or multisampled texture that a shader pass averages down (on
  llvmpipe, 2x supersampling costs less than 4x MSAA). The result is read back
  premultiplied and composited over the background on the CPU.
* **geometry** (only when depth or labels are asked for), one sample per pixel, opaque
  meshes only: the camera-frame ``Z`` of the nearest surface in metres (0 where there is
  none) and its integer label, taken ``flat`` from one vertex per triangle (no blending
  of labels at part borders); background label ``-1``.

Several renderers (contexts) may live in one process: each makes its context current
while it draws.

Example:
    >>> from hmrflow.render.mesh import Mesh, icosphere
    >>> sphere = icosphere(2)
    >>> with Renderer(supersample=2) as r:
    ...     out = r.render(Mesh(sphere.vertices + [0, 0, 4], sphere.faces, labels=np.arange(162) % 3),
    ...                    Camera.from_focal(60.0, (64, 48)), depth=True, labels=True)
    >>> out.color.shape, round(float(out.depth[24, 32]), 1), sorted(np.unique(out.labels).tolist())
    ((48, 64, 3), 3.0, [-1, 0, 1, 2])
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hmrflow.render.camera import Camera
from hmrflow.render.context import create_context
from hmrflow.render.mesh import Mesh

__all__ = ["Light", "RenderOutput", "Renderer"]

log = logging.getLogger(__name__)

_VERTEX = """
#version 330
uniform mat4 projection;
in vec3 in_position;
in vec3 in_normal;
in vec3 in_color;
out vec3 v_position;
out vec3 v_normal;
out vec3 v_color;
void main() {
    v_position = in_position;
    v_normal = in_normal;
    v_color = in_color;
    gl_Position = projection * vec4(in_position, 1.0);
}
"""

_FRAGMENT = """
#version 330
uniform vec3 light_direction;   // camera frame, from the light towards the scene
uniform vec3 light_color;
uniform float ambient;
uniform float specular;
uniform float shininess;
uniform float alpha;
uniform float shading;
in vec3 v_position;
in vec3 v_normal;
in vec3 v_color;
out vec4 f_color;
void main() {
    vec3 view = normalize(-v_position);
    vec3 n = normalize(v_normal);
    if (dot(n, view) < 0.0) n = -n;
    vec3 l = normalize(-light_direction);
    float diffuse = max(dot(n, l), 0.0);
    float spec = pow(max(dot(n, normalize(l + view)), 0.0), shininess) * specular;
    vec3 lit = v_color * (ambient + (1.0 - ambient) * diffuse * light_color) + spec * light_color;
    f_color = vec4(mix(v_color, lit, shading), alpha);
}
"""

_GEOMETRY_VERTEX = """
#version 330
uniform mat4 projection;
in vec3 in_position;
in int in_label;
out float v_depth;
flat out int v_label;
void main() {
    v_depth = in_position.z;
    v_label = in_label;
    gl_Position = projection * vec4(in_position, 1.0);
}
"""

_GEOMETRY_FRAGMENT = """
#version 330
in float v_depth;
flat in int v_label;
out vec2 f_out;
void main() {
    f_out = vec2(v_depth, float(v_label + 1));
}
"""

_RESOLVE_VERTEX = """
#version 330
void main() {
    vec2 corner = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);  // one triangle over the screen
    gl_Position = vec4(corner * 2.0 - 1.0, 0.0, 1.0);
}
"""

_RESOLVE_FRAGMENT = """
#version 330
uniform SAMPLER tex;
uniform int scale;
uniform int samples;
out vec4 f_color;
void main() {
    ivec2 base = ivec2(gl_FragCoord.xy) * scale;
    vec4 sum = vec4(0.0);
    for (int y = 0; y < scale; y++)
        for (int x = 0; x < scale; x++)
            for (int s = 0; s < samples; s++)
                sum += texelFetch(tex, base + ivec2(x, y), s);
    f_color = sum / float(scale * scale * samples);
}
"""


@dataclass(frozen=True)
class Light:
    r"""One directional light in the camera frame, plus ambient light.

    Attributes:
        direction: Direction the light travels (from the light towards the scene), camera
            frame (x right, y down, +Z forward); the default comes from above-left, behind
            the camera.
        color: RGB intensity of the light.
        ambient: Fraction of the surface colour seen without light.
        specular: Strength of the Blinn-Phong highlight; shininess its exponent.
    """

    direction: tuple[float, float, float] = (0.4, 0.6, 1.0)
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    ambient: float = 0.35
    specular: float = 0.15
    shininess: float = 24.0


@dataclass(frozen=True)
class RenderOutput:
    r"""One rendered frame, ``H x W`` pixels, row 0 at the top.

    Attributes:
        color: ``(H, W, 3)`` uint8 RGB, composited over the background.
        alpha: ``(H, W)`` float32 coverage of all meshes in ``[0, 1]`` (anti-aliased).
        depth: ``(H, W)`` float32 camera-frame ``Z`` of the nearest opaque surface in
            metres, 0 where there is none; None unless asked for.
        labels: ``(H, W)`` int32 label of the nearest opaque surface, -1 where there is
            none; None unless asked for.
    """

    color: np.ndarray
    alpha: np.ndarray
    depth: np.ndarray | None = None
    labels: np.ndarray | None = None


class _Slot:
    """GPU buffers for one mesh position in the draw list, reused across frames."""

    def __init__(self, ctx: Any, color_program: Any, geometry_program: Any):
        self.vbo = ctx.buffer(reserve=4)
        self.labels = ctx.buffer(reserve=4)
        self.ibo = ctx.buffer(reserve=4)
        self.faces: np.ndarray | None = None
        self.topology: object = None
        self.color_vao = ctx.vertex_array(
            color_program,
            [(self.vbo, "3f 3f 3f", "in_position", "in_normal", "in_color")],
            index_buffer=self.ibo,
            index_element_size=4,
        )
        self.geometry_vao = ctx.vertex_array(
            geometry_program,
            [(self.vbo, "3f 24x", "in_position"), (self.labels, "i", "in_label")],
            index_buffer=self.ibo,
            index_element_size=4,
        )

    def upload(self, mesh: Mesh, with_labels: bool) -> None:
        _write(self.vbo, mesh.packed())
        if mesh.topology is not None and mesh.topology is self.topology:
            pass  # the same faces as last frame
        elif self.faces is None or self.faces.shape != mesh.faces.shape or not np.array_equal(self.faces, mesh.faces):
            _write(self.ibo, mesh.faces)
            self.faces = mesh.faces.copy()
        self.topology = mesh.topology
        if with_labels:
            labels = mesh.labels if mesh.labels is not None else np.zeros(len(mesh.vertices), np.int32)
            _write(self.labels, labels)

    def release(self) -> None:
        for obj in (self.color_vao, self.geometry_vao, self.vbo, self.labels, self.ibo):
            obj.release()


def _write(buffer: Any, array: np.ndarray) -> None:
    data = np.ascontiguousarray(array)
    if data.nbytes > buffer.size:
        buffer.orphan(max(data.nbytes, 2 * buffer.size))
    buffer.write(data)


class _Targets:
    """Framebuffers for one output size: the colour pass (supersampled and/or multisampled
    into a texture, resolved by a shader pass) or the geometry pass."""

    def __init__(self, ctx: Any, size: tuple[int, int], samples: int, scale: int, geometry: bool):
        self.size = size
        self.objects: list[Any] = []
        if geometry:
            values = self._keep(ctx.renderbuffer(size, 2, dtype="f4"))
            depth = self._keep(ctx.depth_renderbuffer(size))
            self.fbo = self._keep(ctx.framebuffer(color_attachments=[values], depth_attachment=depth))
            return
        resolved = self._keep(ctx.renderbuffer(size, 4))
        self.resolve_fbo = self._keep(ctx.framebuffer(color_attachments=[resolved]))
        self.texture = None
        if samples or scale > 1:
            big = (size[0] * scale, size[1] * scale)
            self.texture = self._keep(ctx.texture(big, 4, samples=samples))
            depth = self._keep(ctx.depth_renderbuffer(big, samples=samples))
            self.fbo = self._keep(ctx.framebuffer(color_attachments=[self.texture], depth_attachment=depth))
        else:
            depth = self._keep(ctx.depth_renderbuffer(size))
            self.fbo = self._keep(ctx.framebuffer(color_attachments=[resolved], depth_attachment=depth))

    def _keep(self, obj: Any) -> Any:
        self.objects.append(obj)
        return obj

    def release(self) -> None:
        for obj in reversed(self.objects):
            obj.release()
        self.objects = []


class Renderer:
    r"""A reusable headless renderer.

    Arguments:
        samples: Multisampling (MSAA) of the colour pass; 0 or 1 for none; clamped to
            what the driver offers. Cheap on GPUs, slow on Mesa's llvmpipe.
        supersample: Draw the colour pass this many times larger in each direction and
            average blocks of pixels (anti-aliasing that is cheaper than MSAA on the CPU).
        device_index: EGL device (None: the default one).
        context: An existing ``moderngl.Context`` to use instead of making one.
    """

    def __init__(
        self, samples: int = 0, supersample: int = 1, device_index: int | None = None, context: Any = None
    ):
        self.ctx = context if context is not None else create_context(device_index)
        self._owns_context = context is None
        self.samples = min(int(samples), int(self.ctx.max_samples)) if samples > 1 else 0
        self.supersample = max(1, int(supersample))
        with self.ctx:  # several contexts may live in one process: make ours current
            self.color_program = self.ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT)
            self.geometry_program = self.ctx.program(vertex_shader=_GEOMETRY_VERTEX, fragment_shader=_GEOMETRY_FRAGMENT)
            self.resolve_program = None
            if self.samples or self.supersample > 1:
                sampler = "sampler2DMS" if self.samples else "sampler2D"
                self.resolve_program = self.ctx.program(
                    vertex_shader=_RESOLVE_VERTEX, fragment_shader=_RESOLVE_FRAGMENT.replace("SAMPLER", sampler)
                )
                self.resolve_program["scale"].value = self.supersample
                self.resolve_program["samples"].value = max(self.samples, 1)
                self.resolve_vao = self.ctx.vertex_array(self.resolve_program, [])
        self._slots: list[_Slot] = []
        self._color: _Targets | None = None
        self._geometry: _Targets | None = None

    # ------------------------------------------------------------------ lifetime

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        """Free the GPU objects (and the context, if this renderer made it)."""
        with self.ctx:
            for slot in self._slots:
                slot.release()
            for targets in (self._color, self._geometry):
                if targets is not None:
                    targets.release()
            self._slots, self._color, self._geometry = [], None, None
            self.color_program.release()
            self.geometry_program.release()
            if self.resolve_program is not None:
                self.resolve_vao.release()
                self.resolve_program.release()
        if self._owns_context:
            self.ctx.release()

    @property
    def info(self) -> str:
        """The OpenGL renderer's name, e.g. ``llvmpipe (LLVM 15.0.6, 256 bits)``."""
        return str(self.ctx.info.get("GL_RENDERER"))

    def _targets(self, size: tuple[int, int], geometry: bool) -> _Targets:
        """The framebuffers for ``size`` (colour pass) or the geometry pass, made on first use."""
        current = self._geometry if geometry else self._color
        if current is not None and current.size == size:
            return current
        if current is not None:
            current.release()
        made = _Targets(self.ctx, size, self.samples, self.supersample, geometry)
        if geometry:
            self._geometry = made
        else:
            self._color = made
        return made

    # ------------------------------------------------------------------ drawing

    def render(
        self,
        meshes: Mesh | Sequence[Mesh],
        camera: Camera,
        *,
        light: Light | None = None,
        background: np.ndarray | tuple[float, float, float] | None = None,
        depth: bool = False,
        labels: bool = False,
    ) -> RenderOutput:
        r"""Draw ``meshes`` as ``camera`` sees them.

        Arguments:
            meshes: One mesh or several; points in ``camera``'s frame.
            camera: Intrinsics and image size ``(W, H)`` of the output.
            light: The light (default :class:`Light`).
            background: ``(H, W, 3)`` uint8 image (a photo to overlay on), an RGB colour
                in ``[0, 1]``, or None for black.
            depth: Also return the metric depth image.
            labels: Also return the label image.
        """
        with self.ctx:  # several contexts may live in one process: make ours current
            return self._render([meshes] if isinstance(meshes, Mesh) else list(meshes), camera, light,
                                background, depth, labels)  # fmt: skip

    def _render(
        self,
        meshes: list[Mesh],
        camera: Camera,
        light: Light | None,
        background: np.ndarray | tuple[float, float, float] | None,
        depth: bool,
        labels: bool,
    ) -> RenderOutput:
        while len(self._slots) < len(meshes):
            self._slots.append(_Slot(self.ctx, self.color_program, self.geometry_program))
        for slot, mesh in zip(self._slots, meshes):
            slot.upload(mesh, with_labels=depth or labels)  # the geometry pass reads labels
        rgba = self._color_pass(meshes, camera, light or Light())
        alpha = rgba[..., 3] / np.float32(255.0)
        geometry = self._geometry_pass(meshes, camera) if depth or labels else None
        return RenderOutput(
            color=_composite(rgba, alpha, background),
            alpha=alpha,
            depth=geometry[..., 0].copy() if depth and geometry is not None else None,
            labels=geometry[..., 1].astype(np.int32) - 1 if labels and geometry is not None else None,
        )

    def _color_pass(self, meshes: list[Mesh], camera: Camera, light: Light) -> np.ndarray:
        """Premultiplied RGBA ``(H, W, 4)`` uint8."""
        import moderngl

        ctx, program, k = self.ctx, self.color_program, self.supersample
        targets = self._targets((int(camera.width), int(camera.height)), geometry=False)
        targets.fbo.use()
        targets.fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        ctx.enable(moderngl.DEPTH_TEST)
        ctx.disable(moderngl.CULL_FACE | moderngl.BLEND)
        program["projection"].write((camera.scaled(k) if k > 1 else camera).projection_matrix().T.copy())
        program["light_direction"].value = tuple(light.direction)
        program["light_color"].value = tuple(light.color)
        program["ambient"].value = light.ambient
        program["specular"].value = light.specular
        program["shininess"].value = light.shininess
        opaque = [i for i, m in enumerate(meshes) if m.opaque]
        translucent = sorted((i for i, m in enumerate(meshes) if not m.opaque), key=lambda i: -_mean_depth(meshes[i]))
        for index in opaque + translucent:
            mesh = meshes[index]
            if index in translucent[:1]:
                ctx.enable(moderngl.BLEND)
                # Colour: over; alpha: accumulated coverage -> premultiplied RGBA.
                ctx.blend_func = (
                    moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA, moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA,
                )  # fmt: skip
                ctx.depth_mask = False
            program["alpha"].value = float(min(max(mesh.alpha, 0.0), 1.0))
            program["shading"].value = float(mesh.shading)
            self._slots[index].color_vao.render(vertices=3 * len(mesh.faces))
        ctx.depth_mask = True
        ctx.disable(moderngl.BLEND)
        if targets.texture is not None:  # average the samples and supersampled pixels
            targets.resolve_fbo.use()
            ctx.disable(moderngl.DEPTH_TEST)
            targets.texture.use(0)
            self.resolve_vao.render(moderngl.TRIANGLES, vertices=3)
        width, height = targets.size
        return np.frombuffer(targets.resolve_fbo.read(components=4), dtype=np.uint8).reshape(height, width, 4)

    def _geometry_pass(self, meshes: list[Mesh], camera: Camera) -> np.ndarray:
        import moderngl

        ctx = self.ctx
        targets = self._targets((int(camera.width), int(camera.height)), geometry=True)
        fbo = targets.fbo
        fbo.use()
        fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        ctx.enable(moderngl.DEPTH_TEST)
        ctx.disable(moderngl.BLEND)
        self.geometry_program["projection"].write(camera.projection_matrix().T.copy())
        for slot, mesh in zip(self._slots, meshes):
            if mesh.opaque:
                slot.geometry_vao.render(vertices=3 * len(mesh.faces))
        width, height = targets.size
        return np.frombuffer(fbo.read(components=2, dtype="f4"), dtype=np.float32).reshape(height, width, 2)


def _mean_depth(mesh: Mesh) -> float:
    return float(mesh.vertices[:, 2].mean()) if len(mesh.vertices) else 0.0


def _composite(
    rgba: np.ndarray, alpha: np.ndarray, background: np.ndarray | tuple[float, float, float] | None
) -> np.ndarray:
    """Premultiplied ``rgba (H, W, 4)`` uint8 over the background -> ``(H, W, 3)`` uint8."""
    rgb = rgba[..., :3]
    if background is None:
        return rgb.copy()
    if isinstance(background, np.ndarray) and background.ndim == 3:
        if background.shape[:2] != rgb.shape[:2]:
            have, want = background.shape[1::-1], rgb.shape[1::-1]
            raise ValueError(f"background is {have[0]}x{have[1]} px, the camera's image {want[0]}x{want[1]}")
        under = background[..., :3].astype(np.float32)
    else:
        under = np.asarray(background, dtype=np.float32).reshape(1, 1, 3) * 255.0
    out = rgb.astype(np.float32) + (1.0 - alpha[..., None]) * under
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
