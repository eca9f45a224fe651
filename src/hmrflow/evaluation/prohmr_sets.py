r"""ProHMR-format datasets (Human3.6M protocol 2, 3DPW test) as evaluation sets.

Small adapters from :mod:`hmrflow.data.prohmr_format` (the reader: fields as in DESIGN.md
section 7) to the evaluator's interface (evidence, ground-truth joints, optional pose):

* :func:`prohmr_keypoint_set`: keypoint evidence from the file's 2D keypoints, in memory.
* :class:`ProHMRImageSet`: image evidence, the plain (unaugmented) crop of each box, read
  lazily from the user's image folder.

Ground truth: the 14 evaluation joints are ProHMR's ``KEYPOINT_LIST``, taken from the
extra 3D points (:data:`~hmrflow.data.prohmr_format.EXTRA_19`): the first 13 LSP joints
and the Human3.6M head (which a Human3.6M joint regressor's ``head_top`` row predicts).
MPJPE is measured after aligning the midpoint of the hips (SPIN's protocol; the published
PA-MPJPE does not depend on it). The pose (``body_pose``, where ``has_body_pose``) gives the
negative log-likelihood. Examples that lack a ground-truth evaluation joint (confidence 0)
are left out, and counted in :attr:`SetInfo.details`.

Example (the user's files)::

    data = open_prohmr_set("3dpw_test.npz", model)               # keypoint models
    data = open_prohmr_set("3dpw_test.npz", model, "data/3DPW")  # image models
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from hmrflow.body.keypoints import BODY_25, EVAL_14
from hmrflow.data.prohmr_format import EXTRA_19, ProHMRArrays, read_prohmr_npz
from hmrflow.evaluation.reference import guess_protocol
from hmrflow.evaluation.sets import EvaluationBatch, EvaluationSet, SetInfo, fingerprint
from hmrflow.geometry.boxes import normalize_keypoints
from hmrflow.geometry.rotations import rotvec_to_rotmat

__all__ = [
    "EVAL_14_FROM_EXTRA",
    "EVAL_14_PELVIS",
    "ProHMRImageSet",
    "open_prohmr_set",
    "prohmr_keypoint_set",
]

log = logging.getLogger(__name__)

#: Rows of the extra points that give the 14 evaluation joints (ProHMR's KEYPOINT_LIST - 25).
EVAL_14_FROM_EXTRA: tuple[int, ...] = (*range(13), EXTRA_19.index("head"))

#: Pelvis of the 14 evaluation joints: the midpoint of the right and left hips.
EVAL_14_PELVIS = (EVAL_14.index("right_hip"), EVAL_14.index("left_hip"))

KeypointSource = Literal["auto", "body25", "extra"]


def _complete_rows(arrays: ProHMRArrays, name: str) -> tuple[ProHMRArrays, int]:
    """The rows with all 14 ground-truth joints, and how many were left out."""
    complete = (arrays.extra_keypoints_3d[:, list(EVAL_14_FROM_EXTRA), 3] > 0).all(-1)
    dropped = int((~complete).sum())
    if dropped:
        log.warning("%s: %d of %d examples lack ground-truth evaluation joints: left out",
                    name, dropped, len(complete))  # fmt: skip
        arrays = arrays.subset(np.flatnonzero(complete))
    if len(arrays) == 0:
        raise ValueError(f"{name}: no example has the 14 ground-truth evaluation joints (extra_keypoints_3d)")
    return arrays, dropped


def _info(arrays: ProHMRArrays, name: str, protocol: str | None, dropped: int, **details: Any) -> SetInfo:
    return SetInfo(
        name=name,
        description=f"ProHMR-format file, {len(arrays)} examples, 14 evaluation joints",
        joint_names=EVAL_14,
        pelvis=EVAL_14_PELVIS,
        protocol=protocol,
        details={
            "size": len(arrays),
            "left_out": dropped,
            "head_top": "Human3.6M head (extra point 18), as ProHMR's KEYPOINT_LIST",
            "pelvis": "midpoint of the hips",
            "poses": int(arrays.has_body_pose.sum()),
            **details,
        },
    )


def _joints(arrays: ProHMRArrays) -> Tensor:
    return torch.from_numpy(arrays.extra_keypoints_3d[:, list(EVAL_14_FROM_EXTRA), :3].copy())


def _poses(arrays: ProHMRArrays) -> tuple[Tensor, Tensor]:
    pose = torch.from_numpy(arrays.body_pose.copy())
    return rotvec_to_rotmat(pose.view(len(arrays), -1, 3)), torch.from_numpy(arrays.has_body_pose.copy())


def prohmr_keypoint_set(
    arrays: ProHMRArrays,
    evidence_names: Sequence[str],
    *,
    name: str = "prohmr-format",
    keypoints: KeypointSource = "auto",
    protocol: str | None = None,
) -> EvaluationSet:
    r"""An in-memory evaluation set with keypoint evidence.

    Arguments:
        arrays: The file's fields (:func:`~hmrflow.data.prohmr_format.read_prohmr_npz`).
        evidence_names: The model's K_e evidence keypoint names, in its order; points the
            source lacks get confidence 0.
        name: The set's name.
        keypoints: Evidence source: ``"body25"`` (``body_keypoints_2d``, e.g. OpenPose
            detections), ``"extra"`` (``extra_keypoints_2d``, the 12 limb joints of the
            ground-truth 2D), ``"auto"`` (body25 when it holds any point, else extra).
        protocol: Published protocol (``"h36m-p2"``, ``"3dpw-test"``) or None.
    """
    arrays, dropped = _complete_rows(arrays, name)
    source = _choose_source(arrays, keypoints, name)
    field = "body_keypoints_2d" if source == "body25" else "extra_keypoints_2d"
    points = torch.from_numpy(getattr(arrays, field).copy())
    names = BODY_25 if source == "body25" else EXTRA_19
    center = torch.from_numpy(arrays.center.copy())
    box = torch.from_numpy(arrays.box_size.astype(np.float32))
    evidence = normalize_keypoints(_select(points, names, evidence_names), center, box)
    rotmats, valid = _poses(arrays)
    info = _info(arrays, name, protocol, dropped, evidence=f"{source} keypoints ({field})")
    return EvaluationSet(info, evidence, _joints(arrays), rotmats, valid).with_fingerprint()


class ProHMRImageSet:
    r"""Image evidence: ImageNet-normalised crops ``(B, 3, R, R)`` of each box, read lazily.

    Arguments:
        arrays: The file's fields.
        image_root: The folder the file's ``imgname`` paths are relative to.
        name: The set's name.
        crop_size: R, the model's crop size.
        protocol: Published protocol or None.
        num_workers: Data loader worker processes reading images.
    """

    def __init__(
        self,
        arrays: ProHMRArrays,
        image_root: str | os.PathLike[str],
        *,
        name: str = "prohmr-format",
        crop_size: int = 224,
        protocol: str | None = None,
        num_workers: int = 0,
    ):
        from hmrflow.data.prohmr_format import ProHMRDataset, ProHMRDatasetConfig

        arrays, dropped = _complete_rows(arrays, name)
        self.dataset = ProHMRDataset(arrays, image_root, ProHMRDatasetConfig(crop_size=crop_size), train=False)
        self.num_workers = num_workers
        rotmats, valid = _poses(arrays)
        info = _info(arrays, name, protocol, dropped, evidence=f"image crops from {image_root}")
        hashed = [torch.from_numpy(arrays.center.copy()), _joints(arrays), rotmats, valid]
        self.info = replace(info, fingerprint=fingerprint(hashed))

    def __len__(self) -> int:
        return len(self.dataset)

    def batches(self, batch_size: int) -> Iterator[EvaluationBatch]:
        """Batches of crops with the ground truth (joints from the unaugmented sample)."""
        from torch.utils.data import DataLoader

        from hmrflow.data.prohmr_format import ProHMRSample

        loader = DataLoader(
            self.dataset, batch_size=batch_size, num_workers=self.num_workers, collate_fn=ProHMRSample.collate
        )
        rows = [25 + k for k in EVAL_14_FROM_EXTRA]  # a sample's 44 points: BODY_25, then extra
        for sample in loader:
            yield EvaluationBatch(
                evidence=sample.image,
                joints_3d=sample.keypoints_3d[:, rows, :3],
                rotmats=sample.rotmats,
                pose_valid=sample.has_pose > 0,
            )


def open_prohmr_set(
    path: str | os.PathLike[str],
    model: torch.nn.Module,
    image_root: str | os.PathLike[str] | None = None,
    *,
    keypoints: KeypointSource = "auto",
    protocol: str | None = "auto",
    num_workers: int = 0,
) -> EvaluationSet | ProHMRImageSet:
    r"""A ProHMR-format file as the evaluation set ``model`` (a ProbabilisticHMR) needs.

    Keypoint models get :func:`prohmr_keypoint_set`; image models a
    :class:`ProHMRImageSet` with images under ``image_root`` (default: the file's folder).
    ``protocol="auto"`` guesses the protocol from the file name.
    """
    path = Path(path)
    arrays = read_prohmr_npz(path)
    protocol = guess_protocol(path.name) if protocol == "auto" else protocol
    encoder = model.config.encoder
    if encoder.kind == "image":
        root = path.parent if image_root is None else Path(image_root)
        return ProHMRImageSet(arrays, root, name=path.name, crop_size=encoder.crop_size,
                              protocol=protocol, num_workers=num_workers)  # fmt: skip
    return prohmr_keypoint_set(arrays, model.evidence_names, name=path.name, keypoints=keypoints, protocol=protocol)


def _choose_source(arrays: ProHMRArrays, keypoints: KeypointSource, name: str) -> str:
    def has_points(field: str) -> bool:
        return bool((getattr(arrays, field)[..., 2] > 0).any())

    if keypoints == "auto":
        keypoints = "body25" if has_points("body_keypoints_2d") else "extra"
    field = "body_keypoints_2d" if keypoints == "body25" else "extra_keypoints_2d"
    if not has_points(field):
        raise ValueError(f"{name}: no 2D keypoints in {field!r} to use as evidence")
    return keypoints


def _select(points: Tensor, names: Sequence[str], wanted: Sequence[str]) -> Tensor:
    """``(N, len(wanted), 3)``: the named points, zeros (confidence 0) where absent."""
    out = points.new_zeros(points.shape[0], len(wanted), 3)
    index = {name: k for k, name in enumerate(names)}
    for k, name in enumerate(wanted):
        if name in index:
            out[:, k] = points[:, index[name]]
    return out
