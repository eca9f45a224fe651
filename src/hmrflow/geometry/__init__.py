"""Geometry: rotations, cameras, Procrustes. Any number of leading batch dimensions."""

from hmrflow.geometry.rotations import (
    rotmat_to_rotvec,
    rotmat_to_sixd,
    rotvec_to_rotmat,
    rotvec_to_sixd,
    sixd_orthonormality_residual,
    sixd_to_rotmat,
    sixd_to_rotvec,
)

__all__ = [
    "rotmat_to_rotvec",
    "rotmat_to_sixd",
    "rotvec_to_rotmat",
    "rotvec_to_sixd",
    "sixd_orthonormality_residual",
    "sixd_to_rotmat",
    "sixd_to_rotvec",
]
