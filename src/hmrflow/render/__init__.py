r"""hmrflow.render: headless rendering (moderngl on EGL) of meshes, overlays and figures.

* :class:`Renderer` draws :class:`Mesh` es as a :class:`Camera` (OpenCV convention) sees
  them: shaded colour, coverage, metric depth and part-label images; one context and its
  framebuffers reused frame after frame; Mesa's llvmpipe on the CPU or an NVIDIA GPU.
* :mod:`hmrflow.render.overlay`: meshes over photos with the camera of a fit, keypoints
  and skeletons; :mod:`hmrflow.render.figures`: grids, label and depth images.
* :mod:`hmrflow.render.scene`: skin, clothing, lights and backgrounds for synthetic images.

moderngl is optional (``pip install 'hmrflow[render]'``); it is imported when a context
is made, and :class:`RenderBackendError` says what to install where it cannot be.

Example:
    >>> import numpy as np
    >>> from hmrflow.render import Camera, Mesh, Renderer
    >>> triangle = Mesh(np.array([[-1, -1, 3], [1, -1, 3], [0, 1, 3]]), [[0, 1, 2]], color=(1, 0, 0))
    >>> with Renderer() as renderer:
    ...     out = renderer.render(triangle, Camera.from_focal(50.0, (32, 32)), depth=True)
    >>> out.color.shape, float(out.depth[16, 16])
    ((32, 32, 3), 3.0)
"""

from hmrflow.render.camera import Camera
from hmrflow.render.context import RenderBackendError, create_context, egl_available
from hmrflow.render.mesh import Mesh, Topology, markers, part_colors, part_labels, smooth_normals
from hmrflow.render.renderer import Light, Renderer, RenderOutput

__all__ = [
    "Camera",
    "Light",
    "Mesh",
    "RenderBackendError",
    "RenderOutput",
    "Renderer",
    "Topology",
    "create_context",
    "egl_available",
    "markers",
    "part_colors",
    "part_labels",
    "smooth_normals",
]
