r"""Run a model over an evaluation set and accumulate its figures.

The evaluated joints are the set's: the body model's 24 joints for synthetic sets, or
named keypoints such as the 14 evaluation joints (:data:`~hmrflow.body.keypoints.EVAL_14`)
for ProHMR-format datasets. :class:`JointPredictor` gives the model's joints in that order:
from a joint regressor the user supplies (e.g. Human3.6M's, as the published numbers use),
or else derived from the body's own keypoint sets (:func:`~hmrflow.body.derived_keypoints.derive_keypoint_set`);
joints that cannot be derived are left out of every figure (and said so).

Example:
    >>> from hmrflow.body import BodyModel
    >>> from hmrflow.body.keypoints import EVAL_14
    >>> predictor = JointPredictor(BodyModel.from_name("anny_lowpoly"), EVAL_14, pelvis=(2, 3))
    >>> predictor.missing, len(predictor.names), predictor.pelvis
    (('head_top',), 13, (2, 3))
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import torch
from torch import Tensor

from hmrflow.body.derived_keypoints import derive_keypoint_set
from hmrflow.body.joints import NUM_JOINTS, SMPL_JOINT_NAMES
from hmrflow.body.keypoints import H36M_17, KeypointSet
from hmrflow.body.model import BodyModel
from hmrflow.data.joint_limits import joint_limits, plausibility
from hmrflow.data.self_contact import self_intersections
from hmrflow.evaluation.evaluator import DEFAULT_MIN_OF_N, EvaluationResult, Evaluator
from hmrflow.evaluation.metrics import Pelvis
from hmrflow.evaluation.sets import EvaluationData

__all__ = ["JointPredictor", "evaluate_model", "regressor_keypoint_set"]

log = logging.getLogger(__name__)

_SET = "evaluation"


def regressor_keypoint_set(
    regressor: Tensor, names: Sequence[str] | None = None, num_joints: int = 24
) -> KeypointSet:
    r"""A keypoint set from a vertex regressor ``(K, N)`` (e.g. ``J_regressor_h36m.npy``).

    ``names`` default: :data:`~hmrflow.body.keypoints.H36M_17` for 17 rows (the order
    SPIN and ProHMR use), else an error. ``num_joints``: J of the body model.
    """
    regressor = torch.as_tensor(regressor, dtype=torch.float32)
    if names is None:
        if regressor.shape[0] != len(H36M_17):
            raise ValueError(
                f"a regressor with {regressor.shape[0]} rows needs its joint names; "
                f"17 rows are read as Human3.6M's joints"
            )
        names = H36M_17
    return KeypointSet(tuple(names), regressor, torch.zeros(len(names), num_joints))


class JointPredictor:
    r"""The model's joints on a set's joint names.

    Arguments:
        body: The model's body model.
        joint_names: The set's K joint names.
        pelvis: The set's pelvis alignment (indices into ``joint_names``).
        regressor: A keypoint set (e.g. :func:`regressor_keypoint_set`) that defines the
            joints by name (the body's own sets are then not used); None to derive them
            from the body's sets.

    Attributes:
        names: The joints that are evaluated, a subsequence of ``joint_names``.
        kept: Their indices in ``joint_names`` (select the ground truth with it).
        missing: Joints neither the regressor nor the body defines (left out).
        pelvis: ``pelvis`` re-indexed into ``names``.
    """

    def __init__(
        self,
        body: BodyModel,
        joint_names: Sequence[str],
        pelvis: Pelvis = 0,
        regressor: KeypointSet | None = None,
    ):
        joint_names = tuple(joint_names)
        if regressor is None and joint_names == tuple(SMPL_JOINT_NAMES)[: body.num_joints]:
            self.body, self.kept, self.missing = body, list(range(len(joint_names))), ()
            self.names, self.pelvis = joint_names, pelvis
            self._keypoints = False
            return
        keypoint_set = self._keypoint_set(body, joint_names, regressor)
        defined = keypoint_set.defined.tolist()
        self.kept = [k for k, ok in enumerate(defined) if ok]
        self.missing = tuple(name for name, ok in zip(joint_names, defined) if not ok)
        self.names = tuple(joint_names[k] for k in self.kept)
        subset = KeypointSet(
            self.names, keypoint_set.vertex_weights[self.kept], keypoint_set.joint_weights[self.kept]
        )
        self.body = body.with_keypoint_sets({_SET: subset})
        self.pelvis = self._reindex(pelvis, joint_names)
        self._keypoints = True
        if self.missing:
            log.warning("joints %s are not defined for body model %r: left out", self.missing, body.name)

    @staticmethod
    def _keypoint_set(body: BodyModel, names: tuple[str, ...], regressor: KeypointSet | None) -> KeypointSet:
        if regressor is None:
            return derive_keypoint_set(body, names).keypoint_set
        if regressor.vertex_weights.shape[1] != body.num_vertices:
            raise ValueError(
                f"the joint regressor has {regressor.vertex_weights.shape[1]} vertices, "
                f"the body model {body.name!r} {body.num_vertices}"
            )
        own = body.with_keypoint_sets({"regressor": regressor})
        return derive_keypoint_set(own, names, sources=("regressor",), recipes={}).keypoint_set

    def _reindex(self, pelvis: Pelvis, joint_names: tuple[str, ...]) -> Pelvis:
        if pelvis is None:
            return None
        indices = (pelvis,) if isinstance(pelvis, int) else pelvis
        lost = [joint_names[i] for i in indices if i not in self.kept]
        if lost:
            raise ValueError(f"the pelvis joint(s) {lost} are not defined for this body model")
        new = tuple(self.kept.index(i) for i in indices)
        return new[0] if isinstance(pelvis, int) else new  # type: ignore[return-value]

    def __call__(self, rotmats: Tensor, betas: Tensor) -> Tensor:
        r"""Joints ``(B, S, K, 3)`` of poses ``(B, S, J, 3, 3)`` with betas ``(B, S_b)``."""
        body = self.body.to(rotmats.device)
        if not self._keypoints:
            return body(rotmats, betas[:, None], vertices=False).joints
        return body(rotmats, betas[:, None], keypoints=(_SET,), vertices=False).keypoints[_SET]


@torch.no_grad()
def evaluate_model(
    model: torch.nn.Module,
    data: EvaluationData,
    *,
    hypotheses: int = 25,
    min_of_n: Sequence[int] = DEFAULT_MIN_OF_N,
    batch_size: int = 128,
    regressor: KeypointSet | None = None,
    generator: torch.Generator | None = None,
    progress: bool = False,
    temperature: float = 1.0,
    flip_test: bool = False,
) -> tuple[EvaluationResult, JointPredictor]:
    r"""Evaluate ``model`` (a :class:`~hmrflow.models.ProbabilisticHMR`) on ``data``.

    Arguments:
        model: The model, on the device to run on; put in eval mode here.
        data: The evaluation set.
        hypotheses: Poses per example, the mode included (``hypotheses - 1`` samples).
        min_of_n: Hypothesis counts of the min-of-N figures (those up to ``hypotheses``).
        batch_size: Examples per forward pass.
        regressor: Joint regressor for keypoint-named joints (see :class:`JointPredictor`).
        generator: Randomness of the samples (on the model's device).
        progress: Show a progress bar.
        temperature: Scale of the samples' latents (1: the model's distribution).
        flip_test: Evaluate the flip-tested mode (:meth:`~hmrflow.models.ProbabilisticHMR.flip_tested`).

    Returns:
        The figures and the joint predictor (which joints were evaluated).
    """
    device = next(model.parameters()).device
    model.eval()
    predictor = JointPredictor(model.body, data.info.joint_names, data.info.pelvis, regressor)
    evaluator = Evaluator(predictor.names, predictor.pelvis, min_of_n)
    kept = torch.tensor(predictor.kept, device=device)
    from tqdm.auto import tqdm

    batches = tqdm(
        data.batches(batch_size),
        total=math.ceil(len(data) / batch_size),
        desc=f"evaluating on {data.info.name}",
        unit="batch",
        disable=not progress,
    )
    plausible = SamplePlausibility() if model.body.num_joints == NUM_JOINTS else None
    for batch in batches:
        batch = batch.to(device)
        out = model(batch.evidence, num_samples=hypotheses - 1, generator=generator, temperature=temperature,
                    flip_test=flip_test)  # fmt: skip
        if plausible is not None and out.samples is not None:
            plausible.update(out.samples.rotmats)
        mode = predictor(batch.pose_to_camera(out.mode.rotmats, out.frame), out.betas)[:, 0]
        samples = None
        if out.samples is not None:
            samples = predictor(batch.pose_to_camera(out.samples.rotmats, out.frame), out.betas)
        log_prob = None
        if batch.rotmats is not None:
            valid = batch.pose_valid
            if valid is None:
                valid = torch.ones(len(batch), dtype=torch.bool, device=device)
            if valid.any():
                truth = batch.pose_to_model(batch.rotmats, out.frame)
                log_prob = model.log_prob(batch.evidence[valid], truth[valid])
        evaluator.update(batch.joints_3d.index_select(1, kept), mode, samples, log_prob)
    result = evaluator.compute()
    if plausible is not None and plausible.count:
        result.figures.update(plausible.figures())
    return result, predictor


class SamplePlausibility:
    """How many samples a body could take: inside the ranges of motion, free of self-intersection.

    Ranges: :func:`~hmrflow.data.joint_limits.joint_limits` ``"rom"`` (published norms, 2
    degrees of tolerance), over the 23 body joints; self-intersection: the capsule test of
    :func:`~hmrflow.data.self_contact.self_intersections`.
    """

    def __init__(self) -> None:
        self.count = self.within = self.free = self.both = 0
        self.limits = joint_limits("rom")

    def update(self, rotmats: Tensor) -> None:
        """Add samples ``(B, S, J, 3, 3)``."""
        poses = rotmats.flatten(0, 1).float()
        within = plausibility(poses, self.limits)
        free = ~self_intersections(poses)
        self.count += len(poses)
        self.within += int(within.sum())
        self.free += int(free.sum())
        self.both += int((within & free).sum())

    def figures(self) -> dict[str, float]:
        """``sample_within_rom_rate``, ``sample_contact_free_rate``, ``sample_plausible_rate`` (both)."""
        return {
            "sample_within_rom_rate": self.within / self.count,
            "sample_contact_free_rate": self.free / self.count,
            "sample_plausible_rate": self.both / self.count,
        }
