r"""The optional adversarial prior (DESIGN.md section 7; ProHMR's, after HMR's).

A discriminator looks at the 23 body-joint rotations (not the global orientation) and the
betas of a pose and says how real they look. It is trained, least-squares GAN style,
to give 1 on real motion capture (:class:`MocapPoses`) and 0 on the model's predictions;
the model is trained to make it say 1 on its predictions (:func:`generator_loss`).

Architecture: every joint's rotation matrix (9 numbers) goes through a small MLP shared
by all joints (9 -> 32 -> 32); a linear score per joint; a score of the whole pose from
all joints' features (23 * 32 -> 1024 -> 1024 -> 1); a score of the betas
(S -> 10 -> 5 -> 1). That gives 25 scores per pose.

Shapes: B poses, J joints (23 body joints here), S betas.

Example:
    >>> disc = Discriminator(num_betas=10)
    >>> scores = disc(torch.eye(3).expand(4, 23, 3, 3), torch.zeros(4, 10))
    >>> scores.shape
    torch.Size([4, 25])
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from hmrflow.geometry.rotations import rotvec_to_rotmat

__all__ = [
    "Discriminator",
    "MocapPoses",
    "discriminator_loss",
    "generator_loss",
]

log = logging.getLogger(__name__)

#: Body joints the discriminator sees: the 23 after the global orientation.
NUM_BODY_JOINTS = 23


class Discriminator(nn.Module):
    r"""Scores ``(B, J + 2)`` of body-joint rotations ``(B, J, 3, 3)`` and betas ``(B, S)``.

    Arguments:
        num_joints: J (23 SMPL body joints).
        num_betas: S.
        joint_features: Width of the per-joint features.
        pose_hidden: Width of the whole-pose MLP.
    """

    def __init__(
        self,
        num_joints: int = NUM_BODY_JOINTS,
        num_betas: int = 10,
        joint_features: int = 32,
        pose_hidden: int = 1024,
    ):
        super().__init__()
        self.num_joints = num_joints
        self.joint_net = nn.Sequential(
            nn.Linear(9, joint_features), nn.ReLU(), nn.Linear(joint_features, joint_features), nn.ReLU()
        )
        # One linear score per joint, on that joint's features: weights (J, F), bias (J,).
        self.joint_score_weight = nn.Parameter(torch.empty(num_joints, joint_features))
        self.joint_score_bias = nn.Parameter(torch.zeros(num_joints))
        nn.init.uniform_(self.joint_score_weight, -(joint_features**-0.5), joint_features**-0.5)
        self.pose_net = nn.Sequential(
            nn.Linear(num_joints * joint_features, pose_hidden),
            nn.ReLU(),
            nn.Linear(pose_hidden, pose_hidden),
            nn.ReLU(),
            nn.Linear(pose_hidden, 1),
        )
        self.betas_net = nn.Sequential(
            nn.Linear(num_betas, 10), nn.ReLU(), nn.Linear(10, 5), nn.ReLU(), nn.Linear(5, 1)
        )

    def forward(self, rotmats: Tensor, betas: Tensor) -> Tensor:
        if rotmats.shape[-3:] != (self.num_joints, 3, 3):
            raise ValueError(f"expected rotmats (B, {self.num_joints}, 3, 3), got {tuple(rotmats.shape)}")
        features = self.joint_net(rotmats.flatten(-2))  # (B, J, F)
        joint_scores = (features * self.joint_score_weight).sum(-1) + self.joint_score_bias
        pose_score = self.pose_net(features.flatten(-2))
        betas_score = self.betas_net(betas)
        return torch.cat([joint_scores, pose_score, betas_score], dim=-1)


def generator_loss(fake_scores: Tensor, batch_size: int) -> Tensor:
    r"""The model's adversarial loss: ``sum (D(fake) - 1)^2 / batch_size`` (scores ``(N, 25)``)."""
    return (fake_scores - 1.0).square().sum() / batch_size


def discriminator_loss(fake_scores: Tensor, real_scores: Tensor) -> Tensor:
    r"""The discriminator's loss: ``sum D(fake)^2 / N_fake + sum (D(real) - 1)^2 / N_real``."""
    fake = fake_scores.square().sum() / fake_scores.shape[0]
    real = (real_scores - 1.0).square().sum() / real_scores.shape[0]
    return fake + real


@dataclass(frozen=True)
class MocapPoses:
    r"""Real poses for the discriminator.

    Attributes:
        rotmats: ``(F, 23, 3, 3)`` body-joint rotations (no global orientation).
        betas: ``(F, S)`` shapes, or None: then Gaussian betas are drawn (as for NaN rows).
    """

    rotmats: Tensor
    betas: Tensor | None = None

    def __len__(self) -> int:
        return self.rotmats.shape[0]

    def sample(
        self, count: int, num_betas: int, generator: torch.Generator, betas_std: float = 1.0
    ) -> tuple[Tensor, Tensor]:
        r"""``count`` random poses ``(count, 23, 3, 3)`` and betas ``(count, num_betas)``."""
        index = torch.randint(len(self), (count,), generator=generator)
        noise = torch.randn(count, num_betas, generator=generator) * betas_std
        if self.betas is None:
            return self.rotmats[index], noise
        betas = self.betas[index, :num_betas]
        betas = nn.functional.pad(betas, (0, num_betas - betas.shape[-1]))
        return self.rotmats[index], torch.where(betas.isnan(), noise, betas)

    @classmethod
    def bundled(cls) -> MocapPoses:
        """The CMU trial shipped with hmrflow (no shapes)."""
        from hmrflow.data.pose_sources import load_cmu_demo

        return cls(load_cmu_demo().rotmats[:, 1:].contiguous())

    @classmethod
    def from_file(cls, path: str | Path) -> MocapPoses:
        r"""An AMASS ``.npz`` (``poses`` (T, 72/156/165), ``betas``) or ProHMR's mocap
        ``.npz`` (``pose`` or ``body_pose`` (N, 72) axis-angle, optional ``shape``/``betas`` (N, S))."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"mocap file not found: {path} (discriminator.mocap)")
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
            if "poses" in keys:
                from hmrflow.data.pose_sources import read_amass

                sequence = read_amass(path)
                betas = sequence.betas
                rotmats = sequence.rotmats[:, 1:].contiguous()
                if betas is not None:
                    betas = betas.reshape(1, -1).float().expand(len(rotmats), -1)
                return cls(rotmats, betas)
            name = next((k for k in ("pose", "body_pose") if k in keys), None)
            if name is None:
                raise ValueError(f"{path}: no 'poses', 'pose' or 'body_pose' array; it has {sorted(keys)}")
            pose = torch.from_numpy(np.asarray(data[name], dtype=np.float32))
            shape = next((k for k in ("shape", "betas") if k in keys), None)
            betas = torch.from_numpy(np.asarray(data[shape], dtype=np.float32)) if shape else None
        if pose.ndim != 2 or pose.shape[1] < 3 * (NUM_BODY_JOINTS + 1):
            raise ValueError(f"{path}: {name!r} has shape {tuple(pose.shape)}, expected (N, 72)")
        rotmats = rotvec_to_rotmat(pose[:, 3 : 3 * (NUM_BODY_JOINTS + 1)].reshape(-1, NUM_BODY_JOINTS, 3))
        if betas is not None and len(betas) != len(rotmats):
            raise ValueError(f"{path}: {len(betas)} shapes for {len(rotmats)} poses")
        return cls(rotmats, betas)

    @classmethod
    def load(cls, files: Sequence[str | Path] = (), use_bundled: bool = True) -> MocapPoses:
        """The bundled trial (if ``use_bundled``) and ``files``, together."""
        parts = ([cls.bundled()] if use_bundled else []) + [cls.from_file(f) for f in files]
        if not parts:
            raise ValueError("the discriminator needs real poses: set discriminator.mocap or use_bundled")
        if len(parts) == 1:
            return parts[0]
        rotmats = torch.cat([p.rotmats for p in parts])
        betas = None
        if any(p.betas is not None for p in parts):
            width = max(p.betas.shape[-1] for p in parts if p.betas is not None)
            # Poses without shapes get NaN rows, replaced by Gaussian draws in sample().
            nan = float("nan")
            betas = torch.cat([
                nn.functional.pad(p.betas, (0, width - p.betas.shape[-1]), value=nan)
                if p.betas is not None else torch.full((len(p), width), nan)
                for p in parts
            ])  # fmt: skip
        log.info("discriminator: %d real poses", len(rotmats))
        return cls(rotmats, betas)

