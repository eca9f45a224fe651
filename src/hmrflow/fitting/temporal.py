r"""Fitting one tracked person over T frames as one problem: per-frame poses, one shape, smooth motion.

The per-frame fit (:func:`~hmrflow.fitting.keypoint_fit.fit_keypoints`) fits every frame
alone, so the pose and the depth jitter from frame to frame with the detector's noise.
Here the frames of a track are one L-BFGS problem. Variables: the latents ``z_t``
``(T, D)``, the translations ``t_t`` ``(T, 3)`` (camera frame, metres) and ONE ``betas``
``(S,)`` for the whole track. Each frame keeps its own context ``c_t`` (the model's
regression on that frame's keypoints), so ``R_t = decode(z_t; c_t)`` and ``z_t = 0`` is
that frame's mode. Energy:

``E = sum_t [E_data,t + w_z^2 |z_t|^2 + w_b^2 |betas|^2]``
``  + w_p^2 sum_{t=1}^{T-2} sum_k |Δ² (P_tk - t_t)|^2``        (pose, mm)
``  + w_t^2 sum_{t=1}^{T-2} |Δ² t_t|^2``                        (translation, mm)
``  + w_l^2 sum_{t=1}^{T-2} |Δ² z_t|^2``                        (latent)

with ``Δ² x_t = x_{t+1} - 2 x_t + x_{t-1}`` (the acceleration, per frame²), ``E_data,t``
the robust keypoint term of the single-frame fit
(:class:`~hmrflow.fitting.lean_energy.KeypointTerm`: Geman-McClure, confidence weighted,
``(1000 / max(W, H))^2``; projected with the video's camera, ``f_x``, ``f_y`` and the
principal point), ``P_tk`` ``(T, K, 3)`` the model's K evidence keypoints
(COCO-17 + feet) in the camera frame, and ``w_z``, ``w_b`` the single-frame fit's prior
weights (:class:`~hmrflow.fitting.keypoint_fit.FitConfig`). With the three smoothness
weights at 0 the energy is the sum of the single-frame energies (the shape prior counted
once per frame, so every frame weighs its data against its priors as alone; the betas
are tied).

Why these terms: the latent is not the pose -- every frame decodes it under its own
context, which jitters with the detections, so a smooth ``z`` does not make a smooth
pose; the pose term acts on what is measured (the acceleration of the body's points, the
translation taken out) and the translation term on the depth, which one view fixes worst.
The latent term is there for users who want it (0 by default); the defaults of the other
two were chosen on ``real-multiview-v1`` (``benchmarks/bench_temporal.py``; 2 people x
views 0, 1, 100 frames at 60 fps, shipped model, 30 steps; medians): per frame PA-MPJPE
52.2 mm, acceleration error 38.4 mm/frame² (27.2 against the truth smoothed over 5
frames); ``w_p = 0.25, w_t = 0.5`` (the defaults): 50.0 mm, 23.0 (5.4), 0.073 s per
frame; ``w_p = w_t = 0.5``: 50.6 mm, 23.3 (4.6), 0.120 s per frame -- where the noisy
triangulated truth itself accelerates 23.4 mm/frame²; ``w_p`` 2 and 4 over-smooth (55.0
and 63.3 mm), ``w_t`` 0.5 and 2 measure alike. The cost: about 0.07-0.2 s per frame
against 0.02 on one CPU thread (a coupled problem needs more L-BFGS iterations). Weights far above the data's
scale (a model whose per-frame poses jitter by decimetres) make the problem stiff and
L-BFGS slow: lower them.

Missing frames (no detection, or fewer than ``min_keypoints`` keypoints): inside a track
they are bridged -- no data term, the priors and the smoothness only, the context of the
nearest detected frame and a translation interpolated between the neighbours as start --
when the gap is at most ``max_gap`` frames; a longer gap splits the track into segments
fitted apart (the betas of the first part are kept for the later ones). Frames before the
first and after the last detection are not fitted (``fitted`` False, NaN).

Long clips: windows of ``window`` frames, consecutive ones overlapping by ``overlap``
frames. A later window re-fits the overlap with data on both sides, except its first two
frames, held at the earlier window's result so that position and velocity carry across;
the betas come from the first window. Each window is one L-BFGS run with the stop rules
of ``config.fit.rules``.

Example (an untrained tiny model, 6 frames of 23 keypoints, frame 2 missing):
    >>> from hmrflow.flows import FlowConfig
    >>> from hmrflow.models import ProbabilisticHMR
    >>> from hmrflow.models.config import EncoderConfig, ModelConfig
    >>> from hmrflow.fitting.lbfgs import StopRules
    >>> model = ProbabilisticHMR(ModelConfig(encoder=EncoderConfig(width=32), head_hidden=32,
    ...     flow=FlowConfig(context_features=32, hidden_features=32))).eval()
    >>> g = torch.Generator().manual_seed(0)
    >>> keypoints = torch.cat([200 + 100 * torch.rand(6, 23, 2, generator=g), torch.ones(6, 23, 1)], -1)
    >>> keypoints[2, :, 2] = 0
    >>> config = TemporalConfig(fit=FitConfig(rules=StopRules(max_steps=2)))
    >>> fit = fit_sequence(model, keypoints, torch.tensor([640.0, 480.0]), config=config)
    >>> fit.rotmats.shape, fit.betas.shape, fit.observed.tolist(), fit.fitted.all().item()
    (torch.Size([6, 24, 3, 3]), torch.Size([10]), [True, True, False, True, True, True], True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from hmrflow.config import bounded, check_bounds
from hmrflow.errors import ConfigError, InputError
from hmrflow.fitting.keypoint_fit import (
    FitConfig,
    data_weights,
    evidence_sets,
    frozen,
    keypoint_data_term,
    latent_pose,
    regress,
    translation_scale,
)
from hmrflow.fitting.lbfgs import MinimizeResult, minimize
from hmrflow.fitting.lean_energy import KeypointProjector
from hmrflow.fitting.people import People
from hmrflow.fitting.robust import reprojection_error
from hmrflow.geometry import perspective_projection
from hmrflow.geometry.pinhole import PinholeCamera
from hmrflow.models import ProbabilisticHMR

__all__ = [
    "TemporalConfig",
    "TemporalEnergy",
    "EnergyTerms",
    "TemporalFit",
    "acceleration",
    "fit_sequence",
    "segments",
    "windows",
]

#: Frames held at the previous window's result at the start of a later window.
ANCHORS = 2
_MM = 1000.0


@dataclass(frozen=True)
class TemporalConfig:
    r"""Settings of :func:`fit_sequence` (the module docstring has the energy).

    Attributes:
        fit: The single-frame settings: stop rules (per window), data term, priors.
        pose_weight: ``w_p``: acceleration of the body's keypoints, translation taken out,
            mm per frame².
        translation_weight: ``w_t``: acceleration of the translation, mm per frame².
        latent_weight: ``w_l``: acceleration of the latents.
        window: Frames per L-BFGS problem.
        overlap: Frames shared by consecutive windows (at least the 2 held ones + 1).
        max_gap: Longest run of missing frames bridged; a longer one splits the track.
        min_keypoints: A frame with fewer confident keypoints counts as missing.
    """

    fit: FitConfig = field(default_factory=FitConfig)
    pose_weight: float = bounded(0.25, minimum=0)
    translation_weight: float = bounded(0.5, minimum=0)
    latent_weight: float = bounded(0.0, minimum=0)
    window: int = bounded(100, minimum=4)
    overlap: int = bounded(10, minimum=ANCHORS + 1)
    max_gap: int = bounded(30, minimum=0)
    min_keypoints: int = bounded(4, minimum=1)

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.overlap >= self.window:
            raise ConfigError(f"overlap: {self.overlap} must be smaller than window ({self.window})")


def acceleration(x: Tensor) -> Tensor:
    r"""Second differences along the first dimension: ``(T, ...)`` -> ``(T - 2, ...)``.

    Example:
        >>> acceleration(torch.tensor([0.0, 1.0, 4.0, 9.0]))
        tensor([2., 2.])
    """
    return x[2:] - 2 * x[1:-1] + x[:-2]


@dataclass(frozen=True)
class EnergyTerms:
    r"""The energy of one window, by term.

    Attributes:
        frames: ``(T,)`` data term and priors of each frame (the single-frame energy).
        pose, translation, latent: ``()`` the smoothness terms, weights included.
    """

    frames: Tensor
    pose: Tensor
    translation: Tensor
    latent: Tensor

    @property
    def smoothness(self) -> Tensor:
        """``()`` the three smoothness terms together."""
        return self.pose + self.translation + self.latent

    @property
    def total(self) -> Tensor:
        """``()`` the energy L-BFGS minimises."""
        return self.frames.sum() + self.smoothness


class TemporalEnergy:
    r"""The energy of the module docstring for T consecutive frames of one person.

    Build it inside :func:`~hmrflow.fitting.keypoint_fit.frozen`; everything that does not
    change during a fit (the flow folded for the contexts, the body's keypoint arrays,
    the detections' weights) is prepared once, as in the single-frame fit.

    Arguments:
        model: The model (frozen).
        people: The T frames as :class:`~hmrflow.fitting.people.People` (missing
            frames: confidences 0).
        context: ``(T, C)`` the frames' contexts.
        config: :class:`TemporalConfig`.
    """

    def __init__(self, model: ProbabilisticHMR, people: People, context: Tensor, config: TemporalConfig):
        fit = config.fit
        self.config = config
        self.pose = latent_pose(model, context, fit.lean_energy, people.frame_to_camera(model.config.orientation_frame))
        self.data = keypoint_data_term(model, people, fit, fit.lean_energy)
        self.points = _keypoint_points(model, people, fit.lean_energy)
        self.focal_length, self.principal_point = people.focal_length, people.principal_point

    def project(self, points: Tensor) -> Tensor:
        r"""Camera-frame points ``(T, K, 3)`` -> ``(T, K, 2)`` px."""
        return perspective_projection(points, None, self.focal_length, self.principal_point)

    def terms(self, z: Tensor, betas: Tensor, translation: Tensor) -> EnergyTerms:
        r"""The terms at ``z (T, D)``, ``betas (T, S)``, ``translation (T, 3)``."""
        fit, config = self.config.fit, self.config
        points = self.points(self.pose(z), betas, translation)  # (T, K, 3)
        prior = fit.pose_prior_weight**2 * z.square().sum(-1) + fit.shape_prior_weight**2 * betas.square().sum(-1)
        frames = self.data(self.project(points)) + prior
        zero = frames.new_zeros(())
        pose = translation_term = latent = zero
        if config.pose_weight > 0 and len(z) > 2:
            body = (points - translation[:, None]) * _MM
            pose = config.pose_weight**2 * acceleration(body).square().sum()
        if config.translation_weight > 0 and len(z) > 2:
            translation_term = config.translation_weight**2 * acceleration(translation * _MM).square().sum()
        if config.latent_weight > 0 and len(z) > 2:
            latent = config.latent_weight**2 * acceleration(z).square().sum()
        return EnergyTerms(frames, pose, translation_term, latent)

    def __call__(self, z: Tensor, betas: Tensor, translation: Tensor) -> Tensor:
        r"""``()`` the total energy (arguments as for :meth:`terms`)."""
        return self.terms(z, betas, translation).total


def _keypoint_points(
    model: ProbabilisticHMR, people: People, lean: bool
) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    r"""``(rotmats (T, J, 3, 3), betas (T, S), translation (T, 3)) -> (T, K, 3)`` camera-frame metres."""
    sets = evidence_sets(model)
    if lean:
        return KeypointProjector(model.body, sets, people.focal_length, people.principal_point).points

    def points(rotmats: Tensor, betas: Tensor, translation: Tensor) -> Tensor:
        out = model.body(rotmats, betas, keypoints=sets, vertices=False)
        return torch.cat([out.keypoints[name] for name in sets], dim=-2) + translation[:, None]

    return points


@dataclass(frozen=True)
class TemporalFit:
    r"""One person fitted over T frames, camera frame of the video.

    Attributes:
        rotmats: ``(T, J, 3, 3)``; betas: ``(S,)`` one shape for the track;
        translation: ``(T, 3)``; z: ``(T, D)``.
        joints: ``(T, J, 3)`` metres, translated; vertices: ``(T, N, 3)``.
        keypoints_2d: ``(T, K, 2)`` the model keypoints projected, px.
        reprojection_error: ``(T,)`` mean px over the detections (NaN where missing).
        observed: ``(T,)`` bool, the frame had a detection used by the data term;
        fitted: ``(T,)`` bool, the frame was fitted (observed or bridged); the tensors are
            NaN elsewhere.
        results: One L-BFGS run per window, in order.
    """

    rotmats: Tensor
    betas: Tensor
    translation: Tensor
    z: Tensor
    joints: Tensor
    vertices: Tensor
    keypoints_2d: Tensor
    reprojection_error: Tensor
    observed: Tensor
    fitted: Tensor
    results: list[MinimizeResult]


def segments(observed: Tensor, max_gap: int) -> list[tuple[int, int]]:
    r"""Frame ranges ``[start, end)`` from the first to the last observed frame, split where
    more than ``max_gap`` frames in a row are missing; ``observed (T,)`` bool.

    Example:
        >>> segments(torch.tensor([False, True, False, True, False, False, False, True]), 2)
        [(1, 4), (7, 8)]
    """
    frames = observed.nonzero().squeeze(1).tolist()
    if not frames:
        return []
    out, start = [], frames[0]
    for before, after in zip(frames, frames[1:]):
        if after - before - 1 > max_gap:
            out.append((start, before + 1))
            start = after
    out.append((start, frames[-1] + 1))
    return out


def windows(length: int, window: int, overlap: int) -> list[tuple[int, int]]:
    r"""``[start, end)`` of the windows over ``length`` frames, consecutive ones sharing ``overlap``.

    Example:
        >>> windows(25, 10, 3)
        [(0, 10), (7, 17), (14, 24), (21, 25)]
    """
    out, start = [], 0
    while True:
        end = min(start + window, length)
        out.append((start, end))
        if end >= length:
            return out
        start = end - overlap


def _nearest(observed: Tensor) -> Tensor:
    r"""``(T,)`` for every frame the index of the nearest observed frame (the earlier on a tie)."""
    frames = torch.arange(len(observed), device=observed.device)
    seen = frames[observed]
    distance = (frames[:, None] - seen[None]).abs()
    return seen[distance.argmin(1)]


def _interpolate(values: Tensor, observed: Tensor) -> Tensor:
    r"""``values (T, ...)`` valid where ``observed (T,)``: linear interpolation between the
    observed neighbours, held constant outside the first and last."""
    frames = torch.arange(len(observed), device=values.device, dtype=values.dtype)
    seen = observed.nonzero().squeeze(1)
    after = torch.searchsorted(seen, torch.arange(len(observed), device=seen.device)).clamp(max=len(seen) - 1)
    before = (after - (seen[after] > torch.arange(len(observed), device=seen.device)).long()).clamp(min=0)
    i, j = seen[before], seen[after]
    span = (frames[j] - frames[i]).clamp_min(1)
    w = ((frames - frames[i]) / span).clamp(0, 1).view(-1, *[1] * (values.dim() - 1))
    return torch.lerp(values[i], values[j], w)


def _check(model: ProbabilisticHMR, keypoints: Tensor) -> None:
    K = sum(len(model.body.keypoint_sets[s].names) for s in evidence_sets(model))
    if keypoints.dim() != 3 or keypoints.shape[1:] != (K, 3):
        raise InputError(f"keypoints of a track must be (T, {K}, 3) (frames, the model's keypoints, "
                         f"x y confidence), got {tuple(keypoints.shape)}")  # fmt: skip
    if keypoints.shape[0] == 0:
        raise InputError("the track has no frames")


@dataclass(frozen=True)
class _Track:
    """Everything per frame that fitting needs, prepared once (T frames)."""

    people: People  # data term: missing frames with confidence 0
    context: Tensor  # (T, C), nearest observed frame's where missing
    translation: Tensor  # (T, 3) start
    scale: Tensor  # (T, 3) metres per unit of the translation variables
    betas: Tensor  # (S,) start


def _prepare(model: ProbabilisticHMR, keypoints: Tensor, camera: PinholeCamera, observed: Tensor,
             config: TemporalConfig) -> _Track:  # fmt: skip
    """Regress every observed frame; fill the missing ones (context nearest, translation interpolated)."""
    T = len(keypoints)
    nearest = _nearest(observed)
    filled = People.from_camera(keypoints[nearest], camera.expand(T), config.fit.box_scale)
    start = regress(model, filled[observed])
    index = torch.cumsum(observed.long(), 0) - 1  # observed frame -> row of start
    rows = index[nearest]
    clean = torch.where(observed[:, None, None], filled.keypoints, torch.zeros_like(filled.keypoints))
    people = replace(filled, keypoints=clean)
    translation = torch.zeros(T, 3, dtype=start.translation.dtype, device=keypoints.device)
    translation[observed] = start.translation
    translation = _interpolate(translation, observed)
    targets = data_weights(model, people, config.fit)
    scale = torch.ones_like(translation)
    if config.fit.scale_translation:
        scale = translation_scale(targets[nearest], people.focal_length, translation)
    return _Track(people, start.context[rows], translation, scale, start.betas.mean(0))


@dataclass
class _State:
    """The current solution of a segment, frames relative to the segment's start."""

    z: Tensor  # (T, D)
    translation: Tensor  # (T, 3)
    betas: Tensor | None  # (S,), None until the first window is fitted


def _fit_window(model: ProbabilisticHMR, track: _Track, state: _State, start: int, end: int, anchors: int,
                config: TemporalConfig) -> MinimizeResult:  # fmt: skip
    """Fit frames ``[start + anchors, end)`` of ``track``, holding the first ``anchors``; updates ``state``."""
    people = track.people[start:end]
    fixed_betas = state.betas is not None
    betas = (track.betas if state.betas is None else state.betas).detach().clone()
    betas.requires_grad_(config.fit.optimize_betas and not fixed_betas)
    z_held, t_held = state.z[start : start + anchors].detach(), state.translation[start : start + anchors].detach()
    z = state.z[start + anchors : end].detach().clone().requires_grad_(True)
    origin = state.translation[start + anchors : end].detach()
    scale = track.scale[start + anchors : end]
    shift = torch.zeros_like(origin).requires_grad_(True)
    T = end - start
    with frozen(model):
        energy = TemporalEnergy(model, people, track.context[start:end], config)

        def total() -> Tensor:
            translation = torch.cat([t_held, torch.addcmul(origin, scale, shift)])
            terms = energy.terms(torch.cat([z_held, z]), betas.expand(T, -1), translation)
            return terms.frames[anchors:].sum() + terms.smoothness

        variables = [z, shift] + ([betas] if betas.requires_grad else [])
        result = minimize(total, variables, config.fit.rules)
    with torch.no_grad():
        state.z[start + anchors : end] = z.detach()
        state.translation[start + anchors : end] = torch.addcmul(origin, scale, shift)
        state.betas = betas.detach()
    return result


def fit_sequence(
    model: ProbabilisticHMR,
    keypoints: Tensor,
    image_size: Tensor | None = None,
    focal_length: Tensor | float | None = None,
    config: TemporalConfig | None = None,
    *,
    camera: PinholeCamera | None = None,
) -> TemporalFit:
    r"""Fit one tracked person over T frames with the temporal terms (module docstring).

    Arguments:
        model: A trained model (left unchanged: frozen and in eval mode while fitting).
        keypoints: ``(T, K, 3)`` the person's detections in every frame, px and confidence
            (a missing frame: all confidences 0), in the model's evidence order.
        image_size: ``(2,)`` (W, H) px of the video, for a camera centred on the image ...
        focal_length: ... with this focal length, px: scalar or ``(f_x, f_y)`` (default:
            the image diagonal).
        config: :class:`TemporalConfig`.
        camera: Or the video's camera (batch shape ``()``, no extrinsics): ``f_x``, ``f_y``,
            principal point and image size (instead of ``image_size`` and ``focal_length``).

    Returns:
        :class:`TemporalFit`, on the keypoints' device and dtype.

    Raises:
        InputError: ``keypoints`` is not ``(T, K, 3)`` for this model, or T is 0; neither
            ``image_size`` nor ``camera`` is given, or both.
    """
    config = config or TemporalConfig()
    keypoints = torch.as_tensor(keypoints, dtype=torch.get_default_dtype())
    _check(model, keypoints)
    T, device = keypoints.shape[0], keypoints.device
    camera = _video_camera(image_size, focal_length, camera).to(device, keypoints.dtype)
    finite = torch.isfinite(keypoints).all(-1) & (keypoints[..., 2] > 0)
    observed = finite.sum(-1) >= config.min_keypoints
    parts = segments(observed, config.max_gap)
    D = model.latent_features
    z = keypoints.new_full((T, D), float("nan"))
    translation = keypoints.new_full((T, 3), float("nan"))
    betas: Tensor | None = None
    results: list[MinimizeResult] = []
    track = _prepare(model, keypoints, camera, observed, config) if parts else None
    for first, last in parts:
        assert track is not None
        state = _State(torch.zeros(last - first, D, dtype=keypoints.dtype, device=device),
                       track.translation[first:last].clone(), betas)  # fmt: skip
        part = _Track(track.people[first:last], track.context[first:last], track.translation[first:last],
                      track.scale[first:last], track.betas)  # fmt: skip
        for k, (start, end) in enumerate(windows(last - first, config.window, config.overlap)):
            results.append(_fit_window(model, part, state, start, end, ANCHORS if k else 0, config))
        z[first:last], translation[first:last], betas = state.z, state.translation, state.betas
    fitted = torch.zeros(T, dtype=torch.bool, device=device)
    for first, last in parts:
        fitted[first:last] = True
    return _outputs(model, track, z, translation, betas, observed, fitted, results)


def _video_camera(image_size: Tensor | None, focal_length: Tensor | float | None,
                  camera: PinholeCamera | None) -> PinholeCamera:
    """The camera of :func:`fit_sequence`'s arguments, batch shape ``()``."""
    if (camera is None) == (image_size is None):
        raise InputError("fit_sequence needs the video's image_size (and focal_length) or its camera, not both")
    if camera is None:
        size = torch.as_tensor(image_size, dtype=torch.get_default_dtype())
        focal = None if focal_length is None else torch.as_tensor(focal_length, dtype=size.dtype)
        return PinholeCamera.centred(size, focal)
    if camera.batch_shape != () or camera.calibrated:
        raise InputError(f"the video's camera must be one camera without extrinsics, got batch shape "
                         f"{tuple(camera.batch_shape)}{' with extrinsics' if camera.calibrated else ''}")  # fmt: skip
    if focal_length is not None:
        raise InputError("fit_sequence: give the focal length in the camera, not beside it")
    return camera


def _outputs(model: ProbabilisticHMR, track: _Track | None, z: Tensor, translation: Tensor, betas: Tensor | None,
             observed: Tensor, fitted: Tensor, results: list[MinimizeResult]) -> TemporalFit:  # fmt: skip
    """The fit's tensors for every frame, NaN where not fitted."""
    T, body = len(z), model.body
    J, N, S = body.num_joints, body.num_vertices, body.num_betas
    K = sum(len(body.keypoint_sets[s].names) for s in evidence_sets(model))
    nan = float("nan")
    rotmats, joints = z.new_full((T, J, 3, 3), nan), z.new_full((T, J, 3), nan)
    vertices, projected, error = z.new_full((T, N, 3), nan), z.new_full((T, K, 2), nan), z.new_full((T,), nan)
    betas = z.new_full((S,), nan) if betas is None else betas
    if track is not None and bool(fitted.any()):
        people = track.people[fitted]
        with torch.no_grad(), frozen(model):
            pose = latent_pose(model, track.context[fitted], False, people.frame_to_camera(model.config.orientation_frame))
            rotmats[fitted] = pose(z[fitted])
            shape = betas.expand(int(fitted.sum()), -1)
            out = body(rotmats[fitted], shape, translation[fitted], vertices=True)
            joints[fitted], vertices[fitted] = out.joints, out.vertices
            points = _keypoint_points(model, people, lean=False)(rotmats[fitted], shape, translation[fitted])
            projected[fitted] = perspective_projection(points, None, people.focal_length, people.principal_point)
            error[fitted] = reprojection_error(projected[fitted], people.keypoints)
    return TemporalFit(rotmats, betas, translation, z, joints, vertices, projected, error, observed, fitted, results)
