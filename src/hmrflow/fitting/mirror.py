r"""Left/right label swaps of a whole person (a detector's mirror error), and a check for them.

A detector sometimes labels a person mirrored: every ``left_*`` keypoint is where the
``right_*`` one should be (a front view labelled as if seen from behind). Fitted as
given, the body turns to face away. :func:`mirror_keypoints` swaps the labels back
(the one left/right permutation of the package,
:func:`~hmrflow.body.keypoints.flip_permutation`, also used by the synthetic corruption
``mirror_probability``); :func:`check_labelling` fits both labellings of every person
with the learned prior (:func:`~hmrflow.fitting.keypoint_fit.fit_keypoints`)
and keeps the mirrored one only where its final energy (the fitter's own: robust data
term + ``w_z^2 |z|^2 + w_b^2 |betas|^2``) is lower by more than
:attr:`MirrorConfig.margin`.

Why a margin, and why it cannot be large: under weak perspective the mirrored labels are
explained exactly by the depth reflection of the true body, which is a valid body seen
from the other side (the mirror image of a plausible pose is plausible). Only
perspective, the camera's tilt (the reflected body leans the other way) and the learned
prior's preferences tell the two apart, so the energies of the two labellings are close,
for right and wrong labellings alike. The default margin, 150, was chosen with
``benchmarks/bench_mirror.py`` on ``real-multiview-v1`` (30 steps, the v2 model). With
the shipped model (v7): none of 702 correctly labelled single views exceeds it the wrong
way (no false swap; v5: 1), while it puts back 14 of BlazePose's 21 real mirror errors
there (the man in cam02, frames 43-66: 196 -> 105 mm; 61 mm with every label put back by
hand; v6: 13, v5: 19) and 85 % of the views whose labels were swapped on purpose (v5: 76 %).
A margin of 50 puts back 20 of the 21 and swaps 3 correct views (0.4 %). The check
costs about 3 times a plain fit (the given labelling is fitted exactly as without the
check, then the mirrored one).

Example (an untrained tiny model; the swap itself is exact):
    >>> from hmrflow.data.keypoint_files import EVIDENCE_NAMES
    >>> points = torch.rand(2, len(EVIDENCE_NAMES), 3)
    >>> torch.equal(mirror_keypoints(mirror_keypoints(points)), points)
    True
    >>> i, j = EVIDENCE_NAMES.index("left_wrist"), EVIDENCE_NAMES.index("right_wrist")
    >>> torch.equal(mirror_keypoints(points)[:, i], points[:, j])
    True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from hmrflow.body.keypoints import flip_permutation
from hmrflow.data.keypoint_files import EVIDENCE_NAMES
from hmrflow.errors import InputError
from hmrflow.fitting.keypoint_fit import BodyFit, FitConfig, fit_keypoints, regress
from hmrflow.fitting.people import People
from hmrflow.fitting.robust import reprojection_energy
from hmrflow.models import ProbabilisticHMR

__all__ = [
    "DEFAULT_MARGIN",
    "LabellingCheck",
    "MirrorConfig",
    "check_labelling",
    "fit_energy",
    "mirror_keypoints",
    "mirror_people",
]

#: Energy by which the mirrored labelling must beat the given one (see the module docstring).
DEFAULT_MARGIN = 150.0
_HIPS = ("left_hip", "right_hip")


@dataclass(frozen=True)
class MirrorConfig:
    """Settings of :func:`check_labelling`.

    Attributes:
        fit: The fitter's settings (both labellings are fitted with them).
        margin: Take the mirrored labelling only where its final energy is lower than the
            given labelling's by more than this (the fitter's energy units; >= 0).
    """

    fit: FitConfig = field(default_factory=FitConfig)
    margin: float = DEFAULT_MARGIN

    def __post_init__(self) -> None:
        if not self.margin >= 0:
            raise InputError(f"MirrorConfig.margin must be a number >= 0, got {self.margin}")


def mirror_keypoints(keypoints: Tensor, names: Sequence[str] = EVIDENCE_NAMES) -> Tensor:
    r"""Every ``left_*`` keypoint exchanged with its ``right_*`` twin: ``(..., K, C)`` -> ``(..., K, C)``.

    An involution. ``names``: the K keypoint names in order (default: the evidence order).
    """
    if keypoints.dim() < 2 or keypoints.shape[-2] != len(names):
        raise InputError(f"keypoints must be (..., {len(names)}, C) for {len(names)} names, "
                         f"got {tuple(keypoints.shape)}")  # fmt: skip
    order = torch.tensor(flip_permutation(names), device=keypoints.device)
    return keypoints.index_select(-2, order)


def mirror_people(people: People, names: Sequence[str] = EVIDENCE_NAMES) -> People:
    r"""``people`` with every left/right label swapped (keypoints and keypoint evidence).

    The person box and the camera stay (the box holds the same points). Needs keypoint
    evidence ``(B, K, 3)`` (or ``(B, K, 4)`` with depth, which stays with its point) in the
    same order as the keypoints.
    """
    evidence = people.evidence
    if evidence.shape[:-1] != people.keypoints.shape[:-1] or evidence.shape[-1] not in (3, 4):
        raise InputError(f"mirroring labels needs keypoint evidence shaped like the keypoints "
                         f"{tuple(people.keypoints.shape)}, got {tuple(evidence.shape)} (an image model?)")  # fmt: skip
    return dataclasses.replace(
        people, keypoints=mirror_keypoints(people.keypoints, names), evidence=mirror_keypoints(evidence, names)
    )


def fit_energy(people: People, fit: BodyFit, config: FitConfig, names: Sequence[str] = EVIDENCE_NAMES) -> Tensor:
    r"""The learned-prior energy ``(B,)`` of a finished fit of ``people`` (the fitter's energy,
    :mod:`hmrflow.fitting.keypoint_fit`): robust data term of ``fit.keypoints_2d`` plus
    ``w_z^2 |z|^2 + w_b^2 |betas|^2``; the hips left out if ``config.drop_hips``."""
    if fit.z is None:
        raise InputError("fit_energy needs a learned-prior fit (its z); the baseline has none")
    targets = people.keypoints
    if config.drop_hips:
        keep = torch.tensor([name not in _HIPS for name in names], device=targets.device, dtype=targets.dtype)
        targets = torch.cat([targets[..., :2], targets[..., 2:] * keep[:, None]], -1)
    data = reprojection_energy(fit.keypoints_2d, targets, people.image_size, config.sigma)
    prior = config.pose_prior_weight**2 * fit.z.square().sum(-1)
    return data + prior + config.shape_prior_weight**2 * fit.betas.square().sum(-1)


@dataclass(frozen=True)
class LabellingCheck:
    r"""Both labellings of B people fitted, and the one kept.

    Attributes:
        swapped: ``(B,)`` bool, True where the mirrored labelling was kept.
        energy: ``(B,)`` the final energy of the labelling as given;
            mirrored_energy: ``(B,)`` of the mirrored one.
        people: The people with the kept labelling.
        fit: The fit of the kept labelling (its ``results``: the given labelling's run).
        given_fit, mirrored_fit: Both fits, for comparisons.
    """

    swapped: Tensor
    energy: Tensor
    mirrored_energy: Tensor
    people: People
    fit: BodyFit
    given_fit: BodyFit
    mirrored_fit: BodyFit

    @property
    def gain(self) -> Tensor:
        """``(B,)`` how much lower the mirrored labelling's energy is (negative: higher)."""
        return self.energy - self.mirrored_energy


def check_labelling(
    model: ProbabilisticHMR, people: People, config: MirrorConfig | None = None
) -> LabellingCheck:
    r"""Fit ``people`` as given and mirrored (two fits; the given one equals the plain fit)
    and keep, per person, the mirrored labelling only where it fits better by more than
    ``config.margin``.

    Arguments:
        model: A keypoint model (evidence: keypoints in the model's order).
        people: B people (:class:`~hmrflow.fitting.people.People`).
        config: :class:`MirrorConfig`.

    Returns:
        :class:`LabellingCheck`.
    """
    config = config or MirrorConfig()
    names = model.evidence_names
    mirrored_people = mirror_people(people, names)
    # Two problems, not one batch of 2B: the given labelling's fit is then exactly the
    # plain fit (L-BFGS on a joint batch shares its line search and stop across people).
    given = fit_keypoints(model, people, config.fit, regress(model, people))
    mirrored = fit_keypoints(model, mirrored_people, config.fit, regress(model, mirrored_people))
    with torch.no_grad():
        energy = fit_energy(people, given, config.fit, names)
        mirrored_energy = fit_energy(mirrored_people, mirrored, config.fit, names)
    swapped = mirrored_energy + config.margin < energy
    return LabellingCheck(
        swapped=swapped,
        energy=energy,
        mirrored_energy=mirrored_energy,
        people=_where(swapped, mirrored_people, people),
        fit=_where(swapped, mirrored, given),
        given_fit=given,
        mirrored_fit=mirrored,
    )


def _where(condition: Tensor, chosen: object, other: object) -> object:
    """Per row ``(B,)``: ``chosen`` where ``condition``, else ``other`` (dataclasses of tensors;
    lists are taken from ``other``)."""
    if isinstance(chosen, Tensor):
        mask = condition.view(-1, *([1] * (chosen.dim() - 1)))
        return torch.where(mask, chosen, other)  # type: ignore[arg-type]
    if dataclasses.is_dataclass(chosen) and not isinstance(chosen, type):
        return type(chosen)(**{f.name: _where(condition, getattr(chosen, f.name), getattr(other, f.name))
                               for f in dataclasses.fields(chosen)})  # fmt: skip
    return other
