"""The AI pre-decoder: 3D CNN models, training, inference and the pipeline decoder."""

from predecoder.model import PRESETS, ModelConfig, PreDecoderCNN, resolve_preset
from predecoder.model_file import (
    LoadedModel,
    ModelFileError,
    default_model_path,
    load_model,
    save_model,
)
from predecoder.pipeline import PipelineDecoder, make_decoder, resolve_device

__all__ = [
    "PRESETS",
    "LoadedModel",
    "ModelConfig",
    "ModelFileError",
    "PipelineDecoder",
    "PreDecoderCNN",
    "default_model_path",
    "load_model",
    "make_decoder",
    "resolve_device",
    "resolve_preset",
    "save_model",
]
