r"""The family table: every family's key poses, the arm gestures, the named groups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from hmrflow.data.pose_families.angles import Key, Value, both, key, left, right

__all__ = ["FAMILIES", "FAMILY_GROUPS", "GESTURES", "Family", "family_names"]


@dataclass(frozen=True)
class Family:
    r"""A pose family (see :mod:`hmrflow.data.pose_families`).

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


def family_names(
    families: Mapping[str, float] | Sequence[str] | None = None,
) -> tuple[tuple[str, ...], tuple[float, ...]]:
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
