r"""How the figures and the viewer show a person: upright, or as the camera saw them.

A body fitted to a photo lives in the camera's frame; a camera that looks down on a man
walking on a treadmill sees him tilted, and a figure drawn in that frame shows him lying
diagonally. The ``"upright"`` view levels the camera: gravity is estimated once per person
from the final body's joints (the fit, or the mode without fitting;
:func:`hmrflow.body.upright.gravity_up`), and every mesh of that person (mode, fit,
samples) is turned by the same rotation (:func:`hmrflow.body.upright.upright_rotation`:
the camera's pitch, and its roll where the torso shows one) about the person's pelvis, so the samples
stay comparable with each other and with the mode. The ``"camera"`` view leaves the
meshes in the camera's frame. The overlay over the photo always stays in the camera's view.

Example (a body seen by a camera pitched 30 degrees down, its torso along gravity):
    >>> import math
    >>> a = math.radians(30)
    >>> up = np.array([0.0, -math.cos(a), -math.sin(a)], np.float32)
    >>> level = Levelling.of_up(up, pivot=np.zeros(3, np.float32))
    >>> level.apply(up[None]).round(5).tolist()
    [[0.0, -1.0, 0.0]]
    >>> round(pitch_degrees(up), 3)
    30.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from hmrflow.body.joints import SMPL_JOINT_NAMES
from hmrflow.body.upright import gravity_up, upright_rotation
from hmrflow.errors import InputError

if TYPE_CHECKING:
    from hmrflow.application.results import PersonResult

__all__ = ["VIEWS", "Levelling", "View", "check_view", "gravity_record", "person_up", "pitch_degrees", "roll_degrees", "scene_up"]

View = Literal["upright", "camera"]
#: The views of the figures and the viewer.
VIEWS: tuple[str, ...] = ("upright", "camera")

_PELVIS = SMPL_JOINT_NAMES.index("pelvis")


def check_view(view: str) -> View:
    """``view`` if it is one of :data:`VIEWS`.

    Raises:
        InputError: Any other value.
    """
    if view not in VIEWS:
        raise InputError(f"view must be one of {', '.join(VIEWS)}, not {view!r}")
    return view  # type: ignore[return-value]


def person_up(person: PersonResult) -> np.ndarray:
    r"""Up ``(3,)`` in the camera frame (unit), from the final body's joints."""
    joints = torch.as_tensor(np.asarray(person.joints, np.float32)[: len(SMPL_JOINT_NAMES)])
    return gravity_up(joints).numpy()


def pitch_degrees(up: np.ndarray) -> float:
    """The camera's downward pitch in degrees that makes ``up (3,)`` (camera frame) vertical."""
    return math.degrees(math.atan2(-float(up[2]), -float(up[1])))


def roll_degrees(up: np.ndarray) -> float:
    """The camera's roll in degrees (positive: the picture turned clockwise) of ``up (3,)``."""
    return math.degrees(math.atan2(float(up[0]), math.hypot(float(up[1]), float(up[2]))))


def gravity_record(person: PersonResult) -> dict[str, Any]:
    """The person's estimated up as JSON: ``up`` (camera frame), ``camera_pitch_deg``, and the body it comes from."""
    up = person_up(person)
    return {
        "up": np.round(up.astype(np.float64), 6).tolist(),
        "camera_pitch_deg": round(pitch_degrees(up), 3),
        "camera_roll_deg": round(roll_degrees(up), 3),
        "from": "fit" if person.fit is not None else "mode",
        "assumes": "the torso roughly along gravity; a nearly level camera (roll from the torso's lean beyond 8 deg)",
    }


def scene_up(people: Sequence[PersonResult]) -> np.ndarray:
    r"""One up ``(3,)`` for a scene of several people: the normalised mean of their ups."""
    if not people:
        raise ValueError("no people")
    total = np.sum([person_up(p) for p in people], axis=0)
    return (total / max(float(np.linalg.norm(total)), 1e-9)).astype(np.float32)


@dataclass(frozen=True)
class Levelling:
    r"""A rotation ``(3, 3)`` of camera-frame points about ``pivot (3,)``: ``R (p - c) + c``."""

    rotation: np.ndarray
    pivot: np.ndarray

    @classmethod
    def of_up(cls, up: np.ndarray, pivot: np.ndarray) -> Levelling:
        """The levelling that turns ``up (3,)`` into the camera's up ``(0, -1, 0)``."""
        rotation = upright_rotation(torch.as_tensor(np.asarray(up, np.float32))).numpy()
        return cls(rotation.astype(np.float32), np.asarray(pivot, np.float32))

    @classmethod
    def identity(cls) -> Levelling:
        """No change (the camera's view)."""
        return cls(np.eye(3, dtype=np.float32), np.zeros(3, np.float32))

    @classmethod
    def of_person(cls, person: PersonResult, view: View) -> Levelling:
        """The person's levelling about their pelvis in the ``"upright"`` view; none in the ``"camera"`` view."""
        if check_view(view) == "camera":
            return cls.identity()
        return cls.of_up(person_up(person), np.asarray(person.joints, np.float32)[_PELVIS])

    def apply(self, points: np.ndarray) -> np.ndarray:
        r"""``points (..., 3)`` camera frame -> the same points levelled ``(..., 3)`` float32."""
        points = np.asarray(points, np.float32)
        return (points - self.pivot) @ self.rotation.T + self.pivot
