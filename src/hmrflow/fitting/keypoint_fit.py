r"""Fitting the body to 2D keypoints with the learned prior (ProHMR's fitting, DESIGN.md 8).

Variables, per person: the flow latent ``z`` (D = 144), the betas and the camera
translation in the FULL image. Start: ``z = 0`` (the regression's mode), the regressed
betas, and the regressed weak-perspective camera turned into a full-image translation
with the person box (:func:`~hmrflow.geometry.crop_camera_to_full_translation`). The
pose is the flow's decoding of ``z`` with the evidence's context; the model is frozen
and in eval mode. Energy, per person (summed over the batch for L-BFGS):

``E = (1000 / max(W, H))^2 sum_k c_k^2 rho(proj(P_k) - x_k) + 4^2 |z|^2 + 6^2 |betas|^2``

with ``rho`` Geman-McClure (sigma = 100 px) per coordinate, ``P_k`` the model's keypoints
in the evidence order (COCO-17 + 6 foot points), projected with the person's pinhole
camera (``People.camera``: ``f_x``, ``f_y`` and the principal point). The flow's additive
coupling makes ``-log p(pose | evidence) = |z|^2 / 2 + const``, so ``|z|^2`` is the
learned prior.

Speed: a fit evaluates this energy hundreds of times with the model and the people fixed,
so by default (``FitConfig.lean_energy``) everything that depends on them alone is
computed once per fit (:mod:`hmrflow.fitting.lean_energy`: the flow folded for the
contexts, the keypoints without vertices, the detections' weights); the plain path
(:func:`decode_rotmats`, :func:`project_keypoints`, :func:`~hmrflow.fitting.robust.reprojection_energy`)
stays as the reference, equal to float rounding (:func:`learned_prior_energy` gives both).

Focal length of real photos: unknown, so :func:`default_focal_length` takes the image
diagonal ``sqrt(W^2 + H^2)`` px (a 53 degree diagonal field of view, CLIFF's choice);
it also sits in the middle of the synthetic training cameras (900-2200 px for
1280 x 960 images, diagonal 1600). The regressed depth follows any focal length given.

Example (an untrained tiny model, two people of 23 keypoints in 640 x 480 images):
    >>> from hmrflow.flows import FlowConfig
    >>> from hmrflow.models.config import EncoderConfig, ModelConfig
    >>> model = ProbabilisticHMR(ModelConfig(encoder=EncoderConfig(width=32), head_hidden=32,
    ...     flow=FlowConfig(context_features=32, hidden_features=32)))
    >>> g = torch.Generator().manual_seed(0)
    >>> keypoints = torch.cat([200 + 100 * torch.rand(2, 23, 2, generator=g), torch.ones(2, 23, 1)], -1)
    >>> people = People.from_keypoints(keypoints, torch.tensor([640.0, 480.0]))
    >>> fit = fit_keypoints(model, people, FitConfig(rules=StopRules(max_steps=3)))
    >>> fit.rotmats.shape, fit.z.shape, fit.translation.shape, len(fit.results)
    (torch.Size([2, 24, 3, 3]), torch.Size([2, 144]), torch.Size([2, 3]), 2)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from hmrflow.body.joints import rotate_global_orientation
from hmrflow.fitting.lbfgs import MinimizeResult, StopRules, minimize
from hmrflow.fitting.lean_energy import KeypointProjector, KeypointTerm, rotmats_from_sixd
from hmrflow.fitting.people import People
from hmrflow.fitting.robust import reprojection_energy, reprojection_error
from hmrflow.geometry import perspective_projection
from hmrflow.geometry.pinhole import default_focal_length
from hmrflow.models import HMROutput, ProbabilisticHMR

__all__ = [
    "FitConfig",
    "fit_each",
    "Start",
    "BodyFit",
    "default_focal_length",
    "regress",
    "fit_keypoints",
    "frozen",
    "decode_rotmats",
    "project_keypoints",
    "evidence_sets",
    "keypoint_projection",
    "keypoint_data_term",
    "latent_pose",
    "learned_prior_energy",
]

#: Names of the detector hips in the evidence order (see ``FitConfig.drop_hips``).
HIP_NAMES = ("left_hip", "right_hip")


@dataclass(frozen=True)
class FitConfig:
    """Settings of the keypoint fitters (learned prior and baseline).

    Attributes:
        rules: The L-BFGS stop rules (30 outer steps for evaluation, 10 for a demo).
        sigma: Geman-McClure scale in px.
        pose_prior_weight: ``w`` in ``w^2 |z|^2`` (the learned prior; the baseline's
            weight is in :class:`~hmrflow.fitting.baseline.BaselineConfig`).
        shape_prior_weight: ``w`` in ``w^2 |betas|^2``.
        drop_hips: Ignore the detector's hips in the data term (they are unreliable:
            detectors and body models place them differently).
        optimize_betas: Optimise the betas (else keep the regressed ones).
        box_scale: Person box side over the keypoints' extent (as in training).
        joint_batch: Fit the whole batch as one L-BFGS problem (ProHMR's way; one
            evaluation serves everybody, so it is many times faster per person on CPU,
            where an evaluation costs about the same for 1 or 64 people). Off: every
            person gets its own L-BFGS run, so a result does not depend on the batch it
            came in (and converges a little faster per step), at B times the cost.
        lean_energy: Evaluate the energy with everything that does not change during a
            fit computed once (:mod:`hmrflow.fitting.lean_energy`: the flow folded for
            the contexts, the body's keypoints without vertices); off: the plain path
            (the flow's decode, the body model, the projection), the reference. The two
            agree to float rounding; the lean one is about 3x faster on CPU.
        scale_translation: Optimise the translation in units of about 10 px of keypoint
            motion (:func:`translation_scale`; the energy is unchanged): about 2.5x fewer
            L-BFGS iterations. Off: in metres, as the multi-view fitters do.
    """

    rules: StopRules = field(default_factory=StopRules)
    sigma: float = 100.0
    pose_prior_weight: float = 4.0
    shape_prior_weight: float = 6.0
    drop_hips: bool = False
    optimize_betas: bool = True
    box_scale: float = 1.2
    joint_batch: bool = True
    lean_energy: bool = True
    scale_translation: bool = True


@dataclass(frozen=True)
class Start:
    r"""The regression that fitting starts from, in each person's camera frame.

    Attributes:
        context: ``(B, C)``; rotmats: ``(B, J, 3, 3)`` the mode; betas: ``(B, S)``;
        translation: ``(B, 3)`` in the full-image camera frame.
        to_camera: ``(B, 3, 3)`` rotations from the model's pose frame to the camera frame
            (:meth:`~hmrflow.fitting.people.People.frame_to_camera`), or None when they are the same:
            the fitters turn every decoded pose by it.
    """

    context: Tensor
    rotmats: Tensor
    betas: Tensor
    translation: Tensor
    to_camera: Tensor | None = None

    @classmethod
    def of_output(cls, out: HMROutput, people: People) -> Start:
        """The mode, betas and context of a model output for ``people``, its camera moved into the full images."""
        to_camera = people.frame_to_camera(out.frame)
        rotmats = rotate_global_orientation(out.mode.rotmats[:, 0], to_camera)
        return cls(out.context, rotmats, out.betas, people.full_translation(out.camera), to_camera)

    def __getitem__(self, index: int | slice | Tensor) -> Start:
        to_camera = None if self.to_camera is None else self.to_camera[index]
        return Start(self.context[index], self.rotmats[index], self.betas[index], self.translation[index], to_camera)


@dataclass(frozen=True)
class BodyFit:
    r"""Fitted bodies, camera frame of each person's full image.

    Attributes:
        rotmats: ``(B, J, 3, 3)``; betas: ``(B, S)``; translation: ``(B, 3)``.
        z: ``(B, D)`` latents (None for the baseline).
        joints: ``(B, J, 3)`` metres, translated; vertices: ``(B, N, 3)`` or None.
        keypoints_2d: ``(B, K, 2)`` the model keypoints projected, px.
        reprojection_error: ``(B,)`` mean px over the keypoints used, at the end;
            initial_error: the same at the start.
        results: B L-BFGS runs: ``results[i]`` fitted person ``i`` (the same run for
            everybody with ``FitConfig.joint_batch``).
    """

    rotmats: Tensor
    betas: Tensor
    translation: Tensor
    z: Tensor | None
    joints: Tensor
    vertices: Tensor | None
    keypoints_2d: Tensor
    reprojection_error: Tensor
    initial_error: Tensor
    results: list[MinimizeResult]

    @staticmethod
    def concatenate(fits: list[BodyFit]) -> BodyFit:
        """Fits of consecutive groups of people -> one fit."""

        def cat(name: str) -> Tensor | None:
            values = [getattr(f, name) for f in fits]
            return None if any(v is None for v in values) else torch.cat(values)

        tensors = {name: cat(name) for name in _FIT_TENSORS}
        return BodyFit(**tensors, results=[r for f in fits for r in f.results])


_FIT_TENSORS = ("rotmats", "betas", "translation", "z", "joints", "vertices", "keypoints_2d",
                "reprojection_error", "initial_error")  # fmt: skip


def fit_each(
    fitter: Callable[[People, Start], BodyFit], people: People, start: Start, joint: bool
) -> BodyFit:
    """Run ``fitter`` on the whole batch (``joint``) or on each person alone."""
    if joint or len(people) <= 1:
        return fitter(people, start)
    return BodyFit.concatenate([fitter(people[i : i + 1], start[i : i + 1]) for i in range(len(people))])


@contextmanager
def frozen(model: ProbabilisticHMR) -> Iterator[ProbabilisticHMR]:
    """The model in eval mode with no parameter gradients, restored afterwards."""
    training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(training)


def evidence_sets(model: ProbabilisticHMR) -> tuple[str, ...]:
    """The body keypoint sets that make up the evidence order (COCO-17 + feet by default)."""
    return tuple(model.config.encoder.keypoint_sets)


def decode_rotmats(model: ProbabilisticHMR, z: Tensor, context: Tensor, to_camera: Tensor | None = None) -> Tensor:
    r"""Poses of latents ``z`` ``(B, D)`` under contexts ``(B, C)``: ``(B, J, 3, 3)``, turned
    by ``to_camera`` ``(B, 3, 3)`` (:attr:`Start.to_camera`; None: as the model gives them)."""
    return rotate_global_orientation(model.decode_latent(z[:, None], context).rotmats[:, 0], to_camera)


def project_keypoints(
    model: ProbabilisticHMR,
    rotmats: Tensor,
    betas: Tensor,
    translation: Tensor,
    focal_length: Tensor,
    principal_point: Tensor,
    rotation: Tensor | None = None,
) -> Tensor:
    r"""Model keypoints (evidence order) of ``(B, J, 3, 3)`` poses, projected: ``(B, K, 2)`` px.

    ``rotation`` ``(B, 3, 3)`` and ``translation`` ``(B, 3)`` map the body frame to the camera;
    ``focal_length`` ``(B,)`` or ``(B, 2)`` ``(f_x, f_y)`` px, ``principal_point`` ``(B, 2)`` px.
    """
    sets = evidence_sets(model)
    out = model.body(rotmats, betas, keypoints=sets, vertices=False)
    points = torch.cat([out.keypoints[name] for name in sets], dim=-2)
    return perspective_projection(points, translation, focal_length, principal_point, rotation)


def regress(model: ProbabilisticHMR, people: People) -> Start:
    """The model's mode, betas and camera (moved into the full image) for ``people``."""
    with torch.no_grad(), frozen(model):
        out = model(people.evidence)
    return Start.of_output(out, people)


def data_weights(model: ProbabilisticHMR, people: People, config: FitConfig) -> Tensor:
    r"""The detections used by the data term: ``(B, K, 3)`` with hips dropped if asked."""
    keypoints = people.keypoints
    if not config.drop_hips:
        return keypoints
    names = [name for s in evidence_sets(model) for name in model.body.keypoint_sets[s].names]
    hips = torch.tensor([name in HIP_NAMES for name in names], device=keypoints.device)
    return torch.cat([keypoints[..., :2], keypoints[..., 2:] * ~hips[:, None]], dim=-1)


def keypoint_projection(
    model: ProbabilisticHMR, people: People, lean: bool = True
) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    r"""``(rotmats (B, J, 3, 3), betas (B, S), translation (B, 3)) -> (B, K, 2)`` px.

    The model keypoints (evidence order) projected into each person's image.
    ``lean``: the body's arrays folded once (:class:`~hmrflow.fitting.lean_energy.KeypointProjector`);
    else :func:`project_keypoints` (the reference; equal to float rounding).
    """
    if lean:
        return KeypointProjector(model.body, evidence_sets(model), people.focal_length, people.principal_point)
    return lambda rotmats, betas, translation: project_keypoints(
        model, rotmats, betas, translation, people.focal_length, people.principal_point
    )


def keypoint_data_term(
    model: ProbabilisticHMR, people: People, config: FitConfig, lean: bool = True
) -> Callable[[Tensor], Tensor]:
    r"""The data term, ``(B, K, 2)`` projected px -> ``(B,)`` (hips dropped if asked).

    ``lean``: the weights prepared once (:class:`~hmrflow.fitting.lean_energy.KeypointTerm`);
    else :func:`~hmrflow.fitting.robust.reprojection_energy` (the reference).
    """
    targets = data_weights(model, people, config)
    if lean:
        return KeypointTerm(targets, people.image_size, config.sigma)
    return lambda projected: reprojection_energy(projected, targets, people.image_size, config.sigma)


def latent_pose(
    model: ProbabilisticHMR, context: Tensor, lean: bool = True, to_camera: Tensor | None = None
) -> Callable[[Tensor], Tensor]:
    r"""``z (B, D) -> (B, J, 3, 3)`` poses under fixed contexts ``(B, C)``, turned by ``to_camera``
    ``(B, 3, 3)`` (:attr:`Start.to_camera`; None: as the model gives them); call inside :func:`frozen`.

    ``lean``: the flow folded once for these contexts
    (:meth:`~hmrflow.models.ProbabilisticHMR.latent_decoder`); else :func:`decode_rotmats`
    (the reference; equal to float rounding).
    """
    if lean:
        decode = model.latent_decoder(context)
        return lambda z: rotate_global_orientation(rotmats_from_sixd(decode(z)), to_camera)
    return lambda z: decode_rotmats(model, z, context, to_camera)


def learned_prior_energy(
    model: ProbabilisticHMR, people: People, config: FitConfig, start: Start, lean: bool = True
) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    r"""The energy of the module docstring per person: ``(z (B, D), betas (B, S), translation (B, 3)) -> (B,)``.

    Call it inside :func:`frozen`. ``lean`` as in :func:`latent_pose` and :func:`keypoint_projection`.
    """
    pose = latent_pose(model, start.context, lean, start.to_camera)
    project = keypoint_projection(model, people, lean)
    data = keypoint_data_term(model, people, config, lean)
    pose_weight, shape_weight = config.pose_prior_weight**2, config.shape_prior_weight**2

    def energy(z: Tensor, betas: Tensor, translation: Tensor) -> Tensor:
        prior = pose_weight * z.square().sum(-1) + shape_weight * betas.square().sum(-1)
        return data(project(pose(z), betas, translation)) + prior

    return energy


#: Keypoint motion, px, of a unit step of the optimiser's translation variables.
TRANSLATION_UNIT_PX = 10.0


def translation_scale(targets: Tensor, focal_length: Tensor, translation: Tensor) -> Tensor:
    r"""Metres per unit of the optimiser's translation variables: ``(B, 3)``.

    The fitters optimise ``translation = start + scale * u`` from ``u = 0`` (the energy is
    unchanged). L-BFGS starts from a scalar guess of the inverse Hessian, and the data
    term's curvature along a translation in metres is some 1e3-1e4 times that along the
    latents and betas; in these units (a unit moves the keypoints by about
    :data:`TRANSLATION_UNIT_PX`: sideways ``t_z / f_x`` and ``t_z / f_y`` metres per px, in depth ``t_z / spread``
    with ``spread`` the RMS distance of the detections from their mean, px) a fit takes
    about 2.5 times fewer iterations and ends at the same energies (measured in
    ``benchmarks/bench_fitting.py``'s notes).

    Arguments:
        targets: ``(B, K, 3)`` the detections of the data term (px, confidence; 0 = unused).
        focal_length: ``(B,)`` or ``(B, 2)`` ``(f_x, f_y)`` px.
        translation: ``(B, 3)`` the start.
    """
    depth = translation[:, 2].abs().clamp_min(1e-3)
    valid = (targets[..., 2] > 0).to(translation.dtype)
    count = valid.sum(-1).clamp_min(1.0)
    mean = (targets[..., :2] * valid[..., None]).sum(-2) / count[:, None]
    squared = ((targets[..., :2] - mean[:, None]).square().sum(-1) * valid).sum(-1) / count
    spread = squared.sqrt().clamp_min(1.0)
    focal = focal_length if focal_length.dim() == 2 else focal_length[:, None].expand(-1, 2)
    sideways = depth[:, None] / focal
    return TRANSLATION_UNIT_PX * torch.cat([sideways, (depth / spread)[:, None]], dim=-1)


def fit_bodies(
    model: ProbabilisticHMR,
    people: People,
    config: FitConfig,
    start: Start,
    pose_variables: list[Tensor],
    pose: Callable[[], Tensor],
    pose_prior: Callable[[], Tensor],
) -> BodyFit:
    r"""The fitting scheme shared by the learned-prior and the baseline fitters.

    Arguments:
        pose_variables: The leaf tensors that ``pose()`` reads.
        pose: ``() -> (B, J, 3, 3)`` the current poses.
        pose_prior: ``() -> (B,)`` the pose prior energy (weight included).

    Returns:
        The fit (``z`` None).
    """
    targets = data_weights(model, people, config)
    betas = start.betas.detach().clone().requires_grad_(config.optimize_betas)
    origin = start.translation.detach()
    scale = torch.ones_like(origin)
    if config.scale_translation:
        scale = translation_scale(targets, people.focal_length, origin)
    shift = torch.zeros_like(origin).requires_grad_(True)  # translation = origin + scale * shift
    shape_weight = config.shape_prior_weight**2
    projection = keypoint_projection(model, people, config.lean_energy)
    data = keypoint_data_term(model, people, config, config.lean_energy)

    def translation() -> Tensor:
        return torch.addcmul(origin, scale, shift)

    def project() -> Tensor:
        return projection(pose(), betas, translation())

    def energy() -> Tensor:
        return (data(project()) + pose_prior() + shape_weight * betas.square().sum(-1)).sum()

    variables = pose_variables + [shift] + ([betas] if config.optimize_betas else [])
    with frozen(model):
        with torch.no_grad():
            initial = reprojection_error(project(), targets)
        result = minimize(energy, variables, config.rules)
        with torch.no_grad():
            rotmats, final = pose(), translation()
            projected = project()
            out = model.body(rotmats, betas, final, vertices=True)
    return BodyFit(
        rotmats=rotmats,
        betas=betas.detach(),
        translation=final,
        z=None,
        joints=out.joints,
        vertices=out.vertices,
        keypoints_2d=projected,
        reprojection_error=reprojection_error(projected, targets),
        initial_error=initial,
        results=[result] * len(people),
    )


def fit_keypoints(
    model: ProbabilisticHMR, people: People, config: FitConfig | None = None, start: Start | None = None
) -> BodyFit:
    r"""Fit B people at once with the learned prior (the module docstring has the energy).

    Arguments:
        model: A trained model (left unchanged: frozen and in eval mode while fitting).
        people: :class:`People` (keypoints px in the evidence order, each person's camera).
        config: :class:`FitConfig`.
        start: The regression to start from (default: :func:`regress`).
    """
    config = config or FitConfig()
    start = start or regress(model, people)
    weight = config.pose_prior_weight**2

    def fit_group(people: People, start: Start) -> BodyFit:
        z = start.context.new_zeros(len(people), model.latent_features).requires_grad_(True)
        with frozen(model):
            decode = latent_pose(model, start.context, config.lean_energy, start.to_camera)
        fit = fit_bodies(model, people, config, start, [z], lambda: decode(z), lambda: weight * z.square().sum(-1))
        return replace(fit, z=z.detach())

    return fit_each(fit_group, people, start, config.joint_batch)
