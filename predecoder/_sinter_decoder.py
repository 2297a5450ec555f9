"""The pipeline decoder as a ``sinter.Decoder``.

    sinter collect --circuits *.stim --decoders predecoder@<hash12> predecoder-weighted@<hash12> \\
        --custom_decoders_module_function "predecoder:sinter_decoders" ...

Sinter hands a decoder only the detector error model, not the circuit, so the layout is derived
from the DEM's detector coordinates: they must be those of a rotated surface-code memory
experiment laid out as Stim's generated ``surface_code:rotated_memory_x/z`` circuits (up to a
translation and any detector order), which is what ``qec`` and Stim generate. The model and
PyMatching are built inside ``compile_decoder_for_dem`` (neither pickles); the decoder object
itself holds only the model's path and options.

Sinter records a result under the decoder's *name* (its strong id is circuit, DEM, decoder name
and the task's metadata), so the model's identity has to be in the name: :func:`sinter_decoders`
offers only ``predecoder@<hash>``, ``predecoder-correlated@<hash>`` and
``predecoder-weighted@<hash>`` (the first 12 hex digits of the model file's sha256; ``qec
models`` shows them). Plain ``predecoder`` names would put two models' results under one strong
id, and sinter would merge them. ``sinter collect`` says which names are available when given
another. For another model on the command line, point
``--custom_decoders_module_function`` at a two-line function of your own that calls
``sinter_decoders(model="m.safetensors")``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np
import sinter
import stim

from predecoder._model_catalog import model_path
from predecoder._model_file import ModelFileError
from predecoder._decoders import PREDECODER_NAMES, PipelineDecoderFactory
from predecoder._pipeline import PipelineDecoder
from qec import QecError, SpaceTimeLayout



def model_identity(model: str | None) -> tuple[str, str]:
    """(path, sha256) of a model file or shipped model name (None: the shipped default);
    ``ModelFileError`` if missing."""
    path = model_path(model)
    try:
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
    except FileNotFoundError:
        raise ModelFileError(f"model file {path} does not exist") from None
    except IsADirectoryError:
        raise ModelFileError(f"model path {path} is a directory, not a file") from None
    return path, digest


class _CompiledPipeline(sinter.CompiledDecoder):
    def __init__(self, decoder: PipelineDecoder):
        self.decoder = decoder

    def decode_shots_bit_packed(self, *, bit_packed_detection_event_data: np.ndarray) -> np.ndarray:
        data = np.asarray(bit_packed_detection_event_data, dtype=np.uint8)
        return self.decoder.decode_batch(data, bit_packed=True)


class PipelineSinterDecoder(sinter.Decoder):
    """sinter.Decoder running :class:`PipelineDecoder` (picklable: holds a path and options).

    Args:
        model: model file (None: the shipped default).
        global_decoder: ``"pymatching"``, ``"pymatching-correlated"`` or ``"pymatching-weighted"``.
        options: further :class:`PipelineDecoder` options (device, block_rounds, ...).
    """

    def __init__(self, model: str | None = None, global_decoder: str = "pymatching", **options: Any):
        allowed = {f.name for f in dataclasses.fields(PipelineDecoderFactory)} - {"model", "global_decoder"}
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise QecError(f"the sinter pre-decoder takes no option {', '.join(unknown)}")
        self.model_path, self.sha256 = model_identity(model)
        self.global_decoder = global_decoder
        self.options = dict(options)

    def compile_decoder_for_dem(self, *, dem: stim.DetectorErrorModel) -> sinter.CompiledDecoder:
        """The pipeline for ``dem`` (layout from its detector coordinates), as sinter's compiled decoder."""
        from predecoder._model_file import load_model

        loaded = load_model(self.model_path)
        if loaded.sha256 != self.sha256:
            raise ModelFileError(
                f"model file {self.model_path} changed since the decoder was named "
                f"({self.sha256[:12]} -> {loaded.short_hash})"
            )
        decoder = PipelineDecoder(
            None, dem, model=loaded, global_decoder=self.global_decoder, layout=SpaceTimeLayout.from_dem(dem), **self.options
        )
        return _CompiledPipeline(decoder)

    def __repr__(self) -> str:
        return f"PipelineSinterDecoder(model={self.model_path!r} [{self.sha256[:12]}], {self.global_decoder})"


def sinter_decoders(model: str | None = None, **options: Any) -> dict[str, sinter.Decoder]:
    """Custom decoders for sinter, pinned to the model's hash: ``predecoder@<hash12>``,
    ``predecoder-correlated@<hash12>`` and ``predecoder-weighted@<hash12>`` (see the module:
    plain names would merge two models).

    Args:
        model: model file; None: the shipped default.
        options: :class:`PipelineDecoder` options (device, block_rounds, block_batch, ...).

    Example:
        >>> from predecoder import load_model
        >>> set(sinter_decoders()) == {f"{name}@{load_model().short_hash}" for name in
        ...                            ("predecoder", "predecoder-correlated", "predecoder-weighted")}
        True
    """
    out: dict[str, sinter.Decoder] = {}
    for name, global_decoder in PREDECODER_NAMES.items():
        decoder = PipelineSinterDecoder(model, global_decoder, **options)
        out[pinned_name(name, decoder.sha256)] = decoder
    return out


def pinned_name(name: str, sha256: str) -> str:
    """``"predecoder"`` and a model's sha256 -> ``"predecoder@<first 12 hex digits>"``: the name
    sinter records results under."""
    return f"{name}@{sha256[:12]}"
