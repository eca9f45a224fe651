r"""Synthetic keypoint data: pose x shape x camera -> 2D keypoints in a person box.

Each example draws a pose (:class:`~hmrflow.data.pose_sampler.PoseSampler`), a shape
(betas from a Gaussian over the body model's components) and a camera (distance,
elevation, focal length, where the person stands in the image), poses the body, projects
its keypoints into the image, takes a detector-like person box around the visible ones,
and corrupts them as a detector would: jitter scaled by the box, dropped points,
confidences, truncation at the image border, occasional left/right swaps.

Frames: the world is the body's (Y up); the camera frame is OpenCV's (x right, y down,
looking along +Z; :mod:`hmrflow.geometry.cameras`). The labels are in the camera frame:
``rotmats[:, 0]`` is the global orientation as the camera sees it and ``translation``
the body translation there, so that
``body(rotmats, betas, translation)`` gives the camera-frame points that project to
the clean keypoints with ``focal_length`` and the image centre.

Example:
    >>> from hmrflow.body import BodyModel
    >>> gen = SyntheticKeypoints(BodyModel.from_name("anny_lowpoly"), poses=None)
    >>> batch = gen.sample(4, torch.Generator().manual_seed(0))
    >>> batch.evidence.shape
    torch.Size([4, 23, 3])
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace

import torch
from torch import Tensor

from hmrflow.body.keypoints import flip_permutation
from hmrflow.body.model import BodyModel
from hmrflow.data.pose_sampler import PoseSampler, PoseSamplerConfig
from hmrflow.geometry.boxes import keypoint_box, normalize_keypoints
from hmrflow.geometry.cameras import perspective_projection
from hmrflow.geometry.rotations import angle_to_rotmat

__all__ = [
    "CameraConfig",
    "CorruptionConfig",
    "SEGMENT_PARENTS",
    "DEPTH_PARENTS",
    "SyntheticConfig",
    "SyntheticBatch",
    "SyntheticKeypoints",
    "make_evaluation_set",
    "segment_parents",
]


@dataclass(frozen=True)
class CameraConfig:
    """Camera distribution; ranges are sampled uniformly."""

    image_size: tuple[int, int] = (1280, 960)  #: (W, H) px
    distance: tuple[float, float] = (3.0, 9.0)  #: pelvis depth, metres
    elevation_deg: tuple[float, float] = (-10.0, 35.0)  #: camera pitch, positive looks down
    roll_deg: tuple[float, float] = (0.0, 0.0)  #: camera roll (a tilted photo); positive turns the picture clockwise
    focal_length: tuple[float, float] = (900.0, 2200.0)  #: px
    center_spread: float = 0.3  #: pelvis within this fraction of the image from its centre


@dataclass(frozen=True)
class CorruptionConfig:
    """Detector-like corruption of the evidence keypoints."""

    jitter: tuple[float, float] = (0.0, 0.03)  #: per-example std range, fraction of box size
    drop_probability: tuple[float, float] = (0.0, 0.15)  #: per-example range of dropping points
    part_drop_probability: float = 0.1  #: chance of losing a whole limb (occlusion)
    swap_probability: float = 0.02  #: chance of a left/right swap of one pair
    mirror_probability: float = 0.0  #: chance that every left/right label is swapped (a detector's mirror error)
    confidence: tuple[float, float] = (0.5, 1.0)  #: confidences of kept points
    box_scale: float = 1.2  #: box side over the visible keypoints' extent
    #: Per-example std range of each keypoint's shift along its segment (the vector from
    #: :data:`SEGMENT_PARENTS`' point to it), as a fraction of that segment: detectors
    #: place keypoints differently from the body model, and people are built differently.
    segment_noise: tuple[float, float] = (0.0, 0.0)
    #: Chance that one limb's keypoints (an arm or a leg) land on another person next to
    #: this one: a detector in a crowd mixes people up where they overlap. That limb's
    #: points become another example's limb, placed within half a box of this one.
    other_person_probability: float = 0.0
    #: Keypoints the detector never gives, always dropped (names of the evidence keypoints;
    #: e.g. BlazePose, the bundled detector, has no small toes).
    missing: tuple[str, ...] = ()
    #: Where a detector puts the body's points, systematically: name part (``hip``,
    #: ``knee``, ...) -> shift along its segment (:data:`SEGMENT_PARENTS`; hips and
    #: shoulders: the torso's axis, shoulders' midpoint to hips' midpoint) in 2D torso
    #: lengths, negative towards the segment's start. BlazePose on renders of the body
    #: (``benchmarks/detector_on_renders.py``): ``{hip: -0.034, knee: -0.040, ankle: -0.030}``
    #: (hips up the torso, knees and ankles towards their parents); the labels stay the
    #: body's own points.
    detector_shift: dict[str, float] = field(default_factory=dict)
    #: The detector's hip width over the body's (BlazePose on renders: 0.88); the hips move
    #: towards their midpoint, after ``detector_shift``.
    detector_hip_width: float = 1.0
    #: Chance that a keypoint is an outlier (a detector's stray point: on another limb, on
    #: another person): moved by ``outlier_reach`` (a range, in the unit of ``jitter``) in a
    #: random direction, with a confidence from ``outlier_confidence`` instead of ``confidence``.
    #: Detectors are less sure of such points, though not always: with the ranges apart,
    #: the model learns what a confidence says (BlazePose on renders of the body,
    #: ``benchmarks/detector_on_renders.py``: 19 % of its points under confidence 0.5 stray
    #: by over a tenth of the person's height, 4.5 % of those over 0.97).
    outlier_probability: float = 0.0
    outlier_reach: tuple[float, float] = (0.05, 0.4)
    outlier_confidence: tuple[float, float] = (0.1, 0.9)
    #: Chance that an example's evidence carries a relative depth per keypoint (a fourth
    #: column, :mod:`hmrflow.models.keypoint_encoder`; NaN in the others): the true depth
    #: minus the pelvis's, in box sides, plus an error, times ``depth_scale`` (a per-example
    #: range). The error adds up from the hips out (:data:`DEPTH_PARENTS`): each keypoint's
    #: is its parent's plus its own, of std ``depth_noise`` (a per-example range, box sides).
    #: BlazePose on renders of the body (``benchmarks/keypoint_depth.py``): scale 1.7-3.8 by
    #: joint (median 2.2); errors 0.04 at the hips, 0.09 / 0.15 at knees / ankles, 0.11 /
    #: 0.14 / 0.19 at shoulders / elbows / wrists, but 0.07-0.10 along one bone: neighbours'
    #: errors go together. A keypoint's depth follows its label through swaps and mirrors,
    #: as a detector's does. 0: three columns, as before.
    depth_probability: float = 0.0
    depth_scale: tuple[float, float] = (1.6, 3.0)
    depth_noise: tuple[float, float] = (0.04, 0.10)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.detector_shift) - set(SEGMENT_PARENTS))
        if unknown:
            raise ValueError(f"detector_shift names {unknown}, not segment ends; they are {list(SEGMENT_PARENTS)}")
        for name in ("outlier_reach", "outlier_confidence", "depth_scale", "depth_noise"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"{name} must be a range 0 <= low <= high, got {(low, high)}")
        for name in ("outlier_probability", "depth_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not self.detector_hip_width > 0:
            raise ValueError(f"detector_hip_width must be > 0, got {self.detector_hip_width}")


#: Keypoint name part -> the name part of the point its segment starts at (same side):
#: hips and shoulders move along the torso, the rest along their limb.
SEGMENT_PARENTS: dict[str, str] = {
    "hip": "shoulder", "shoulder": "hip", "knee": "hip", "ankle": "knee", "elbow": "shoulder",
    "wrist": "elbow", "big_toe": "ankle", "small_toe": "ankle", "heel": "ankle",
}  # fmt: skip


#: Keypoint name part -> its parent's in the tree the detector's depth errors add up along
#: (``corruption.depth_noise``): from the hips out to the hands and feet; the face's
#: points have none.
DEPTH_PARENTS: dict[str, str] = {
    "shoulder": "hip", "elbow": "shoulder", "wrist": "elbow", "knee": "hip", "ankle": "knee",
    "big_toe": "ankle", "small_toe": "ankle", "heel": "ankle",
}  # fmt: skip


def segment_parents(names: Sequence[str], table: dict[str, str] = SEGMENT_PARENTS) -> list[int]:
    r"""Per keypoint, the index of its segment's start in ``names`` (-1: none, e.g. the face),
    by ``table`` (name part -> its start's, same side).

    Example:
        >>> segment_parents(["nose", "left_hip", "left_knee", "left_shoulder"])
        [-1, 3, 1, 1]
        >>> segment_parents(["nose", "left_hip", "left_knee", "left_shoulder"], DEPTH_PARENTS)
        [-1, -1, 1, 1]
    """
    index = {name: k for k, name in enumerate(names)}
    parents = []
    for name in names:
        side, _, part = name.partition("_")
        parent = f"{side}_{table[part]}" if part in table else None
        parents.append(index.get(parent, -1) if parent else -1)
    return parents


@dataclass(frozen=True)
class SyntheticConfig:
    """Synthetic keypoint data."""

    evidence_sets: tuple[str, ...] = ("coco", "feet")  #: keypoint sets given as evidence
    betas_std: float = 1.0
    num_betas: int = 10
    camera: CameraConfig = field(default_factory=CameraConfig)
    corruption: CorruptionConfig = field(default_factory=CorruptionConfig)
    poses: PoseSamplerConfig = field(default_factory=PoseSamplerConfig)


@dataclass(frozen=True)
class SyntheticBatch:
    r"""A batch of synthetic examples; B examples, K evidence keypoints, J joints.

    Attributes:
        rotmats: ``(B, J, 3, 3)`` local rotations, joint 0 in the camera frame.
        betas: ``(B, S)``.
        translation: ``(B, 3)`` body translation in the camera frame, metres.
        focal_length: ``(B,)`` px; the principal point is the image centre.
        image_size: ``(B, 2)`` (W, H) px.
        keypoints_2d: ``(B, K, 3)`` corrupted detections: image px and confidence.
        clean_2d: ``(B, K, 3)`` true projections and visibility (1 inside the image).
        box_center: ``(B, 2)`` px; box_size: ``(B,)`` px (square person box).
        evidence: ``(B, K, 3)`` ``keypoints_2d`` in normalised box coordinates
            (``(x - center) / size``, the box spans ``[-0.5, 0.5]``) and confidence; ``(B, K, 4)``
            with a relative depth (NaN: none) when ``corruption.depth_probability`` > 0.
        target_2d: ``(B, K, 3)`` ``clean_2d`` in normalised box coordinates.
        joints_3d: ``(B, J, 3)`` camera frame, metres.
        keypoints_3d: ``(B, K, 3)`` camera frame, metres.
    """

    rotmats: Tensor
    betas: Tensor
    translation: Tensor
    focal_length: Tensor
    image_size: Tensor
    keypoints_2d: Tensor
    clean_2d: Tensor
    box_center: Tensor
    box_size: Tensor
    evidence: Tensor
    target_2d: Tensor
    joints_3d: Tensor
    keypoints_3d: Tensor

    def __len__(self) -> int:
        return self.rotmats.shape[0]

    def __getitem__(self, index: int | slice | Tensor) -> SyntheticBatch:
        return SyntheticBatch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def to(self, device: torch.device | str) -> SyntheticBatch:
        return SyntheticBatch(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    @staticmethod
    def concatenate(batches: list[SyntheticBatch]) -> SyntheticBatch:
        return SyntheticBatch(
            **{f.name: torch.cat([getattr(b, f.name) for b in batches]) for f in fields(SyntheticBatch)}
        )


def _uniform(n: int, bounds: tuple[float, float], generator: torch.Generator) -> Tensor:
    low, high = bounds
    return low + (high - low) * torch.rand(n, generator=generator, device=generator.device)


def camera_from_world(elevation: Tensor) -> Tensor:
    r"""World (Y up) -> camera (y down, +Z forward) rotations ``(B, 3, 3)``.

    The camera looks along world ``-Z`` (at the front of a body facing ``+Z``), pitched
    down by ``elevation`` radians ``(B,)``.
    """
    c, s = elevation.cos(), elevation.sin()
    zero, one = torch.zeros_like(c), torch.ones_like(c)
    # Rows are the camera axes in world coordinates: x right, y down, z forward.
    x_axis = torch.stack([one, zero, zero], -1)
    y_axis = torch.stack([zero, -c, s], -1)
    z_axis = torch.stack([zero, -s, -c], -1)
    return torch.stack([x_axis, y_axis, z_axis], dim=-2)


class SyntheticKeypoints:
    r"""Generator of :class:`SyntheticBatch` es on the fly.

    Arguments:
        body: The body model; it must hold the ``evidence_sets`` keypoint sets.
        poses: Real poses ``(F, J, 3, 3)`` for the pose sampler to mix (or None).
        config: :class:`SyntheticConfig`.

    Examples are made on the device of the generator given to :meth:`sample`; the body
    model must be there too (:meth:`on` gives a generator on another device).
    """

    def __init__(self, body: BodyModel, poses: Tensor | None, config: SyntheticConfig | None = None):
        self.config = config or SyntheticConfig()
        missing = [name for name in self.config.evidence_sets if name not in body.keypoint_sets]
        if missing:
            raise ValueError(
                f"body model {body.name!r} has no keypoint set(s) {missing}; "
                f"it has {sorted(body.keypoint_sets)}"
            )
        self.body = body
        self.sampler = PoseSampler(poses, config=self.config.poses)
        self.names = tuple(
            name for set_name in self.config.evidence_sets for name in body.keypoint_sets[set_name].names
        )
        self.flip_order = flip_permutation(self.names)
        #: ``(K,)`` CPU: each keypoint's segment start (-1: none), for ``corruption.segment_noise``.
        self.segment_starts = torch.tensor(segment_parents(self.names), device="cpu")
        #: ``(K, K)`` CPU: 1 where column j is row k's keypoint or one of its ancestors in
        #: :data:`DEPTH_PARENTS` (the depth errors that add up at k).
        self.depth_chains = _chains(segment_parents(self.names, DEPTH_PARENTS))
        self.swap_pairs = [(i, j) for i, j in enumerate(self.flip_order) if i < j]
        index = {name: k for k, name in enumerate(self.names)}
        #: Indices of the (left, right) hips and shoulders in the evidence (-1: absent).
        self._torso_points = tuple([index.get(f"{side}_{part}", -1) for side in ("left", "right")]
                                   for part in ("hip", "shoulder"))  # fmt: skip
        unknown = [name for name in self.config.corruption.missing if name not in self.names]
        if unknown:
            raise ValueError(f"corruption.missing names {unknown}, not evidence keypoints; they are {list(self.names)}")
        #: ``(K,)`` bool, CPU: the keypoints ``corruption.missing`` always drops.
        self.never_given = torch.tensor([name in self.config.corruption.missing for name in self.names], device="cpu")
        # Keypoint indices of each side's arm and leg, for whole-limb occlusion.
        limbs = [
            [i for i, n in enumerate(self.names) if n.startswith(side) and any(p in n for p in part)]
            for side in ("left_", "right_")
            for part in (("shoulder", "elbow", "wrist"), ("knee", "ankle", "toe", "heel"))
        ]
        self.limbs = [limb for limb in limbs if limb]
        #: ``(L, K)`` bool, CPU: the keypoints of each limb (moved where the batch is made).
        self.limb_members = torch.zeros(len(self.limbs), len(self.names), dtype=torch.bool, device="cpu")
        for index, limb in enumerate(self.limbs):
            self.limb_members[index, limb] = True

    def on(self, device: torch.device | str) -> SyntheticKeypoints:
        """This generator with its body model and real poses on ``device``.

        ``self`` when they are there already, else a copy (the body model, often the
        trained model's own, is not moved).
        """
        device = torch.empty(0, device=device).device
        if self.body.template.device == device:
            return self
        other = copy.copy(self)
        other.body = copy.deepcopy(self.body).to(device)
        poses = self.sampler.real_poses
        other.sampler = replace(self.sampler, real_poses=None if poses is None else poses.to(device))
        return other

    @torch.no_grad()
    def sample(self, batch_size: int, generator: torch.Generator) -> SyntheticBatch:
        """Draw ``batch_size`` examples (float32, on the generator's device)."""
        cfg = self.config
        B, device = batch_size, generator.device
        body_device = self.body.template.device
        if body_device != device:
            raise ValueError(
                f"the generator is on {device} but the body model on {body_device}: "
                "make them on one device (SyntheticKeypoints.on)"
            )
        rotmats = self.sampler.sample(B, generator)
        betas = torch.randn(B, cfg.num_betas, generator=generator, device=device) * cfg.betas_std
        cam = cfg.camera
        elevation = torch.deg2rad(_uniform(B, cam.elevation_deg, generator))
        view = camera_from_world(elevation)
        if cam.roll_deg != (0.0, 0.0):  # drawn only when asked: the default sets keep their stream
            view = angle_to_rotmat(torch.deg2rad(_uniform(B, cam.roll_deg, generator)), "z") @ view
        rotmats = torch.cat([(view @ rotmats[:, 0])[:, None], rotmats[:, 1:]], 1)
        out = self.body(rotmats, betas, keypoints=cfg.evidence_sets, vertices=False)
        keypoints_3d = torch.cat([out.keypoints[name] for name in cfg.evidence_sets], dim=1)

        focal = _uniform(B, cam.focal_length, generator)
        depth = _uniform(B, cam.distance, generator)
        size = torch.tensor(cam.image_size, dtype=torch.float32, device=device)
        # Pelvis image position: spread around the centre, back-projected at its depth.
        offset = (torch.rand(B, 2, generator=generator, device=device) - 0.5) * cam.center_spread * size
        pelvis = torch.cat([offset * depth[:, None] / focal[:, None], depth[:, None]], dim=-1)
        translation = pelvis - out.joints[:, 0]
        joints_3d = out.joints + translation[:, None]
        keypoints_3d = keypoints_3d + translation[:, None]

        center = (size / 2).expand(B, 2)
        clean = perspective_projection(keypoints_3d, None, focal[:, None].expand(B, 2), center)
        inside = ((clean >= 0) & (clean <= size)).all(-1) & (keypoints_3d[..., 2] > 0.1)
        clean_2d = torch.cat([clean, inside[..., None].float()], dim=-1)
        keypoints_2d, box_center, box_size, source = self._corrupt(clean_2d, generator)
        evidence = normalize_keypoints(keypoints_2d, box_center, box_size)
        if cfg.corruption.depth_probability > 0:  # drawn only when asked: the default sets keep their stream
            relative = (keypoints_3d[..., 2] - pelvis[:, 2:]) * (focal / depth / box_size)[:, None]
            evidence = torch.cat([evidence, self._depth_hints(relative.gather(1, source), generator)[..., None]], -1)
        return SyntheticBatch(
            rotmats=rotmats,
            betas=betas,
            translation=translation,
            focal_length=focal,
            image_size=size.expand(B, 2).clone(),
            keypoints_2d=keypoints_2d,
            clean_2d=clean_2d,
            box_center=box_center,
            box_size=box_size,
            evidence=evidence,
            target_2d=normalize_keypoints(clean_2d, box_center, box_size),
            joints_3d=joints_3d,
            keypoints_3d=keypoints_3d,
        )

    def _corrupt(self, clean_2d: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        r"""Detections ``(B, K, 3)`` px and confidence of the true projections ``clean_2d``, their
        boxes' centres ``(B, 2)`` and sides ``(B,)``, and ``(B, K)`` the body keypoint each
        detection's label came from (swaps and mirrors exchange them)."""
        cfg = self.config.corruption
        B, K, _ = clean_2d.shape
        device = clean_2d.device
        source = torch.arange(K, device=device).expand(B, K)
        visible = clean_2d[..., 2] > 0
        center, extent = keypoint_box(clean_2d[..., :2], visible)
        jitter = _uniform(B, cfg.jitter, generator)[:, None, None] * extent[:, None, None]
        xy = self._detector_placement(clean_2d[..., :2])
        xy = xy + torch.randn(B, K, 2, generator=generator, device=device) * jitter
        if cfg.segment_noise != (0.0, 0.0):  # drawn only when asked: the default sets keep their stream
            xy = xy + self._segment_shift(clean_2d[..., :2], generator)
        if self.swap_pairs:  # left/right swap of one random pair
            pairs = torch.tensor(self.swap_pairs, device=device)
            pick = pairs[torch.randint(len(pairs), (B,), generator=generator, device=device)]
            swap = torch.rand(B, generator=generator, device=device) < cfg.swap_probability
            order = _swap_order(pick, swap, K)
            xy, source = xy.gather(1, order[..., None].expand(B, K, 2)), source.gather(1, order)
        if cfg.mirror_probability > 0:  # drawn only when asked: the default sets keep their stream
            mirror = torch.rand(B, generator=generator, device=device) < cfg.mirror_probability
            flip = torch.tensor(self.flip_order, device=device)
            xy = torch.where(mirror[:, None, None], xy[:, flip], xy)
            visible = torch.where(mirror[:, None], visible[:, flip], visible)
            source = torch.where(mirror[:, None], source[:, flip], source)
        if cfg.other_person_probability > 0 and self.limbs:  # drawn only when asked: the default sets keep their stream
            xy = self._other_person_limb(xy, visible, generator)
        outlier = None
        if cfg.outlier_probability > 0:  # drawn only when asked: the default sets keep their stream
            xy, outlier = self._outliers(xy, extent, generator)
        draw = torch.rand(B, K, generator=generator, device=device)  # before the rates: the sets' stream
        drop = draw < _uniform(B, cfg.drop_probability, generator)[:, None]
        drop |= self._part_occlusion(B, generator)
        if cfg.missing:
            drop |= self.never_given.to(device)
        keep = visible & ~drop
        confidence = _uniform(B * K, cfg.confidence, generator).view(B, K)
        if outlier is not None:
            confidence = torch.where(outlier, _uniform(B * K, cfg.outlier_confidence, generator).view(B, K), confidence)
        confidence = confidence * keep
        keypoints_2d = torch.cat([xy * keep[..., None], confidence[..., None]], dim=-1)
        # Fewer than two kept points make no box: such an example (no detector would report
        # it) is boxed around its visible points, else around all of them, so that its 2D
        # targets stay on the scale of the others (a 1-pixel box made them hundreds).
        few = (keep.sum(-1) < 2)[:, None]
        around = torch.where((visible.sum(-1) >= 2)[:, None], visible, torch.ones_like(visible))
        boxed = torch.where(few[..., None], clean_2d[..., :2], xy)
        center, extent = keypoint_box(boxed, torch.where(few, around, keep))
        return keypoints_2d, center, extent * cfg.box_scale, source

    def _depth_hints(self, relative: Tensor, generator: torch.Generator) -> Tensor:
        r"""``(B, K)`` a detector's relative depths from the true ones ``relative`` ``(B, K)``
        (box sides; :class:`CorruptionConfig`'s ``depth_*``), NaN for the examples without."""
        cfg = self.config.corruption
        B, K = relative.shape
        own = torch.randn(B, K, generator=generator, device=relative.device)
        own = own * _uniform(B, cfg.depth_noise, generator)[:, None]
        noise = own @ self.depth_chains.to(own).T  # each keypoint's own error plus its ancestors'
        scaled = (relative + noise) * _uniform(B, cfg.depth_scale, generator)[:, None]
        given = torch.rand(B, generator=generator, device=relative.device) < cfg.depth_probability
        return torch.where(given[:, None], scaled, torch.full_like(scaled, float("nan")))

    def _detector_placement(self, points: Tensor) -> Tensor:
        r"""``points`` ``(B, K, 2)`` moved where the detector puts them
        (``detector_shift``, ``detector_hip_width``); ``points`` itself when neither is set."""
        cfg = self.config.corruption
        if not cfg.detector_shift and cfg.detector_hip_width == 1.0:
            return points
        hips, shoulders = self._torso_points
        if min(hips + shoulders) < 0:
            raise ValueError("detector_shift and detector_hip_width need both hips and shoulders in the evidence")
        up = points[:, shoulders].mean(1, keepdim=True) - points[:, hips].mean(1, keepdim=True)  # (B, 1, 2)
        torso = up.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        along = torch.tensor([cfg.detector_shift.get(name.partition("_")[2], 0.0) for name in self.names],
                             dtype=points.dtype, device=points.device)  # fmt: skip
        segment = self._segments(points)  # zero where a point has no segment: it stays
        # Hips and shoulders move along the torso's axis (hips' segment: down it; shoulders': up).
        segment[:, hips], segment[:, shoulders] = -up.expand(-1, 2, -1), up.expand(-1, 2, -1)
        unit = segment / segment.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        moved = points + unit * along[None, :, None] * torso
        if cfg.detector_hip_width != 1.0:
            mid = moved[:, hips].mean(1, keepdim=True)
            moved[:, hips] = mid + cfg.detector_hip_width * (moved[:, hips] - mid)
        return moved

    def _outliers(self, xy: Tensor, extent: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        r"""``xy`` ``(B, K, 2)`` with outliers moved (:class:`CorruptionConfig`), and the
        outliers ``(B, K)`` bool; ``extent`` ``(B,)`` the visible points' extents (``jitter``'s unit)."""
        cfg = self.config.corruption
        B, K, _ = xy.shape
        outlier = torch.rand(B, K, generator=generator, device=xy.device) < cfg.outlier_probability
        angle = 2 * torch.pi * torch.rand(B, K, generator=generator, device=xy.device)
        reach = _uniform(B * K, cfg.outlier_reach, generator).view(B, K) * extent[:, None]
        step = torch.stack([angle.cos(), angle.sin()], dim=-1) * reach[..., None]
        return torch.where(outlier[..., None], xy + step, xy), outlier

    def _segments(self, points: Tensor) -> Tensor:
        r"""``(B, K, 2)`` each point of ``points`` ``(B, K, 2)`` minus its segment's start
        (:data:`SEGMENT_PARENTS`); zero for points without one."""
        parents = self.segment_starts.to(points.device)
        return (points - points[:, parents.clamp_min(0)]) * (parents >= 0)[None, :, None]

    def _segment_shift(self, points: Tensor, generator: torch.Generator) -> Tensor:
        r"""``(B, K, 2)`` shifts of ``points`` ``(B, K, 2)`` along their segments (:class:`CorruptionConfig`)."""
        B, K, _ = points.shape
        scale = _uniform(B, self.config.corruption.segment_noise, generator)[:, None, None]
        return self._segments(points) * torch.randn(B, K, 1, generator=generator, device=points.device) * scale

    def _other_person_limb(self, xy: Tensor, visible: Tensor, generator: torch.Generator) -> Tensor:
        r"""``xy`` ``(B, K, 2)`` with, by chance (:class:`CorruptionConfig`), one limb's points
        replaced by the same limb of the next example in the batch, scaled to this example's
        box and shifted by up to half of it (a neighbour the detector mixed in)."""
        B, K, _ = xy.shape
        device = xy.device
        centre, extent = keypoint_box(xy, visible)
        other_xy, other_centre, other_extent = xy.roll(1, 0), centre.roll(1, 0), extent.roll(1, 0)
        moved = (other_xy - other_centre[:, None]) * (extent / other_extent.clamp_min(1e-6))[:, None, None]
        shift = (torch.rand(B, 2, generator=generator, device=device) - 0.5) * extent[:, None]
        moved = moved + (centre + shift)[:, None]
        mixed = torch.rand(B, generator=generator, device=device) < self.config.corruption.other_person_probability
        choice = torch.randint(len(self.limbs), (B,), generator=generator, device=device)
        members = mixed[:, None] & self.limb_members.to(device)[choice] & visible.roll(1, 0)
        return torch.where(members[..., None], moved, xy)

    def _part_occlusion(self, B: int, generator: torch.Generator) -> Tensor:
        """``(B, K)`` bool: every keypoint of one limb (one side's arm or leg) occluded."""
        device = generator.device
        if not self.limbs:
            return torch.zeros(B, len(self.names), dtype=torch.bool, device=device)
        occlude = torch.rand(B, generator=generator, device=device) < self.config.corruption.part_drop_probability
        choice = torch.randint(len(self.limbs), (B,), generator=generator, device=device)
        return occlude[:, None] & self.limb_members.to(device)[choice]


def _chains(parents: list[int]) -> Tensor:
    r"""``(K, K)`` float: row k has 1 at k and at every ancestor of k in the tree ``parents``
    (``(K,)``, -1: a root).

    Example:
        >>> _chains([-1, 0, 1, -1]).tolist()
        [[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    """
    out = torch.eye(len(parents))
    for k in range(len(parents)):
        j = parents[k]
        while j >= 0:
            out[k, j] = 1.0
            j = parents[j]
    return out


def _swap_order(pick: Tensor, swap: Tensor, K: int) -> Tensor:
    r"""``(B, K)`` keypoint order exchanging the pair ``pick`` ``(B, 2)`` where ``swap`` ``(B,)``."""
    order = torch.arange(K, device=pick.device).expand(len(pick), K).clone()
    i, j = pick[:, :1], pick[:, 1:]
    order.scatter_(1, i, torch.where(swap[:, None], j, i))
    return order.scatter_(1, j, torch.where(swap[:, None], i, j))


def make_evaluation_set(
    generator: SyntheticKeypoints, size: int, seed: int, chunk: int = 1024
) -> SyntheticBatch:
    """A fixed set: the same ``seed`` and configuration always give the identical set (on the CPU)."""
    generator = generator.on("cpu")
    rng = torch.Generator().manual_seed(seed)
    parts = [generator.sample(min(chunk, size - start), rng) for start in range(0, size, chunk)]
    return SyntheticBatch.concatenate(parts)
