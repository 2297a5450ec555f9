"""The AI pre-decoder: 3D CNN models, training, inference and the pipeline decoder; the closed loop
(learn the DEM from syndromes, train on it, compare)."""

from predecoder._model import PRESETS, ModelConfig, PreDecoderCNN, resolve_preset
from predecoder._model_catalog import DEFAULT_MODEL, SHIPPED_MODELS, default_model_path, model_path
from predecoder._shipped_models import ShippedModel, shipped_models
from predecoder._model_file import LoadedModel, ModelFileError, load_model, save_model
from predecoder._device import resolve_device
from predecoder._decoders import PipelineDecoderFactory, ler_decoders
from predecoder._pipeline import PipelineDecoder
from predecoder._closed_loop import ClosedLoopConfig, ClosedLoopResult, run_closed_loop
from predecoder._train_config import TrainConfig, TrainState
from predecoder._training import train


def sinter_decoders(model=None, **options):
    """Custom decoders for ``sinter collect --custom_decoders_module_function predecoder:sinter_decoders``.

    See :func:`predecoder._sinter_decoder.sinter_decoders` (imported lazily: it imports sinter).
    """
    from predecoder._sinter_decoder import sinter_decoders as _sinter_decoders

    return _sinter_decoders(model, **options)


__all__ = [
    "DEFAULT_MODEL",
    "ClosedLoopConfig",
    "ClosedLoopResult",
    "PRESETS",
    "SHIPPED_MODELS",
    "LoadedModel",
    "ModelConfig",
    "ModelFileError",
    "PipelineDecoder",
    "PipelineDecoderFactory",
    "PreDecoderCNN",
    "default_model_path",
    "load_model",
    "model_path",
    "ler_decoders",
    "resolve_device",
    "run_closed_loop",
    "resolve_preset",
    "save_model",
    "shipped_models",
    "ShippedModel",
    "train",
    "TrainConfig",
    "TrainState",
    "sinter_decoders",
]
