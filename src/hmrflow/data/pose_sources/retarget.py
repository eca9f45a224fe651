r"""Retargeting a source skeleton's motion onto our 24-joint tree by bone directions.

A source (ASF/AMC, BVH, ...) is first posed by its own forward kinematics into a
:class:`SourceMotion`: named points with world positions per frame and, where the
format has them, the world rotation of the segment leaving each point relative to the
source's rest pose. Each of our joints then gets a world frame ``G_j`` from a
:class:`JointRule`:

* the **primary** direction (a :class:`Bone`: source point a -> b, our joints i -> k) is
  matched exactly: ``G_j`` maps our rest bone direction onto the source bone direction;
* the **twist** about that bone comes from the first usable reference of
  :attr:`JointRule.twist`: an :class:`Axis` (a vector fixed in a source segment's frame:
  needs frames) or a second :class:`Bone` (hip line, shoulder line, the next bone of the
  limb). As the reference turns parallel to the bone (a straight knee, say) it fades
  into the no-twist solution (the parent's frame carried by the shortest rotation).

Local rotations follow as ``R_j = G_parent^T G_j``.

What is recovered. Limbs (thighs, shins, feet, toes, upper arms, forearms, hands,
finger direction) point exactly along the source's bones. The torso chain (pelvis,
spine, neck, head, collars) is retargeted *relative* to the source's rest pose where
the source gives one (:attr:`JointRule.relative`): those joints copy the source's change
of orientation since its rest pose, so a neutral posture stays neutral although the two
spines curve differently; their bone directions then match up to that constant
rest-geometry difference. Twist: with source frames (ASF/AMC, BVH) the twist of every
mapped segment, including head yaw, forearm pronation and leg rotation; the elbow and
knee hinge axes are calibrated from the motion itself (:func:`calibrate_hinges`) so that
flexion lands on our hinge axis. Without frames: pelvis and torso twist from the hip and
shoulder lines, thigh and upper-arm twist from the bent knee/elbow; neck and head yaw,
forearm pronation, ankle and wrist twist are not recoverable. Not recovered in any case:
the source's bone lengths and proportions (ours are kept), secondary children of
branching joints (pelvis -> hips, spine3 -> collars follow the parent's frame), fingers.

Example:
    >>> import torch
    >>> from hmrflow.data.skeleton import rest_joints
    >>> rest = rest_joints(torch.float64)
    >>> names = ("hip", "knee")
    >>> motion = SourceMotion(names, torch.tensor([[[0.0, 1, 0], [0.0, 1, 0.4]]], dtype=torch.float64))
    >>> rules = [None] * 24
    >>> rules[1] = JointRule(Bone(("hip", "knee"), ours=(1, 4)))
    >>> local = retarget(motion, rules, rest)  # left thigh now points forward (+Z)
    >>> torch.round((local[0, 1] @ (rest[4] - rest[1]))[2], decimals=2).item() > 0.3
    True
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import roma
import torch
from torch import Tensor

from hmrflow.body.joints import SMPL_JOINT_NAMES, SMPL_PARENTS
from hmrflow.data.pose_sources.sequence import PoseSequence

__all__ = [
    "Axis",
    "Bone",
    "JointMap",
    "JointRule",
    "SourceMotion",
    "calibrate_hinges",
    "mirror_joint_map",
    "retarget",
    "retarget_to_sequence",
    "rules_from_map",
]

log = logging.getLogger(__name__)

Vec3 = tuple[float, float, float]

#: Our joint name -> (source start point, source end point[, source frame point]).
#: The start and end define the joint's primary bone; the frame point (default: the
#: start) names the source segment whose frame gives the twist. Names may list
#: alternatives separated by ``|``. The pelvis entry needs only the start (root point).
JointMap = Mapping[str, tuple[str | None, ...]]

#: The child whose bone direction each non-leaf joint matches (spine3 -> neck).
PRIMARY_CHILD: dict[int, int] = {
    1: 4, 2: 5, 3: 6, 4: 7, 5: 8, 6: 9, 7: 10, 8: 11, 9: 12, 12: 15,
    13: 16, 14: 17, 16: 18, 17: 19, 18: 20, 19: 21, 20: 22, 21: 23,
}  # fmt: skip

#: Leaf joints: our rest direction of the source's end bone (head top, toes)...
LEAF_VECTORS: dict[int, Vec3] = {15: (0.0, 1.0, 0.0), 10: (0.0, 0.0, 1.0), 11: (0.0, 0.0, 1.0)}
#: ... or (fingers) the continuation of our wrist -> hand bone.
LEAF_BONES: dict[int, tuple[int, int]] = {22: (20, 22), 23: (21, 23)}

#: Canonical rest direction of our shins and forearms.
LIMB_DIRECTIONS: dict[int, Vec3] = {
    4: (0.0, -1.0, 0.0), 5: (0.0, -1.0, 0.0), 18: (1.0, 0.0, 0.0), 19: (-1.0, 0.0, 0.0),
}  # fmt: skip

#: Hinges (upper joint, lower joint, our flexion axis, distal joints): flexion is a
#: positive rotation about the axis; the distal joints (ankle and toes, wrist and hand)
#: share the calibrated reference.
HINGES: tuple[tuple[int, int, Vec3, tuple[int, ...]], ...] = (
    (1, 4, (1.0, 0.0, 0.0), (7, 10)), (2, 5, (1.0, 0.0, 0.0), (8, 11)),
    (16, 18, (0.0, -1.0, 0.0), (20, 22)), (17, 19, (0.0, 1.0, 0.0), (21, 23)),
)  # fmt: skip

#: Joints retargeted relative to the source's rest pose (see :class:`JointRule`).
RELATIVE_JOINTS: frozenset[int] = frozenset({0, 3, 6, 9, 12, 13, 14, 15})

_EX: Vec3 = (1.0, 0.0, 0.0)
_EY: Vec3 = (0.0, 1.0, 0.0)
_EZ: Vec3 = (0.0, 0.0, 1.0)


@dataclass
class SourceMotion:
    r"""A source skeleton posed by its own forward kinematics, in our world frame.

    Attributes:
        names: Point names, ``P`` of them.
        positions: World positions in metres, shape ``(T, P, 3)``.
        frames: Optional world rotation of the segment leaving each point, relative to
            the source's rest pose (identity at rest), shape ``(T, P, 3, 3)``.
        rest_positions: Optional positions in the source's rest pose, shape ``(P, 3)``.
    """

    names: tuple[str, ...]
    positions: Tensor
    frames: Tensor | None = None
    rest_positions: Tensor | None = None

    def resolve(self, name: str | None) -> str | None:
        r"""The first of ``name``'s ``|``-separated alternatives present here, else ``None``."""
        if name is None:
            return None
        return next((n for n in name.split("|") if n in self.names), None)

    def position(self, name: str) -> Tensor:
        r"""World positions of one point, shape ``(T, 3)``."""
        return self.positions[:, self.names.index(name)]

    def frame(self, name: str) -> Tensor | None:
        r"""World rotations of one point's segment, shape ``(T, 3, 3)``, or ``None``."""
        return None if self.frames is None else self.frames[:, self.names.index(name)]

    def rotated(self, rotation: Tensor) -> SourceMotion:
        r"""Change of world axes ``x -> rotation @ x`` (e.g. Z-up to Y-up), shape ``(3, 3)``."""
        rotation = rotation.to(self.positions)
        frames = None if self.frames is None else rotation @ self.frames @ rotation.T
        rest = None if self.rest_positions is None else self.rest_positions @ rotation.T
        return SourceMotion(self.names, self.positions @ rotation.T, frames, rest)


@dataclass(frozen=True)
class Bone:
    r"""Source points ``a -> b`` and the matching direction on our rest skeleton.

    Our rest direction is ``rest[k] - rest[i]`` for ``ours = (i, k)``, else ``ours_vector``.
    """

    source: tuple[str, str]
    ours: tuple[int, int] | None = None
    ours_vector: Vec3 | None = None


@dataclass(frozen=True)
class Axis:
    r"""A vector fixed in a source segment's frame (``source_vector``, source rest axes)
    and the matching vector on our rest skeleton (``ours_vector``)."""

    point: str
    source_vector: Vec3
    ours_vector: Vec3


@dataclass(frozen=True)
class JointRule:
    r"""How one of our joints gets its world frame: a primary bone and twist references.

    With ``relative`` (and a source with rest positions) the rest directions are the
    source's own instead of ours: the joint copies the source's change since its rest
    pose, so a neutral source posture maps to our neutral rest, whatever the two
    skeletons' rest geometry (used for the torso, whose curvature differs).
    """

    primary: Bone
    twist: tuple[Bone | Axis, ...] = ()
    relative: bool = False


def _normalize(x: Tensor, eps: float = 1e-12) -> Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(eps)


def _frame(a: Tensor, b: Tensor) -> Tensor:
    """Orthonormal frame (columns) from a primary direction a and a secondary b."""
    e1 = _normalize(a)
    e2 = _normalize(b - (b * e1).sum(-1, keepdim=True) * e1)
    return torch.stack([e1, e2, torch.linalg.cross(e1, e2)], dim=-1)


def _shortest_rotation(a: Tensor, b: Tensor) -> Tensor:
    """Rotation taking direction a to direction b about a x b, shape (..., 3, 3)."""
    a, b = torch.broadcast_tensors(_normalize(a), _normalize(b))
    k = torch.linalg.cross(a, b)
    c = (a * b).sum(-1)[..., None, None]
    K = torch.zeros(*k.shape, 3, dtype=a.dtype, device=a.device)
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -k[..., 2], k[..., 1], -k[..., 0]
    K = K - K.transpose(-1, -2)
    eye = torch.eye(3, dtype=a.dtype, device=a.device)
    R = eye + K + K @ K / (1.0 + c).clamp_min(1e-9)
    # Opposite directions: a half turn about any axis perpendicular to a.
    helper = torch.where(a[..., :1].abs() < 0.9, torch.tensor(_EX).to(a), torch.tensor(_EY).to(a))
    n = _normalize(torch.linalg.cross(a, helper))
    flip = 2.0 * n[..., :, None] * n[..., None, :] - eye
    return torch.where(c < -1.0 + 1e-6, flip, R)


def _source_direction(target: Bone | Axis, source: SourceMotion) -> Tensor | None:
    if isinstance(target, Axis):
        point = source.resolve(target.point)
        frame = source.frame(point) if point is not None else None
        return None if frame is None else frame @ torch.tensor(target.source_vector).to(frame)
    a, b = source.resolve(target.source[0]), source.resolve(target.source[1])
    if a is None or b is None:
        return None
    return source.position(b) - source.position(a)


def _source_rest_direction(target: Bone | Axis, source: SourceMotion) -> Tensor | None:
    if isinstance(target, Axis):
        return torch.tensor(target.source_vector).to(source.positions)
    a, b = source.resolve(target.source[0]), source.resolve(target.source[1])
    if a is None or b is None or source.rest_positions is None:
        return None
    rest = source.rest_positions.to(source.positions)
    return rest[source.names.index(b)] - rest[source.names.index(a)]


def _rest_direction(target: Bone | Axis, rest: Tensor) -> Tensor:
    if isinstance(target, Axis):
        return torch.tensor(target.ours_vector).to(rest)
    if target.ours is not None:
        return rest[target.ours[1]] - rest[target.ours[0]]
    assert target.ours_vector is not None, "a Bone needs `ours` or `ours_vector`"
    return torch.tensor(target.ours_vector).to(rest)


def _twisted_frame(u: Tensor, v: Tensor, u0: Tensor, v0: Tensor, swing: Tensor) -> Tensor:
    """World frame matching u exactly and v as far as it is not parallel to u.

    The reference fades (sine of its angle to u from 0.17 to 0.42) into ``swing @ v0``,
    where the no-twist solution carries the rest reference.
    """
    e1 = _normalize(u)
    v_perp = v - (v * e1).sum(-1, keepdim=True) * e1
    sine = v_perp.norm(dim=-1, keepdim=True) / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    weight = ((sine - 0.17) / 0.25).clamp(0.0, 1.0)
    carried = (swing @ v0.unsqueeze(-1)).squeeze(-1)
    carried = _normalize(carried - (carried * e1).sum(-1, keepdim=True) * e1)
    mixed = weight * _normalize(v_perp) + (1.0 - weight) * carried
    mixed = torch.where(mixed.norm(dim=-1, keepdim=True) < 1e-6, carried, mixed)
    return _frame(e1, mixed) @ _frame(u0, v0).transpose(-1, -2)


def _solve_joint(rule: JointRule | None, source: SourceMotion, rest: Tensor, parent: Tensor) -> Tensor:
    if rule is None:
        return parent
    u = _source_direction(rule.primary, source)
    if u is None:
        return parent
    relative = rule.relative and _source_rest_direction(rule.primary, source) is not None

    def rest_direction(target: Bone | Axis) -> Tensor:
        d = _source_rest_direction(target, source) if relative else None
        return d if d is not None else _rest_direction(target, rest)

    u0 = rest_direction(rule.primary)
    swing = _shortest_rotation(parent @ u0, u) @ parent
    for target in rule.twist:
        v = _source_direction(target, source)
        if v is not None:
            return _twisted_frame(u, v, u0, rest_direction(target), swing)
    return swing


def retarget(
    source: SourceMotion,
    rules: Sequence[JointRule | None],
    rest: Tensor,
    parents: Sequence[int] = SMPL_PARENTS,
) -> Tensor:
    r"""Local rotations of our skeleton that follow the source's bone directions.

    Arguments:
        source: The posed source skeleton, ``T`` frames.
        rules: One :class:`JointRule` (or ``None``: no rotation of its own) per joint.
        rest: Our rest (T-pose) joint positions, shape ``(J, 3)``.
        parents: Our joint tree, parents before children.

    Returns:
        Local rotations, shape ``(T, J, 3, 3)``, in the dtype of ``source.positions``.
    """
    rest = rest.to(source.positions)
    eye = torch.eye(3, dtype=rest.dtype, device=rest.device).expand(source.positions.shape[0], 3, 3)
    world: list[Tensor] = []
    for j, p in enumerate(parents):
        world.append(_solve_joint(rules[j], source, rest, world[p] if p >= 0 else eye))
    G = torch.stack(world, dim=1)
    parent_world = torch.stack([world[p] if p >= 0 else eye for p in parents], dim=1)
    return parent_world.transpose(-1, -2) @ G


def mirror_joint_map(left: JointMap, rename: Callable[[str], str]) -> dict[str, tuple[str | None, ...]]:
    r"""Complete a joint map given for the left side and the centre with its right side.

    ``rename`` turns a left source name into the right one (e.g. ``lfemur -> rfemur``).
    """
    full = dict(left)
    for name, entry in left.items():
        if name.startswith("left_"):
            full["right_" + name[5:]] = tuple(
                None if n is None else "|".join(rename(m) for m in n.split("|")) for n in entry
            )
    return full


def _start(joint_map: JointMap, name: str) -> str | None:
    entry = joint_map.get(name)
    return entry[0] if entry else None


def _twist_fallbacks(j: int, joint_map: JointMap) -> list[Bone]:
    """Twist references from positions only: hip line, shoulder line, the next bone."""
    hips = (_start(joint_map, "right_hip"), _start(joint_map, "left_hip"))
    shoulders = (_start(joint_map, "right_shoulder"), _start(joint_map, "left_shoulder"))
    if j == 0:
        return [Bone((_start(joint_map, "pelvis"), _start(joint_map, "spine2")), ours=(0, 6))]
    if j == 3:
        return [Bone(hips, ours=(2, 1))]
    if j in (6, 9, 12, 15):
        return [Bone(shoulders, ours=(17, 16))]
    if j in (1, 2, 4, 5, 16, 17, 18, 19):
        child = PRIMARY_CHILD[j]
        entry = joint_map.get(SMPL_JOINT_NAMES[child])
        if entry and entry[1] is not None:
            return [Bone((entry[0], entry[1]), ours=(child, PRIMARY_CHILD[child]))]
    return []


def rules_from_map(joint_map: JointMap) -> tuple[JointRule | None, ...]:
    r"""Retargeting rules for all 24 joints from a :data:`JointMap`.

    Twist references, in order of preference: the frame of the joint's source segment
    (vector +Y for the pelvis, +X for ankles and toes, +Z elsewhere; refine the limbs with
    :func:`calibrate_hinges`), then a position-only fallback (see module docs).
    """
    rules: list[JointRule | None] = []
    for j, name in enumerate(SMPL_JOINT_NAMES):
        entry = joint_map.get(name)
        if not entry or entry[0] is None:
            rules.append(None)
            continue
        start, end = entry[0], entry[1] if len(entry) > 1 else None
        frame_point = entry[2] if len(entry) > 2 and entry[2] is not None else start
        if j == 0:
            primary = Bone((_start(joint_map, "right_hip"), _start(joint_map, "left_hip")), ours=(2, 1))
        elif j in LEAF_VECTORS:
            primary = Bone((start, end), ours_vector=LEAF_VECTORS[j])
        elif j in LEAF_BONES:
            primary = Bone((start, end), ours=LEAF_BONES[j])
        else:
            primary = Bone((start, end), ours=(j, PRIMARY_CHILD[j]))
        reference = _EY if j == 0 else _EX if j in (7, 8, 10, 11) else _EZ
        twist: tuple[Bone | Axis, ...] = (Axis(frame_point, reference, reference), *_twist_fallbacks(j, joint_map))
        rules.append(JointRule(primary, twist, relative=j in RELATIVE_JOINTS))
    return tuple(rules)


def _rest_axis_of_segment(source: SourceMotion, start: str, end: str) -> Tensor:
    """A segment's direction in its own rest axes (constant over frames), shape (3,)."""
    frame = source.frame(start)
    assert frame is not None
    d = _normalize(source.position(end) - source.position(start))
    return _normalize((frame.transpose(-1, -2) @ d.unsqueeze(-1)).squeeze(-1).mean(0))


def _hinge_axis(upper: Tensor, lower: Tensor, bone: Tensor) -> Tensor | None:
    """Dominant axis of the lower segment's rotation relative to the upper one, or None."""
    r = roma.rotmat_to_rotvec(upper.transpose(-1, -2) @ lower)
    if r.norm(dim=-1).mean() < 0.17:  # under ~10 degrees of flexion on average
        return None
    values, vectors = torch.linalg.eigh(r.T @ r)
    axis = vectors[:, -1]
    if values[-1] < 0.8 * values.sum() or (axis @ bone).abs() > 0.5:
        return None
    return axis if (r @ axis).sum() > 0 else -axis


def _with_twist_vectors(rule: JointRule, source_vector: Vec3, ours_vector: Vec3) -> JointRule:
    """The rule with its first :class:`Axis` twist reference given new vectors."""
    twist = list(rule.twist)
    i = next(i for i, t in enumerate(twist) if isinstance(t, Axis))
    twist[i] = Axis(twist[i].point, source_vector, ours_vector)  # type: ignore[union-attr]
    return replace(rule, twist=tuple(twist))


def calibrate_hinges(source: SourceMotion, rules: Sequence[JointRule | None]) -> tuple[JointRule | None, ...]:
    r"""Align the source's knee and elbow hinges with ours, measured from the motion.

    The source rest pose may turn a limb about its own axis (CMU's T-pose turns the
    upper arm by about 30 degrees). The upper and lower limb's twist references become
    ``h x d`` (source hinge axis ``h`` estimated from the relative rotations over the
    sequence, source forearm/shin rest direction ``d``) matched to ours, so that flexion
    is a rotation about our hinge axis. The ankle and toes take ``h`` itself (matched to
    our knee axis), the wrist and hand ``h x d``: at the source's rest these segments are
    taken to be untwisted relative to the limb. Skipped where frames are missing or the
    limb barely flexes.
    """
    rules = list(rules)
    if source.frames is None:
        return tuple(rules)
    for upper_j, lower_j, ours_axis, distal in HINGES:
        upper, lower = rules[upper_j], rules[lower_j]
        if upper is None or lower is None:
            continue
        axes = [next((t for t in r.twist if isinstance(t, Axis)), None) for r in (upper, lower)]
        upper_point = source.resolve(axes[0].point) if axes[0] is not None else None
        a, b = (source.resolve(n) for n in lower.primary.source)
        if upper_point is None or axes[1] is None or a is None or b is None:
            continue
        bone = _rest_axis_of_segment(source, a, b)
        hinge = _hinge_axis(source.frame(upper_point), source.frame(a), bone)  # type: ignore[arg-type]
        if hinge is None:
            log.info("hinge %s: not enough flexion to calibrate", SMPL_JOINT_NAMES[lower_j])
            continue
        src: Vec3 = tuple(_normalize(torch.linalg.cross(hinge, bone)).tolist())  # type: ignore[assignment]
        ours_bone = torch.tensor(LIMB_DIRECTIONS[lower_j])
        ours: Vec3 = tuple(torch.linalg.cross(torch.tensor(ours_axis), ours_bone).tolist())  # type: ignore[assignment]
        rules[upper_j] = _with_twist_vectors(upper, src, ours)
        rules[lower_j] = _with_twist_vectors(lower, src, ours)
        # Feet point along h x d: they take the hinge axis itself; hands take h x d.
        distal_vectors = (tuple(hinge.tolist()), ours_axis) if lower_j in (4, 5) else (src, ours)
        for j in distal:
            rule = rules[j]
            if rule is not None and any(isinstance(t, Axis) for t in rule.twist):
                rules[j] = _with_twist_vectors(rule, *distal_vectors)  # type: ignore[arg-type]
    return tuple(rules)


def retarget_to_sequence(
    source: SourceMotion,
    joint_map: JointMap,
    rest: Tensor,
    fps: float,
    name: str,
    dtype: torch.dtype = torch.float32,
) -> PoseSequence:
    r"""Retarget a posed source with a joint map into a :class:`PoseSequence`.

    Arguments:
        source: The posed source skeleton, ``T`` frames.
        joint_map: Our joint names to source point names (see :data:`JointMap`).
        rest: Our rest joint positions, shape ``(J, 3)``.
        fps: Frame rate of the source.
        name: Text for :attr:`PoseSequence.source`.
        dtype: dtype of the output tensors.
    """
    rules = calibrate_hinges(source, rules_from_map(joint_map))
    missing = [n for n, r in zip(SMPL_JOINT_NAMES, rules, strict=True) if r is None]
    if missing:
        log.warning("retarget %s: no source for %s (kept at the parent's frame)", name, ", ".join(missing))
    rotmats = retarget(source, rules, rest)
    root = source.resolve(_start(joint_map, "pelvis"))
    transl = source.position(root) - rest[0].to(source.positions) if root else torch.zeros_like(rotmats[:, 0, 0])
    return PoseSequence(rotmats.to(dtype), transl.to(dtype), float(fps), name)
