"""The AI pre-decoder: 3D CNN models, training, inference and the pipeline decoder; the closed loops
(learn the DEM from syndromes, train on it, compare: on simulated hot spots, or on a device's shots).

The names below are loaded on first use (PEP 562), so ``import predecoder`` and its torch-free
names (``PREDECODER_NAMES``, ``GLOBAL_DECODERS``) do not load torch; the rest do.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from predecoder._decoder_names import GLOBAL_DECODERS, PREDECODER_NAMES

if TYPE_CHECKING:  # what the lazy names are, for type checkers and IDEs
    from predecoder._closed_loop import (
        ClosedLoopConfig,
        ClosedLoopResult,
        run_closed_loop,
    )
    from predecoder._decoders import PipelineDecoderFactory, ler_decoders
    from predecoder._hardware_loop import HardwareLoopConfig, HardwareLoopResult, run_hardware_loop
    from predecoder._device import resolve_device
    from predecoder._model import PRESETS, ModelConfig, PreDecoderCNN, resolve_preset
    from predecoder._model_catalog import (
        DEFAULT_MODEL,
        SHIPPED_MODELS,
        default_model_path,
        model_path,
    )
    from predecoder._model_file import (
        LoadedModel,
        ModelFileError,
        load_model,
        save_model,
    )
    from predecoder._pipeline import PipelineDecoder
    from predecoder._shipped_models import ShippedModel, shipped_models
    from predecoder._train_config import TrainConfig, TrainState
    from predecoder._training import train
    from predecoder._window_pipeline import WindowedPipelineDecoder

# Public name -> the private module that defines it.
_LAZY = {
    **dict.fromkeys(("PRESETS", "ModelConfig", "PreDecoderCNN", "resolve_preset"), "_model"),
    **dict.fromkeys(("DEFAULT_MODEL", "SHIPPED_MODELS", "default_model_path", "model_path"), "_model_catalog"),
    **dict.fromkeys(("ShippedModel", "shipped_models"), "_shipped_models"),
    **dict.fromkeys(("LoadedModel", "ModelFileError", "load_model", "save_model"), "_model_file"),
    "resolve_device": "_device",
    **dict.fromkeys(("PipelineDecoderFactory", "ler_decoders"), "_decoders"),
    "PipelineDecoder": "_pipeline",
    **dict.fromkeys(("ClosedLoopConfig", "ClosedLoopResult", "run_closed_loop"), "_closed_loop"),
    **dict.fromkeys(("HardwareLoopConfig", "HardwareLoopResult", "run_hardware_loop"), "_hardware_loop"),
    **dict.fromkeys(("TrainConfig", "TrainState"), "_train_config"),
    "train": "_training",
    "WindowedPipelineDecoder": "_window_pipeline",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'predecoder' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"predecoder.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def sinter_decoders(model=None, **options):
    """Custom decoders for ``sinter collect --custom_decoders_module_function predecoder:sinter_decoders``.

    See :func:`predecoder._sinter_decoder.sinter_decoders` (imported lazily: it imports sinter).
    """
    from predecoder._sinter_decoder import sinter_decoders as _sinter_decoders

    return _sinter_decoders(model, **options)


__all__ = [
    "DEFAULT_MODEL",
    "GLOBAL_DECODERS",
    "ClosedLoopConfig",
    "ClosedLoopResult",
    "HardwareLoopConfig",
    "HardwareLoopResult",
    "PREDECODER_NAMES",
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
    "run_hardware_loop",
    "resolve_preset",
    "save_model",
    "shipped_models",
    "ShippedModel",
    "train",
    "TrainConfig",
    "TrainState",
    "sinter_decoders",
    "WindowedPipelineDecoder",
]
