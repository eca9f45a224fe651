"""Configuration of :class:`~hmrflow.models.ProbabilisticHMR`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from hmrflow.config import bounded
from hmrflow.flows.config import FlowConfig

__all__ = ["ModelConfig", "EncoderConfig", "OrientationFrame", "check_orientation_frame"]

#: The frames a model's global orientation may be given in (:attr:`ModelConfig.orientation_frame`).
OrientationFrame = Literal["camera", "box"]


def check_orientation_frame(frame: str) -> None:
    """Raise ValueError unless ``frame`` is an :data:`OrientationFrame`."""
    if frame not in get_args(OrientationFrame):
        raise ValueError(f"frame must be 'camera' or 'box', got {frame!r}")


@dataclass(frozen=True)
class EncoderConfig:
    r"""The evidence encoder.

    Attributes:
        kind: ``"keypoints"`` (2D keypoints with confidences in a person box) or
            ``"image"`` (an RGB crop).
        keypoint_sets: Keypoint sets of the body model given as evidence, in order.
        width: Output width C of the keypoint encoder.
        num_blocks: Residual blocks of the keypoint encoder.
        keypoint_depth: The keypoint encoder also reads a relative depth per keypoint, a
            fourth evidence column (:class:`~hmrflow.models.keypoint_encoder.KeypointEncoder`):
            what detectors such as BlazePose estimate beside x and y. Without it a fourth
            column is ignored.
        dropout: Dropout of the keypoint encoder.
        backbone_depth: ResNet depth of the image encoder (18, 34, 50 or 101).
        crop_size: Side of the image crop in pixels.
    """

    kind: Literal["keypoints", "image"] = "keypoints"
    keypoint_sets: tuple[str, ...] = ("coco", "feet")
    width: int = bounded(1024, minimum=1)
    num_blocks: int = bounded(2, minimum=0)
    keypoint_depth: bool = False
    dropout: float = bounded(0.5, minimum=0, below=1)
    backbone_depth: Literal[18, 34, 50, 101] = 50
    crop_size: int = bounded(224, minimum=1)


@dataclass(frozen=True)
class ModelConfig:
    r"""The probabilistic HMR model.

    Attributes:
        encoder: :class:`EncoderConfig`.
        flow: :class:`~hmrflow.flows.FlowConfig`; its ``context_features`` must equal
            the encoder's output width (C).
        head_hidden: Hidden width of the shape/camera head.
        num_betas: Shape components predicted.
        body_model: A shipped body model name (``"anny"``, ``"anny_lowpoly"``) or a path
            to an SMPL-format ``.pkl``/``.npz`` file.
        focal_length: Focal length (px) of the weak-perspective camera at ``crop_size``.
        mean_camera: The head's camera at initialisation ``(s, tx, ty)``.
        orientation_frame: The frame of the global orientation (joint 0) the model gives:
            ``"camera"``, the image's camera (ProHMR's; right for centred crops), or
            ``"box"``, the camera turned to look along the ray through the person box's
            centre (:func:`~hmrflow.geometry.box_to_camera_rotation`): what a model that
            sees only the box can tell. Users of a ``"box"`` model turn its poses into
            the camera frame with :meth:`~hmrflow.fitting.People.pose_to_camera`
            (the fitters, evaluation and demos do).
    """

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    flow: FlowConfig = field(default_factory=lambda: FlowConfig(context_features=1024))
    head_hidden: int = bounded(1024, minimum=1)
    num_betas: int = bounded(10, minimum=1)
    body_model: str = "anny_lowpoly"
    focal_length: float = bounded(5000.0, above=0)
    mean_camera: tuple[float, float, float] = (0.9, 0.0, 0.0)
    orientation_frame: OrientationFrame = "camera"
