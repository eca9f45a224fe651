r"""The probabilistic HMR model: evidence -> context -> a distribution over body pose.

An encoder turns the evidence (2D keypoints in a person box, or an image crop) into a
context ``(B, C)``. A :class:`~hmrflow.flows.ConditionalGlow` over the 24 x 6D pose
(D = 144) gives ``p(pose | evidence)``: its mode (``z = 0``, exact with additive
coupling), samples and log-likelihoods. A small head gives betas and a weak-perspective
camera. The body model turns poses and betas into joints, keypoints and vertices.

Precision: an image encoder follows any enclosing :class:`torch.autocast` (mixed
precision for the backbone only, e.g. ``with torch.autocast("cuda", torch.bfloat16):``);
the keypoint encoder, the flow and the head always run in float32, autocast or not.

Example:
    >>> from hmrflow.flows import FlowConfig
    >>> config = ModelConfig(
    ...     encoder=EncoderConfig(width=32),
    ...     flow=FlowConfig(context_features=32, hidden_features=32),
    ...     head_hidden=32,
    ... )
    >>> model = ProbabilisticHMR(config).eval()
    >>> out = model(torch.zeros(2, 23, 3), num_samples=5, generator=torch.Generator().manual_seed(0))
    >>> out.mode.rotmats.shape, out.samples.rotmats.shape
    (torch.Size([2, 1, 24, 3, 3]), torch.Size([2, 5, 24, 3, 3]))
    >>> model.pose(out.mode, out.betas, keypoints=("coco",), vertices=False).keypoints["coco"].shape
    torch.Size([2, 1, 17, 3])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from torch import Tensor, nn

from hmrflow.body import BodyModel, BodyOutput
from hmrflow.body.joints import NUM_JOINTS, mirror_poses
from hmrflow.body.keypoints import flip_permutation
from hmrflow.flows import ConditionalGlow, FlowSample
from hmrflow.flows.frozen import FrozenDecoder
from hmrflow.geometry import rotmat_midpoint, rotmat_to_sixd, sixd_to_rotmat
from hmrflow.geometry.cameras import perspective_projection, weak_perspective_to_translation
from hmrflow.models.config import EncoderConfig, ModelConfig
from hmrflow.models.head import ShapeCameraHead
from hmrflow.models.keypoint_encoder import KeypointEncoder
from hmrflow.models.resnet import ResNetEncoder

__all__ = ["ProbabilisticHMR", "PoseSet", "HMROutput", "load_body_model", "full_precision"]


@dataclass(frozen=True)
class PoseSet:
    r"""S poses per input.

    Attributes:
        rotmats: ``(B, S, J, 3, 3)`` local joint rotations (joint 0: global orientation).
        sixd: ``(B, S, D)`` the flow's raw 6D output (not orthonormalised), D = 6 J.
        z: ``(B, S, D)`` latents.
        log_prob: ``(B, S)`` ``log p(sixd | evidence)``.
    """

    rotmats: Tensor
    sixd: Tensor
    z: Tensor
    log_prob: Tensor

    def __getitem__(self, index: tuple[slice, slice]) -> PoseSet:
        """The poses ``index`` (over ``(B, S)``) of every field."""
        return PoseSet(*(getattr(self, f.name)[index] for f in fields(self)))

    def cat(self, other: PoseSet) -> PoseSet:
        """These poses and then ``other``'s, per input: ``S + S'`` poses."""
        return PoseSet(*(torch.cat([getattr(self, f.name), getattr(other, f.name)], dim=1) for f in fields(self)))

    @staticmethod
    def from_flow(sample: FlowSample) -> PoseSet:
        B, S, D = sample.x.shape
        rotmats = sixd_to_rotmat(sample.x.reshape(B, S, D // 6, 6))
        return PoseSet(rotmats=rotmats, sixd=sample.x, z=sample.z, log_prob=sample.log_prob)


@dataclass(frozen=True)
class HMROutput:
    r"""What the model says about B inputs.

    Attributes:
        context: ``(B, C)`` encoder features.
        mode: The most likely pose (``z = 0``), a :class:`PoseSet` with S = 1.
        samples: S poses drawn from the distribution, or None when none were asked for.
        betas: ``(B, S_b)`` shape.
        camera: ``(B, 3)`` weak-perspective camera ``(s, tx, ty)`` in the crop/box.
        translation: ``(B, 3)`` the camera's body translation, camera frame.
        frame: The frame of the poses' global orientation, the model's ``orientation_frame``
            (``"box"``: turn into each image's camera frame with
            :meth:`~hmrflow.fitting.people.People.frame_to_camera`).
    """

    context: Tensor
    mode: PoseSet
    samples: PoseSet | None
    betas: Tensor
    camera: Tensor
    translation: Tensor
    frame: str = "camera"


@contextmanager
def full_precision(device: torch.device) -> Iterator[None]:
    """Turn off any enclosing :class:`torch.autocast` on ``device`` (float32 inside)."""
    if device.type in ("cpu", "cuda", "xpu", "mps"):
        with torch.autocast(device_type=device.type, enabled=False):
            yield
    else:
        yield


def load_body_model(spec: str) -> BodyModel:
    """A shipped body model by name, or an SMPL-format file by path."""
    if spec.endswith((".pkl", ".npz")) or "/" in spec or Path(spec).exists():
        return BodyModel.from_file(spec)
    return BodyModel.from_name(spec)


class ProbabilisticHMR(nn.Module):
    r"""ProHMR for keypoint or image evidence.

    Arguments:
        config: :class:`ModelConfig`.
        body: The body model; by default loaded from ``config.body_model``.

    Evidence: keypoints ``(B, K, 3)`` in normalised box coordinates (the box spans
    ``[-0.5, 0.5]``) with confidences, or images ``(B, 3, H, W)`` ImageNet-normalised.
    """

    def __init__(self, config: ModelConfig | None = None, body: BodyModel | None = None):
        super().__init__()
        self.config = config = config if config is not None else ModelConfig()
        self.body = body if body is not None else load_body_model(config.body_model)
        self.encoder = self._build_encoder(config.encoder)
        width = self.encoder.out_features
        if config.flow.context_features != width:
            raise ValueError(
                f"flow.context_features ({config.flow.context_features}) must equal the "
                f"encoder's output width ({width})"
            )
        if config.flow.features != 6 * self.body.num_joints:
            raise ValueError(
                f"flow.features ({config.flow.features}) must be 6 x the body model's "
                f"{self.body.num_joints} joints"
            )
        self.flow = ConditionalGlow(config.flow)
        self.head = ShapeCameraHead(width, config.num_betas, config.head_hidden, config.mean_camera)

    def _build_encoder(self, config: EncoderConfig) -> nn.Module:
        if config.kind == "image":
            return ResNetEncoder(config.backbone_depth)
        missing = [name for name in config.keypoint_sets if name not in self.body.keypoint_sets]
        if missing:
            raise ValueError(f"body model {self.body.name!r} lacks keypoint set(s) {missing}")
        return KeypointEncoder(
            len(self.evidence_names), config.width, config.num_blocks, config.dropout, config.keypoint_depth
        )

    @property
    def evidence_names(self) -> tuple[str, ...]:
        """The K evidence keypoints' names, in the model's order (keypoint models; COCO-17 +
        feet for the shipped one)."""
        sets = self.body.keypoint_sets
        return tuple(name for key in self.config.encoder.keypoint_sets for name in sets[key].names)

    @property
    def crop_size(self) -> float:
        """Side of the crop the weak-perspective camera refers to; 1 for keypoint boxes."""
        return float(self.config.encoder.crop_size) if self.config.encoder.kind == "image" else 1.0

    @property
    def focal_length(self) -> float:
        """The camera's focal length in units of ``crop_size``."""
        return self.config.focal_length * self.crop_size / self.config.encoder.crop_size

    def forward(
        self,
        evidence: Tensor,
        num_samples: int = 0,
        generator: torch.Generator | None = None,
        z: Tensor | None = None,
        temperature: float = 1.0,
        flip_test: bool = False,
    ) -> HMROutput:
        r"""The distribution's mode and ``num_samples`` samples (or the poses of ``z``).

        Arguments:
            evidence: ``(B, K, 3)`` keypoints or ``(B, 3, H, W)`` images.
            num_samples: S, samples to draw besides the mode.
            generator: Randomness for the samples.
            z: ``(B, S, D)`` latents to decode instead of random samples.
            temperature: Scale of the random latents, ``z ~ N(0, temperature^2)``: below 1
                the samples stay closer to the mode (0: every sample is the mode), for
                users who want tighter hypotheses; 1 samples the model's distribution.
                Their ``log_prob`` stays the model's density of each drawn pose.
            flip_test: The flip-test ensemble (:meth:`flip_tested`): the flip-tested mode,
                and (without ``z``) the last ``num_samples // 2`` samples drawn by the
                mirror twin; the context stays the model's.
        """
        if not temperature >= 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        context = self.encode(evidence)
        twin_samples = num_samples // 2 if flip_test and z is None else 0
        with full_precision(context.device):
            out = self._decode_all(context, num_samples - twin_samples, generator, z, temperature)
        if not flip_test:
            return out
        return self.flip_tested(evidence, out, twin_samples, generator, temperature)

    def mirror_evidence(self, evidence: Tensor) -> Tensor:
        r"""The evidence of the person's mirror image: keypoints ``(B, K, 3)`` with x negated
        and every ``left_*`` point exchanged with its ``right_*`` twin, or images
        ``(B, 3, H, W)`` flipped left-right."""
        if self.config.encoder.kind == "image":
            return evidence.flip(-1)
        mirrored = evidence[..., flip_permutation(self.evidence_names), :].clone()
        mirrored[..., 0] = -mirrored[..., 0]
        return mirrored

    def flip_tested(
        self,
        evidence: Tensor,
        out: HMROutput,
        num_samples: int = 0,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
    ) -> HMROutput:
        r"""``out`` (the model's output for ``evidence``) as the flip-test ensemble of the
        person and its mirror image, as 2D pose estimators do: a trained model is not exactly
        mirror-symmetric, and the two errors partly cancel.

        The mode becomes the geodesic mean, per joint, of ``out``'s mode and the mirror image
        of the mode of the mirrored evidence (:meth:`mirror_evidence`); betas (which the
        samples share) and camera are averaged the same way. ``num_samples`` more samples
        come from the mirror twin (the mirror images of the mirrored evidence's samples),
        after ``out``'s: the samples of both are those of the mixture of the two
        distributions, broader where the twins disagree (on real people the calibration
        error falls, e.g. 0.071 -> 0.043 for a model over-confident there). Every pose's
        ``z`` and ``log_prob`` are the model's for that pose under ``out``'s context (one
        inverse pass); the context stays ``out``'s. Needs the SMPL joint tree.
        """
        if self.body.num_joints != NUM_JOINTS:
            raise ValueError(f"the flip test mirrors poses on the SMPL tree ({NUM_JOINTS} joints); "
                             f"body model {self.body.name!r} has {self.body.num_joints}")  # fmt: skip
        context = self.encode(self.mirror_evidence(evidence))
        with full_precision(context.device):
            other = self._decode_all(context, num_samples, generator, None, temperature)
            rotmats = rotmat_midpoint(out.mode.rotmats, mirror_poses(other.mode.rotmats))
            if other.samples is not None:  # the twin's samples, mirrored, after the mode
                rotmats = torch.cat([rotmats, mirror_poses(other.samples.rotmats)], dim=1)
            sixd = rotmat_to_sixd(rotmats).flatten(-2)
            encoded = self.flow.encode(sixd, out.context)
            camera = (out.camera + other.camera * other.camera.new_tensor([1.0, -1.0, 1.0])) / 2
            translation = weak_perspective_to_translation(camera, self.focal_length, self.crop_size)
        poses = PoseSet(rotmats=rotmats, sixd=sixd, z=encoded.z, log_prob=encoded.log_prob)
        mode, samples = poses[:, :1], out.samples
        if other.samples is not None:
            twins = poses[:, 1:]
            samples = twins if samples is None else samples.cat(twins)
        betas = (out.betas + other.betas) / 2
        return HMROutput(out.context, mode, samples, betas, camera, translation, out.frame)

    def encode(self, evidence: Tensor) -> Tensor:
        r"""The context ``(B, C)`` in the model's dtype (float32).

        An image encoder runs under any enclosing autocast (mixed precision for the
        backbone only); a keypoint encoder always runs in full precision.
        """
        dtype = self.head.layers[0].weight.dtype
        if self.config.encoder.kind == "image":
            return self.encoder(evidence).to(dtype)
        with full_precision(evidence.device):
            return self.encoder(evidence).to(dtype)

    def _decode_all(
        self,
        context: Tensor,
        num_samples: int,
        generator: torch.Generator | None,
        z: Tensor | None,
        temperature: float = 1.0,
    ) -> HMROutput:
        B, D = context.shape[0], self.flow.config.features
        if z is None:
            z = temperature * torch.randn(
                B, num_samples, D, generator=generator, device=context.device, dtype=context.dtype
            )
        # The mode and the samples in one pass through the flow: z = 0 first.
        decoded = self.flow.decode(torch.cat([z.new_zeros(B, 1, D), z], dim=1), context)
        mode = PoseSet.from_flow(FlowSample(*(t[:, :1] for t in _fields(decoded))))
        samples = None
        if z.shape[1] > 0:
            samples = PoseSet.from_flow(FlowSample(*(t[:, 1:] for t in _fields(decoded))))
        shape_camera = self.head(context)
        translation = weak_perspective_to_translation(
            shape_camera.camera, self.focal_length, self.crop_size
        )
        return HMROutput(context, mode, samples, shape_camera.betas, shape_camera.camera, translation,
                         self.config.orientation_frame)  # fmt: skip

    def pose(
        self,
        poses: PoseSet,
        betas: Tensor,
        *,
        keypoints: Sequence[str] = (),
        vertices: bool = True,
    ) -> BodyOutput:
        r"""The body for each pose of ``poses`` ``(B, S, ...)`` with ``betas`` ``(B, S_b)``.

        Outputs have leading dimensions ``(B, S)``; no translation is applied.
        """
        return self.body(poses.rotmats, betas[:, None], keypoints=keypoints, vertices=vertices)

    def project(self, points: Tensor, translation: Tensor) -> Tensor:
        r"""Project ``(B, S, K, 3)`` points with the camera ``(B, 3)`` into normalised crop
        coordinates ``(B, S, K, 2)`` (the crop spans ``[-0.5, 0.5]``)."""
        return perspective_projection(
            points, translation[:, None], self.focal_length / self.crop_size
        )

    def log_prob(self, evidence: Tensor, rotmats: Tensor) -> Tensor:
        r"""``log p(pose | evidence)`` of poses ``(B, [S,] J, 3, 3)``: ``(B, [S])``."""
        context = self.encode(evidence)
        with full_precision(context.device):
            sixd = rotmat_to_sixd(rotmats.to(context.dtype)).flatten(-2)
            return self.flow.log_prob(sixd, context)

    # -- the pose distribution for a given context (fitting and training use these) --------

    @property
    def latent_features(self) -> int:
        """D, the size of a pose's latent (and of its raw 6D): 6 x the body's joints."""
        return self.flow.config.features

    def decode_latent(self, z: Tensor, context: Tensor) -> PoseSet:
        r"""The poses of latents ``z`` ``(B, S, D)`` under contexts ``(B, C)``: S poses each.

        ``z = 0`` is the mode; ``-log p(pose | evidence) = |z|^2 / 2 + const`` per context.
        """
        return PoseSet.from_flow(self.flow.decode(z, context))

    def latent_decoder(self, context: Tensor, folded: bool = True) -> Callable[[Tensor], Tensor]:
        r"""``z (B, D) -> `` raw 6D ``(B, D)`` under fixed contexts ``(B, C)`` (fitting's inner loop).

        ``folded``: the flow's weights folded once for these contexts
        (:class:`~hmrflow.flows.frozen.FrozenDecoder`: eval mode and additive coupling, else
        the plain decoding); equal to :meth:`decode_latent` to float rounding. Build a new
        one when the weights or the contexts change.
        """
        if folded and FrozenDecoder.supports(self.flow):
            return FrozenDecoder(self.flow, context)
        return lambda z: self.flow.decode(z[:, None], context).x[:, 0]

    def encode_pose(self, sixd: Tensor, context: Tensor) -> Tensor:
        r"""The latents ``(B, [S,] D)`` of raw 6D poses ``(B, [S,] D)`` (the inverse of
        :meth:`decode_latent`)."""
        return self.flow.encode(sixd, context).z

    def pose_log_prob(self, sixd: Tensor, context: Tensor) -> Tensor:
        r"""``log p(sixd | context)`` of raw 6D poses ``(B, [S,] D)``: ``(B, [S])``."""
        return self.flow.log_prob(sixd, context)

    @property
    def flow_initialized(self) -> bool:
        """Whether the flow's data-dependent (ActNorm) initialisation has run."""
        return bool(self.flow.initialized)

    def initialize_flow(self, sixd: Tensor, context: Tensor) -> None:
        r"""The flow's data-dependent initialisation from poses ``(B, D)`` and their
        contexts ``(B, C)`` (once, before training from scratch)."""
        self.flow.initialize(sixd, context)


def _fields(sample: FlowSample) -> tuple[Tensor, Tensor, Tensor]:
    return sample.x, sample.z, sample.log_prob
