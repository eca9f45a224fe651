r"""Coordinated body poses by family: standing, gaits, sitting, crouching, kneeling, lying,
bending, reaching, sport and dance.

A pose is first written as **anatomical angles** (degrees, :data:`CHANNELS`): hip flexion,
knee flexion, arm elevation and so on, per side (``l_``/``r_``) and for the trunk. A
**family** is a few key poses of such angles, each angle a value or a range (a range is
drawn once per sample and shared by all the keys, like a person's own style), plus how
the keys combine:

- ``"choice"``: one key per sample (variants of a posture: sitting upright, slouched...);
- ``"path"``: a point along the keys in order (depth of a squat, progress of a throw);
- ``"cycle"``: a phase of a cycle (walking, running); the right side follows the left
  half a cycle later.

Then: an arm gesture from the family's list where the key leaves the arms free (hands on
the hips, on the knees, pointing, overhead...), an amplitude scale, per-angle noise, a
random left-right mirror, the pelvis pitched so that the feet (or the thighs when
sitting, the shins when kneeling) rest flat on the ground, and a random heading. The angles become local rotations on the
SMPL tree (:func:`anatomical_to_rotmats`), are projected into the "rom" joint limits
(:func:`~hmrflow.data.joint_limits.joint_limits`), and poses whose limbs pass through
the body (:func:`~hmrflow.data.self_contact.self_intersections`) are rejected: each pose
is drawn ``candidates`` times and the first clean draw kept (a family's canonical pose
when none is clean). Everything is made on the generator's device without host syncs.

Angle conventions (positive values; the right side mirrors the left): ``hip_flex``
thigh forward, ``hip_abd`` thigh outward (the thigh's direction: abducted, then flexed),
``hip_rot`` toes outward (external rotation about the thigh after the shortest swing from
standing: the limits' twist);
``knee_flex`` heel to buttock; ``ankle_dorsi`` toes up (negative: pointed);
``ankle_inv`` sole inward; ``toe_ext`` toes up; ``arm_flex`` arm forward from hanging,
``arm_abd`` arm sideways, ``arm_rot`` external rotation (the arm's Euler angles relative
to the chest: ``Rx(-flex) Rz(abd) Ry(rot)`` of the hanging arm, palm to the thigh);
``elbow_flex``; ``forearm_pron`` pronation (palm down from thumb forward); ``wrist_ext``
back of the hand up; ``wrist_dev`` towards the little finger; ``finger_flex``;
``collar_elev`` shrug, ``collar_prot`` shoulder forward; trunk ``spine_flex`` forward,
``spine_lat`` bend to the left, ``spine_rot`` turn to the left (shared over spine1..3),
``neck_*`` likewise over neck and head; ``root_pitch`` lean forward (90: lying face
down, -90: on the back), ``root_roll`` left side up; ``lift`` how far the grounded segments' far ends are raised
(heels off the ground; knees above the hips when sitting; feet off the floor when kneeling).

Example:
    >>> import torch
    >>> sample = sample_families(8, torch.Generator().manual_seed(0), {"squat": 1.0})
    >>> sample.rotmats.shape, sample.names
    (torch.Size([8, 24, 3, 3]), ('squat',))
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

import torch
from torch import Tensor

from hmrflow.body.joints import NUM_JOINTS, SMPL_JOINT_NAMES
from hmrflow.data.joint_limits import clamp_to_limits, joint_limits
from hmrflow.data.self_contact import self_intersections

__all__ = [
    "CHANNELS",
    "FAMILIES",
    "FAMILY_GROUPS",
    "GESTURES",
    "MIXED_CHANNELS",
    "Family",
    "FamilySample",
    "anatomical_to_rotmats",
    "family_names",
    "sample_families",
]

Value = float | tuple[float, float]
Key = Mapping[str, Value]

_CENTRE = (
    "root_pitch", "root_roll", "lift", "spine_flex", "spine_lat", "spine_rot",
    "neck_flex", "neck_lat", "neck_rot",
)  # fmt: skip
_SIDE = (
    "hip_flex", "hip_abd", "hip_rot", "knee_flex", "ankle_dorsi", "ankle_inv", "toe_ext",
    "collar_elev", "collar_prot", "arm_flex", "arm_abd", "arm_rot", "elbow_flex",
    "forearm_pron", "wrist_ext", "wrist_dev", "finger_flex",
)  # fmt: skip

#: Anatomical angle channels (degrees): the trunk's, then the left side's, then the right's.
CHANNELS: tuple[str, ...] = _CENTRE + tuple(f"l_{c}" for c in _SIDE) + tuple(f"r_{c}" for c in _SIDE)
_ARM = ("collar_elev", "collar_prot", "arm_flex", "arm_abd", "arm_rot", "elbow_flex", "forearm_pron",
        "wrist_ext", "wrist_dev", "finger_flex")
#: Channels :func:`sample_families` may take from another draw (``mix_probability``): both
#: arms, the trunk's side bend and twist (the legs, the pelvis and the forward bend, which
#: the grounding and the family's balance depend on, stay).
MIXED_CHANNELS: tuple[str, ...] = ("spine_lat", "spine_rot") + tuple(f"{p}_{c}" for p in "lr" for c in _ARM)
_INDEX = {name: i for i, name in enumerate(CHANNELS)}

#: Noise scale per channel kind (times a family's ``noise_deg``).
_NOISE_SCALE = {
    "root_pitch": 0.7, "root_roll": 0.7, "lift": 0.0, "spine": 0.7, "neck": 1.0,
    "hip": 1.0, "knee": 1.0, "ankle": 0.8, "toe": 0.5, "collar": 0.5, "arm": 1.5,
    "elbow": 1.5, "forearm": 2.0, "wrist": 2.0, "finger": 2.0,
}  # fmt: skip

# Shares of the trunk angles per joint: spine1, spine2, spine3 (lumbar-heavy flexion,
# thoracic-heavy rotation) and neck, head: as in the "rom" limits' splits.
_SPINE_SHARE = {"flex": (0.45, 0.3, 0.25), "lat": (0.34, 0.34, 0.32), "rot": (0.2, 0.35, 0.45)}
_NECK_SHARE = {"flex": (0.6, 0.4), "lat": (0.8, 0.2), "rot": (0.5, 0.5)}
#: Clavicle elevation per degree of arm elevation above 30 degrees (the shoulder girdle
#: follows the arm; about 20 degrees at full elevation, Ludewig et al. 2009).
_COLLAR_SHARE = 0.15


def key(**angles: Value) -> dict[str, Value]:
    """Channels of a key pose as given: ``key(spine_flex=(10, 20), root_pitch=-90)``."""
    return angles


def both(**angles: Value) -> dict[str, Value]:
    """The same angles for the left and right side: ``both(knee_flex=90)``."""
    return {f"{p}_{k}": v for k, v in angles.items() for p in ("l", "r")}


def left(**angles: Value) -> dict[str, Value]:
    """Angles of the left side."""
    return {f"l_{k}": v for k, v in angles.items()}


def right(**angles: Value) -> dict[str, Value]:
    """Angles of the right side."""
    return {f"r_{k}": v for k, v in angles.items()}


@dataclass(frozen=True)
class Family:
    r"""A pose family (see the module docstring).

    Attributes:
        name: Registry name.
        description: One line for people.
        keys: Key poses: channel -> degrees or a (low, high) range; missing channels 0.
        mode: ``"choice"``, ``"path"`` or ``"cycle"``.
        arms: Gestures (:data:`GESTURES`) drawn uniformly for the arms; ``"keys"`` keeps
            the keys' own (unset: arms hanging). In a choice, arm angles the chosen key
            gives are kept whatever the gesture.
        ground: ``"feet"`` (soles flat: the pelvis pitch follows hip, knee and ankle),
            ``"thighs"`` (sitting: thighs level), ``"shins"`` (kneeling: shins flat) or
            ``"none"``; the pitch adds to ``root_pitch``, and ``lift`` tilts the segment.
        support: Weight of the left leg in the grounding (the right gets the rest).
        mirror: Mirror left-right half of the samples.
        noise_deg: Noise standard deviation (scaled per channel kind).
        scale: Range of an amplitude factor applied to every angle (gait speed).
    """

    name: str
    description: str
    keys: tuple[Key, ...]
    mode: Literal["choice", "path", "cycle"] = "choice"
    arms: tuple[str, ...] = ("keys",)
    ground: Literal["feet", "thighs", "shins", "none"] = "none"
    support: float = 0.5
    mirror: bool = True
    noise_deg: float = 4.0
    scale: tuple[float, float] = (1.0, 1.0)


def _cycle(table: Mapping[str, Sequence[float]], **constant: Value) -> tuple[Key, ...]:
    """Keys at evenly spaced phases from per-channel value lists, plus constant channels."""
    count = len(next(iter(table.values())))
    return tuple({**constant, **{name: values[k] for name, values in table.items()}} for k in range(count))


_DOWN = key(arm_flex=(-5.0, 15.0), arm_abd=(4.0, 15.0), arm_rot=(-10.0, 20.0), elbow_flex=(5.0, 30.0),
             forearm_pron=(-10.0, 40.0), wrist_ext=(-10.0, 15.0), finger_flex=(10.0, 40.0))  # fmt: skip

#: Arm gestures: arm channels of both sides (one-armed gestures use the left arm; the
#: family's mirroring gives the right).
GESTURES: dict[str, Key] = {
    "down": both(**_DOWN),
    "hips": both(arm_flex=(-45.0, -30.0), arm_abd=(40.0, 50.0), arm_rot=(-45.0, -30.0), elbow_flex=(95.0, 105.0),
                 forearm_pron=(40.0, 70.0), wrist_ext=(20.0, 40.0)),
    "front": both(arm_flex=(20.0, 45.0), arm_abd=(5.0, 20.0), arm_rot=(-30.0, -10.0), elbow_flex=(70.0, 100.0),
                  forearm_pron=(0.0, 60.0), wrist_ext=(-10.0, 20.0)),
    "phone": left(arm_flex=(25.0, 45.0), arm_abd=(15.0, 35.0), arm_rot=(-10.0, 10.0), elbow_flex=(125.0, 140.0),
                  wrist_ext=(-20.0, 10.0)) | right(**_DOWN),
    "wave": left(arm_flex=(0.0, 30.0), arm_abd=(100.0, 130.0), arm_rot=(60.0, 90.0), elbow_flex=(40.0, 90.0))
    | right(**_DOWN),
    "point": left(arm_flex=(70.0, 100.0), arm_abd=(0.0, 30.0), elbow_flex=(0.0, 15.0)) | right(**_DOWN),
    "overhead": both(arm_flex=(150.0, 175.0), arm_abd=(0.0, 25.0), arm_rot=(-10.0, 20.0), elbow_flex=(0.0, 30.0)),
    "out": both(arm_flex=(0.0, 30.0), arm_abd=(70.0, 100.0), elbow_flex=(0.0, 30.0)),
    "forward": both(arm_flex=(70.0, 100.0), arm_abd=(0.0, 20.0), elbow_flex=(0.0, 25.0)),
    "balance": both(arm_flex=(-20.0, 40.0), arm_abd=(30.0, 80.0), elbow_flex=(10.0, 60.0)),
    "back_clasp": both(arm_flex=(-50.0, -40.0), arm_abd=(10.0, 25.0), arm_rot=(-45.0, -30.0),
                       elbow_flex=(70.0, 85.0)),
    "support_behind": both(arm_flex=(-50.0, -30.0), arm_abd=(10.0, 25.0), arm_rot=(-20.0, 10.0),
                           elbow_flex=(0.0, 15.0), wrist_ext=(50.0, 75.0)),
    "head": both(arm_flex=(30.0, 45.0), arm_abd=(105.0, 115.0), arm_rot=(75.0, 90.0), elbow_flex=(135.0, 145.0)),
    "chest": both(arm_flex=(-20.0, 0.0), arm_abd=(30.0, 40.0), arm_rot=(-40.0, -30.0), elbow_flex=(110.0, 120.0)),
    "lap": both(arm_flex=(0.0, 15.0), arm_abd=(0.0, 10.0), arm_rot=(-10.0, 5.0), elbow_flex=(60.0, 80.0)),
    "knees": both(arm_flex=(35.0, 60.0), arm_abd=(0.0, 15.0), arm_rot=(-20.0, 0.0), elbow_flex=(10.0, 40.0)),
    "ground": both(arm_flex=(30.0, 60.0), arm_abd=(5.0, 20.0), elbow_flex=(0.0, 20.0), wrist_ext=(40.0, 75.0)),
    "hug": both(arm_flex=(15.0, 30.0), arm_abd=(0.0, 10.0), arm_rot=(-25.0, -10.0), elbow_flex=(55.0, 70.0)),
    "between": both(arm_flex=(50.0, 65.0), arm_abd=(-10.0, 0.0), arm_rot=(-40.0, 0.0), elbow_flex=(0.0, 15.0),
                    wrist_ext=(40.0, 75.0)),
    "elbows_on_knees": both(arm_flex=(0.0, 20.0), arm_abd=(40.0, 55.0), arm_rot=(-10.0, 10.0),
                            elbow_flex=(100.0, 115.0)),
    "pillow": both(arm_flex=(20.0, 50.0), arm_abd=(90.0, 120.0), arm_rot=(-20.0, 20.0), elbow_flex=(90.0, 130.0)),
}  # fmt: skip

_STAND_LEGS = both(hip_flex=(-3.0, 8.0), hip_abd=(0.0, 8.0), hip_rot=(-5.0, 15.0), knee_flex=(0.0, 10.0),
                   ankle_dorsi=(0.0, 5.0))  # fmt: skip
_TRUNK = key(spine_flex=(-5.0, 10.0), spine_lat=(-5.0, 5.0), spine_rot=(-10.0, 10.0), neck_flex=(-15.0, 25.0),
              neck_lat=(-10.0, 10.0), neck_rot=(-40.0, 40.0))  # fmt: skip

# Walking, after the normative sagittal curves of Perry & Burnfield, Gait Analysis (2nd ed.
# 2010): phases 0, 1/8, ... of the left leg's cycle from heel strike; the arm swings
# against the leg of its side.
_WALK = {
    "l_hip_flex": (30, 25, 10, 0, -10, 0, 20, 30),
    "l_knee_flex": (5, 18, 10, 5, 10, 40, 60, 25),
    "l_ankle_dorsi": (0, -7, 5, 10, 5, -18, -5, 0),
    "l_toe_ext": (0, 0, 0, 10, 25, 10, 0, 0),
    "l_arm_flex": (-15, -10, 0, 10, 20, 15, 5, -10),
    "l_elbow_flex": (15, 15, 20, 25, 30, 25, 20, 15),
    "spine_rot": (5, 3, 0, -3, -5, -3, 0, 3),
}
# Running, after Novacheck, The biomechanics of running, Gait Posture 7:77-95 (1998).
_RUN = {
    "l_hip_flex": (35, 25, 5, -10, 0, 30, 50, 45),
    "l_knee_flex": (20, 40, 25, 15, 70, 110, 80, 35),
    "l_ankle_dorsi": (5, 20, 10, -20, -10, 5, 10, 5),
    "l_toe_ext": (0, 0, 10, 30, 0, 0, 0, 0),
    "l_arm_flex": (-35, -25, 0, 25, 40, 30, 10, -20),
    "l_elbow_flex": (85, 80, 80, 90, 100, 95, 90, 85),
    "spine_rot": (10, 5, 0, -5, -10, -5, 0, 5),
}


def _families() -> tuple[Family, ...]:
    """The family table (a function: the keys read better next to their family)."""
    lie_back = key(root_pitch=(-95.0, -85.0), root_roll=(-10.0, 10.0), neck_flex=(0.0, 30.0), neck_rot=(-40.0, 40.0))
    lie_front = key(root_pitch=(85.0, 95.0), root_roll=(-10.0, 10.0), neck_flex=(-20.0, 0.0), neck_rot=(50.0, 80.0))
    lie_side = key(root_roll=(80.0, 100.0), root_pitch=(-10.0, 10.0), neck_lat=(-20.0, 0.0))
    straight = both(hip_flex=(-5.0, 10.0), hip_abd=(0.0, 15.0), hip_rot=(5.0, 30.0), knee_flex=(0.0, 15.0),
                    ankle_dorsi=(-35.0, -10.0))
    return (
        Family("stand", "standing: even or on one leg, head turned, arms in everyday gestures",
               (_STAND_LEGS | _TRUNK,
                _TRUNK | left(hip_flex=(5.0, 20.0), hip_abd=(0.0, 8.0), hip_rot=(5.0, 25.0), knee_flex=(15.0, 30.0),
                              ankle_dorsi=(-10.0, 5.0))
                | right(hip_flex=(-5.0, 5.0), hip_abd=(-8.0, 0.0), knee_flex=(0.0, 5.0))
                | key(root_roll=(-6.0, -2.0), spine_lat=(-8.0, -2.0))),
               arms=("down", "down", "hips", "front", "phone", "wave", "point", "back_clasp"), ground="feet"),
        Family("walk", "a walking cycle at a phase and speed", _cycle(
            _WALK, l_arm_abd=(5.0, 12.0), l_hip_abd=(-3.0, 3.0), l_hip_rot=(0.0, 10.0), spine_flex=(0.0, 8.0),
            neck_flex=(-5.0, 15.0), neck_rot=(-20.0, 20.0)),
            mode="cycle", arms=("keys", "keys", "keys", "front", "phone"), mirror=False, noise_deg=3.0,
            scale=(0.7, 1.3)),
        Family("run", "a running cycle at a phase and speed", _cycle(
            _RUN, l_arm_abd=(12.0, 22.0), l_arm_rot=(-15.0, 5.0), l_forearm_pron=(30.0, 60.0),
            l_finger_flex=(40.0, 70.0), spine_flex=(5.0, 15.0), neck_flex=(-10.0, 5.0)),
            mode="cycle", mirror=False, noise_deg=3.0, scale=(0.75, 1.25)),
        Family("sit_chair", "sitting on a chair: upright, slouched, leaning forward, legs crossed",
               (both(hip_flex=(80.0, 100.0), hip_abd=(0.0, 15.0), hip_rot=(-5.0, 15.0), knee_flex=(75.0, 105.0),
                     ankle_dorsi=(-10.0, 15.0)) | key(spine_flex=(-5.0, 15.0), neck_flex=(-10.0, 30.0)),
                both(hip_flex=(60.0, 80.0), hip_abd=(5.0, 20.0), hip_rot=(5.0, 25.0), knee_flex=(20.0, 60.0),
                     ankle_dorsi=(-20.0, 0.0)) | key(spine_flex=(20.0, 40.0)),
                both(hip_flex=(95.0, 115.0), hip_abd=(0.0, 15.0), knee_flex=(80.0, 110.0), ankle_dorsi=(5.0, 20.0))
                | key(spine_flex=(20.0, 40.0), neck_flex=(-20.0, 10.0)),
                left(hip_flex=(80.0, 95.0), hip_abd=(30.0, 45.0), hip_rot=(35.0, 50.0), knee_flex=(100.0, 120.0))
                | right(hip_flex=(85.0, 95.0), knee_flex=(80.0, 95.0)) | key(spine_flex=(0.0, 20.0))),
               arms=("knees", "lap", "lap", "front", "phone", "head"), ground="thighs"),
        Family("sit_floor", "sitting on the floor: legs out, knees up, to one side",
               (both(hip_flex=(70.0, 95.0), hip_abd=(0.0, 15.0), hip_rot=(0.0, 25.0), knee_flex=(0.0, 20.0),
                     ankle_dorsi=(-30.0, 0.0)) | key(lift=(0.0, 10.0), spine_flex=(-5.0, 20.0)),
                both(hip_flex=(100.0, 120.0), hip_abd=(5.0, 20.0), knee_flex=(100.0, 130.0), ankle_dorsi=(0.0, 20.0))
                | key(lift=(25.0, 45.0), spine_flex=(5.0, 30.0)),
                left(hip_flex=(70.0, 90.0), hip_abd=(5.0, 20.0), hip_rot=(30.0, 45.0), knee_flex=(110.0, 135.0))
                | right(hip_flex=(60.0, 80.0), hip_abd=(10.0, 25.0), hip_rot=(-40.0, -20.0), knee_flex=(120.0, 140.0))
                | key(root_roll=(5.0, 15.0), spine_lat=(-15.0, -5.0))),
               arms=("support_behind", "knees", "lap", "hug", "down"), ground="thighs"),
        Family("sit_cross_legged", "sitting cross-legged on the floor",
               (left(hip_flex=(80.0, 95.0), knee_flex=(125.0, 145.0)) | right(hip_flex=(65.0, 80.0),
                     knee_flex=(130.0, 148.0))
                | both(hip_abd=(30.0, 45.0), hip_rot=(35.0, 45.0), ankle_dorsi=(-15.0, 10.0), ankle_inv=(10.0, 30.0))
                | key(lift=(5.0, 20.0), spine_flex=(-5.0, 25.0), neck_flex=(-10.0, 25.0)),),
               arms=("knees", "lap", "down", "support_behind", "front"), ground="thighs"),
        Family("squat", "squatting with the heels down, from half to full depth",
               (both(hip_flex=(60.0, 75.0), hip_abd=(5.0, 20.0), hip_rot=(0.0, 20.0), knee_flex=(70.0, 90.0),
                     ankle_dorsi=(10.0, 20.0)) | key(spine_flex=(10.0, 25.0), neck_flex=(-20.0, 5.0)),
                both(hip_flex=(115.0, 128.0), hip_abd=(15.0, 30.0), hip_rot=(10.0, 30.0), knee_flex=(140.0, 155.0),
                     ankle_dorsi=(30.0, 40.0)) | key(spine_flex=(20.0, 45.0), neck_flex=(-30.0, 0.0))),
               mode="path", arms=("forward", "between", "elbows_on_knees", "down", "hips"), ground="feet"),
        Family("crouch_toes", "deep crouch on the toes, heels up",
               (both(hip_flex=(110.0, 128.0), hip_abd=(20.0, 35.0), hip_rot=(15.0, 35.0), knee_flex=(145.0, 158.0),
                     ankle_dorsi=(0.0, 20.0), toe_ext=(40.0, 65.0))
                | key(lift=(30.0, 50.0), spine_flex=(20.0, 45.0), neck_flex=(-30.0, 0.0)),),
               arms=("between", "elbows_on_knees", "forward"), ground="feet"),
        Family("kneel_one", "kneeling on one knee, the other foot flat",
               (left(hip_flex=(-5.0, 20.0), hip_abd=(0.0, 10.0), knee_flex=(85.0, 110.0), ankle_dorsi=(-40.0, -20.0))
                | right(hip_flex=(75.0, 100.0), hip_abd=(0.0, 15.0), knee_flex=(75.0, 100.0), ankle_dorsi=(10.0, 25.0))
                | key(spine_flex=(-5.0, 20.0)),
                left(hip_flex=(-5.0, 20.0), knee_flex=(85.0, 110.0), ankle_dorsi=(0.0, 15.0), toe_ext=(40.0, 65.0))
                | right(hip_flex=(75.0, 100.0), hip_abd=(0.0, 15.0), knee_flex=(75.0, 100.0), ankle_dorsi=(10.0, 25.0))
                | key(spine_flex=(0.0, 25.0))),
               arms=("down", "knees", "front", "hips", "point"), ground="feet", support=0.0),
        Family("kneel_both", "kneeling on both knees: upright, sitting on the heels, on all fours",
               (both(hip_flex=(-5.0, 15.0), knee_flex=(80.0, 100.0), ankle_dorsi=(-45.0, -25.0))
                | key(spine_flex=(-5.0, 10.0)),
                both(hip_flex=(60.0, 85.0), hip_abd=(0.0, 10.0), knee_flex=(145.0, 158.0), ankle_dorsi=(-50.0, -35.0))
                | key(spine_flex=(-5.0, 20.0)),
                both(hip_flex=(115.0, 128.0), hip_abd=(5.0, 20.0), knee_flex=(145.0, 158.0), ankle_dorsi=(-50.0, -35.0),
                     arm_flex=(140.0, 170.0), arm_abd=(0.0, 20.0), elbow_flex=(0.0, 20.0))
                | key(spine_flex=(40.0, 65.0), neck_flex=(0.0, 20.0)),
                both(hip_flex=(80.0, 100.0), hip_abd=(0.0, 10.0), knee_flex=(85.0, 100.0), ankle_dorsi=(-45.0, -25.0),
                     arm_flex=(75.0, 95.0), arm_abd=(0.0, 15.0), elbow_flex=(0.0, 15.0), wrist_ext=(60.0, 75.0))
                | key(spine_flex=(-10.0, 15.0), neck_flex=(-35.0, -10.0))),
               arms=("down", "front", "hips", "lap", "overhead"), ground="shins"),
        Family("lie_back", "lying on the back: legs straight or bent, arms by the sides, overhead, on the chest",
               (straight | lie_back,
                both(hip_flex=(35.0, 60.0), hip_abd=(0.0, 15.0), knee_flex=(70.0, 100.0), ankle_dorsi=(-10.0, 10.0))
                | lie_back,
                left(hip_flex=(35.0, 60.0), knee_flex=(70.0, 100.0)) | right(hip_flex=(-5.0, 10.0),
                     knee_flex=(0.0, 15.0), hip_rot=(5.0, 30.0)) | lie_back,
                both(hip_flex=(30.0, 50.0), hip_abd=(30.0, 45.0), hip_rot=(30.0, 45.0), knee_flex=(80.0, 110.0))
                | lie_back),
               arms=("down", "down", "overhead", "chest", "head", "out")),
        Family("lie_front", "lying face down: straight, one knee drawn up, propped on the elbows",
               (both(hip_flex=(-10.0, 5.0), hip_abd=(0.0, 15.0), hip_rot=(-10.0, 20.0), knee_flex=(0.0, 20.0),
                     ankle_dorsi=(-40.0, -20.0)) | lie_front,
                left(hip_flex=(30.0, 60.0), hip_abd=(20.0, 40.0), hip_rot=(20.0, 40.0), knee_flex=(70.0, 100.0))
                | right(hip_flex=(-10.0, 5.0), knee_flex=(0.0, 20.0), ankle_dorsi=(-40.0, -20.0)) | lie_front,
                both(hip_flex=(-10.0, 5.0), hip_abd=(0.0, 15.0), knee_flex=(0.0, 60.0), ankle_dorsi=(-40.0, -20.0),
                     arm_flex=(90.0, 120.0), arm_abd=(0.0, 15.0), elbow_flex=(80.0, 100.0))
                | key(root_pitch=(70.0, 80.0), spine_flex=(-25.0, -10.0), neck_flex=(-30.0, -10.0))),
               arms=("down", "overhead", "pillow")),
        Family("lie_side", "lying on one side, curled or straight",
               (left(hip_flex=(50.0, 90.0), hip_abd=(-10.0, 5.0), knee_flex=(60.0, 110.0), arm_flex=(30.0, 70.0),
                     elbow_flex=(30.0, 90.0))
                | right(hip_flex=(20.0, 60.0), knee_flex=(30.0, 90.0), arm_flex=(70.0, 110.0), elbow_flex=(60.0, 120.0))
                | key(spine_flex=(10.0, 40.0), neck_flex=(0.0, 30.0)) | lie_side,
                both(hip_flex=(0.0, 20.0), knee_flex=(0.0, 30.0)) | left(hip_flex=(10.0, 30.0), arm_flex=(0.0, 30.0),
                     arm_abd=(0.0, 20.0)) | right(arm_flex=(140.0, 170.0), elbow_flex=(0.0, 60.0)) | lie_side),),
        Family("bend", "bending forward from the hips, with twist or side bend",
               (both(hip_flex=(20.0, 35.0), knee_flex=(0.0, 15.0), ankle_dorsi=(0.0, 10.0), arm_flex=(30.0, 50.0),
                     elbow_flex=(0.0, 20.0)) | key(spine_flex=(15.0, 30.0), spine_rot=(-15.0, 15.0),
                                                   spine_lat=(-10.0, 10.0)),
                both(hip_flex=(80.0, 110.0), hip_abd=(0.0, 10.0), knee_flex=(0.0, 25.0), ankle_dorsi=(0.0, 10.0),
                     arm_flex=(100.0, 150.0), elbow_flex=(0.0, 20.0))
                | key(spine_flex=(55.0, 75.0), spine_rot=(-20.0, 20.0), spine_lat=(-12.0, 12.0),
                       neck_flex=(-30.0, 0.0))),
               mode="path", arms=("keys", "keys", "hips", "knees"), ground="feet"),
        Family("reach", "reaching up, forward, to the side, down to the floor",
               (left(arm_flex=(140.0, 175.0), arm_abd=(0.0, 40.0), elbow_flex=(0.0, 20.0))
                | both(ankle_dorsi=(-35.0, 0.0)) | key(lift=(0.0, 35.0), spine_lat=(-15.0, 0.0),
                                                        neck_flex=(-30.0, -5.0)),
                left(arm_flex=(70.0, 110.0), arm_abd=(-20.0, 30.0), elbow_flex=(0.0, 20.0))
                | both(hip_flex=(10.0, 40.0), knee_flex=(0.0, 20.0)) | key(spine_flex=(10.0, 30.0),
                                                                          spine_rot=(-30.0, 0.0)),
                left(arm_abd=(90.0, 130.0), arm_flex=(-10.0, 30.0), elbow_flex=(0.0, 20.0), knee_flex=(10.0, 30.0))
                | right(hip_abd=(10.0, 25.0)) | key(spine_lat=(5.0, 25.0)),
                left(arm_flex=(70.0, 110.0), elbow_flex=(0.0, 20.0))
                | both(hip_flex=(60.0, 100.0), knee_flex=(40.0, 90.0), ankle_dorsi=(10.0, 25.0))
                | key(spine_flex=(30.0, 60.0))),
               arms=("down", "hips", "out", "keys"), ground="feet"),
        Family("arms_overhead", "arms overhead: forward or sideways, stretching, hanging",
               (both(arm_flex=(145.0, 175.0), arm_abd=(0.0, 25.0), arm_rot=(-10.0, 30.0), elbow_flex=(0.0, 30.0))
                | key(spine_flex=(-20.0, 0.0), neck_flex=(-30.0, 0.0), lift=(0.0, 20.0)),
                both(arm_abd=(120.0, 165.0), arm_flex=(0.0, 30.0), elbow_flex=(0.0, 20.0)),
                both(arm_flex=(150.0, 175.0), arm_abd=(-10.0, 10.0), elbow_flex=(20.0, 50.0))
                | key(spine_lat=(-20.0, 20.0)),
                both(arm_flex=(160.0, 178.0), elbow_flex=(0.0, 90.0), hip_flex=(0.0, 40.0), knee_flex=(0.0, 60.0))),
               ground="feet"),
        Family("throw", "an overhand throw: wind-up, cocking, release, follow-through",
               (left(hip_flex=(50.0, 80.0), knee_flex=(60.0, 90.0), arm_flex=(50.0, 80.0), arm_abd=(20.0, 50.0),
                     elbow_flex=(20.0, 60.0))
                | right(hip_flex=(5.0, 20.0), knee_flex=(10.0, 25.0), ankle_dorsi=(5.0, 15.0), arm_abd=(70.0, 95.0),
                        arm_flex=(-40.0, -20.0), arm_rot=(30.0, 60.0), elbow_flex=(60.0, 100.0))
                | key(spine_rot=(-35.0, -20.0), spine_lat=(-10.0, 0.0), neck_rot=(20.0, 40.0)),
                left(hip_flex=(30.0, 50.0), hip_abd=(10.0, 25.0), knee_flex=(30.0, 50.0), ankle_dorsi=(10.0, 20.0),
                     arm_flex=(40.0, 70.0), arm_abd=(30.0, 60.0), elbow_flex=(20.0, 60.0))
                | right(hip_flex=(-15.0, -5.0), hip_rot=(10.0, 30.0), knee_flex=(20.0, 40.0), arm_abd=(85.0, 100.0),
                        arm_flex=(-20.0, 0.0), arm_rot=(80.0, 100.0), elbow_flex=(80.0, 100.0))
                | key(spine_rot=(-20.0, -5.0), spine_flex=(-15.0, 0.0), neck_rot=(10.0, 30.0)),
                left(hip_flex=(40.0, 60.0), knee_flex=(30.0, 45.0), ankle_dorsi=(15.0, 25.0), arm_flex=(10.0, 30.0),
                     arm_abd=(10.0, 30.0), arm_rot=(-40.0, -20.0), elbow_flex=(80.0, 110.0))
                | right(hip_flex=(-20.0, -10.0), knee_flex=(30.0, 50.0), ankle_dorsi=(-20.0, 0.0),
                        arm_abd=(85.0, 100.0), arm_flex=(10.0, 30.0), arm_rot=(20.0, 50.0), elbow_flex=(15.0, 40.0))
                | key(spine_rot=(15.0, 30.0), spine_flex=(10.0, 25.0), spine_lat=(5.0, 15.0)),
                left(hip_flex=(50.0, 75.0), knee_flex=(35.0, 50.0), arm_flex=(-20.0, 0.0), arm_abd=(10.0, 30.0),
                     elbow_flex=(60.0, 100.0))
                | right(hip_flex=(0.0, 30.0), knee_flex=(40.0, 80.0), ankle_dorsi=(-30.0, -10.0), arm_flex=(60.0, 90.0),
                        arm_abd=(-30.0, 0.0), arm_rot=(-40.0, -10.0), elbow_flex=(20.0, 50.0))
                | key(spine_rot=(25.0, 40.0), spine_flex=(25.0, 45.0), spine_lat=(0.0, 10.0))),
               mode="path", noise_deg=5.0),
        Family("kick", "a kick with the right leg: back-swing, contact, follow-through",
               (right(hip_flex=(-25.0, -10.0), knee_flex=(80.0, 110.0), ankle_dorsi=(-40.0, -20.0),
                      arm_flex=(-30.0, 0.0), arm_abd=(20.0, 40.0), elbow_flex=(20.0, 50.0))
                | left(hip_flex=(10.0, 25.0), knee_flex=(15.0, 30.0), ankle_dorsi=(10.0, 20.0), arm_flex=(0.0, 30.0),
                       arm_abd=(30.0, 60.0), elbow_flex=(20.0, 60.0))
                | key(spine_flex=(-10.0, 5.0), spine_rot=(-15.0, 0.0)),
                right(hip_flex=(20.0, 45.0), knee_flex=(30.0, 60.0), ankle_dorsi=(-45.0, -25.0), arm_flex=(10.0, 40.0),
                      arm_abd=(20.0, 40.0), elbow_flex=(20.0, 50.0))
                | left(hip_flex=(15.0, 30.0), knee_flex=(15.0, 30.0), ankle_dorsi=(10.0, 20.0), arm_flex=(-10.0, 20.0),
                       arm_abd=(40.0, 70.0), elbow_flex=(20.0, 60.0))
                | key(spine_flex=(-15.0, 0.0)),
                right(hip_flex=(70.0, 100.0), knee_flex=(5.0, 30.0), ankle_dorsi=(-40.0, -20.0), arm_flex=(-30.0, 0.0),
                      arm_abd=(30.0, 50.0), elbow_flex=(20.0, 50.0))
                | left(hip_flex=(5.0, 20.0), knee_flex=(10.0, 25.0), ankle_dorsi=(5.0, 15.0), arm_flex=(-20.0, 10.0),
                       arm_abd=(50.0, 80.0), elbow_flex=(20.0, 60.0))
                | key(spine_flex=(-20.0, -5.0))),
               mode="path", ground="feet", support=1.0, noise_deg=5.0),
        Family("lunge", "a forward lunge, shallow to deep",
               (left(hip_flex=(35.0, 50.0), knee_flex=(30.0, 45.0), ankle_dorsi=(10.0, 20.0))
                | right(hip_flex=(-10.0, 0.0), knee_flex=(15.0, 30.0), ankle_dorsi=(0.0, 10.0), toe_ext=(10.0, 25.0))
                | key(spine_flex=(-5.0, 10.0)),
                left(hip_flex=(85.0, 100.0), hip_abd=(0.0, 10.0), knee_flex=(85.0, 100.0), ankle_dorsi=(15.0, 25.0))
                | right(hip_flex=(-15.0, -5.0), knee_flex=(70.0, 95.0), ankle_dorsi=(0.0, 20.0), toe_ext=(40.0, 60.0))
                | key(spine_flex=(-5.0, 10.0))),
               mode="path", arms=("hips", "down", "overhead", "forward", "out"), ground="feet", support=1.0),
        Family("side_lunge", "a side lunge: one knee bent out to the side, the other leg straight, trunk leaning",
               (left(hip_flex=(20.0, 40.0), hip_abd=(20.0, 35.0), hip_rot=(10.0, 30.0), knee_flex=(30.0, 50.0),
                     ankle_dorsi=(5.0, 15.0))
                | right(hip_abd=(20.0, 30.0), hip_flex=(-5.0, 10.0), knee_flex=(0.0, 10.0), ankle_inv=(5.0, 15.0))
                | key(spine_flex=(0.0, 15.0), spine_lat=(-10.0, 5.0)),
                left(hip_flex=(60.0, 90.0), hip_abd=(30.0, 45.0), hip_rot=(20.0, 40.0), knee_flex=(80.0, 115.0),
                     ankle_dorsi=(15.0, 30.0))
                | right(hip_abd=(30.0, 45.0), hip_flex=(-5.0, 15.0), knee_flex=(0.0, 10.0), ankle_inv=(10.0, 25.0))
                | key(spine_flex=(15.0, 40.0), spine_lat=(-25.0, 10.0), spine_rot=(-20.0, 20.0))),
               mode="path", arms=("forward", "hips", "out", "overhead", "balance", "down", "wave"), ground="feet",
               support=1.0),
        Family("jump", "jumping: take-off crouch, push-off, tuck, star, split leap, landing",
               (both(hip_flex=(60.0, 90.0), knee_flex=(60.0, 100.0), ankle_dorsi=(15.0, 30.0), arm_flex=(-60.0, -30.0),
                     arm_abd=(0.0, 20.0), elbow_flex=(0.0, 30.0)) | key(spine_flex=(20.0, 40.0), root_pitch=(5.0, 25.0)),
                both(hip_flex=(-10.0, 5.0), knee_flex=(0.0, 15.0), ankle_dorsi=(-45.0, -25.0), toe_ext=(20.0, 45.0),
                     arm_flex=(120.0, 170.0), elbow_flex=(0.0, 30.0))
                | key(spine_flex=(-15.0, 0.0), root_pitch=(-5.0, 10.0)),
                both(hip_flex=(60.0, 110.0), knee_flex=(80.0, 130.0), ankle_dorsi=(-30.0, -10.0), arm_flex=(50.0, 90.0),
                     elbow_flex=(40.0, 90.0)) | key(spine_flex=(10.0, 30.0), root_pitch=(-10.0, 15.0)),
                both(hip_abd=(25.0, 45.0), hip_flex=(0.0, 15.0), knee_flex=(0.0, 15.0), ankle_dorsi=(-40.0, -20.0),
                     arm_abd=(120.0, 160.0), elbow_flex=(0.0, 20.0)),
                left(hip_flex=(60.0, 95.0), knee_flex=(0.0, 20.0)) | right(hip_flex=(-30.0, -15.0), knee_flex=(0.0, 40.0))
                | both(arm_abd=(70.0, 100.0), arm_flex=(0.0, 30.0)) | key(root_pitch=(10.0, 25.0)),
                both(hip_flex=(30.0, 70.0), knee_flex=(40.0, 90.0), ankle_dorsi=(10.0, 25.0), arm_flex=(20.0, 60.0),
                     arm_abd=(10.0, 40.0), elbow_flex=(10.0, 40.0)) | key(root_pitch=(0.0, 20.0))),
               noise_deg=5.0),
        Family("dance", "dancing: arabesque, passe, plie, disco point, groove, twist",
               (left(hip_flex=(0.0, 10.0), knee_flex=(0.0, 10.0), arm_flex=(80.0, 120.0), arm_abd=(0.0, 20.0))
                | right(hip_flex=(-30.0, -20.0), hip_rot=(20.0, 40.0), knee_flex=(0.0, 15.0), ankle_dorsi=(-45.0, -30.0),
                        arm_abd=(70.0, 100.0))
                | key(root_pitch=(20.0, 40.0), spine_flex=(-25.0, -10.0)),
                right(hip_flex=(60.0, 90.0), hip_abd=(30.0, 45.0), hip_rot=(35.0, 45.0), knee_flex=(110.0, 135.0),
                      ankle_dorsi=(-40.0, -20.0))
                | both(arm_flex=(140.0, 170.0), arm_abd=(10.0, 30.0), elbow_flex=(20.0, 50.0)),
                both(hip_flex=(20.0, 40.0), hip_abd=(30.0, 45.0), hip_rot=(35.0, 45.0), knee_flex=(50.0, 90.0),
                     ankle_dorsi=(10.0, 25.0), arm_abd=(70.0, 95.0), arm_flex=(10.0, 30.0), elbow_flex=(10.0, 30.0)),
                left(arm_abd=(130.0, 160.0), arm_flex=(10.0, 40.0), elbow_flex=(0.0, 15.0), hip_flex=(10.0, 25.0),
                     knee_flex=(10.0, 30.0))
                | right(arm_flex=(-20.0, 0.0), arm_abd=(35.0, 50.0), arm_rot=(-80.0, -60.0), elbow_flex=(95.0, 115.0),
                        hip_abd=(10.0, 20.0), knee_flex=(0.0, 10.0))
                | key(spine_lat=(5.0, 20.0)),
                both(hip_flex=(20.0, 45.0), knee_flex=(30.0, 60.0), ankle_dorsi=(10.0, 25.0), arm_flex=(20.0, 70.0),
                     arm_abd=(10.0, 50.0), elbow_flex=(60.0, 110.0))
                | key(spine_flex=(5.0, 25.0), spine_rot=(-25.0, 25.0), spine_lat=(-15.0, 15.0)),
                both(knee_flex=(10.0, 30.0), hip_flex=(5.0, 20.0), hip_rot=(-30.0, 30.0), arm_abd=(40.0, 80.0),
                     elbow_flex=(70.0, 100.0)) | key(spine_rot=(-30.0, 30.0))),
               noise_deg=5.0),
    )  # fmt: skip


#: The pose families by name.
FAMILIES: dict[str, Family] = {family.name: family for family in _families()}

#: Named groups of families (usable wherever family names are).
FAMILY_GROUPS: dict[str, tuple[str, ...]] = {
    "gait": ("walk", "run"),
    "sit": ("sit_chair", "sit_floor", "sit_cross_legged"),
    "crouch": ("squat", "crouch_toes"),
    "kneel": ("kneel_one", "kneel_both"),
    "lie": ("lie_back", "lie_front", "lie_side"),
    "sport": ("throw", "kick", "lunge", "side_lunge", "jump", "dance"),
    "everyday": ("stand", "bend", "reach", "arms_overhead"),
}


def family_names(families: Mapping[str, float] | Sequence[str] | None = None) -> tuple[tuple[str, ...], tuple[float, ...]]:
    r"""Resolve families and groups to (family names, weights); a group's weight is shared
    evenly by its members. None: every family, weight 1.

    Raises:
        KeyError: An unknown name.
    """
    if families is None:
        families = {name: 1.0 for name in FAMILIES}
    elif not isinstance(families, Mapping):
        families = {name: 1.0 for name in families}
    weights: dict[str, float] = {}
    for name, weight in families.items():
        members = FAMILY_GROUPS.get(name, (name,))
        for member in members:
            if member not in FAMILIES:
                known = ", ".join([*FAMILIES, *FAMILY_GROUPS])
                raise KeyError(f"no pose family {member!r}; known families and groups: {known}")
            weights[member] = weights.get(member, 0.0) + float(weight) / len(members)
    names = tuple(name for name in FAMILIES if weights.get(name, 0.0) > 0)
    if not names:
        raise ValueError("the family weights are all zero")
    return names, tuple(weights[name] for name in names)


# ----------------------------------------------------------------- angles -> rotations


def _rotation(angle: Tensor, axis: int) -> Tensor:
    """Rotations ``(..., 3, 3)`` by ``angle`` ``(...)`` radians about coordinate ``axis``."""
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(c), torch.zeros_like(c)
    if axis == 0:
        rows = ((one, zero, zero), (zero, c, -s), (zero, s, c))
    elif axis == 1:
        rows = ((c, zero, s), (zero, one, zero), (-s, zero, c))
    else:
        rows = ((c, -s, zero), (s, c, zero), (zero, zero, one))
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)


def _swing_from_down(direction: Tensor) -> Tensor:
    r"""Shortest rotations ``(..., 3, 3)`` taking ``-Y`` (a hanging limb) to unit
    ``direction`` ``(..., 3)`` (Rodrigues: ``I + K + K^2 / (1 + c)``, ``K`` the cross-product
    matrix of ``-Y x d``, ``c = -d_y``; not for ``d`` straight up)."""
    dx, dy, dz = direction.unbind(-1)
    zero = torch.zeros_like(dx)
    K = torch.stack([torch.stack(row, dim=-1) for row in ((zero, -dx, zero), (dx, zero, dz), (zero, -dz, zero))], dim=-2)
    eye = torch.eye(3, dtype=direction.dtype, device=direction.device)
    return eye + K + K @ K / (1.0 - dy).clamp_min(1e-6)[..., None, None]


def _limb_direction(flexion: Tensor, abduction: Tensor) -> Tensor:
    """Unit direction ``(..., 3)`` of a limb hanging down, abducted then flexed (left side)."""
    return torch.stack(
        [torch.sin(abduction), -torch.cos(abduction) * torch.cos(flexion), torch.cos(abduction) * torch.sin(flexion)],
        dim=-1,
    )


def _limb(a: Tensor, side: str) -> dict[str, Tensor]:
    """Local rotations ``(m, 3, 3)`` of one side's joints, in the left side's convention."""

    def g(name: str) -> Tensor:
        return a[..., _INDEX[f"{side}_{name}"]]

    arm = (_rotation(-g("arm_flex"), 0) @ _rotation(g("arm_abd"), 2) @ _rotation(g("arm_rot"), 1)
           @ _rotation(torch.full_like(g("arm_flex"), -math.pi / 2), 2))  # fmt: skip
    elevation = torch.acos((torch.cos(g("arm_abd")) * torch.cos(g("arm_flex"))).clamp(-1.0, 1.0))
    shrug = g("collar_elev") + _COLLAR_SHARE * (elevation - math.radians(30.0)).clamp_min(0.0)
    collar = _rotation(-g("collar_prot"), 1) @ _rotation(shrug, 2)
    half_pronation = g("forearm_pron") / 2
    return {
        "hip": _swing_from_down(_limb_direction(g("hip_flex"), g("hip_abd"))) @ _rotation(g("hip_rot"), 1),
        "knee": _rotation(g("knee_flex"), 0),
        "ankle": _rotation(-g("ankle_dorsi"), 0) @ _rotation(-g("ankle_inv"), 2),
        "foot": _rotation(-g("toe_ext"), 0),
        "collar": collar,
        "shoulder": collar.transpose(-1, -2) @ arm,
        "elbow": _rotation(-g("elbow_flex"), 1) @ _rotation(half_pronation, 0),
        "wrist": _rotation(g("wrist_ext"), 2) @ _rotation(g("wrist_dev"), 1) @ _rotation(half_pronation, 0),
        "hand": _rotation(-g("finger_flex"), 2),
    }


def _trunk(a: Tensor, prefix: str, shares: dict[str, tuple[float, ...]]) -> list[Tensor]:
    """Local rotations ``(m, 3, 3)`` of the joints sharing a trunk angle set (spine or neck)."""
    flex, lat, rot = (a[..., _INDEX[f"{prefix}_{k}"]] for k in ("flex", "lat", "rot"))
    return [
        _rotation(flex * f, 0) @ _rotation(-lat * s, 2) @ _rotation(rot * r, 1)
        for f, s, r in zip(shares["flex"], shares["lat"], shares["rot"])
    ]


def anatomical_to_rotmats(angles: Tensor) -> Tensor:
    r"""Anatomical angles ``(..., C)`` in degrees (:data:`CHANNELS`) -> local rotations
    ``(..., J, 3, 3)`` on the SMPL tree; joint 0 pitched and rolled (no heading)."""
    a = torch.deg2rad(angles)
    joints: dict[str, Tensor] = {
        "pelvis": _rotation(a[..., _INDEX["root_pitch"]], 0) @ _rotation(a[..., _INDEX["root_roll"]], 2)
    }
    joints.update(zip(("spine1", "spine2", "spine3"), _trunk(a, "spine", _SPINE_SHARE)))
    joints.update(zip(("neck", "head"), _trunk(a, "neck", _NECK_SHARE)))
    mirror = a.new_tensor([[1.0, -1.0, -1.0], [-1.0, 1.0, 1.0], [-1.0, 1.0, 1.0]])  # M R M, M = diag(-1, 1, 1)
    for side, prefix in (("left", "l"), ("right", "r")):
        for name, R in _limb(a, prefix).items():
            joints[f"{side}_{name}"] = R if side == "left" else R * mirror
    return torch.stack([joints[name] for name in SMPL_JOINT_NAMES], dim=-3)


# ----------------------------------------------------------------------- sampling


@dataclass(frozen=True)
class _Table:
    """A family's keys as tensors: ``low``, ``high`` ``(K, C)`` and ``given`` ``(K, C)`` bool."""

    low: Tensor
    high: Tensor
    given: Tensor


@cache
def _key_lists(keys: tuple[tuple[tuple[str, Value], ...], ...]) -> tuple[list, list, list]:
    low = [[0.0] * len(CHANNELS) for _ in keys]
    high = [[0.0] * len(CHANNELS) for _ in keys]
    given = [[False] * len(CHANNELS) for _ in keys]
    for k, pose in enumerate(keys):
        for name, value in pose:
            lo, hi = value if isinstance(value, tuple) else (value, value)
            c = _INDEX[name]
            low[k][c], high[k][c], given[k][c] = float(lo), float(hi), True
    return low, high, given


def _table(keys: Sequence[Key], like: Tensor) -> _Table:
    """Keys as tensors on ``like``'s device and dtype."""
    low, high, given = _key_lists(tuple(tuple(sorted(pose.items())) for pose in keys))
    return _Table(like.new_tensor(low), like.new_tensor(high), torch.tensor(given, device=like.device))


def _noise_scale(like: Tensor) -> Tensor:
    """``(C,)`` noise scale per channel (by its kind)."""
    scales = []
    for name in CHANNELS:
        base = name[2:] if name[:2] in ("l_", "r_") else name
        kind = base if base in _NOISE_SCALE else base.split("_")[0]
        scales.append(_NOISE_SCALE.get(kind, 1.0))
    return like.new_tensor(scales)


def _mirror_channels(angles: Tensor) -> Tensor:
    """Left-right mirror image of angles ``(..., C)``: sides swapped, sideways angles negated."""
    order = [_INDEX[("r_" + n[2:]) if n.startswith("l_") else ("l_" + n[2:]) if n.startswith("r_") else n]
             for n in CHANNELS]  # fmt: skip
    sign = angles.new_tensor([-1.0 if n in ("root_roll", "spine_lat", "spine_rot", "neck_lat", "neck_rot") else 1.0
                              for n in CHANNELS])  # fmt: skip
    return angles[..., order] * sign


def _interpolate(values: Tensor, position: Tensor, cyclic: bool) -> Tensor:
    r"""Piecewise-linear interpolation of per-sample keys ``(m, K, C)`` at ``position`` ``(m,)``
    in key units (``[0, K - 1]``, or ``[0, K)`` around a cycle)."""
    K = values.shape[1]
    low = position.floor().long().clamp(0, K - 1)
    high = torch.remainder(low + 1, K) if cyclic else (low + 1).clamp(max=K - 1)
    t = (position - low)[:, None]
    rows = torch.arange(len(position), device=position.device)
    return values[rows, low] * (1 - t) + values[rows, high] * t


def _ground_pitch(angles: Tensor, family: Family) -> Tensor:
    r"""Pelvis pitch ``(m,)`` in degrees that lays the grounded segments flat, 0 without.

    Pitches about X add along the leg (hip flexion counts negative, knee flexion positive,
    dorsiflexion negative): the foot's pitch ``p - hip + knee - dorsi`` is ``lift`` (heels
    up), the thigh's ``p - hip`` is ``-90 - lift`` (level, knees up), the shin's
    ``p - hip + knee`` is ``90 + lift`` (flat behind the knee).
    """

    def side(prefix: str) -> Tensor:
        hip, knee = angles[:, _INDEX[f"{prefix}_hip_flex"]], angles[:, _INDEX[f"{prefix}_knee_flex"]]
        lift = angles[:, _INDEX["lift"]]
        if family.ground == "thighs":
            return hip - 90.0 - lift
        if family.ground == "shins":
            return 90.0 + hip - knee + lift
        return hip - knee + angles[:, _INDEX[f"{prefix}_ankle_dorsi"]] + lift

    if family.ground == "none":
        return torch.zeros_like(angles[:, 0])
    return family.support * side("l") + (1.0 - family.support) * side("r")


def _family_angles(family: Family, m: int, generator: torch.Generator, dtype: torch.dtype,
                   canonical: bool = False) -> Tensor:
    r"""Anatomical angles ``(m, C)`` of ``m`` draws from ``family`` (``canonical``: its
    central pose: mid-range values, the first key, gesture and phase, no noise, no mirror)."""
    device = generator.device
    like = torch.empty(0, dtype=dtype, device=device)
    table = _table(family.keys, like)
    K, C = table.low.shape
    draw = {"generator": generator, "dtype": dtype, "device": device}

    def uniform(*shape: int) -> Tensor:
        return torch.full(shape, 0.5, dtype=dtype, device=device) if canonical else torch.rand(*shape, **draw)

    u = uniform(m, C)
    values = table.low + u[:, None] * (table.high - table.low)  # (m, K, C)
    if family.mode == "choice":
        pick = torch.zeros(m, dtype=torch.long, device=device) if canonical else torch.randint(
            K, (m,), generator=generator, device=device)
        rows = torch.arange(m, device=device)
        angles, given = values[rows, pick], table.given[pick]
    elif family.mode == "path":
        position = torch.zeros(m, dtype=dtype, device=device) if canonical else uniform(m) * (K - 1)
        angles, given = _interpolate(values, position, cyclic=False), torch.zeros_like(table.given[0]).expand(m, C)
    else:
        phase = torch.zeros(m, dtype=dtype, device=device) if canonical else uniform(m) * K
        angles = _interpolate(values, phase, cyclic=True)
        later = _interpolate(values, torch.remainder(phase + K / 2, K), cyclic=True)
        right_side = [_INDEX["r_" + n] for n in _SIDE]
        angles[:, right_side] = later[:, [_INDEX["l_" + n] for n in _SIDE]]
        given = torch.zeros_like(table.given[0]).expand(m, C)
    low, high = family.scale
    angles = angles * (low + (high - low) * uniform(m))[:, None]
    angles = _apply_gesture(angles, given, family, m, generator, uniform, canonical)
    if not canonical:
        angles = angles + torch.randn(m, C, **draw) * family.noise_deg * _noise_scale(like)
    pitch = angles[:, _INDEX["root_pitch"]] + _ground_pitch(angles, family)  # before mirroring
    angles = torch.cat([pitch[:, None], angles[:, 1:]], dim=1)
    if not canonical and family.mirror:
        flip = torch.rand(m, **draw) < 0.5
        angles = torch.where(flip[:, None], _mirror_channels(angles), angles)
    return angles


def _apply_gesture(angles: Tensor, given: Tensor, family: Family, m: int, generator: torch.Generator,
                   uniform, canonical: bool) -> Tensor:
    r"""The arm channels of a gesture drawn from ``family.arms`` (``"keys"``: none), except
    those ``given`` ``(m, C)`` by the sample's key (choices; paths and cycles give none)."""
    device = angles.device
    pick = torch.zeros(m, dtype=torch.long, device=device) if canonical else torch.randint(
        len(family.arms), (m,), generator=generator, device=device)
    for name in dict.fromkeys(family.arms):  # each distinct gesture once, in order
        if name == "keys":
            continue
        table = _table([GESTURES[name]], angles)
        values = table.low[0] + uniform(m, len(CHANNELS)) * (table.high[0] - table.low[0])
        chosen = torch.tensor([n == name for n in family.arms], dtype=torch.bool, device=device)[pick]
        replace = chosen[:, None] & table.given[0] & ~given
        angles = torch.where(replace, values, angles)
    return angles


@dataclass(frozen=True)
class FamilySample:
    r"""Poses drawn by :func:`sample_families`.

    Attributes:
        rotmats: Local rotations ``(n, J, 3, 3)``, joint 0 the global orientation (Y up).
        family: Index into ``names`` of each pose's family, shape ``(n,)``.
        names: The families drawn from.
        rejected: Whether the pose's first draw interpenetrated, shape ``(n,)``.
        fallback: Whether every draw did (the family's canonical pose was used), ``(n,)``.
    """

    rotmats: Tensor
    family: Tensor
    names: tuple[str, ...] = field(default=())
    rejected: Tensor | None = None
    fallback: Tensor | None = None


def _heading(rotmats: Tensor, yaw: Tensor) -> Tensor:
    """``rotmats`` ``(m, J, 3, 3)`` with the root turned by ``yaw`` ``(m,)`` radians about Y."""
    root = _rotation(yaw, 1) @ rotmats[:, 0]
    return torch.cat([root[:, None], rotmats[:, 1:]], dim=1)


def sample_families(
    n: int,
    generator: torch.Generator,
    families: Mapping[str, float] | Sequence[str] | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    candidates: int = 4,
    tolerance: float = 0.03,
    heading: bool = True,
    mix_probability: float = 0.0,
) -> FamilySample:
    r"""Draw ``n`` coordinated poses from the pose families, intersection-free.

    Arguments:
        n: Number of poses.
        generator: Random source; everything is made on its device.
        families: Family or group names (:data:`FAMILIES`, :data:`FAMILY_GROUPS`), with
            weights (a mapping) or equally weighted (a sequence); None: all, equally.
        dtype: Floating type of the rotations.
        candidates: Draws per pose; the first free of self-intersection is kept.
        tolerance: Allowed capsule penetration in metres
            (:func:`~hmrflow.data.self_contact.self_intersections`).
        heading: Turn each body to a random heading about the vertical (False: every body
            faces +Z, for figures; the random draws are the same).
        mix_probability: Chance that a pose's arms and its trunk's side bend and twist
            (:data:`MIXED_CHANNELS`) come from another draw, mostly of another family (a
            lunge with a reach overhead, a squat with a wave): combinations no family
            lists. 0: none, and no extra random draws.

    Returns:
        :class:`FamilySample`; the rotations lie within the "rom" limits.
    """
    names, weights = family_names(families)
    device = generator.device
    like = torch.empty(0, dtype=dtype, device=device)
    family = torch.multinomial(like.new_tensor(weights), n, replacement=True, generator=generator)
    m = candidates * n
    per_draw = family.repeat(candidates)  # (candidates * n,), candidate-major
    angles = torch.zeros(m, len(CHANNELS), dtype=dtype, device=device)
    for index, name in enumerate(names):
        drawn = _family_angles(FAMILIES[name], m, generator, dtype)
        angles = torch.where((per_draw == index)[:, None], drawn, angles)
    if mix_probability > 0:  # drawn only when asked: the default stream stays
        mixed = torch.rand(m, generator=generator, dtype=dtype, device=device) < mix_probability
        columns = torch.tensor([name in MIXED_CHANNELS for name in CHANNELS], device=device)
        angles = torch.where(mixed[:, None] & columns, angles.roll(1, 0), angles)  # the previous draw's
    yaw = (2.0 * torch.rand(m, generator=generator, dtype=dtype, device=device) - 1.0) * math.pi * float(heading)
    limits = joint_limits("rom")
    rotmats = clamp_to_limits(_heading(anatomical_to_rotmats(angles), yaw), limits)
    bad = self_intersections(rotmats, tolerance=tolerance).view(candidates, n)
    first = (~bad).to(torch.uint8).argmax(dim=0)  # the first clean draw (0 when none is)
    chosen = rotmats.view(candidates, n, NUM_JOINTS, 3, 3)[first, torch.arange(n, device=device)]
    central = torch.stack([_family_angles(FAMILIES[name], 1, generator, dtype, canonical=True)[0] for name in names])
    fallback_poses = clamp_to_limits(_heading(anatomical_to_rotmats(central[family]), yaw[:n]), limits)
    clean = (~bad).any(dim=0)
    rotmats = torch.where(clean[:, None, None, None], chosen, fallback_poses)
    return FamilySample(rotmats, family, names, bad[0], ~clean)
