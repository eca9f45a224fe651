r"""Headless OpenGL contexts through EGL (Mesa on the CPU, the NVIDIA driver on GPUs).

moderngl is an optional dependency (the ``render`` extra); it is imported here, inside
:func:`create_context`, and a missing package or a machine without EGL gives a
:class:`RenderBackendError` that says what to install.

Example:
    >>> ctx = create_context()
    >>> ctx.version_code >= 330   # ctx.info["GL_RENDERER"]: e.g. 'llvmpipe (LLVM 15.0.6, 256 bits)'
    True
    >>> ctx.release()
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["RenderBackendError", "create_context", "egl_available"]

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "Headless rendering needs moderngl and an EGL driver. Install the Python side with "
    "`pip install 'hmrflow[render]'` (moderngl, pillow) and the system side with "
    "`apt-get install libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri` (Mesa, renders on the CPU) "
    "or the NVIDIA driver (which ships libEGL_nvidia) on a GPU machine."
)


class RenderBackendError(RuntimeError):
    """No headless OpenGL context could be made; the message says what to install."""


def create_context(device_index: int | None = None, require: int = 330) -> Any:
    r"""A standalone ``moderngl.Context`` on EGL (no window, no display server).

    Arguments:
        device_index: EGL device to use (``None``: the first, which is the GPU where a
            driver offers one, else Mesa's llvmpipe on the CPU).
        require: Minimum OpenGL version code (330 for OpenGL 3.3 core).

    Raises:
        RenderBackendError: moderngl is missing or EGL cannot make a context.
    """
    try:
        import moderngl
    except ImportError as error:
        raise RenderBackendError(f"moderngl is not installed. {INSTALL_HINT}") from error
    kwargs: dict[str, Any] = {"backend": "egl", "require": require}
    if device_index is not None:
        kwargs["device_index"] = device_index
    try:
        ctx = moderngl.create_standalone_context(**kwargs)
    except Exception as error:  # glcontext raises plain Exceptions
        raise RenderBackendError(f"no EGL OpenGL context could be created ({error}). {INSTALL_HINT}") from error
    log.debug("OpenGL context: %s, %s", ctx.info.get("GL_RENDERER"), ctx.info.get("GL_VERSION"))
    return ctx


def egl_available() -> tuple[bool, str]:
    """Whether a headless context can be made here, and if not, why (for test skips)."""
    try:
        ctx = create_context()
    except RenderBackendError as error:
        return False, str(error)
    ctx.release()
    return True, ""
