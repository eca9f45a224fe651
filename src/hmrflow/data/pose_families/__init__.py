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

from hmrflow.data.pose_families.angles import CHANNELS, MIXED_CHANNELS, anatomical_to_rotmats
from hmrflow.data.pose_families.sampling import FamilySample, sample_families
from hmrflow.data.pose_families.table import FAMILIES, FAMILY_GROUPS, GESTURES, Family, family_names

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
