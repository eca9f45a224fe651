"""Models: evidence encoders, the shape/camera head and the probabilistic HMR model."""

from hmrflow.models.checkpoint import load_model, save_model
from hmrflow.models.config import EncoderConfig, ModelConfig
from hmrflow.models.head import ShapeCamera, ShapeCameraHead
from hmrflow.models.keypoint_encoder import KeypointEncoder
from hmrflow.models.prohmr import HMROutput, PoseSet, ProbabilisticHMR, load_body_model
from hmrflow.models.resnet import ResNetEncoder

__all__ = [
    "EncoderConfig",
    "HMROutput",
    "KeypointEncoder",
    "ModelConfig",
    "PoseSet",
    "ProbabilisticHMR",
    "ResNetEncoder",
    "ShapeCamera",
    "ShapeCameraHead",
    "load_body_model",
    "load_model",
    "save_model",
]
