r"""Multi-view fitting: V views of one instant -> one body, with the learned prior.

**Uncalibrated** (ProHMR's refinement, DESIGN.md 8): one latent ``z_v`` per view (each
decoded with its own view's context), betas fixed to the mean of the views' regressed
betas, and the energy

``E = 300^2 sum_v sum_{j=1..23} |R_j^v - mean_v R_j|_F^2 + sum_v |z_v|^2``

over the 23 body joints (the global orientation differs between views). The views are
pulled together; with no reprojection term (ProHMR has none) the 2D evidence enters only
through the contexts. ``MultiViewConfig.reprojection`` (on by default) adds each view's
keypoint data term (each view its own camera translation, projected with that view's
``People.camera``: ``f_x``, ``f_y``, principal point) and weighs each view's prior
as single-view fitting does (``4^2 |z_v|^2``), so that one view is single-view fitting
with fixed betas.

**Calibrated** (:func:`fit_multiview_calibrated`, known cameras): one shared body --
one body pose, one global orientation and translation in the world, shared betas --
projected into every view with its calibration (intrinsics and extrinsics; the views'
own cameras give way to the calibration's intrinsics, for the start too). The learned prior is the product of the
views' distributions: the shared pose, as camera ``v`` sees it (``R_c^v R_world`` at the
root), is encoded by the flow with view ``v``'s context, ``z_v = f^{-1}(pose_v; c_v)``, and

``E = sum_v E_data^v + 4^2 sum_v |z_v|^2 + 6^2 |betas|^2``

(``-log p = |z|^2 / 2 + const`` with additive coupling). The pose is optimised directly
(6D per joint), which keeps the problem well conditioned; tying per-view latents by the
stiff consistency term instead converged several times more slowly here. Start: the
consensus of the views' body poses, and of the views' placements (each view's
regression moved into the world, or their average) the one that reprojects best.

The consensus of rotations is the element-wise mean of the rotation matrices
orthonormalised by Gram-Schmidt on its first two columns (smooth, unlike an SVD when the
views agree).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from hmrflow.body.joints import rotate_global_orientation
from hmrflow.errors import InputError
from hmrflow.fitting.keypoint_fit import (
    FitConfig,
    data_weights,
    decode_rotmats,
    evidence_sets,
    frozen,
    project_keypoints,
    regress,
)
from hmrflow.fitting.lbfgs import MinimizeResult, StopRules, minimize
from hmrflow.fitting.people import People
from hmrflow.fitting.robust import reprojection_energy
from hmrflow.geometry import rotmat_to_sixd, sixd_to_rotmat
from hmrflow.geometry.pinhole import PinholeCamera
from hmrflow.models import ProbabilisticHMR

__all__ = [
    "MultiViewConfig",
    "MultiViewFit",
    "Cameras",
    "fit_multiview",
    "fit_multiview_calibrated",
    "consensus_rotation",
    "stack_views",
]


@dataclass(frozen=True)
class MultiViewConfig:
    """Settings of the multi-view fitters.

    Attributes:
        rules: L-BFGS stop rules.
        consistency_weight: ``w`` in ``w^2 sum |R_j^v - mean_v R_j|^2`` (300).
        prior_weight: ``w`` in ``w^2 sum_v |z_v|^2`` without data terms (1, ProHMR's).
        reprojection: Uncalibrated only: add each view's keypoint data term (the
            default; off, ProHMR's energy, where the keypoints act through the contexts
            alone and more views help much less: ``hmrflow fit --evaluate`` compares).
        sigma: Geman-McClure scale of the data terms, px.
        data_prior_weight: ``w`` in ``w^2 sum_v |z_v|^2`` with data terms (calibrated, or
            uncalibrated with ``reprojection``): 4, as single-view fitting, one prior
            term per view's data term.
        shape_prior_weight: Calibrated only: ``w`` in ``w^2 |betas|^2`` (betas optimised).
        drop_hips: Ignore detector hips in the data terms.
        joint_batch: One L-BFGS problem for all B instants (the default, much faster
            per instant on CPU); off: each instant gets its own run.
    """

    rules: StopRules = field(default_factory=StopRules)
    consistency_weight: float = 300.0
    prior_weight: float = 1.0
    reprojection: bool = True
    sigma: float = 100.0
    data_prior_weight: float = 4.0
    shape_prior_weight: float = 6.0
    drop_hips: bool = False
    joint_batch: bool = True

    def fit_config(self) -> FitConfig:
        return FitConfig(rules=self.rules, sigma=self.sigma, drop_hips=self.drop_hips)


#: Known cameras of V views of B instants: a :class:`~hmrflow.geometry.PinholeCamera` of
#: batch shape ``(B, V)`` with extrinsics (world -> camera ``X_c = R X_w + t``, metres).
Cameras = PinholeCamera


@dataclass(frozen=True)
class MultiViewFit:
    r"""B bodies seen from V views.

    Attributes:
        rotmats: ``(B, V, J, 3, 3)`` each view's pose (joint 0: global orientation in
            that view's camera frame; calibrated: the shared world pose for every view).
        body_pose: ``(B, J - 1, 3, 3)`` the consensus of the body joints.
        betas: ``(B, S)``.
        z: ``(B, V, D)``.
        translation: ``(B, V, 3)`` each view's camera translation (uncalibrated), or
            ``(B, 3)`` the world translation (calibrated).
        global_orientation: ``(B, 3, 3)`` the world orientation (calibrated) or view 0's.
        results: B L-BFGS runs, ``results[b]`` for instant ``b``.
    """

    rotmats: Tensor
    body_pose: Tensor
    betas: Tensor
    z: Tensor
    translation: Tensor
    global_orientation: Tensor
    results: list[MinimizeResult]

    @property
    def consensus(self) -> Tensor:
        """``(B, J, 3, 3)``: ``global_orientation`` and the consensus body pose."""
        return torch.cat([self.global_orientation[:, None], self.body_pose], dim=1)

    @staticmethod
    def concatenate(fits: list[MultiViewFit]) -> MultiViewFit:
        """Fits of consecutive groups of instants -> one fit."""
        names = ("rotmats", "body_pose", "betas", "z", "translation", "global_orientation")
        tensors = {name: torch.cat([getattr(f, name) for f in fits]) for name in names}
        return MultiViewFit(**tensors, results=[r for f in fits for r in f.results])


def _each_instant(
    fitter: Callable[[People, int, Cameras | None], MultiViewFit],
    people: People,
    num_views: int,
    cameras: Cameras | None,
    joint: bool,
) -> MultiViewFit:
    """``fitter`` on all ``B`` instants at once (``joint``) or on each alone."""
    B = len(people) // num_views
    if joint or B <= 1:
        return fitter(people, B, cameras)
    fits = []
    for b in range(B):
        rows = people[b * num_views : (b + 1) * num_views]
        cams = None if cameras is None else cameras[b : b + 1]
        fits.append(fitter(rows, 1, cams))
    return MultiViewFit.concatenate(fits)


def consensus_rotation(rotmats: Tensor, dim: int) -> Tensor:
    r"""Mean of rotations ``(..., 3, 3)`` over ``dim``, made a rotation by Gram-Schmidt."""
    return sixd_to_rotmat(rotmat_to_sixd(rotmats.mean(dim)))


def stack_views(views: Sequence[People]) -> People:
    r"""V :class:`People` of B instants each -> one of ``B * V`` rows, instant-major."""
    if not views:
        raise ValueError("no views")
    sizes = {len(v) for v in views}
    if len(sizes) != 1:
        raise ValueError(f"every view needs the same number of instants, got {sorted(sizes)}")
    return People.stack(views)


def _consistency(rotmats: Tensor) -> Tensor:
    r"""``(B, V, J, 3, 3)`` -> ``(B,)`` ``sum_v sum_{j>=1} |R_j^v - mean_v R_j|_F^2``."""
    body = rotmats[:, :, 1:]
    return (body - body.mean(1, keepdim=True)).square().sum((1, 2, 3, 4))


def fit_multiview(
    model: ProbabilisticHMR, views: Sequence[People], config: MultiViewConfig | None = None
) -> MultiViewFit:
    r"""Uncalibrated multi-view fitting of B instants seen in V views.

    Arguments:
        model: A trained model (frozen while fitting).
        views: V :class:`People`, view ``v`` holding the B instants as seen from it.
        config: :class:`MultiViewConfig`.
    """
    config = config or MultiViewConfig()
    V = len(views)

    def fitter(people: People, B: int, cameras: Cameras | None) -> MultiViewFit:
        return _fit_uncalibrated(model, people, B, V, config)

    return _each_instant(fitter, stack_views(views), V, None, config.joint_batch)


def _fit_uncalibrated(
    model: ProbabilisticHMR, people: People, B: int, V: int, config: MultiViewConfig
) -> MultiViewFit:
    start = regress(model, people)
    D = model.latent_features
    betas = start.betas.unflatten(0, (B, V)).mean(1)  # fixed
    view_betas = betas.repeat_interleave(V, 0)
    z = start.context.new_zeros(B * V, D).requires_grad_(True)
    translation = start.translation.detach().clone().requires_grad_(config.reprojection)
    targets = data_weights(model, people, config.fit_config())
    consistency = config.consistency_weight**2
    prior = (config.data_prior_weight if config.reprojection else config.prior_weight) ** 2

    def poses() -> Tensor:
        return decode_rotmats(model, z, start.context, start.to_camera)

    def energy() -> Tensor:
        rotmats = poses()
        total = consistency * _consistency(rotmats.unflatten(0, (B, V))).sum() + prior * z.square().sum()
        if config.reprojection:
            projected = project_keypoints(
                model, rotmats, view_betas, translation, people.focal_length, people.principal_point
            )
            total = total + reprojection_energy(projected, targets, people.image_size, config.sigma).sum()
        return total

    variables = [z] + ([translation] if config.reprojection else [])
    with frozen(model):
        result = minimize(energy, variables, config.rules)
        with torch.no_grad():
            rotmats = poses().unflatten(0, (B, V))
    return MultiViewFit(
        rotmats=rotmats,
        body_pose=consensus_rotation(rotmats[:, :, 1:], dim=1),
        betas=betas,
        z=z.detach().unflatten(0, (B, V)),
        translation=translation.detach().unflatten(0, (B, V)),
        global_orientation=rotmats[:, 0, 0],
        results=[result] * B,
    )


def fit_multiview_calibrated(
    model: ProbabilisticHMR,
    views: Sequence[People],
    cameras: Cameras,
    config: MultiViewConfig | None = None,
) -> MultiViewFit:
    r"""Multi-view fitting with known cameras: one body in the world, seen by every view.

    Arguments:
        model: A trained model (frozen while fitting).
        views: V :class:`People` (their cameras are replaced by the intrinsics of
            ``cameras``: ``f_x``, ``f_y`` and the principal point of every view, in the
            start and in the data terms alike).
        cameras: :class:`Cameras` with shapes ``(B, V, ...)``.
        config: :class:`MultiViewConfig` (``reprojection`` is implied).
    """
    config = config or MultiViewConfig()
    V = len(views)

    def fitter(people: People, B: int, cameras: Cameras | None) -> MultiViewFit:
        assert cameras is not None
        return _fit_calibrated(model, people, B, V, cameras, config)

    people = stack_views(views)
    if cameras.batch_shape != (len(people) // V, V):
        raise InputError(f"cameras: batch shape {tuple(cameras.batch_shape)}, expected (instants, views) = "
                         f"({len(people) // V}, {V})")  # fmt: skip
    intrinsics = PinholeCamera(cameras.focal_length, cameras.principal_point, cameras.image_size).flatten(0, 1)
    people = replace(people, camera=intrinsics.to(people.keypoints.device, people.keypoints.dtype))
    return _each_instant(fitter, people, V, cameras, config.joint_batch)


def _fit_calibrated(
    model: ProbabilisticHMR, people: People, B: int, V: int, cameras: Cameras, config: MultiViewConfig
) -> MultiViewFit:
    start = regress(model, people)
    rotation = cameras.rotation.flatten(0, 1)  # (B V, 3, 3)
    # Start: each view's regression moved into the world, combined over the views.
    # Rotations pivot about the rest pelvis J0: X_c = R_go (X - J0) + J0 + t, so the world
    # translation of the same points is R_c^T (t - t_c + J0) - J0.
    with torch.no_grad():
        pelvis = model.body(start.rotmats, start.betas, vertices=False).rest_joints[:, 0]
    offset = start.translation - cameras.translation.flatten(0, 1) + pelvis
    world_translation = (rotation.transpose(-1, -2) @ offset[..., None])[..., 0] - pelvis
    world_orientation = (rotation.transpose(-1, -2) @ start.rotmats[:, 0]).unflatten(0, (B, V))
    modes = start.rotmats.unflatten(0, (B, V))
    targets = data_weights(model, people, config.fit_config()).unflatten(0, (B, V))
    image_size = people.image_size.unflatten(0, (B, V))
    sets = evidence_sets(model)
    prior, shape = config.data_prior_weight**2, config.shape_prior_weight**2

    def data_energy(pose: Tensor, betas: Tensor, transl: Tensor) -> Tensor:
        """``(B,)`` the reprojection energy of world bodies in every view."""
        out = model.body(pose, betas, transl, keypoints=sets, vertices=False)
        points = torch.cat([out.keypoints[name] for name in sets], dim=-2)[:, None]  # (B, 1, K, 3)
        projected = cameras.project(points)
        return reprojection_energy(projected, targets, image_size, config.sigma).sum(-1)

    # Candidate placements: each view's own, and their consensus; keep the best per instant.
    body_start = consensus_rotation(modes[:, :, 1:], 1)
    mean_betas = start.betas.unflatten(0, (B, V)).mean(1)
    orientations = torch.cat([world_orientation, consensus_rotation(world_orientation, 1)[:, None]], 1)
    translations = world_translation.unflatten(0, (B, V))
    translations = torch.cat([translations, translations.mean(1, keepdim=True)], 1)
    with torch.no_grad(), frozen(model):
        scores = torch.stack([
            data_energy(torch.cat([orientations[:, c, None], body_start], 1), mean_betas, translations[:, c])
            for c in range(V + 1)
        ], 1)  # fmt: skip
    best = scores.argmin(1)
    rows = torch.arange(B, device=best.device)
    orientation6 = _leaf(rotmat_to_sixd(orientations[rows, best]))
    body6 = _leaf(rotmat_to_sixd(body_start))
    transl = _leaf(translations[rows, best])
    betas = _leaf(mean_betas)

    def world_pose() -> Tensor:
        return torch.cat([sixd_to_rotmat(orientation6)[:, None], sixd_to_rotmat(body6)], dim=1)

    def view_latents(pose: Tensor) -> Tensor:
        """``(B V, D)``: the shared pose as each camera sees it, encoded with its context."""
        root = cameras.rotation @ pose[:, None, 0]  # (B, V, 3, 3)
        views = torch.cat([root[:, :, None], pose[:, None, 1:].expand(B, V, -1, 3, 3)], dim=2).flatten(0, 1)
        views = rotate_global_orientation(views, start.to_camera, inverse=True)  # in the model's frame
        return model.encode_pose(rotmat_to_sixd(views).flatten(-2), start.context)

    def energy() -> Tensor:
        pose = world_pose()
        data = data_energy(pose, betas, transl).sum()
        return data + prior * view_latents(pose).square().sum() + shape * betas.square().sum()

    with frozen(model):
        result = minimize(energy, [orientation6, body6, transl, betas], config.rules)
        with torch.no_grad():
            pose = world_pose()
            z = view_latents(pose)
    root = cameras.rotation @ pose[:, None, 0]
    return MultiViewFit(
        rotmats=torch.cat([root[:, :, None], pose[:, None, 1:].expand(B, V, -1, 3, 3)], dim=2),
        body_pose=pose[:, 1:],
        betas=betas.detach(),
        z=z.unflatten(0, (B, V)),
        translation=transl.detach(),
        global_orientation=pose[:, 0],
        results=[result] * B,
    )


def _leaf(value: Tensor) -> Tensor:
    return value.detach().clone().requires_grad_(True)
