r"""Anatomical joint limits on the SMPL 24-joint tree: tables, tests and sampling within them.

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

Two tables: :data:`SMPL_JOINT_LIMITS_DEG` ("v1", the default, pinned: the v1 evaluation
sets are made with it) and :data:`ROM_JOINT_LIMITS_DEG` ("rom"), from published
range-of-motion norms with the sources beside the numbers. The "rom" limits replace the
ellipse of some joints by a polygon in the swing plane (:data:`ROM_SWING_POLYGONS_DEG`), a
"reach cone" (Wilhelms & Van Gelder 2001): combined motions such as hip flexion with
abduction reach far beyond the ellipse through the pure-motion ranges.

Example:
    >>> import torch
    >>> poses = sample_within_limits(8, torch.Generator().manual_seed(0))
    >>> poses.shape, bool(plausibility(poses).all())
    (torch.Size([8, 24, 3, 3]), True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import roma
import torch
from torch import Tensor

from hmrflow.body.joints import NUM_JOINTS, SMPL_JOINT_NAMES

__all__ = [
    "LIMIT_TABLES",
    "ROM_JOINT_LIMITS_DEG",
    "ROM_SWING_POLYGONS_DEG",
    "SMPL_JOINT_LIMITS_DEG",
    "JointLimits",
    "SwingTwist",
    "clamp_to_limits",
    "joint_limits",
    "limit_excess",
    "plausibility",
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

# Sources of the "rom" table, cited by key beside the numbers:
#   [AAOS] American Academy of Orthopaedic Surgeons, Joint Motion: Method of Measuring and
#          Recording (1965); the averages as reprinted in Greene & Heckman, The Clinical
#          Measurement of Joint Motion (AAOS, 1994).
#   [BA]   Boone & Azen, Normal range of motion of joints in male subjects, J Bone Joint
#          Surg Am 61:756-759 (1979): means over 109 males, 18 months to 54 years.
#   [RA]   Roaas & Andersson, Normal range of motion of the hip, knee and ankle joints in
#          male subjects, 30-40 years of age, Acta Orthop Scand 53:205-208 (1982).
#   [S]    Soucie et al., Range of motion measurements: reference values and a database
#          for comparison studies, Haemophilia 17:500-507 (2011).
#   [Y]    Youdas et al., Normal range of motion of the cervical spine: an initial
#          goniometric study, Phys Ther 72:770-780 (1992): adults in their twenties.
#   [H]    Hemmerich et al., Hip, knee, and ankle kinematics of high range of motion
#          activities of daily living, J Orthop Res 24:770-781 (2006): squatting,
#          kneeling, cross-legged sitting (weight-bearing, beyond the clinical norms).
#   [N]    Neumann, Kinesiology of the Musculoskeletal System, 2nd ed. (2010):
#          sternoclavicular motion, tibial axial rotation.
#   [WP]   White & Panjabi, Clinical Biomechanics of the Spine, 2nd ed. (1990): how the
#          regional ranges of the spine divide between its levels.
# Values are rounded; where sources differ the table takes the wider, so that the
# generator spans normal adults. "slack" marks a range that is no anatomical motion (a
# model axis that does not match the joint's); it stays small.
# Splits: the thoracolumbar range [AAOS: flexion 80, extension 25, lateral flexion 35,
# rotation 45] is divided over spine1/spine2/spine3 as lumbar/lower thoracic/upper
# thoracic [WP: the lumbar spine carries most flexion-extension, the thoracic most
# rotation]: flexion 36/24/20, extension 11/8/6, lateral 12/12/11, rotation 9/16/20. The
# cervical range [Y: flexion 60, extension 75, lateral flexion 45, rotation 75; AAOS
# 45/45/45/60] over neck (C2-C7) and head (C0-C2) [WP: C0-C2 gives about half the
# rotation, two fifths of flexion-extension, little lateral flexion].

#: Joint -> (twist axis, x range, y range, z range), degrees, the format and sign
#: conventions of :data:`SMPL_JOINT_LIMITS_DEG` (left joints and the centre). Swing
#: polygons (:data:`ROM_SWING_POLYGONS_DEG`) replace the x/z or y/z ellipse of the hips,
#: knees, shoulders and elbows.
ROM_JOINT_LIMITS_DEG: dict[str, tuple[int, Range, Range, Range]] = {
    # x: flexion -130 [AAOS 120, BA 121 (SD 6), RA 120; 130 for deep squats, H], extension
    # +30 [AAOS 30; BA 12, RA 10]; twist y: internal -45 [AAOS 45, BA 44, RA 33] / external
    # +50 [AAOS 45, BA 44, RA 34; 40-50 in cross-legged sitting, H]; z: adduction -30 [AAOS 30,
    # BA 26, RA 31], abduction +45 [AAOS 45, BA 41, RA 39]. Swing: the polygon.
    "left_hip": (1, (-130.0, 30.0), (-45.0, 50.0), (-30.0, 45.0)),
    # x: extension -11, flexion +36; twist y: rotation 9; z: lateral flexion 12 (splits above).
    "spine1": (1, (-11.0, 36.0), (-9.0, 9.0), (-12.0, 12.0)),
    # x: hyperextension -10 [AAOS 10; S a few degrees], flexion +160 [AAOS 135, BA 141,
    # RA 143, S about 140; 150-160 weight-bearing in squatting and kneeling, H]; twist y:
    # tibial rotation internal -15 / external +30 [N: about 45 in all at 90 degrees of
    # flexion, external twice internal]; z: +-10 slack (varus/valgus).
    "left_knee": (1, (-10.0, 160.0), (-15.0, 30.0), (-10.0, 10.0)),
    "spine2": (1, (-8.0, 24.0), (-16.0, 16.0), (-12.0, 12.0)),
    # x: dorsiflexion -40 [AAOS 20, BA 13, RA 15; about 40 weight-bearing in deep squats
    # and kneeling, H], plantarflexion +55 [AAOS 50, BA 56, RA 40]; y: forefoot adduction
    # -20 / abduction +10 [AAOS]; twist z: inversion -35 / eversion +20 [AAOS 35/15, BA 37/21].
    "left_ankle": (2, (-40.0, 55.0), (-20.0, 10.0), (-35.0, 20.0)),
    "spine3": (1, (-6.0, 20.0), (-20.0, 20.0), (-11.0, 11.0)),
    # Toes (first metatarsophalangeal joint) x: extension -70, flexion +45 [AAOS]; y, z: slack.
    "left_foot": (2, (-70.0, 45.0), (-10.0, 10.0), (-10.0, 10.0)),
    # Lower cervical share: x extension -45, flexion +36; twist rotation 37; z lateral 36.
    "neck": (1, (-45.0, 36.0), (-37.0, 37.0), (-36.0, 36.0)),
    # Sternoclavicular joint [N]: twist x axial rotation +-30 (posterior 20-35); y:
    # protraction -20 / retraction +30 (15-20 / 15-30); z: depression -10 / elevation +45.
    "left_collar": (0, (-30.0, 30.0), (-20.0, 30.0), (-10.0, 45.0)),
    # Upper cervical share: x extension -30, flexion +24; twist rotation 38; z lateral 9.
    "head": (1, (-30.0, 24.0), (-38.0, 38.0), (-9.0, 9.0)),
    # Twist x: free. The humerus' twist from the T-pose is its axial rotation [AAOS: external
    # 90, internal 70; BA 104/69] only near the T-pose: the arm raised forward, palm inward,
    # is 180 degrees of rotation from the T-pose (Codman's paradox), and over the arm's
    # reach the twist of anatomically neutral arms spans -165..70. The axial rotation is
    # bounded where it is defined, in the anatomical angles of the pose families. Swing:
    # the polygon (y forward -, z up +).
    "left_shoulder": (0, (-180.0, 180.0), (-135.0, 45.0), (-120.0, 90.0)),
    # Twist x: half of forearm pronation (+) / supination (-) [AAOS 80/80, BA 76/82], the
    # other half at the wrist; y: flexion -150 [AAOS 150, BA 143, S about 145],
    # hyperextension +10 [S: up to about 10 in women]; z: +-15 slack (carrying angle).
    "left_elbow": (0, (-40.0, 40.0), (-150.0, 10.0), (-15.0, 15.0)),
    # Twist x: the other half of pronation/supination; y: radial -20 [AAOS 20, BA 22] / ulnar
    # deviation +35 [AAOS 30, BA 36]; z: flexion -80 [AAOS 80, BA 76] / extension +75
    # [AAOS 70, BA 75] (palm down in the T-pose).
    "left_wrist": (0, (-40.0, 40.0), (-20.0, 35.0), (-80.0, 75.0)),
    # Fingers at the metacarpophalangeal joints, z: flexion -90, hyperextension +45 [AAOS];
    # y: spread +-20; twist: +-15 slack.
    "left_hand": (0, (-15.0, 15.0), (-20.0, 20.0), (-90.0, 45.0)),
}  # fmt: skip

#: Femur directions at the edge of the hip's reach, as (plane, angle) in degrees: the
#: plane of motion about the vertical (90 flexion, 0 abduction, -90 extension, 180
#: adduction) and the angle from the straight leg. Pure motions as in the table; the
#: combined ones from high-flexion activities [H]: deep squats (flexion 120-130 with the
#: knees wide, the thighs 35 degrees out of the sagittal plane), cross-legged and
#: "butterfly" sitting (flexion 70-90 with abduction 45-60), a thigh crossed over the
#: other when sitting (flexion 90 with adduction 25-30).
_HIP_REACH_DEG: tuple[tuple[float, float], ...] = (
    (90.0, 130.0), (55.0, 128.0), (35.0, 100.0), (0.0, 45.0), (-45.0, 35.0), (-90.0, 30.0),
    (-135.0, 30.0), (180.0, 30.0), (150.0, 70.0), (120.0, 115.0),
)  # fmt: skip

#: Upper-arm directions at the edge of the shoulder's reach (the left arm, relative to the
#: collar), as (plane, elevation) in degrees: the plane of elevation (0 abduction, 90
#: flexion, 180 across the front, -90 extension) and the angle from the arm hanging down.
#: Flexion and abduction 170 [AAOS 180, BA 167/184; the collar elevates by the rest],
#: extension 60 [AAOS 60, BA 62], horizontal flexion 135 and horizontal extension 45 from
#: the abducted arm [AAOS], the arm cocked above the shoulder behind the frontal plane
#: (throwing), and across the front of the trunk or behind the back about 30-45.
_SHOULDER_REACH_DEG: tuple[tuple[float, float], ...] = (
    (0.0, 170.0), (90.0, 170.0), (135.0, 95.0), (135.0, 60.0), (160.0, 40.0), (180.0, 30.0),
    (-135.0, 45.0), (-90.0, 60.0), (-45.0, 90.0), (-30.0, 120.0),
)  # fmt: skip


def _reach_polygon(reach: Sequence[tuple[float, float]], rest: tuple[float, float, float]) -> tuple[Range, ...]:
    r"""Swing-plane polygon (degrees, the two swing components in index order) of limb
    directions ``(plane, angle)`` (see :data:`_HIP_REACH_DEG`) for a bone resting along ``rest``.

    A direction is ``(sin a cos p, -cos a, sin a sin p)`` in the body frame (left limb),
    ``a`` from straight down; its swing is the shortest rotation from ``rest`` to it.
    """
    rest_t = torch.tensor(rest, dtype=torch.float64, device=torch.device("cpu"))
    keep = [c for c in range(3) if rest[c] == 0.0]
    vertices = []
    for plane, angle in reach:
        p, a = math.radians(plane), math.radians(angle)
        d = rest_t.new_tensor([math.sin(a) * math.cos(p), -math.cos(a), math.sin(a) * math.sin(p)])
        axis = torch.linalg.cross(rest_t, d)
        turn = math.atan2(float(axis.norm()), float(rest_t @ d))
        rotvec = axis / axis.norm().clamp_min(1e-12) * math.degrees(turn)
        vertices.append((float(rotvec[keep[0]]), float(rotvec[keep[1]])))
    return tuple(vertices)


#: Joint -> swing polygon of the "rom" limits: vertices (degrees) in the plane of the two
#: swing components in index order (x, z for legs; y, z for arms), left joints. Hips and
#: shoulders from their reach (above); knees and elbows are hinges: a box, so that a
#: deeply bent knee keeps its small slack (an ellipse would shrink it to nothing).
ROM_SWING_POLYGONS_DEG: dict[str, tuple[Range, ...]] = {
    "left_hip": _reach_polygon(_HIP_REACH_DEG, (0.0, -1.0, 0.0)),
    "left_knee": ((-10.0, -10.0), (160.0, -10.0), (160.0, 10.0), (-10.0, 10.0)),
    "left_shoulder": _reach_polygon(_SHOULDER_REACH_DEG, (1.0, 0.0, 0.0)),
    "left_elbow": ((-150.0, -15.0), (10.0, -15.0), (10.0, 15.0), (-150.0, 15.0)),
}

#: Names of the limit tables (:func:`joint_limits`).
LIMIT_TABLES: tuple[str, ...] = ("v1", "rom")

@dataclass
class JointLimits:
    r"""Per-joint limits in tensor form.

    Attributes:
        twist_axis: Twist axis index (0, 1, 2) of each joint, shape ``(J,)``.
        lower: Lower bound of each rotation-vector component in radians, shape ``(J, 3)``
            (negative for the swing components).
        upper: Upper bounds, shape ``(J, 3)`` (positive for the swing components).
        active: Whether the joint is limited (joint 0 is not), shape ``(J,)``.
        polygon: None (every swing is bounded by the quarter-ellipses of ``lower`` and
            ``upper``), or swing polygons: vertices in radians in the plane of the two
            swing components (in index order), sorted by azimuth, shape ``(J, V, 2)``; a
            row of zeros keeps that joint's ellipse; shorter polygons repeat their last
            vertex. Polygons are star-shaped about the rest pose.
    """

    twist_axis: Tensor
    lower: Tensor
    upper: Tensor
    active: Tensor
    polygon: Tensor | None = None

    @classmethod
    def from_table(
        cls,
        table: dict[str, tuple[int, Range, Range, Range]] = SMPL_JOINT_LIMITS_DEG,
        polygons: dict[str, tuple[Range, ...]] | None = None,
    ) -> JointLimits:
        r"""Limits from a table like :data:`SMPL_JOINT_LIMITS_DEG` (right side mirrored).

        ``polygons`` (like :data:`ROM_SWING_POLYGONS_DEG`) replace the ellipses of their
        joints.
        """
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
        limits = cls(axis, lower, upper, active)
        if polygons is not None:
            limits.polygon = _polygon_table(limits, polygons)
        return limits

    def narrowed(self, margin_deg: float) -> JointLimits:
        r"""The limits drawn ``margin_deg`` inside their edges, at most halfway in.

        Twist intervals lose the margin at both ends (never past their midpoint); swing
        semi-axes and polygon vertices move it towards the rest pose (never below half
        their reach). Poses projected into the narrowed limits keep off the edges, where
        a smooth learned density would spill over. 0: the same limits.

        Example:
            >>> rom = joint_limits("rom")
            >>> hip = SMPL_JOINT_NAMES.index("left_hip")
            >>> [round(math.degrees(float(u)), 1) for u in rom.narrowed(3.0).upper[hip]]
            [27.0, 47.0, 42.0]
        """
        if margin_deg < 0:
            raise ValueError(f"margin_deg: needs to be >= 0, got {margin_deg}")
        if margin_deg == 0:
            return self
        m = math.radians(margin_deg)
        twist = torch.arange(3, device=self.twist_axis.device) == self.twist_axis[:, None]
        middle = (self.lower + self.upper) / 2
        lower = torch.where(twist, torch.minimum(self.lower + m, middle), torch.minimum(self.lower + m, self.lower / 2))
        upper = torch.where(twist, torch.maximum(self.upper - m, middle), torch.maximum(self.upper - m, self.upper / 2))
        active = self.active[:, None]
        polygon = self.polygon
        if polygon is not None:
            radius = polygon.norm(dim=-1, keepdim=True)
            polygon = polygon * (torch.maximum(radius - m, radius / 2) / radius.clamp_min(1e-12))
            polygon = torch.where(active[..., None], polygon, self.polygon)
        return JointLimits(
            self.twist_axis,
            torch.where(active, lower, self.lower),
            torch.where(active, upper, self.upper),
            self.active,
            polygon,
        )

    def to(self, like: Tensor) -> JointLimits:
        r"""The limits on ``like``'s device, bounds in its dtype."""
        polygon = None if self.polygon is None else self.polygon.to(like)
        return JointLimits(
            self.twist_axis.to(like.device),
            self.lower.to(like),
            self.upper.to(like),
            self.active.to(like.device),
            polygon,
        )


def joint_limits(name: str = "v1") -> JointLimits:
    r"""Named limits: ``"v1"`` (:data:`SMPL_JOINT_LIMITS_DEG`) or ``"rom"``
    (:data:`ROM_JOINT_LIMITS_DEG` with :data:`ROM_SWING_POLYGONS_DEG`)."""
    if name == "v1":
        return JointLimits.from_table()
    if name == "rom":
        return JointLimits.from_table(ROM_JOINT_LIMITS_DEG, ROM_SWING_POLYGONS_DEG)
    raise ValueError(f"no joint limits {name!r}; known: {', '.join(LIMIT_TABLES)}")


def _swing_components(twist_axis: int) -> tuple[int, int]:
    """The two swing components (not the twist axis) in index order."""
    a, b = (c for c in range(3) if c != twist_axis)
    return a, b


def _mirror_polygon(vertices: Sequence[Range], twist_axis: int) -> list[Range]:
    """The right joint's polygon: the y and z components change sign (as the ranges do)."""
    a, b = _swing_components(twist_axis)
    sa, sb = (1.0 if a == 0 else -1.0), (1.0 if b == 0 else -1.0)
    return [(sa * u, sb * v) for u, v in vertices]


def _polygon_table(limits: JointLimits, polygons: dict[str, tuple[Range, ...]]) -> Tensor:
    """Swing polygons ``(J, V, 2)`` in radians, sorted by azimuth (see :class:`JointLimits`)."""
    per_joint: dict[int, list[Range]] = {}
    for name, vertices in polygons.items():
        j = SMPL_JOINT_NAMES.index(name)
        per_joint[j] = list(vertices)
        if name.startswith("left_"):
            right = SMPL_JOINT_NAMES.index("right_" + name[5:])
            per_joint[right] = _mirror_polygon(vertices, int(limits.twist_axis[j]))
    size = max(len(v) for v in per_joint.values())
    table = torch.zeros(NUM_JOINTS, size, 2, device=torch.device("cpu"))
    for j, vertices in per_joint.items():
        ordered = sorted(vertices, key=lambda v: math.atan2(v[1], v[0]))
        ordered += [ordered[-1]] * (size - len(ordered))
        table[j] = torch.deg2rad(torch.tensor(ordered, device=torch.device("cpu")))
    return table


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
    if limits.polygon is not None:
        return _polygon_radius(swing, limits)
    semi = torch.where(swing >= 0, limits.upper, -limits.lower).clamp_min(1e-6)
    return ((swing / semi).square() * (1.0 - _axes(limits, swing))).sum(-1).sqrt()


def _swing_order(limits: JointLimits) -> Tensor:
    """Indices of the two swing components of each joint, in index order, shape (J, 2)."""
    return torch.argsort(torch.nn.functional.one_hot(limits.twist_axis, 3), dim=-1, stable=True)[:, :2]


def _polygon_bound(azimuth: Tensor, polygon: Tensor) -> Tensor:
    r"""Distance ``(..., J)`` from the rest pose to each joint's polygon edge along
    ``azimuth`` ``(..., J)`` (radians); polygons ``(J, V, 2)`` as in :class:`JointLimits`.

    The edge from vertex ``k`` (the last at or below the azimuth) to ``k + 1``: the ray
    ``r u`` meets it at ``r = (P x E) / (u x E)``.
    """
    V = polygon.shape[-2]
    azimuth = torch.atan2(torch.sin(azimuth), torch.cos(azimuth))  # into (-pi, pi]
    alpha = torch.atan2(polygon[..., 1], polygon[..., 0])  # (J, V), ascending
    k = torch.remainder((alpha <= azimuth[..., None]).sum(-1) - 1, V)
    table = polygon.expand(*azimuth.shape, V, 2)
    P = table.gather(-2, k[..., None, None].expand(*k.shape, 1, 2))[..., 0, :]
    Q = table.gather(-2, torch.remainder(k + 1, V)[..., None, None].expand(*k.shape, 1, 2))[..., 0, :]
    E = Q - P
    ux, uy = torch.cos(azimuth), torch.sin(azimuth)
    return (P[..., 0] * E[..., 1] - P[..., 1] * E[..., 0]) / (ux * E[..., 1] - uy * E[..., 0])


def _has_polygon(limits: JointLimits) -> Tensor:
    """Which joints have a swing polygon, shape (J,)."""
    return limits.polygon.abs().sum(dim=(-1, -2)) > 0


def _polygon_radius(swing: Tensor, limits: JointLimits) -> Tensor:
    """Normalised swing radius (1 on the limit), shape (..., J): polygons, else ellipses."""
    plane = swing.gather(-1, _swing_order(limits).expand(*swing.shape[:-1], 2))
    azimuth = torch.atan2(plane[..., 1], plane[..., 0])
    polygon = plane.norm(dim=-1) / _polygon_bound(azimuth, limits.polygon).clamp_min(1e-6)
    semi = torch.where(swing >= 0, limits.upper, -limits.lower).clamp_min(1e-6)
    ellipse = ((swing / semi).square() * (1.0 - _axes(limits, swing))).sum(-1).sqrt()
    return torch.where(_has_polygon(limits), polygon, ellipse)


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
    pose), and a twist ``|v|**concentration`` of the way to the bound on ``v``'s side. With
    swing polygons the angle is the azimuth in the swing plane (for ellipses, the
    ellipse's parameter).

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
    if limits.polygon is not None:  # for polygons the angle is the azimuth
        on_polygon = (radius * _polygon_bound(angle, limits.polygon))[..., None] * unit
        swing = torch.where(_has_polygon(limits)[:, None], on_polygon, swing)
    k = limits.twist_axis[:, None]
    bound = torch.where(v >= 0, limits.upper.gather(-1, k)[:, 0], -limits.lower.gather(-1, k)[:, 0])
    twist = v.abs() ** concentration * bound * v.sign()
    R = _compose(swing, twist, limits)
    return torch.where(limits.active[:, None, None], R, torch.eye(3, dtype=dtype, device=device))
