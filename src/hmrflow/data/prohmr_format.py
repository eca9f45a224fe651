r"""ProHMR-format datasets: the ``.npz`` files of ProHMR (and SPIN) as arrays and as a torch Dataset.

A file holds, per person crop (N rows; DESIGN.md section 7): ``imgname`` (image path
relative to an image folder), ``center`` ``(N, 2)`` px, ``scale`` (box side in px / 200),
``body_pose`` ``(N, 72)`` axis-angle (joint 0 the global orientation in the camera
frame), ``has_body_pose``, ``betas`` ``(N, 10)``, ``has_betas``, ``body_keypoints_2d``
``(N, 25, 3)`` (OpenPose BODY_25, px + confidence), ``extra_keypoints_2d`` ``(N, 19, 3)``
(:data:`EXTRA_19`), ``body_keypoints_3d`` ``(N, 25, 4)`` and ``extra_keypoints_3d``
``(N, 19, 4)`` (metres + confidence), optional ``gender``. Missing keypoint arrays are
zeros (confidence 0), missing parameters have ``has_* = False``.

* :func:`read_prohmr_npz` reads a file into :class:`ProHMRArrays` (no images needed).
* :class:`ProHMRDataset` crops the images to 224 px with ProHMR's augmentation
  (:mod:`hmrflow.data.augment`) and gives :class:`ProHMRSample` items; batch them with
  ``DataLoader(dataset, batch_size, collate_fn=ProHMRSample.collate)``. Reading images
  needs Pillow (``pip install 'hmrflow[render]'``).

Keypoint orders: ``keypoints_2d``/``keypoints_3d`` of a sample are BODY_25 then
:data:`EXTRA_19` (K = 44, as in ProHMR); ``evidence``/``evidence_3d`` are the keypoint
models' order :data:`~hmrflow.data.keypoint_files.EVIDENCE_NAMES` (COCO-17 + 6 foot
points), taken from BODY_25 and, where BODY_25 has no confident point, from the extra
point of the same name.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from hmrflow.body.joints import NUM_JOINTS
from hmrflow.body.keypoints import BODY_25, EVAL_14, flip_permutation
from hmrflow.data.augment import (
    Augmentation,
    AugmentConfig,
    augment_points_3d,
    augment_rotmats,
    crop_matrix,
    extreme_crop_box,
    scale_colors,
    transform_points,
    warp_image,
)
from hmrflow.data.keypoint_files import EVIDENCE_NAMES
from hmrflow.errors import ProHMRFormatError
from hmrflow.geometry.rotations import rotvec_to_rotmat

__all__ = [
    "EXTRA_19",
    "KEYPOINT_NAMES_44",
    "ProHMRArrays",
    "ProHMRDataset",
    "ProHMRDatasetConfig",
    "ProHMRFormatError",
    "ProHMRSample",
    "evidence_from_keypoints",
    "read_prohmr_npz",
]

logger = logging.getLogger(__name__)

#: ProHMR's 19 extra keypoints: the 14 LSP joints (:data:`EVAL_14`), then MPII pelvis
#: and thorax, Human3.6M spine, jaw and head (SPIN's extra joints without the face).
EXTRA_19: tuple[str, ...] = EVAL_14 + ("pelvis", "thorax", "spine", "jaw", "head")

#: Names of a sample's 44 keypoints (BODY_25 then :data:`EXTRA_19`; names repeat).
KEYPOINT_NAMES_44: tuple[str, ...] = BODY_25 + EXTRA_19

#: Left/right swap of the 44 keypoints (ProHMR's ``flip_keypoint_permutation``).
FLIP_44: tuple[int, ...] = tuple(flip_permutation(BODY_25) + [25 + i for i in flip_permutation(EXTRA_19)])

#: BODY_25 3D points ProHMR ignores (its ``body_keypoints_3d[:, 1:15, -1] = 0``).
_PROHMR_MASKED_BODY_3D = tuple(range(1, 15))


@dataclass(frozen=True)
class ProHMRArrays:
    r"""The fields of a ProHMR-format file, checked; N rows.

    Attributes:
        imgname: ``(N,)`` str, image paths relative to the image folder.
        center: ``(N, 2)`` float32 box centre, px.
        scale: ``(N,)`` float32 box side / 200 (a stored ``(N, 2)`` scale is reduced by max).
        body_pose: ``(N, 72)`` float32 axis-angle, 24 joints (joint 0 global orientation).
        has_body_pose: ``(N,)`` bool.
        betas: ``(N, S)`` float32.
        has_betas: ``(N,)`` bool.
        body_keypoints_2d: ``(N, 25, 3)`` float32 BODY_25 px + confidence.
        extra_keypoints_2d: ``(N, 19, 3)`` float32 :data:`EXTRA_19` px + confidence.
        body_keypoints_3d: ``(N, 25, 4)`` float32 metres + confidence.
        extra_keypoints_3d: ``(N, 19, 4)`` float32 metres + confidence.
        gender: ``(N,)`` int8 (0 male, 1 female, -1 unknown) or None if the file has none.
    """

    imgname: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    body_pose: np.ndarray
    has_body_pose: np.ndarray
    betas: np.ndarray
    has_betas: np.ndarray
    body_keypoints_2d: np.ndarray
    extra_keypoints_2d: np.ndarray
    body_keypoints_3d: np.ndarray
    extra_keypoints_3d: np.ndarray
    gender: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.imgname)

    @property
    def box_size(self) -> np.ndarray:
        """``(N,)`` box side in px (``200 * scale``)."""
        return 200.0 * self.scale

    @property
    def keypoints_2d(self) -> np.ndarray:
        """``(N, 44, 3)``: BODY_25 then the extra points."""
        return np.concatenate([self.body_keypoints_2d, self.extra_keypoints_2d], axis=1)

    @property
    def keypoints_3d(self) -> np.ndarray:
        """``(N, 44, 4)``: BODY_25 then the extra points."""
        return np.concatenate([self.body_keypoints_3d, self.extra_keypoints_3d], axis=1)

    @property
    def has_keypoints_2d(self) -> np.ndarray:
        """``(N,)`` bool: any confident 2D keypoint."""
        return (self.keypoints_2d[..., 2] > 0).any(-1)

    @property
    def has_keypoints_3d(self) -> np.ndarray:
        """``(N,)`` bool: any confident 3D keypoint."""
        return (self.keypoints_3d[..., 3] > 0).any(-1)

    def subset(self, index: np.ndarray | slice) -> ProHMRArrays:
        """The rows ``index`` as a new :class:`ProHMRArrays`."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return ProHMRArrays(**{k: (None if v is None else v[index]) for k, v in values.items()})


def _fail(path: Path, message: str) -> ProHMRFormatError:
    return ProHMRFormatError(f"{path}: {message}")


def _field(data: dict[str, np.ndarray], name: str, shape: tuple[int, ...], path: Path) -> np.ndarray | None:
    """A float32 field checked against ``shape`` (-1 = any), or None if absent."""
    if name not in data:
        return None
    try:
        value = np.asarray(data[name], dtype=np.float32)
    except (TypeError, ValueError):
        raise _fail(path, f"field {name!r} is not numeric (dtype {data[name].dtype})") from None
    if value.ndim != len(shape) or any(s not in (-1, v) for s, v in zip(shape, value.shape)):
        want = "(" + ", ".join("?" if s == -1 else str(s) for s in shape) + ")"
        raise _fail(path, f"field {name!r} has shape {value.shape}, expected {want}")
    return value


def _check_finite(value: np.ndarray, valid: np.ndarray, name: str, path: Path) -> np.ndarray:
    """Zero non-finite entries of invalid rows/points; error on those of valid ones."""
    bad = ~np.isfinite(value)
    if not bad.any():
        return value
    valid = valid.reshape(valid.shape + (1,) * (value.ndim - valid.ndim))
    wrong = bad & valid
    if wrong.any():
        row = int(np.argwhere(wrong)[0][0])
        raise _fail(path, f"field {name!r} has NaN or infinite values (first in row {row})")
    return np.where(bad, np.float32(0.0), value)


def _gender(data: dict[str, np.ndarray], n: int, path: Path) -> np.ndarray | None:
    if "gender" not in data:
        return None
    raw = np.asarray(data["gender"]).reshape(-1)
    if len(raw) != n:
        raise _fail(path, f"field 'gender' has {len(raw)} rows, expected {n}")
    if raw.dtype.kind in "SUO":
        text = np.char.lower(raw.astype(str))
        return np.where(np.isin(text, ("m", "male")), 0, np.where(np.isin(text, ("f", "female")), 1, -1)).astype(
            np.int8
        )
    return np.where(np.isin(raw, (0, 1)), raw, -1).astype(np.int8)


def _mask(data: dict[str, np.ndarray], name: str, n: int, path: Path) -> np.ndarray:
    value = np.asarray(data[name]).reshape(-1)
    if len(value) != n:
        raise _fail(path, f"field {name!r} has {len(value)} rows, expected {n}")
    return value.astype(bool)


def _parameters(
    data: dict[str, np.ndarray], name: str, width: int, n: int, path: Path
) -> tuple[np.ndarray, np.ndarray]:
    """``(values (N, width), has (N,))``; absent -> zeros, False; has_ absent -> all True."""
    value = _field(data, name, (n, width), path)
    if value is None:
        return np.zeros((n, width), np.float32), np.zeros(n, bool)
    has_name = f"has_{name}"
    if has_name in data:
        has = _mask(data, has_name, n, path)
    else:
        logger.info("%s: %r without %r: taking every row as valid", path, name, has_name)
        has = np.ones(n, bool)
    return _check_finite(value, has, name, path), has


def read_prohmr_npz(path: str | os.PathLike[str]) -> ProHMRArrays:
    r"""Read and check a ProHMR-format ``.npz`` file (see the module docstring).

    Raises:
        FileNotFoundError: no such file.
        ProHMRFormatError: unreadable file, missing ``imgname``/``center``/``scale``,
            wrong shapes or row counts, NaN in valid entries (NaN in rows whose ``has_*``
            or confidence is 0 become 0).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ProHMR-format file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            data = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as error:
        raise _fail(path, f"not a readable .npz file ({error})") from None
    missing = [key for key in ("imgname", "center", "scale") if key not in data]
    if missing:
        raise _fail(path, f"missing field(s) {missing}; it has {sorted(data)}")
    imgname = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in data["imgname"].reshape(-1)])
    n = len(imgname)
    center = _field(data, "center", (n, 2), path)
    scale = np.asarray(data["scale"], dtype=np.float32).reshape(n, -1).max(-1) if data["scale"].size else None
    if scale is None or len(scale) != n:
        raise _fail(path, f"field 'scale' does not have {n} rows (shape {data['scale'].shape})")
    rows = np.ones(n, bool)
    center = _check_finite(center, rows, "center", path)
    scale = _check_finite(scale, rows, "scale", path)
    if (scale <= 0).any():
        raise _fail(path, f"field 'scale' has non-positive values (first in row {int(np.argmax(scale <= 0))})")
    body_pose, has_body_pose = _parameters(data, "body_pose", 3 * NUM_JOINTS, n, path)
    betas_width = data["betas"].shape[-1] if "betas" in data and data["betas"].ndim == 2 else 10
    betas, has_betas = _parameters(data, "betas", betas_width, n, path)
    keypoints = {}
    for name, k, c in (
        ("body_keypoints_2d", 25, 3),
        ("extra_keypoints_2d", 19, 3),
        ("body_keypoints_3d", 25, 4),
        ("extra_keypoints_3d", 19, 4),
    ):
        value = _field(data, name, (n, k, c), path)
        if value is None:
            value = np.zeros((n, k, c), np.float32)
        confident = ~(value[..., -1] <= 0)  # a NaN confidence counts as confident: an error
        value = _check_finite(value, confident, name, path)
        value[~confident] = 0.0
        keypoints[name] = value
    return ProHMRArrays(
        imgname=imgname,
        center=center,
        scale=scale,
        body_pose=body_pose,
        has_body_pose=has_body_pose,
        betas=betas,
        has_betas=has_betas,
        gender=_gender(data, n, path),
        **keypoints,
    )


def evidence_from_keypoints(keypoints: Tensor) -> Tensor:
    r"""44 keypoints ``(..., 44, C)`` (BODY_25 + extra) -> evidence order ``(..., 23, C)``.

    Each evidence point comes from BODY_25, or from the extra point of the same name
    where the BODY_25 one has confidence 0 (last channel). Missing points are zeros.
    """
    body = {name: i for i, name in enumerate(BODY_25)}
    extra = {name: 25 + i for i, name in enumerate(EXTRA_19)}
    out = keypoints.new_zeros(*keypoints.shape[:-2], len(EVIDENCE_NAMES), keypoints.shape[-1])
    for k, name in enumerate(EVIDENCE_NAMES):
        if name in body:
            out[..., k, :] = keypoints[..., body[name], :]
        if name in extra:
            fallback = keypoints[..., extra[name], :]
            out[..., k, :] = torch.where(out[..., k, -1:] > 0, out[..., k, :], fallback)
    return out


@dataclass(frozen=True)
class ProHMRSample:
    r"""One crop (or a batch of them, leading dim B, after :meth:`collate`).

    Attributes:
        image: ``(3, R, R)`` float32 crop, ImageNet-normalised (R = crop size, 224).
        keypoints_2d: ``(44, 3)`` BODY_25 + extra points, normalised crop coordinates
            (``x_px / R - 0.5``, the crop spans ``[-0.5, 0.5]``) + confidence (coords 0 where 0).
        keypoints_3d: ``(44, 4)`` camera-frame metres + confidence, rotated/flipped with the crop.
        evidence: ``(23, 3)`` ``keypoints_2d`` in the evidence order (COCO-17 + feet).
        evidence_3d: ``(23, 4)`` ``keypoints_3d`` in the evidence order.
        rotmats: ``(J, 3, 3)`` local rotations, joint 0 in the (augmented) camera frame.
        has_pose: ``()`` float32, 1 where ``rotmats`` is a label.
        betas: ``(S,)``; has_betas: ``()`` float32.
        box_center: ``(2,)`` px and box_size: ``()`` px, the crop's box in the image
            (after scale, translation and extreme-crop augmentation; before rotation).
        rotation_deg: ``()`` the crop's on-screen rotation; flipped: ``()`` bool.
        image_size: ``(2,)`` (W, H) px of the source image.
        index: ``()`` int64 row in the file.
    """

    image: Tensor
    keypoints_2d: Tensor
    keypoints_3d: Tensor
    evidence: Tensor
    evidence_3d: Tensor
    rotmats: Tensor
    has_pose: Tensor
    betas: Tensor
    has_betas: Tensor
    box_center: Tensor
    box_size: Tensor
    rotation_deg: Tensor
    flipped: Tensor
    image_size: Tensor
    index: Tensor

    def to(self, device: torch.device | str) -> ProHMRSample:
        return ProHMRSample(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    @staticmethod
    def collate(samples: list[ProHMRSample]) -> ProHMRSample:
        """Stack samples into a batch (leading dim B); a ``DataLoader`` ``collate_fn``."""
        names = [f.name for f in fields(ProHMRSample)]
        return ProHMRSample(**{name: torch.stack([getattr(s, name) for s in samples]) for name in names})


@dataclass(frozen=True)
class ProHMRDatasetConfig:
    r"""Settings of :class:`ProHMRDataset`.

    Attributes:
        crop_size: Crop side in px (ProHMR: 224).
        augment: Augmentation used when ``train`` is on (ProHMR's defaults).
        antialias: Average pixel blocks before shrinking by 2x or more (see :func:`warp_image`).
        mask_body_3d: Ignore BODY_25 3D points 1..14 as ProHMR does (its data's 3D body
            joints come from the extra points; BODY_25 3D keeps the nose, eyes, ears, feet).
    """

    crop_size: int = 224
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    antialias: bool = True
    mask_body_3d: bool = True


class ProHMRDataset(Dataset):
    r"""A ProHMR-format dataset as cropped, augmented :class:`ProHMRSample` s.

    Arguments:
        arrays: The file's fields (:func:`read_prohmr_npz`).
        image_root: Folder the ``imgname`` paths are relative to.
        config: :class:`ProHMRDatasetConfig`.
        train: Augment (else the plain crop of each box).
        seed: Augmentation seed: item ``i`` of epoch ``e`` is always augmented alike
            (workers included). None draws from torch's global generator (which
            ``DataLoader`` seeds per worker).

    Example::

        data = ProHMRDataset.from_file("coco_2014_train.npz", "datasets/coco", train=True, seed=0)
        loader = DataLoader(data, batch_size=64, shuffle=True, collate_fn=ProHMRSample.collate)
    """

    def __init__(
        self,
        arrays: ProHMRArrays,
        image_root: str | os.PathLike[str],
        config: ProHMRDatasetConfig | None = None,
        train: bool = False,
        seed: int | None = None,
    ):
        self.arrays = arrays
        self.image_root = Path(image_root)
        self.config = config or ProHMRDatasetConfig()
        self.train = train
        self.seed = seed
        self.epoch = 0

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        image_root: str | os.PathLike[str] | None = None,
        config: ProHMRDatasetConfig | None = None,
        train: bool = False,
        seed: int | None = None,
    ) -> ProHMRDataset:
        """Read ``path``; images relative to ``image_root`` (default: the file's folder)."""
        root = Path(path).parent if image_root is None else image_root
        return cls(read_prohmr_npz(path), root, config, train, seed)

    def __len__(self) -> int:
        return len(self.arrays)

    def set_epoch(self, epoch: int) -> None:
        """Change the augmentation draws (with a ``seed``)."""
        self.epoch = epoch

    def generator(self, index: int) -> torch.Generator:
        """The random source of item ``index`` in this epoch."""
        if self.seed is None:
            return torch.Generator().manual_seed(int(torch.randint(2**62, ())))
        return torch.Generator().manual_seed(((self.seed * 1_000_003 + self.epoch) * 1_000_033 + index) % 2**62)

    def augmentation(self, index: int) -> Augmentation:
        """The augmentation of item ``index`` (the identity when not training)."""
        if not self.train:
            return Augmentation()
        return Augmentation.sample(self.config.augment, self.generator(index))

    def load_image(self, index: int):
        """The RGB Pillow image of row ``index``."""
        try:
            from PIL import Image
        except ImportError:
            raise ImportError("reading images needs Pillow: pip install 'hmrflow[render]'") from None
        path = self.image_root / self.arrays.imgname[index]
        try:
            with Image.open(path) as image:
                return image.convert("RGB")
        except (FileNotFoundError, OSError) as error:
            raise OSError(f"cannot read image {path} (row {index}): {error}") from None

    def __getitem__(self, index: int) -> ProHMRSample:
        return self.make_sample(index, self.augmentation(index))

    def make_sample(self, index: int, augmentation: Augmentation) -> ProHMRSample:
        """Row ``index`` cropped under a given augmentation."""
        a, cfg = self.arrays, self.config
        R = cfg.crop_size
        keypoints_2d = a.keypoints_2d[index].astype(np.float64)
        center, size = a.center[index].astype(np.float64), float(a.box_size[index])
        if augmentation.extreme_crop is not None:
            box = extreme_crop_box(keypoints_2d, KEYPOINT_NAMES_44, augmentation.extreme_crop)
            center, size = box if box is not None else (center, size)
        matrix = crop_matrix(center, size, R, augmentation)
        image = self.load_image(index)
        crop = torch.from_numpy(warp_image(image, matrix, R, cfg.antialias).copy()).permute(2, 0, 1).float() / 255.0
        crop = _normalise(scale_colors(crop, augmentation.color))

        confident = keypoints_2d[:, 2:] > 0
        xy = (transform_points(matrix, keypoints_2d[:, :2]) / R - 0.5) * confident
        kp2d = torch.from_numpy(np.concatenate([xy, keypoints_2d[:, 2:]], axis=1)).float()
        if augmentation.flip:  # the matrix already mirrored the coordinates: swap the labels
            kp2d = kp2d[list(FLIP_44)]
        kp3d = torch.from_numpy(a.keypoints_3d[index].copy())
        if cfg.mask_body_3d:
            kp3d[list(_PROHMR_MASKED_BODY_3D)] = 0.0
        kp3d = augment_points_3d(kp3d, augmentation, FLIP_44)
        rotmats = rotvec_to_rotmat(torch.from_numpy(a.body_pose[index]).view(NUM_JOINTS, 3))
        rotmats = augment_rotmats(rotmats, augmentation)
        return ProHMRSample(
            image=crop,
            keypoints_2d=kp2d,
            keypoints_3d=kp3d,
            evidence=evidence_from_keypoints(kp2d),
            evidence_3d=evidence_from_keypoints(kp3d),
            rotmats=rotmats,
            has_pose=torch.tensor(float(a.has_body_pose[index])),
            betas=torch.from_numpy(a.betas[index].copy()),
            has_betas=torch.tensor(float(a.has_betas[index])),
            box_center=torch.tensor(center + np.asarray(augmentation.translation) * size, dtype=torch.float32),
            box_size=torch.tensor(size * augmentation.scale, dtype=torch.float32),
            rotation_deg=torch.tensor(augmentation.rotation_deg, dtype=torch.float32),
            flipped=torch.tensor(augmentation.flip),
            image_size=torch.tensor(image.size, dtype=torch.float32),
            index=torch.tensor(index, dtype=torch.int64),
        )


def _normalise(image: Tensor) -> Tensor:
    from hmrflow.models.resnet import IMAGENET_MEAN, IMAGENET_STD

    mean = torch.tensor(IMAGENET_MEAN, dtype=image.dtype)[:, None, None]
    std = torch.tensor(IMAGENET_STD, dtype=image.dtype)[:, None, None]
    return (image - mean) / std

