"""The Lightning module: ProHMR's training step, losses and validation."""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L
import torch
from torch import Tensor

from hmrflow.config import config_to_dict
from hmrflow.data.synthetic import SyntheticBatch
from hmrflow.evaluation.metrics import min_of_n, per_joint_errors
from hmrflow.geometry import rotmat_to_sixd
from hmrflow.models import ProbabilisticHMR
from hmrflow.training.checkpoint import CHECKPOINT_KEY
from hmrflow.training.config import ExperimentConfig
from hmrflow.training.losses import (
    betas_loss,
    keypoint_2d_loss,
    keypoint_3d_loss,
    orthonormal_loss,
    rotation_loss,
)

__all__ = ["HMRModule", "LossTerms"]


@dataclass(frozen=True)
class LossTerms:
    """Unweighted loss terms of one step and their weighted total."""

    keypoints_3d_mode: Tensor
    keypoints_2d_mode: Tensor
    keypoints_2d_samples: Tensor
    global_orient_mode: Tensor
    body_pose_mode: Tensor
    betas: Tensor
    nll: Tensor
    orthonormal: Tensor
    total: Tensor


class HMRModule(L.LightningModule):
    r"""Trains :class:`~hmrflow.models.ProbabilisticHMR` on synthetic keypoint batches.

    Arguments:
        config: The experiment configuration; saved in every checkpoint.
        model: The model, by default built from ``config.model``.
    """

    def __init__(self, config: ExperimentConfig, model: ProbabilisticHMR | None = None):
        super().__init__()
        self.config = config
        self.model = model if model is not None else ProbabilisticHMR(config.model)
        self.keypoint_sets = config.model.encoder.keypoint_sets

    # -- set-up -----------------------------------------------------------------------------

    def initialize_flow(self, batch: SyntheticBatch) -> None:
        """Initialise ActNorm from ground-truth poses (the explicit data-dependent step)."""
        batch = batch.to(self.device)
        with torch.no_grad():
            context = self.model.encoder(batch.evidence)
        self.model.flow.initialize(rotmat_to_sixd(batch.rotmats).flatten(-2), context)

    def setup(self, stage: str) -> None:
        # Before the distributed wrapper copies rank 0's weights to every rank.
        datamodule = getattr(self.trainer, "datamodule", None)
        if stage == "fit" and not self.model.flow.initialized and datamodule is not None:
            self.initialize_flow(datamodule.initialization_batch())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        optim = self.config.optim
        return torch.optim.AdamW(self.parameters(), lr=optim.lr, weight_decay=optim.weight_decay)

    def transfer_batch_to_device(self, batch: SyntheticBatch, device: torch.device, dataloader_idx: int):
        return batch.to(device)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = {"format": 1, "config": config_to_dict(self.config)}

    # -- training ---------------------------------------------------------------------------

    def compute_losses(self, batch: SyntheticBatch) -> LossTerms:
        """ProHMR's losses on a batch: the mode and ``num_samples - 1`` samples per input."""
        weights = self.config.losses
        model = self.model
        out = model(batch.evidence, num_samples=self.config.trainer.num_samples - 1)
        poses = [out.mode] + ([out.samples] if out.samples is not None else [])
        rotmats = torch.cat([p.rotmats for p in poses], dim=1)  # (B, S, J, 3, 3)
        sixd = torch.cat([p.sixd for p in poses], dim=1)  # (B, S, D)
        # Only the vertices the keypoint sets use are computed.
        body = model.body(rotmats, out.betas[:, None], keypoints=self.keypoint_sets, vertices=False)
        keypoints = torch.cat([body.keypoints[name] for name in self.keypoint_sets], dim=-2)

        pred_3d = torch.cat([body.joints, keypoints], dim=-2)[:, :1]
        target_3d = torch.cat([batch.joints_3d, batch.keypoints_3d], dim=-2)
        target_3d = torch.cat([target_3d, torch.ones_like(target_3d[..., :1])], dim=-1)
        pred_2d = model.project(keypoints, out.translation)

        gt_sixd = rotmat_to_sixd(batch.rotmats).flatten(-2)
        noisy = gt_sixd + weights.nll_noise_std * torch.randn_like(gt_sixd)
        mode_rotmats = out.mode.rotmats[:, 0]
        terms = {
            "keypoints_3d_mode": keypoint_3d_loss(pred_3d, target_3d, pelvis=(0,)),
            "keypoints_2d_mode": keypoint_2d_loss(pred_2d[:, :1], batch.target_2d),
            "keypoints_2d_samples": (
                keypoint_2d_loss(pred_2d[:, 1:], batch.target_2d)
                if pred_2d.shape[1] > 1
                else pred_2d.new_zeros(())
            ),
            "global_orient_mode": rotation_loss(mode_rotmats[:, :1], batch.rotmats[:, :1]),
            "body_pose_mode": rotation_loss(mode_rotmats[:, 1:], batch.rotmats[:, 1:]),
            "betas": betas_loss(out.betas, batch.betas[:, : out.betas.shape[-1]]),
            "nll": -model.flow.log_prob(noisy, out.context).mean(),
            "orthonormal": orthonormal_loss(sixd.unflatten(-1, (-1, 6))),
        }
        total = sum(getattr(weights, name) * value for name, value in terms.items())
        return LossTerms(**terms, total=total)

    def training_step(self, batch: SyntheticBatch, batch_idx: int) -> Tensor:
        terms = self.compute_losses(batch)
        logged = {f"train/{k}": v.detach() for k, v in vars(terms).items()}
        self.log_dict(logged, prog_bar=False, batch_size=len(batch))
        self.log("loss", terms.total.detach(), prog_bar=True, batch_size=len(batch))
        return terms.total

    # -- validation -------------------------------------------------------------------------

    def validation_step(self, batch: SyntheticBatch, batch_idx: int) -> None:
        generator = torch.Generator(device=self.device).manual_seed(batch_idx)
        out = self.model(batch.evidence, num_samples=9, generator=generator)
        rotmats = torch.cat([out.mode.rotmats, out.samples.rotmats], dim=1)
        joints = self.model.body(rotmats, out.betas[:, None], vertices=False).joints
        target = batch.joints_3d[:, None]
        mpjpe = per_joint_errors(joints, target, pelvis=0).mean(-1)
        pa = per_joint_errors(joints, target.expand_as(joints), procrustes=True).mean(-1)
        gt_sixd = rotmat_to_sixd(batch.rotmats).flatten(-2)
        nll = -self.model.flow.log_prob(gt_sixd, out.context)
        size = len(batch)
        self.log("val/mpjpe", mpjpe[:, 0].mean(), batch_size=size)
        self.log("val/pa_mpjpe", pa[:, 0].mean(), batch_size=size, prog_bar=True)
        self.log("val/pa_mpjpe_min10", min_of_n(pa[:, 0], pa[:, 1:]).mean(), batch_size=size)
        self.log("val/nll", nll.mean(), batch_size=size)
