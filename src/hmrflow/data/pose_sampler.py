r"""Anatomical joint limits and a pose sampler on the SMPL 24-joint tree.

Limits: each body joint's local rotation (joint 0, the global orientation, is free) is
split into a **twist** about the joint's bone axis (a coordinate axis of the parent's
frame at rest: Y for legs and spine, X for the arms, Z for feet and toes) and a **swing**
(a rotation vector perpendicular to that axis). The table gives, per joint and per
rotation-vector component (x, y, z), a range in degrees: the twist component's range is
an interval; the two swing components bound an ellipse made of four quarter-ellipses
(one semi-axis per sign), so that e.g. hip flexion and extension may differ.
Signs, in SMPL's frame (Y up, facing +Z, +X left): hip flexion is negative x, knee
flexion positive x, spine flexion positive x, left shoulder elevation positive z,
left elbow flexion negative y. Right joints mirror left ones (y and z ranges negated).

Sampler: poses from real frames (limbs mixed between frames, mirrored, perturbed) and
from the limits alone, projected into the limits, with a random global orientation.

Example:
    >>> import torch
    >>> sampler = PoseSampler(None)
    >>> poses = sampler.sample(8, torch.Generator().manual_seed(0))
    >>> poses.shape, bool(plausibility(poses).all())
    (torch.Size([8, 24, 3, 3]), True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import roma
import torch
from torch import Tensor

from hmrflow.body.joints import NUM_JOINTS, SMPL_JOINT_NAMES, mirror_index

__all__ = [
    "LIMB_GROUPS",
    "SMPL_JOINT_LIMITS_DEG",
    "JointLimits",
    "PoseSampler",
    "PoseSamplerConfig",
    "SwingTwist",
    "clamp_to_limits",
    "limit_excess",
    "mirror_poses",
    "mix_limbs",
    "plausibility",
    "random_global_orientation",
    "sample_within_limits",
    "swing_twist",
]

Range = tuple[float, float]

#: Joint -> (twist axis 0/1/2 = x/y/z, x range, y range, z range), degrees, rotation-vector
#: components in the parent's frame. Left joints and the centre; right joints mirror.
SMPL_JOINT_LIMITS_DEG: dict[str, tuple[int, Range, Range, Range]] = {
    "left_hip": (1, (-140.0, 45.0), (-60.0, 60.0), (-40.0, 80.0)),
    "spine1": (1, (-35.0, 60.0), (-40.0, 40.0), (-35.0, 35.0)),
    "left_knee": (1, (-15.0, 160.0), (-40.0, 40.0), (-20.0, 20.0)),
    "spine2": (1, (-35.0, 50.0), (-40.0, 40.0), (-35.0, 35.0)),
    "left_ankle": (2, (-55.0, 65.0), (-50.0, 50.0), (-40.0, 40.0)),
    "spine3": (1, (-35.0, 50.0), (-40.0, 40.0), (-35.0, 35.0)),
    "left_foot": (2, (-60.0, 45.0), (-25.0, 25.0), (-25.0, 25.0)),
    "neck": (1, (-55.0, 65.0), (-60.0, 60.0), (-45.0, 45.0)),
    "left_collar": (0, (-30.0, 30.0), (-35.0, 35.0), (-25.0, 45.0)),
    "head": (1, (-55.0, 55.0), (-75.0, 75.0), (-45.0, 45.0)),
    "left_shoulder": (0, (-100.0, 100.0), (-140.0, 90.0), (-110.0, 110.0)),
    "left_elbow": (0, (-90.0, 90.0), (-160.0, 15.0), (-30.0, 30.0)),
    "left_wrist": (0, (-60.0, 60.0), (-80.0, 80.0), (-50.0, 50.0)),
    "left_hand": (0, (-30.0, 30.0), (-60.0, 60.0), (-30.0, 30.0)),
}  # fmt: skip

#: Joint groups exchanged between frames when mixing limbs.
LIMB_GROUPS: dict[str, tuple[int, ...]] = {
    "left_leg": (1, 4, 7, 10),
    "right_leg": (2, 5, 8, 11),
    "torso": (3, 6, 9),
    "head": (12, 15),
    "left_arm": (13, 16, 18, 20, 22),
    "right_arm": (14, 17, 19, 21, 23),
}


@dataclass
class JointLimits:
    r"""Per-joint limits in tensor form.

    Attributes:
        twist_axis: Twist axis index (0, 1, 2) of each joint, shape ``(J,)``.
        lower: Lower bound of each rotation-vector component in radians, shape ``(J, 3)``
            (negative for the swing components).
        upper: Upper bounds, shape ``(J, 3)`` (positive for the swing components).
        active: Whether the joint is limited (joint 0 is not), shape ``(J,)``.
    """

    twist_axis: Tensor
    lower: Tensor
    upper: Tensor
    active: Tensor

    @classmethod
    def from_table(cls, table: dict[str, tuple[int, Range, Range, Range]] = SMPL_JOINT_LIMITS_DEG) -> JointLimits:
        r"""Limits from a table like :data:`SMPL_JOINT_LIMITS_DEG` (right side mirrored)."""
        cpu = torch.device("cpu")  # a table: moved where it is used by :meth:`to`
        axis = torch.ones(NUM_JOINTS, dtype=torch.long, device=cpu)
        lower = torch.full((NUM_JOINTS, 3), -math.pi, device=cpu)
        upper = torch.full((NUM_JOINTS, 3), math.pi, device=cpu)
        active = torch.zeros(NUM_JOINTS, dtype=torch.bool, device=cpu)
        for name, (k, *ranges) in table.items():
            mirrored = name.startswith("left_")
            for side, sign in ((name, 1.0), ("right_" + name[5:], -1.0)) if mirrored else ((name, 1.0),):
                j = SMPL_JOINT_NAMES.index(side)
                axis[j], active[j] = k, True
                for c, (lo, hi) in enumerate(ranges):
                    lo, hi = (lo, hi) if c == 0 or sign > 0 else (-hi, -lo)
                    lower[j, c], upper[j, c] = math.radians(lo), math.radians(hi)
        return cls(axis, lower, upper, active)

    def to(self, like: Tensor) -> JointLimits:
        r"""The limits on ``like``'s device, bounds in its dtype."""
        return JointLimits(
            self.twist_axis.to(like.device), self.lower.to(like), self.upper.to(like), self.active.to(like.device)
        )


@dataclass
class SwingTwist:
    r"""Swing-twist split of local rotations ``R = R_swing @ R_twist``.

    Attributes:
        swing: Swing rotation vectors (zero along the twist axis), shape ``(..., J, 3)``.
        twist: Twist angles about the twist axis in ``[-pi, pi]``, shape ``(..., J)``.
    """

    swing: Tensor
    twist: Tensor


def _axes(limits: JointLimits, like: Tensor) -> Tensor:
    return torch.nn.functional.one_hot(limits.twist_axis, 3).to(like)


def swing_twist(rotmats: Tensor, limits: JointLimits) -> SwingTwist:
    r"""Split local rotations ``(..., J, 3, 3)`` into swing and twist about each joint's axis."""
    q = roma.rotmat_to_unitquat(rotmats)  # (..., J, 4), xyzw
    q = torch.where(q[..., 3:] < 0, -q, q)
    axis = _axes(limits, q)
    along = (q[..., :3] * axis).sum(-1)
    twist = 2.0 * torch.atan2(along, q[..., 3])
    norm = torch.sqrt(along.square() + q[..., 3].square())
    ok = norm > 1e-9
    q_twist = torch.cat([axis * along[..., None], q[..., 3:]], dim=-1) / torch.where(ok, norm, 1.0)[..., None]
    q_twist = torch.where(ok[..., None], q_twist, q.new_tensor([0.0, 0.0, 0.0, 1.0]))
    swing = roma.unitquat_to_rotvec(roma.quat_product(q, roma.quat_conjugation(q_twist)))
    return SwingTwist(swing * (1.0 - axis), torch.where(ok, twist, torch.zeros_like(twist)))


def _ellipse_radius(swing: Tensor, limits: JointLimits) -> Tensor:
    """Normalised swing radius (1 on the limit), shape (..., J)."""
    semi = torch.where(swing >= 0, limits.upper, -limits.lower).clamp_min(1e-6)
    return ((swing / semi).square() * (1.0 - _axes(limits, swing))).sum(-1).sqrt()


def limit_excess(rotmats: Tensor, limits: JointLimits | None = None) -> Tensor:
    r"""How far each joint lies outside its limits, in radians (0 inside).

    Arguments:
        rotmats: Local rotations, shape ``(..., J, 3, 3)``.
        limits: Joint limits; default :data:`SMPL_JOINT_LIMITS_DEG`.

    Returns:
        Excess angle per joint, shape ``(..., J)``: the larger of the twist's distance
        to its interval and the swing's distance (along its ray) to the ellipse.
    """
    limits = (limits or JointLimits.from_table()).to(rotmats)
    st = swing_twist(rotmats, limits)
    k = limits.twist_axis
    lo, hi = limits.lower.gather(-1, k[:, None])[:, 0], limits.upper.gather(-1, k[:, None])[:, 0]
    twist_excess = torch.maximum(lo - st.twist, st.twist - hi).clamp_min(0.0)
    rho = _ellipse_radius(st.swing, limits)
    swing_excess = st.swing.norm(dim=-1) * (1.0 - 1.0 / rho.clamp_min(1.0))
    return torch.where(limits.active, torch.maximum(twist_excess, swing_excess), torch.zeros_like(rho))


def plausibility(rotmats: Tensor, limits: JointLimits | None = None, tolerance_deg: float = 2.0) -> Tensor:
    r"""Whether every body joint (1..23) lies within its limits, up to a tolerance.

    Arguments:
        rotmats: Local rotations, shape ``(..., J, 3, 3)``.
        limits: Joint limits; default :data:`SMPL_JOINT_LIMITS_DEG`.
        tolerance_deg: Allowed excess in degrees.

    Returns:
        Boolean tensor, shape ``(...)``.
    """
    return (limit_excess(rotmats, limits) <= math.radians(tolerance_deg)).all(dim=-1)


def _compose(swing: Tensor, twist: Tensor, limits: JointLimits) -> Tensor:
    return roma.rotvec_to_rotmat(swing) @ roma.rotvec_to_rotmat(_axes(limits, swing) * twist[..., None])


def clamp_to_limits(rotmats: Tensor, limits: JointLimits | None = None) -> Tensor:
    r"""Project local rotations ``(..., J, 3, 3)`` into the limits (joint 0 untouched).

    The twist is clipped to its interval and the swing scaled back onto its ellipse.
    """
    limits = (limits or JointLimits.from_table()).to(rotmats)
    st = swing_twist(rotmats, limits)
    k = limits.twist_axis[:, None]
    twist = st.twist.clamp(limits.lower.gather(-1, k)[:, 0], limits.upper.gather(-1, k)[:, 0])
    swing = st.swing / _ellipse_radius(st.swing, limits).clamp_min(1.0)[..., None]
    return torch.where(limits.active[:, None, None], _compose(swing, twist, limits), rotmats)


def sample_within_limits(
    n: int,
    generator: torch.Generator,
    limits: JointLimits | None = None,
    concentration: float = 1.5,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    r"""Random local rotations inside the limits, joint 0 the identity.

    Per joint: a swing direction uniform in angle, its normalised radius ``u**concentration``
    (``u`` uniform; 0.5 is uniform over the ellipse area, larger values favour the rest
    pose), and a twist ``|v|**concentration`` of the way to the bound on ``v``'s side.

    Returns:
        Local rotations, shape ``(n, J, 3, 3)``.
    """
    device = generator.device
    limits = (limits or JointLimits.from_table()).to(torch.empty(0, dtype=dtype, device=device))
    J = NUM_JOINTS
    angle = 2.0 * math.pi * torch.rand(n, J, generator=generator, dtype=dtype, device=device)
    radius = torch.rand(n, J, generator=generator, dtype=dtype, device=device) ** concentration
    v = 2.0 * torch.rand(n, J, generator=generator, dtype=dtype, device=device) - 1.0
    axes = _axes(limits, angle)
    # The two swing components (those that are not the twist axis), in index order.
    order = torch.argsort(axes, dim=-1, stable=True)[:, :2]  # (J, 2)
    unit = torch.zeros(n, J, 3, dtype=dtype, device=device)
    unit.scatter_(-1, order.expand(n, J, 2), torch.stack([angle.cos(), angle.sin()], dim=-1))
    swing = radius[..., None] * unit * torch.where(unit >= 0, limits.upper, -limits.lower) * (1.0 - axes)
    k = limits.twist_axis[:, None]
    bound = torch.where(v >= 0, limits.upper.gather(-1, k)[:, 0], -limits.lower.gather(-1, k)[:, 0])
    twist = v.abs() ** concentration * bound * v.sign()
    R = _compose(swing, twist, limits)
    return torch.where(limits.active[:, None, None], R, torch.eye(3, dtype=dtype, device=device))


def mirror_poses(rotmats: Tensor) -> Tensor:
    r"""Mirror poses ``(..., J, 3, 3)`` left-right (reflect x, swap left and right joints)."""
    M = torch.diag(rotmats.new_tensor([-1.0, 1.0, 1.0]))
    return (M @ rotmats @ M)[..., mirror_index(SMPL_JOINT_NAMES), :, :]


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

    Attributes:
        real_fraction: Share of samples built from real frames (when real poses are given).
        mix_probability: Per limb group, chance of coming from another real frame.
        mirror_probability: Chance of mirroring a real-based sample left-right.
        noise_deg: Standard deviation of a random rotation added to each body joint of
            real-based samples (degrees, per rotation-vector component).
        concentration: Radius exponent of :func:`sample_within_limits`.
        tilt_deg: Global orientation tilt (see :func:`random_global_orientation`).
        uniform_orientation_fraction: Share of fully random global orientations.
    """

    real_fraction: float = 0.8
    mix_probability: float = 0.3
    mirror_probability: float = 0.5
    noise_deg: float = 4.0
    concentration: float = 1.5
    tilt_deg: float = 10.0
    uniform_orientation_fraction: float = 0.0


@dataclass
class PoseSampler:
    r"""Plausible random body poses on the SMPL tree.

    Arguments:
        real_poses: Real local rotations ``(F, J, 3, 3)`` (e.g. a retargeted CMU trial),
            or ``None`` to sample from the limits alone.
        limits: Joint limits; default :data:`SMPL_JOINT_LIMITS_DEG`.
        config: :class:`PoseSamplerConfig`.

    Every sample lies within ``limits`` (real-based ones are projected into them).
    """

    real_poses: Tensor | None
    limits: JointLimits = field(default_factory=JointLimits.from_table)
    config: PoseSamplerConfig = field(default_factory=PoseSamplerConfig)

    def sample(self, n: int, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> Tensor:
        r"""Draw ``n`` poses: local rotations ``(n, J, 3, 3)``, joint 0 a random global orientation."""
        cfg = self.config
        poses = sample_within_limits(n, generator, self.limits, cfg.concentration, dtype)
        if self.real_poses is not None and len(self.real_poses) > 0:
            like = {"generator": generator, "dtype": dtype, "device": generator.device}
            real = self.real_poses.to(dtype=dtype, device=generator.device)
            real = mix_limbs(real, n, generator, cfg.mix_probability)
            mirror = torch.rand(n, **like) < cfg.mirror_probability
            real = torch.where(mirror[:, None, None, None], mirror_poses(real), real)
            noise = torch.randn(n, NUM_JOINTS, 3, **like) * math.radians(cfg.noise_deg)
            real = clamp_to_limits(real @ roma.rotvec_to_rotmat(noise), self.limits)
            use_real = torch.rand(n, **like) < cfg.real_fraction
            poses = torch.where(use_real[:, None, None, None], real, poses)
        orientation = random_global_orientation(n, generator, cfg.tilt_deg, cfg.uniform_orientation_fraction, dtype)
        return torch.cat([orientation[:, None], poses[:, 1:]], dim=1)
