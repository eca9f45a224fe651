r"""The Lightning module: ProHMR's training step, losses and validation.

Batches come from :mod:`hmrflow.training.data` (any of the data sources, as
:class:`~hmrflow.training.batch.TrainingBatch`; a plain
:class:`~hmrflow.data.synthetic.SyntheticBatch` or a collated
:class:`~hmrflow.data.prohmr_format.ProHMRSample` works too). Labels a source lacks are
masked: the pose and betas losses count such items as zero in the batch mean (ProHMR
divides by the batch size), the NLL averages over the items with a pose, and 3D
keypoints without the pelvis joint are aligned at the mid-hip.

Randomness: the samples, the NLL noise and dropout of training step ``t`` on process
``r`` are drawn from torch's generator seeded by ``(trainer.seed, r, t)``, so a resumed
run repeats the steps of a run that never stopped.

Precision: under Lightning's ``bf16-mixed``/``16-mixed`` only an image encoder runs in
low precision (:meth:`~hmrflow.models.ProbabilisticHMR.encode`); the flow, head, body
model, losses and discriminator run in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L
import torch
from torch import Tensor
from torch.func import functional_call

from hmrflow.config import ConfigError, config_to_dict
from hmrflow.data.joint_limits import JointLimits, joint_limits
from hmrflow.data.prohmr_format import ProHMRSample
from hmrflow.data.synthetic import SyntheticBatch
from hmrflow.evaluation.metrics import min_of_n, per_joint_errors
from hmrflow.geometry import align, rotmat_to_sixd
from hmrflow.models import HMROutput, ProbabilisticHMR
from hmrflow.models.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_KEY
from hmrflow.models.prohmr import full_precision
from hmrflow.training.batch import TrainingBatch, as_training_batch
from hmrflow.training.config import ExperimentConfig
from hmrflow.training.data import step_seed
from hmrflow.training.discriminator import Discriminator, MocapPoses, discriminator_loss, generator_loss
from hmrflow.training.losses import (
    betas_loss,
    keypoint_2d_loss,
    keypoint_3d_energy_score,
    keypoint_3d_loss,
    nll_loss,
    orthonormal_loss,
    pelvis_weights,
    range_of_motion_loss,
    rotation_loss,
)

__all__ = ["HMRModule", "LossTerms", "freeze_except"]

AnyBatch = TrainingBatch | SyntheticBatch | ProHMRSample

#: Sub-streams of :func:`~hmrflow.training.data.step_seed` used by the module.
_TRAIN_STREAM, _MOCAP_STREAM = 1, 2


@dataclass(frozen=True)
class LossTerms:
    """Unweighted loss terms of one step and their weighted total.

    ``adversarial`` (the model's) and ``discriminator`` (the discriminator's own loss)
    exist when the discriminator is enabled; both are weighted by ``losses.adversarial``.
    """

    keypoints_3d_mode: Tensor
    keypoints_2d_mode: Tensor
    keypoints_2d_samples: Tensor
    keypoints_3d_samples: Tensor
    keypoints_3d_energy: Tensor
    global_orient_mode: Tensor
    body_pose_mode: Tensor
    betas: Tensor
    nll: Tensor
    orthonormal: Tensor
    range_of_motion: Tensor
    total: Tensor
    adversarial: Tensor | None = None
    discriminator: Tensor | None = None


def freeze_except(model: torch.nn.Module, prefixes: tuple[str, ...]) -> list[torch.nn.Module]:
    """Freeze every parameter of ``model`` whose name starts with none of ``prefixes``.

    Returns the modules left without a trainable parameter (to be kept in eval mode);
    nothing is frozen when ``prefixes`` is empty.

    Raises:
        ConfigError: A prefix matches no parameter.
    """
    if not prefixes:
        return []
    names = [name for name, _ in model.named_parameters()]
    unmatched = [p for p in prefixes if not any(name.startswith(p) for name in names)]
    if unmatched:
        raise ConfigError(f"trainer.trainable: no model parameter starts with {unmatched}")
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.startswith(tuple(prefixes)))
    return [
        m
        for m in model.modules()
        if any(True for _ in m.parameters()) and not any(p.requires_grad for p in m.parameters())
    ]


class HMRModule(L.LightningModule):
    r"""Trains :class:`~hmrflow.models.ProbabilisticHMR` as ProHMR does.

    Arguments:
        config: The experiment configuration; saved in every checkpoint.
        model: The model, by default built from ``config.model``.
    """

    def __init__(self, config: ExperimentConfig, model: ProbabilisticHMR | None = None):
        super().__init__()
        self.config = config
        self.model = model if model is not None else ProbabilisticHMR(config.model)
        self.keypoint_sets = config.model.encoder.keypoint_sets
        self.discriminator = Discriminator(num_betas=config.model.num_betas) if config.discriminator.enabled else None
        self._mocap: MocapPoses | None = None
        self._hips = self._hip_indices()
        self._frozen = freeze_except(self.model, config.trainer.trainable)
        self._limits: JointLimits | None = (
            joint_limits("rom").narrowed(config.losses.range_of_motion_margin_deg)
            if config.losses.range_of_motion
            else None
        )
        if self._limits is not None and self.model.body.num_joints != len(self._limits.twist_axis):
            raise ConfigError(
                f"losses.range_of_motion needs a body on the SMPL joint tree; {self.model.body.name!r} "
                f"has {self.model.body.num_joints} joints"
            )
        if config.losses.keypoints_3d_energy and config.trainer.num_samples < 2:
            raise ConfigError(
                "losses.keypoints_3d_energy needs trainer.num_samples >= 2 (two samples besides the mode), "
                f"got {config.trainer.num_samples}"
            )

    def _hip_indices(self) -> tuple[int, ...]:
        """Indices of the hips among ``[24 joints, keypoints]`` (the pelvis stand-in), or ()."""
        sets = self.model.body.keypoint_sets
        names = [n for key in self.keypoint_sets if key in sets for n in sets[key].names]
        if "left_hip" not in names or "right_hip" not in names:
            return ()
        J = self.model.body.num_joints
        return (J + names.index("left_hip"), J + names.index("right_hip"))

    def mocap(self) -> MocapPoses:
        """The discriminator's real poses (loaded on first use)."""
        if self._mocap is None:
            d = self.config.discriminator
            self._mocap = MocapPoses.load(d.mocap, d.use_bundled)
        return self._mocap

    # -- set-up -----------------------------------------------------------------------------

    def _evidence(self, batch: TrainingBatch) -> Tensor:
        if self.config.model.encoder.kind != "image":
            return batch.evidence
        if batch.images is None:
            raise ValueError("an image model needs batches with images (synthetic_images or prohmr sources)")
        if batch.images.device.type == "cuda":  # the backbone's convolutions are faster in NHWC
            return batch.images.contiguous(memory_format=torch.channels_last)
        return batch.images

    def initialize_flow(self, batch: AnyBatch) -> None:
        """Initialise ActNorm from the ground-truth poses of a batch (the explicit data-dependent step).

        Runs where the weights are: in Lightning's ``setup`` they are still on the CPU while
        ``self.device`` already names the accelerator (the strategy moves them later).
        """
        batch = as_training_batch(batch, self.config.data.labels_in(self.config.model)).to(next(self.model.parameters()).device)
        valid = batch.has_pose > 0
        if int(valid.sum()) < 2:
            raise ValueError("ActNorm initialisation needs at least two examples with a pose label in its batch")
        with torch.no_grad():
            context = self.model.encode(self._evidence(batch))
        if not valid.all():
            batch, context = batch[valid], context[valid]
        self.model.initialize_flow(rotmat_to_sixd(batch.rotmats).flatten(-2), context)

    def on_fit_start(self) -> None:
        if self.config.model.encoder.kind == "image" and self.device.type == "cuda":
            self.model.encoder.to(memory_format=torch.channels_last)

    def setup(self, stage: str) -> None:
        # Before the distributed wrapper copies rank 0's weights to every rank.
        datamodule = getattr(self.trainer, "datamodule", None)
        if stage == "fit" and not self.model.flow_initialized and datamodule is not None:
            self.initialize_flow(datamodule.initialization_batch())
        if stage == "fit" and self.discriminator is not None:
            self.mocap()  # missing mocap files fail now, not at the first step

    def configure_optimizers(self) -> torch.optim.Optimizer | dict:
        # One AdamW for the model and the discriminator: each parameter's update only
        # depends on its own gradient, and each loss reaches only its own side.
        optim = self.config.optim
        trainable = [p for p in self.parameters() if p.requires_grad]
        world = self.trainer.world_size if self._trainer is not None else 1
        lr = optim.scaled_lr(self.config.data.batch_size * world)
        fused = optim.fused and all(p.device.type == "cuda" for p in trainable)
        optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=optim.weight_decay, fused=fused or None)
        if optim.schedule == "constant":
            return optimizer
        max_steps = self.config.trainer.max_steps
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: optim.lr_factor(step, max_steps))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def on_train_batch_start(self, batch: AnyBatch, batch_idx: int) -> None:
        for module in self._frozen:  # Lightning sets train mode after every validation
            module.eval()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = {"format": CHECKPOINT_FORMAT, "config": config_to_dict(self.config)}

    # -- training ---------------------------------------------------------------------------

    def compute_losses(self, batch: AnyBatch) -> LossTerms:
        """ProHMR's losses on a batch: the mode and ``trainer.num_samples`` samples per input."""
        batch = as_training_batch(batch, self.config.data.labels_in(self.config.model))
        out = self.model(self._evidence(batch), num_samples=self.config.trainer.num_samples)
        with full_precision(out.context.device):
            return self._losses(batch, out)

    def _losses(self, batch: TrainingBatch, out: HMROutput) -> LossTerms:
        weights = self.config.losses
        model = self.model
        poses = [out.mode] + ([out.samples] if out.samples is not None else [])
        rotmats = torch.cat([p.rotmats for p in poses], dim=1)  # (B, S, J, 3, 3)
        sixd = torch.cat([p.sixd for p in poses], dim=1)  # (B, S, D)
        # Only the vertices the keypoint sets use are computed.
        body = model.body(rotmats, out.betas[:, None], keypoints=self.keypoint_sets, vertices=False)
        keypoints = torch.cat([body.keypoints[name] for name in self.keypoint_sets], dim=-2)

        pred_3d = torch.cat([body.joints, keypoints], dim=-2)
        target_3d = torch.cat([batch.joints_3d, batch.keypoints_3d], dim=-2)
        pelvis = (0,) if bool(batch.has_joints.all()) else pelvis_weights(target_3d[..., 3], 0, self._hips)
        pred_2d = model.project(keypoints, out.translation)

        mode_rotmats = out.mode.rotmats[:, 0]
        terms = {
            "keypoints_3d_mode": keypoint_3d_loss(pred_3d[:, :1], target_3d, pelvis=pelvis),
            "keypoints_2d_mode": keypoint_2d_loss(pred_2d[:, :1], batch.target_2d),
            "keypoints_2d_samples": (
                keypoint_2d_loss(pred_2d[:, 1:], batch.target_2d)
                if pred_2d.shape[1] > 1
                else pred_2d.new_zeros(())
            ),
            "keypoints_3d_samples": (
                keypoint_3d_loss(
                    pred_3d[:, 1:], target_3d, pelvis=pelvis, best_of=weights.keypoints_3d_samples_best_of
                )
                if pred_3d.shape[1] > 1 and weights.keypoints_3d_samples
                else pred_3d.new_zeros(())
            ),
            "keypoints_3d_energy": (
                keypoint_3d_energy_score(
                    pred_3d[:, 1:], target_3d, pelvis=pelvis, whole_body=weights.keypoints_3d_energy_whole_body
                )
                if weights.keypoints_3d_energy  # __init__ checked there are >= 2 samples
                else pred_3d.new_zeros(())
            ),
            "global_orient_mode": rotation_loss(mode_rotmats[:, :1], batch.rotmats[:, :1], batch.has_pose),
            "body_pose_mode": rotation_loss(mode_rotmats[:, 1:], batch.rotmats[:, 1:], batch.has_pose),
            "betas": betas_loss(out.betas, batch.betas[:, : out.betas.shape[-1]], batch.has_betas),
            "nll": self._nll(batch, out.context),
            "orthonormal": orthonormal_loss(sixd.unflatten(-1, (-1, 6))),
            "range_of_motion": (
                range_of_motion_loss(rotmats, self._limits) if self._limits is not None else rotmats.new_zeros(())
            ),
        }
        total = sum(getattr(weights, name) * value for name, value in terms.items())
        if self.discriminator is not None:
            terms.update(self._adversarial(rotmats, out.betas))
            total = total + weights.adversarial * (terms["adversarial"] + terms["discriminator"])
        return LossTerms(**terms, total=total)

    def _nll(self, batch: TrainingBatch, context: Tensor) -> Tensor:
        """NLL of the noisy ground-truth 6D poses, over the items with a pose label."""
        gt_sixd = rotmat_to_sixd(batch.rotmats).flatten(-2)
        noisy = gt_sixd + self.config.losses.nll_noise_std * torch.randn_like(gt_sixd)
        valid = batch.has_pose > 0
        if bool(valid.all()):
            return nll_loss(self.model.pose_log_prob(noisy, context))
        if int(valid.sum()) < 2:  # BatchNorm in the coupling nets needs two rows
            return context.new_zeros(())
        return nll_loss(self.model.pose_log_prob(noisy[valid], context[valid]))

    def _adversarial(self, rotmats: Tensor, betas: Tensor) -> dict[str, Tensor]:
        """The model's adversarial loss and the discriminator's loss (ProHMR's LSGAN)."""
        disc = self.discriminator
        B, S = rotmats.shape[:2]
        fake_rotmats = rotmats[:, :, 1:].reshape(B * S, -1, 3, 3)
        fake_betas = betas[:, None].expand(B, S, -1).reshape(B * S, -1)
        # The model's loss sees the discriminator frozen; the discriminator's, the poses detached.
        frozen = {name: p.detach() for name, p in disc.named_parameters()}
        adversarial = generator_loss(functional_call(disc, frozen, (fake_rotmats, fake_betas)), B)
        generator = torch.Generator().manual_seed(
            step_seed(self.config.trainer.seed, self.global_rank, self.global_step, _MOCAP_STREAM)
        )
        d = self.config.discriminator
        real_rotmats, real_betas = self.mocap().sample(B * S, betas.shape[-1], generator, d.betas_std)
        real = disc(real_rotmats.to(rotmats), real_betas.to(betas))
        fake = disc(fake_rotmats.detach(), fake_betas.detach())
        return {"adversarial": adversarial, "discriminator": discriminator_loss(fake, real)}

    def training_step(self, batch: AnyBatch, batch_idx: int) -> Tensor:
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices, device_type=self.device.type if devices else "cuda"):
            torch.manual_seed(step_seed(self.config.trainer.seed, self.global_rank, self.global_step, _TRAIN_STREAM))
            terms = self.compute_losses(batch)
        size = len(batch)
        logged = {f"train/{k}": v.detach() for k, v in vars(terms).items() if v is not None}
        self.log_dict(logged, prog_bar=False, batch_size=size)
        self.log("loss", terms.total.detach(), prog_bar=True, batch_size=size)
        return terms.total

    # -- validation -------------------------------------------------------------------------

    def validation_step(self, batch: AnyBatch, batch_idx: int) -> None:
        """Mode MPJPE, PA-MPJPE, best-of-hypotheses PA-MPJPE (the mode and
        ``trainer.validation_samples`` samples; joints, or labelled keypoints) and NLL.

        Under DDP each process logs its share of the validation set (no cross-process
        reduction, so that a process whose share lacks a label never waits on another).
        """
        batch = as_training_batch(batch, self.config.data.labels_in(self.config.model))
        generator = torch.Generator(device=self.device).manual_seed(batch_idx)
        out = self.model(self._evidence(batch), num_samples=self.config.trainer.validation_samples, generator=generator)
        with full_precision(self.device):
            if bool(batch.has_joints.all()):
                self._validate_joints(batch, out)
            else:
                self._validate_keypoints(batch, out)
            valid = batch.has_pose > 0
            if valid.any():
                gt_sixd = rotmat_to_sixd(batch.rotmats[valid]).flatten(-2)
                nll = -self.model.pose_log_prob(gt_sixd, out.context[valid])
                self.log("val/nll", nll.mean(), batch_size=int(valid.sum()))

    def _validate_joints(self, batch: TrainingBatch, out: HMROutput) -> None:
        """MPJPE (pelvis-aligned) and PA-MPJPE of the 24 joints, mode and best of the hypotheses."""
        rotmats = torch.cat([out.mode.rotmats, out.samples.rotmats], dim=1)
        joints = self.model.body(rotmats, out.betas[:, None], vertices=False).joints
        target = batch.joints_3d[:, None, :, :3]
        mpjpe = per_joint_errors(joints, target, pelvis=0).mean(-1)
        pa = per_joint_errors(joints, target.expand_as(joints), procrustes=True).mean(-1)
        self._log_errors(mpjpe, pa, len(batch))

    def _validate_keypoints(self, batch: TrainingBatch, out: HMROutput) -> None:
        """The same metrics on the labelled 3D keypoints (mid-hip aligned), for datasets without joints."""
        rotmats = torch.cat([out.mode.rotmats, out.samples.rotmats], dim=1)
        body = self.model.body(rotmats, out.betas[:, None], keypoints=self.keypoint_sets, vertices=False)
        pred = torch.cat([body.keypoints[name] for name in self.keypoint_sets], dim=-2)  # (B, S, K, 3)
        target, confidence = batch.keypoints_3d[:, None, :, :3], batch.keypoints_3d[:, None, :, 3]
        J = self.model.body.num_joints
        hips = [i - J for i in self._hips]
        usable = (confidence > 0).sum(-1) >= 3
        if hips:
            usable &= (confidence[..., hips] > 0).all(-1)
        usable = usable[:, 0]
        if not usable.any():
            return
        pred, target, confidence = pred[usable], target[usable], confidence[usable]
        mask = (confidence > 0).to(pred.dtype).expand(pred.shape[:-1])
        if hips:
            centred = per_joint_errors(pred, target, pelvis=(hips[0], hips[1]))
        else:
            centred = per_joint_errors(pred, target)
        aligned = align(pred, target.expand_as(pred), weights=mask)
        procrustes = per_joint_errors(aligned, target)
        count = mask.sum(-1)
        self._log_errors((centred * mask).sum(-1) / count, (procrustes * mask).sum(-1) / count, int(usable.sum()))

    def _log_errors(self, mpjpe: Tensor, pa: Tensor, size: int) -> None:
        """Log mode errors and the best hypothesis from per-pose errors ``(B, 1 + S)`` (mode first)."""
        self.log("val/mpjpe", mpjpe[:, 0].mean(), batch_size=size)
        self.log("val/pa_mpjpe", pa[:, 0].mean(), batch_size=size, prog_bar=True)
        self.log("val/pa_mpjpe_best", min_of_n(pa[:, 0], pa[:, 1:]).mean(), batch_size=size)
