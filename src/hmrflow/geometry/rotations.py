r"""Rotation conversions.

Conventions, stated once for the whole package:

* Rotation matrices act on column vectors: ``y = R @ x``.
* The 6D form of ``R`` is its first two **columns**, stored as
  ``[R00, R10, R20, R01, R11, R21]`` (ProHMR's order). Decoding views the vector as
  ``(..., 2, 3)`` (two columns), transposes to ``(..., 3, 2)`` and applies Gram-Schmidt.
* Axis-angle vectors (``rotvec``) have the rotation angle in radians as their norm.
* Angles are in radians and turn counter-clockwise about their axis seen from its tip
  (right-handed).

Every function accepts any number of leading batch dimensions ``...``.
"""

from __future__ import annotations

import roma
import torch
from torch import Tensor

__all__ = [
    "angle_to_rotmat",
    "rotmat_to_sixd",
    "sixd_to_rotmat",
    "rotvec_to_rotmat",
    "rotmat_to_rotvec",
    "rotvec_to_sixd",
    "sixd_to_rotvec",
    "sixd_orthonormality_residual",
    "rotmat_midpoint",
]


def angle_to_rotmat(angle: Tensor, axis: int | str) -> Tensor:
    r"""Rotations ``(..., 3, 3)`` by ``angle`` ``(...)`` about a coordinate axis (``0``/``"x"``,
    ``1``/``"y"`` or ``2``/``"z"``), built entry by entry (exact zeros and ones off the plane).

    Example:
        >>> angle_to_rotmat(torch.tensor(torch.pi / 2), "z") @ torch.tensor([1.0, 0.0, 0.0])
        tensor([-4.3711e-08,  1.0000e+00,  0.0000e+00])
    """
    index = "xyz".index(axis.lower()) if isinstance(axis, str) else axis
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(c), torch.zeros_like(c)
    rows = (
        ((one, zero, zero), (zero, c, -s), (zero, s, c)),
        ((c, zero, s), (zero, one, zero), (-s, zero, c)),
        ((c, -s, zero), (s, c, zero), (zero, zero, one)),
    )[index]
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)


def rotmat_to_sixd(R: Tensor) -> Tensor:
    r"""Encode rotation matrices in ProHMR's 6D form (first two columns).

    Arguments:
        R: Rotation matrices, shape ``(..., 3, 3)``.

    Returns:
        6D vectors ``[R00, R10, R20, R01, R11, R21]``, shape ``(..., 6)``.

    Example:
        >>> rotmat_to_sixd(torch.eye(3))
        tensor([1., 0., 0., 0., 1., 0.])
    """
    return R[..., :, :2].transpose(-1, -2).reshape(*R.shape[:-2], 6)


def sixd_to_rotmat(x: Tensor) -> Tensor:
    r"""Decode ProHMR 6D vectors into rotation matrices by Gram-Schmidt.

    Arguments:
        x: 6D vectors, shape ``(..., 6)``; need not be orthonormal.

    Returns:
        Rotation matrices, shape ``(..., 3, 3)``.

    Example:
        >>> sixd_to_rotmat(torch.tensor([2.0, 0, 0, 1, 1, 0]))
        tensor([[1., 0., 0.],
                [0., 1., 0.],
                [0., 0., 1.]])
    """
    columns = x.reshape(*x.shape[:-1], 2, 3).transpose(-1, -2)
    return roma.special_gramschmidt(columns)


def rotvec_to_rotmat(rotvec: Tensor) -> Tensor:
    r"""Axis-angle ``(..., 3)`` to rotation matrices ``(..., 3, 3)``."""
    return roma.rotvec_to_rotmat(rotvec)


def rotmat_to_rotvec(R: Tensor) -> Tensor:
    r"""Rotation matrices ``(..., 3, 3)`` to axis-angle ``(..., 3)`` (angle in ``[0, pi]``)."""
    return roma.rotmat_to_rotvec(R)


def rotvec_to_sixd(rotvec: Tensor) -> Tensor:
    r"""Axis-angle ``(..., 3)`` to ProHMR 6D ``(..., 6)``."""
    return rotmat_to_sixd(rotvec_to_rotmat(rotvec))


def sixd_to_rotvec(x: Tensor) -> Tensor:
    r"""ProHMR 6D ``(..., 6)`` to axis-angle ``(..., 3)``."""
    return rotmat_to_rotvec(sixd_to_rotmat(x))


def sixd_orthonormality_residual(x: Tensor) -> Tensor:
    r"""Squared deviation of raw 6D vectors from an orthonormal pair of columns.

    ``|A^T A - I|_F^2`` with ``A`` the ``(3, 2)`` matrix of the two columns; zero exactly
    when the columns are unit length and orthogonal. ProHMR penalises this on the flow's
    raw outputs.

    Arguments:
        x: 6D vectors, shape ``(..., 6)``.

    Returns:
        Residuals, shape ``(...)``.

    Example:
        >>> sixd_orthonormality_residual(torch.tensor([2.0, 0, 0, 0, 1, 0]))
        tensor(9.)
    """
    A = x.reshape(*x.shape[:-1], 2, 3).transpose(-1, -2)
    gram = A.transpose(-1, -2) @ A
    eye = torch.eye(2, dtype=x.dtype, device=x.device)
    return (gram - eye).square().sum(dim=(-1, -2))


def rotmat_midpoint(first: Tensor, second: Tensor) -> Tensor:
    r"""The rotation halfway along the shortest arc from ``first`` to ``second`` (both
    ``(..., 3, 3)``): ``first exp(log(first^T second) / 2)``, their geodesic mean.

    Example:
        >>> quarter = rotvec_to_rotmat(torch.tensor([0.0, 0.0, torch.pi / 2]))
        >>> rotmat_to_rotvec(rotmat_midpoint(torch.eye(3), quarter))
        tensor([0.0000, 0.0000, 0.7854])
    """
    half = 0.5 * rotmat_to_rotvec(first.transpose(-1, -2) @ second)
    return first @ rotvec_to_rotmat(half)
