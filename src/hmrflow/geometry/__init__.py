"""Geometry: rotations, cameras (one :class:`PinholeCamera`), person boxes, Procrustes. Any number of leading batch dimensions."""

from hmrflow.geometry.boxes import keypoint_box, normalize_keypoints
from hmrflow.geometry.cameras import (
    DEFAULT_CROP_SIZE,
    DEFAULT_FOCAL_LENGTH,
    box_to_camera_rotation,
    crop_camera_to_full_translation,
    crop_to_image_pixels,
    full_translation_to_crop_camera,
    image_to_crop_pixels,
    normalized_to_pixels,
    perspective_projection,
    pixels_to_normalized,
    translation_to_weak_perspective,
    weak_perspective_to_translation,
)
from hmrflow.geometry.pinhole import PinholeCamera, default_focal_length
from hmrflow.geometry.procrustes import Similarity, align, similarity_procrustes
from hmrflow.geometry.rotations import (
    angle_to_rotmat,
    rotmat_midpoint,
    rotmat_to_rotvec,
    rotmat_to_sixd,
    rotvec_to_rotmat,
    rotvec_to_sixd,
    sixd_orthonormality_residual,
    sixd_to_rotmat,
    sixd_to_rotvec,
)

__all__ = [
    "DEFAULT_CROP_SIZE",
    "DEFAULT_FOCAL_LENGTH",
    "PinholeCamera",
    "Similarity",
    "align",
    "angle_to_rotmat",
    "box_to_camera_rotation",
    "crop_camera_to_full_translation",
    "crop_to_image_pixels",
    "default_focal_length",
    "full_translation_to_crop_camera",
    "image_to_crop_pixels",
    "keypoint_box",
    "normalize_keypoints",
    "normalized_to_pixels",
    "perspective_projection",
    "pixels_to_normalized",
    "rotmat_midpoint",
    "rotmat_to_rotvec",
    "rotmat_to_sixd",
    "rotvec_to_rotmat",
    "rotvec_to_sixd",
    "similarity_procrustes",
    "sixd_orthonormality_residual",
    "sixd_to_rotmat",
    "sixd_to_rotvec",
    "translation_to_weak_perspective",
    "weak_perspective_to_translation",
]
