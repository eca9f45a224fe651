r"""A pose sampler on the SMPL 24-joint tree: real frames, the joint limits, pose families.

Poses from real frames (limbs mixed between frames, mirrored, perturbed) and from the
limits alone (:mod:`hmrflow.data.joint_limits`), with a random global orientation;
optionally a share of poses from the coordinated pose families of
:mod:`hmrflow.data.pose_families`. The limits bound what is generated; with
``clamp_real=False`` real frames are kept as they are, except the joints named in
``clamp_real_joints`` (e.g. :data:`UNRELIABLE_REAL_JOINTS`: wrists, hands, ankles, toes
and the spine chain, whose retargeting leaves offsets); ``candidates > 1`` redraws the non-family poses that
interpenetrate themselves.

Example:
    >>> import torch
    >>> from hmrflow.data.joint_limits import plausibility
    >>> sampler = PoseSampler(None)
    >>> poses = sampler.sample(8, torch.Generator().manual_seed(0))
    >>> poses.shape, bool(plausibility(poses).all())
    (torch.Size([8, 24, 3, 3]), True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import roma
import torch
from torch import Tensor

from hmrflow.body.joints import NUM_JOINTS, SMPL_JOINT_NAMES, mirror_poses
from hmrflow.config import bounded, check_bounds
from hmrflow.data.joint_limits import JointLimits, clamp_to_limits, joint_limits, sample_within_limits
from hmrflow.data.pose_families import sample_families
from hmrflow.data.pose_sources import RealMotion
from hmrflow.data.self_contact import self_intersections
from hmrflow.errors import ConfigError

__all__ = ["LIMB_GROUPS", "UNRELIABLE_REAL_JOINTS", "PoseSampler", "PoseSamplerConfig", "mix_limbs", "random_global_orientation"]

#: Joint groups exchanged between frames when mixing limbs.
LIMB_GROUPS: dict[str, tuple[int, ...]] = {
    "left_leg": (1, 4, 7, 10),
    "right_leg": (2, 5, 8, 11),
    "torso": (3, 6, 9),
    "head": (12, 15),
    "left_arm": (13, 16, 18, 20, 22),
    "right_arm": (14, 17, 19, 21, 23),
}


#: Joints of real frames whose retargeting is unreliable (for ``clamp_real_joints``). The
#: wrist/hand and ankle/toe twist is not recoverable from bone directions, and in the
#: shipped CMU trial the left wrist keeps a constant radial deviation of about 30 degrees
#: (95 % of its frames outside the "rom" wrist range, the right wrist none) and the toes
#: sit at the edge of their slack. The spine and head copy the source's change since its
#: rest pose, so the two spines' different rest curvature stays as an offset: spine3 sits
#: about 7 degrees extended in every frame (34 % of the frames beyond its 6 degrees).
#: Hips, knees, collars, shoulders and elbows are matched along real bones and kept.
UNRELIABLE_REAL_JOINTS: tuple[str, ...] = (
    "left_ankle", "right_ankle", "left_foot", "right_foot",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
    "spine1", "spine2", "spine3", "neck", "head",
)  # fmt: skip


def mix_limbs(
    poses: Tensor, n: int, generator: torch.Generator, mix_probability: float = 0.5
) -> Tensor:
    r"""New poses from real frames: each limb group from another random frame at a rate.

    Arguments:
        poses: Real local rotations, shape ``(F, J, 3, 3)``.
        n: Number of poses to make.
        generator: Random source.
        mix_probability: Chance per group (:data:`LIMB_GROUPS`) of coming from another frame.

    Returns:
        Local rotations, shape ``(n, J, 3, 3)``; joint 0 from the base frame.
    """
    F = poses.shape[0]
    base = torch.randint(F, (n,), generator=generator, device=poses.device)
    frame = base[:, None].repeat(1, NUM_JOINTS)
    for joints in LIMB_GROUPS.values():
        other = torch.randint(F, (n,), generator=generator, device=poses.device)
        swap = torch.rand(n, generator=generator, device=poses.device) < mix_probability
        frame[:, list(joints)] = torch.where(swap, other, base)[:, None]
    return poses[frame, torch.arange(NUM_JOINTS, device=poses.device)]


def random_global_orientation(
    n: int,
    generator: torch.Generator,
    tilt_deg: float = 10.0,
    uniform_fraction: float = 0.0,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    r"""Global orientations ``(n, 3, 3)``: a uniform turn about Y (up) times a small tilt.

    The tilt is a rotation about a random horizontal axis by ``|N(0, tilt_deg)|``; a
    fraction ``uniform_fraction`` of the orientations is uniform over all rotations
    (lying, upside down).
    """
    like = {"generator": generator, "dtype": dtype, "device": generator.device}
    yaw = (2.0 * torch.rand(n, **like) - 1.0) * math.pi
    heading = 2.0 * math.pi * torch.rand(n, **like)
    tilt = torch.randn(n, **like) * math.radians(tilt_deg)
    zeros = torch.zeros_like(yaw)
    R = roma.rotvec_to_rotmat(torch.stack([zeros, yaw, zeros], -1)) @ roma.rotvec_to_rotmat(
        torch.stack([heading.cos() * tilt, zeros, heading.sin() * tilt], -1)
    )
    uniform = roma.random_rotmat(n, dtype=dtype, device=generator.device, generator=generator)
    pick = torch.rand(n, **like) < uniform_fraction
    return torch.where(pick[:, None, None], uniform, R)


@dataclass
class PoseSamplerConfig:
    r"""Settings of :class:`PoseSampler`.

    The defaults give the v1 sampler, bit for bit; the fields from ``limits`` on are
    options that change it.

    Attributes:
        real_motion: The shipped real motion the caller gives the sampler as its real
            frames (:func:`~hmrflow.data.pose_sources.load_real_motion`): ``"cmu"`` (one CMU
            trial, 688 frames), ``"deepmimic"`` (DeepMimic's 15 humanoid clips, 969 frames).
        real_fraction: Share of samples built from real frames (when real poses are given).
        mix_probability: Per limb group, chance of coming from another real frame.
        mirror_probability: Chance of mirroring a real-based sample left-right.
        noise_deg: Standard deviation of a random rotation added to each body joint of
            real-based samples (degrees, per rotation-vector component).
        concentration: Radius exponent of :func:`sample_within_limits`.
        tilt_deg: Global orientation tilt (see :func:`random_global_orientation`).
        uniform_orientation_fraction: Share of fully random global orientations.
        limits: Joint limits of the random joints (and of the projection of real frames):
            ``"v1"`` or ``"rom"`` (:func:`joint_limits`).
        clamp_real: Project real-based samples into the limits (v1). False keeps real
            poses as they are: the limits bound what is generated, not the data.
        clamp_real_joints: With ``clamp_real`` False, joints (names of
            :data:`~hmrflow.body.joints.SMPL_JOINT_NAMES`) of real-based samples projected
            into the limits all the same, e.g. :data:`UNRELIABLE_REAL_JOINTS`.
        candidates: Draws per non-family pose; the first free of self-intersection
            (:func:`~hmrflow.data.self_contact.self_intersections`) is kept, else the last.
            1: no test and no extra random draws.
        family_fraction: Share of samples from the pose families
            (:mod:`hmrflow.data.pose_families`; 0: none, and no extra random draws).
        families: Family (or family group) -> weight; empty: every family, equally.
        family_mix_probability: Chance that a family pose takes its arms and trunk side
            bend and twist from another family draw (``mix_probability`` of
            :func:`~hmrflow.data.pose_families.sample_families`).
        limit_margin_deg: Generated poses, and the joints projected into the limits, stay
            this far inside them (:meth:`~hmrflow.data.joint_limits.JointLimits.narrowed`):
            projection piles poses up on the limits' edges, and a flow trained on them
            spills its samples over. 0: on the limits.
        contact_tolerance: Capsule penetration (metres) a kept pose may have, in the
            candidates' test and the families' (``tolerance`` of
            :func:`~hmrflow.data.self_contact.self_intersections`, whose default, 0.03, is
            also what the evaluation's plausibility allows): below it, the poses keep clear
            of that threshold as the margin keeps them off the limits.
    """

    real_motion: tuple[RealMotion, ...] = ("cmu",)
    real_fraction: float = 0.8
    mix_probability: float = 0.3
    mirror_probability: float = 0.5
    noise_deg: float = 4.0
    concentration: float = 1.5
    tilt_deg: float = 10.0
    uniform_orientation_fraction: float = 0.0
    limits: Literal["v1", "rom"] = "v1"
    clamp_real: bool = True
    clamp_real_joints: tuple[str, ...] = ()
    candidates: int = bounded(1, minimum=1)
    family_fraction: float = 0.0
    families: dict[str, float] = field(default_factory=dict)
    family_mix_probability: float = 0.0
    limit_margin_deg: float = bounded(0.0, minimum=0)
    contact_tolerance: float = bounded(0.03, minimum=0)


@dataclass
class PoseSampler:
    r"""Plausible random body poses on the SMPL tree.

    Arguments:
        real_poses: Real local rotations ``(F, J, 3, 3)`` (e.g. a retargeted CMU trial),
            or ``None`` to sample from the limits alone.
        limits: Joint limits; None: those named by ``config.limits``.
        config: :class:`PoseSamplerConfig`.

    Generated joints lie within ``limits``; real-based samples are projected into them
    unless ``config.clamp_real`` is False. Family poses (``config.family_fraction``) lie
    within the "rom" limits and are free of self-intersection.
    """

    real_poses: Tensor | None
    limits: JointLimits | None = None
    config: PoseSamplerConfig = field(default_factory=PoseSamplerConfig)

    def __post_init__(self) -> None:
        check_bounds(self.config)
        if self.limits is None:
            self.limits = joint_limits(self.config.limits)
        self.limits = self.limits.narrowed(self.config.limit_margin_deg)
        unknown = [name for name in self.config.clamp_real_joints if name not in SMPL_JOINT_NAMES]
        if unknown:
            raise ConfigError(f"clamp_real_joints: no joint named {', '.join(map(repr, unknown))}")

    def _clamp_real(self, real: Tensor) -> Tensor:
        """Real-based poses ``(n, J, 3, 3)`` projected into the limits as configured."""
        cfg = self.config
        if cfg.clamp_real:
            return clamp_to_limits(real, self.limits)
        if not cfg.clamp_real_joints:
            return real
        joints = [SMPL_JOINT_NAMES.index(name) for name in cfg.clamp_real_joints]
        clamped = real.clone()
        clamped[:, joints] = clamp_to_limits(real, self.limits)[:, joints]
        return clamped

    def _draw(self, n: int, generator: torch.Generator, dtype: torch.dtype) -> Tensor:
        """One draw of real-based and limit-based poses ``(n, J, 3, 3)``, joint 0 the identity."""
        cfg = self.config
        like = {"generator": generator, "dtype": dtype, "device": generator.device}
        poses = sample_within_limits(n, generator, self.limits, cfg.concentration, dtype)
        if self.real_poses is not None and len(self.real_poses) > 0:
            real = self.real_poses.to(dtype=dtype, device=generator.device)
            real = mix_limbs(real, n, generator, cfg.mix_probability)
            mirror = torch.rand(n, **like) < cfg.mirror_probability
            real = torch.where(mirror[:, None, None, None], mirror_poses(real), real)
            noise = torch.randn(n, NUM_JOINTS, 3, **like) * math.radians(cfg.noise_deg)
            real = self._clamp_real(real @ roma.rotvec_to_rotmat(noise))
            use_real = torch.rand(n, **like) < cfg.real_fraction
            poses = torch.where(use_real[:, None, None, None], real, poses)
        return poses

    def sample(self, n: int, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> Tensor:
        r"""Draw ``n`` poses: local rotations ``(n, J, 3, 3)``, joint 0 a random global orientation."""
        cfg = self.config
        like = {"generator": generator, "dtype": dtype, "device": generator.device}
        poses = self._draw(n, generator, dtype)
        for _ in range(cfg.candidates - 1):  # a fixed number of rounds: no device sync
            hit = self_intersections(poses, tolerance=cfg.contact_tolerance)
            poses = torch.where(hit[:, None, None, None], self._draw(n, generator, dtype), poses)
        orientation = random_global_orientation(n, generator, cfg.tilt_deg, cfg.uniform_orientation_fraction, dtype)
        poses = torch.cat([orientation[:, None], poses[:, 1:]], dim=1)
        if cfg.family_fraction > 0:
            family = sample_families(
                n,
                generator,
                cfg.families or None,
                dtype=dtype,
                mix_probability=cfg.family_mix_probability,
                margin_deg=cfg.limit_margin_deg,
                tolerance=cfg.contact_tolerance,
            ).rotmats
            use_family = torch.rand(n, **like) < cfg.family_fraction
            poses = torch.where(use_family[:, None, None, None], family, poses)
        return poses
