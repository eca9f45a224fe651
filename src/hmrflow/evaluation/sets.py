r"""Evaluation sets: what the evaluator consumes, and the named synthetic sets.

An evaluation set is ``B`` examples of evidence with ground truth: 3D joints (metres, any
frame: errors are measured after pelvis or Procrustes alignment) on named joints, and
optionally the true pose for the negative log-likelihood. Any data source plugs in by
building an :class:`EvaluationSet` (in-memory tensors) or anything with the same
``info`` / ``__len__`` / ``batches`` interface (:class:`EvaluationData`, e.g. a lazy image
reader).

Named synthetic sets are versioned and seeded: the name pins the generator configuration,
the size and the seed, so a name (with the body model the evaluated model uses) always
gives the identical set. A new configuration gets a new name (``-v2``), never a changed
``-v1``. :attr:`SetInfo.fingerprint` (a hash of the set's arrays) is written with every
result, so two results can be checked to come from the same data.

Example:
    >>> from hmrflow.body import BodyModel
    >>> data = synthetic_set("synthetic-keypoints-v1", BodyModel.from_name("anny_lowpoly"), size=8)
    >>> data.evidence.shape, data.joints_3d.shape, data.info.pelvis
    (torch.Size([8, 23, 3]), torch.Size([8, 24, 3]), 0)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import torch
from torch import Tensor

from hmrflow.body.joints import SMPL_JOINT_NAMES, rotate_global_orientation
from hmrflow.body.model import BodyModel
from hmrflow.config import config_from_dict
from hmrflow.data.synthetic import SyntheticConfig, SyntheticKeypoints, make_evaluation_set
from hmrflow.evaluation.metrics import Pelvis
from hmrflow.geometry import box_to_camera_rotation
from hmrflow.models.config import check_orientation_frame

__all__ = [
    "SetInfo",
    "EvaluationBatch",
    "EvaluationData",
    "EvaluationSet",
    "SyntheticSetSpec",
    "SYNTHETIC_SETS",
    "synthetic_set",
    "fingerprint",
]


@dataclass(frozen=True)
class SetInfo:
    r"""What a set is; written beside every result.

    Attributes:
        name: Set name (a registry name or a file name).
        description: One line for people.
        joint_names: ``K`` names of the ground-truth joints, in order.
        pelvis: Pelvis alignment for MPJPE (a joint index or a pair whose midpoint is the
            pelvis; see :mod:`hmrflow.evaluation.metrics`).
        protocol: Published protocol this set follows (``"h36m-p2"``, ``"3dpw-test"``), or
            None (no published reference).
        fingerprint: Hash of the set's arrays (``""`` when not computed).
        details: Anything else worth recording (seed, size, body model, sources).
    """

    name: str
    description: str
    joint_names: tuple[str, ...]
    pelvis: Pelvis
    protocol: str | None = None
    fingerprint: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvaluationBatch:
    r"""A batch of evaluation examples.

    Attributes:
        evidence: ``(B, K_e, 3)`` keypoints (normalised box coordinates and confidence) or
            ``(B, 3, H, W)`` images: what the model is given.
        joints_3d: ``(B, K, 3)`` ground-truth joints, metres.
        rotmats: ``(B, J, 3, 3)`` ground-truth pose (joint 0 in the camera frame), or None.
        pose_valid: ``(B,)`` bool, which rows of ``rotmats`` are real, or None (all).
        box_rotation: ``(B, 3, 3)`` rotations from each person box's frame to the camera frame
            (:func:`~hmrflow.geometry.box_to_camera_rotation`), which turn the poses of a
            model with ``orientation_frame="box"``; None: the box frame is taken as the
            camera's (crops without their image's camera).
    """

    evidence: Tensor
    joints_3d: Tensor
    rotmats: Tensor | None = None
    pose_valid: Tensor | None = None
    box_rotation: Tensor | None = None

    def __len__(self) -> int:
        return self.joints_3d.shape[0]

    def to(self, device: torch.device | str) -> EvaluationBatch:
        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device)

        return EvaluationBatch(
            self.evidence.to(device), self.joints_3d.to(device), move(self.rotmats), move(self.pose_valid),
            move(self.box_rotation),
        )

    def frame_to_camera(self, frame: str) -> Tensor | None:
        r"""``(B, 3, 3)`` rotations from ``frame``, a model's ``orientation_frame``, to the camera
        frame: :attr:`box_rotation` for ``"box"``, None (no turn) for ``"camera"``."""
        check_orientation_frame(frame)
        return self.box_rotation if frame == "box" else None

    def pose_to_camera(self, rotmats: Tensor, frame: str) -> Tensor:
        r"""Poses ``(B, [S,] J, 3, 3)`` a model gave in ``frame`` (its ``orientation_frame``), in the camera frame."""
        return rotate_global_orientation(rotmats, self.frame_to_camera(frame))

    def pose_to_model(self, rotmats: Tensor, frame: str) -> Tensor:
        r"""Camera-frame poses ``(B, [S,] J, 3, 3)`` in a model's ``frame`` (the inverse of :meth:`pose_to_camera`)."""
        return rotate_global_orientation(rotmats, self.frame_to_camera(frame), inverse=True)


class EvaluationData(Protocol):
    """Anything the evaluation loop can run on."""

    info: SetInfo

    def __len__(self) -> int: ...

    def batches(self, batch_size: int) -> Iterator[EvaluationBatch]: ...


@dataclass(frozen=True)
class EvaluationSet:
    r"""An in-memory evaluation set of ``B`` examples (fields as :class:`EvaluationBatch`)."""

    info: SetInfo
    evidence: Tensor
    joints_3d: Tensor
    rotmats: Tensor | None = None
    pose_valid: Tensor | None = None
    box_rotation: Tensor | None = None

    def __post_init__(self) -> None:
        B, K = self.joints_3d.shape[:2]
        if K != len(self.info.joint_names):
            raise ValueError(f"joints_3d has {K} joints but info names {len(self.info.joint_names)}")
        for name in ("evidence", "rotmats", "pose_valid", "box_rotation"):
            value = getattr(self, name)
            if value is not None and value.shape[0] != B:
                raise ValueError(f"{name} has {value.shape[0]} rows, joints_3d {B}")

    def __len__(self) -> int:
        return self.joints_3d.shape[0]

    def batches(self, batch_size: int) -> Iterator[EvaluationBatch]:
        """Consecutive batches of at most ``batch_size`` examples (views, not copies)."""
        for start in range(0, len(self), batch_size):
            part = slice(start, start + batch_size)
            yield EvaluationBatch(
                self.evidence[part],
                self.joints_3d[part],
                None if self.rotmats is None else self.rotmats[part],
                None if self.pose_valid is None else self.pose_valid[part],
                None if self.box_rotation is None else self.box_rotation[part],
            )

    def with_fingerprint(self) -> EvaluationSet:
        """The same set with :attr:`SetInfo.fingerprint` filled in."""
        arrays = [self.evidence, self.joints_3d, self.rotmats, self.pose_valid]
        return replace(self, info=replace(self.info, fingerprint=fingerprint(arrays)))


def fingerprint(arrays: Sequence[Tensor | None]) -> str:
    """A short SHA-256 of the arrays' shapes and bytes (identical data, identical hash)."""
    digest = hashlib.sha256()
    for array in arrays:
        if array is None:
            digest.update(b"none")
            continue
        array = array.detach().cpu().contiguous()
        digest.update(f"{tuple(array.shape)}{array.dtype}".encode())
        digest.update(array.numpy().tobytes())
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------- synthetic sets

# The generator configuration of the v1 sets, pinned here (not taken from the defaults,
# which may change): SyntheticConfig as of this version.
_V1_BASE: dict[str, Any] = {
    "betas_std": 1.0,
    "num_betas": 10,
    "camera": {
        "image_size": [1280, 960],
        "distance": [3.0, 9.0],
        "elevation_deg": [-10.0, 35.0],
        "focal_length": [900.0, 2200.0],
        "center_spread": 0.3,
    },
    "corruption": {
        "jitter": [0.0, 0.03],
        "drop_probability": [0.0, 0.15],
        "part_drop_probability": 0.1,
        "swap_probability": 0.02,
        "confidence": [0.5, 1.0],
        "box_scale": 1.2,
    },
    "poses": {
        "real_fraction": 0.8,
        "mix_probability": 0.3,
        "mirror_probability": 0.5,
        "noise_deg": 4.0,
        "concentration": 1.5,
        "tilt_deg": 10.0,
        "uniform_orientation_fraction": 0.0,
    },
}


def _v1(**corruption: Any) -> dict[str, Any]:
    return {**_V1_BASE, "corruption": {**_V1_BASE["corruption"], **corruption}}


@dataclass(frozen=True)
class SyntheticSetSpec:
    r"""A named synthetic keypoint set.

    Attributes:
        name: Registry name, ending in its version (``-v1``).
        description: One line for people.
        config: :class:`~hmrflow.data.synthetic.SyntheticConfig` as a plain mapping
            (``evidence_sets`` excepted: it is the evaluated model's).
        size: Examples.
        seed: Seed of the generator.
    """

    name: str
    description: str
    config: dict[str, Any]
    size: int = 2000
    seed: int = 20210
    real_poses: bool = True  #: mix the shipped CMU poses into the pose sampler

    def synthetic_config(self, evidence_sets: Sequence[str]) -> SyntheticConfig:
        return config_from_dict(SyntheticConfig, {**self.config, "evidence_sets": list(evidence_sets)})


#: The named synthetic evaluation sets.
SYNTHETIC_SETS: dict[str, SyntheticSetSpec] = {
    spec.name: spec
    for spec in (
        SyntheticSetSpec(
            "synthetic-keypoints-v1",
            "detector-like corruption: jitter, dropped points, occluded limbs, swaps",
            _v1(),
        ),
        SyntheticSetSpec(
            "synthetic-keypoints-clean-v1",
            "no corruption: exact projections, confidence 1",
            _v1(
                jitter=[0.0, 0.0],
                drop_probability=[0.0, 0.0],
                part_drop_probability=0.0,
                swap_probability=0.0,
                confidence=[1.0, 1.0],
            ),
            seed=20211,
        ),
        SyntheticSetSpec(
            "synthetic-keypoints-occluded-v1",
            "each keypoint missing with probability 0.3, plus jitter",
            _v1(drop_probability=[0.3, 0.3], part_drop_probability=0.0, swap_probability=0.0),
            seed=20212,
        ),
    )
}


def _v1_families(families: dict[str, float]) -> dict[str, Any]:
    """The v1 configuration with every pose from the pose families (the "rom" limits)."""
    poses = {**_V1_BASE["poses"], "limits": "rom", "clamp_real": False, "family_fraction": 1.0, "families": families}
    return {**_V1_BASE, "poses": poses}


#: Held-out pose families (:mod:`hmrflow.data.pose_families`), v1 corruption, no CMU frames;
#: seeds 20220.. are used by no training stream or validation set.
_FAMILY_SETS: tuple[tuple[str, str, dict[str, float], int], ...] = (
    ("crouch", "squatting and deep crouching (heels down or on the toes)", {"crouch": 1.0}, 20220),
    ("kneel", "kneeling on one or both knees, sitting on the heels, on all fours", {"kneel": 1.0}, 20221),
    ("sit", "sitting on a chair, on the floor, cross-legged", {"sit": 1.0}, 20222),
    ("lie", "lying on the back, face down, on one side", {"lie": 1.0}, 20223),
    ("stand", "standing with everyday arm gestures (the reference for the family sets)", {"stand": 1.0}, 20224),
)
SYNTHETIC_SETS.update(
    {
        f"synthetic-keypoints-{name}-v1": SyntheticSetSpec(
            f"synthetic-keypoints-{name}-v1", f"pose family: {description}", _v1_families(families),
            seed=seed, real_poses=False,
        )
        for name, description, families, seed in _FAMILY_SETS
    }
)


def synthetic_set(
    name: str,
    body: BodyModel,
    evidence_sets: Sequence[str] = ("coco", "feet"),
    *,
    size: int | None = None,
    seed: int | None = None,
) -> EvaluationSet:
    r"""Generate a named synthetic set with ``body`` (the body model of the evaluated model).

    Arguments:
        name: A key of :data:`SYNTHETIC_SETS`.
        body: The body model the poses are posed with.
        evidence_sets: The keypoint sets the model takes as evidence, in its order.
        size: Another number of examples (quick runs; the result is then not the named
            set, nor a prefix of it); None for the set's size.
        seed: Another seed (the result is then not the named set); None for the set's.

    Returns:
        An :class:`EvaluationSet` on the 24 body joints (pelvis joint 0), CPU float32,
        with the ground-truth pose and the fingerprint filled in.
    """
    if name not in SYNTHETIC_SETS:
        raise KeyError(f"no synthetic set {name!r}; known: {', '.join(SYNTHETIC_SETS)}")
    spec = SYNTHETIC_SETS[name]
    from hmrflow.data.pose_sources import load_cmu_demo

    poses = load_cmu_demo().rotmats if spec.real_poses else None
    generator = SyntheticKeypoints(body, poses, spec.synthetic_config(evidence_sets))
    size = spec.size if size is None else size
    seed = spec.seed if seed is None else seed
    batch = make_evaluation_set(generator, size, seed)
    joint_names = SMPL_JOINT_NAMES if body.num_joints == len(SMPL_JOINT_NAMES) else tuple(
        f"joint_{j}" for j in range(body.num_joints)
    )
    info = SetInfo(
        name=name,
        description=spec.description,
        joint_names=tuple(joint_names),
        pelvis=0,
        protocol=None,
        details={
            "size": size,
            "seed": seed,
            "named_set": size == spec.size and seed == spec.seed,
            "body_model": body.name,
            "evidence_sets": list(evidence_sets),
            "joints": "the body model's 24 joints",
        },
    )
    rotation = box_to_camera_rotation(batch.box_center, batch.focal_length, batch.image_size / 2)
    data = EvaluationSet(info, batch.evidence, batch.joints_3d, batch.rotmats, box_rotation=rotation)
    return data.with_fingerprint()
