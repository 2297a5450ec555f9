"""Decoders by name: one registry for every global decoder and the pre-decoder pipeline.

A decoder is built for one circuit and its detector error model with :func:`get_decoder` and has

- ``decode_batch(dets) -> predictions``: ``dets`` is either a ``(shots, num_detectors)`` bool (or
  0/1 uint8) array, giving a ``(shots, num_observables)`` bool array; or Stim's bit-packed layout,
  a ``(shots, ceil(num_detectors / 8))`` uint8 array (little-endian bits, as
  ``stim.CompiledDetectorSampler.sample(..., bit_packed=True)`` returns), giving bit-packed
  ``(shots, ceil(num_observables / 8))`` uint8 predictions. The two are told apart by dtype and
  width, so bit-packed input must be ``uint8`` and unpacked input must have the full width.
- ``metadata: dict``: what distinguishes this decoder's results from another decoder of the same
  name (e.g. the pre-decoder model's hash). It is merged into the CSV row's ``json_metadata``
  and so into the strong id: results of two different models never merge.

Adding a decoder is one line in :data:`DECODERS`: a name, the ``"module:function"`` that builds
it (called as ``function(name, circuit, dem, **options)``, imported only when asked for) and the
options it accepts.

Example:
    >>> from qec import MemoryExperiment, get_decoder
    >>> exp = MemoryExperiment(distance=3, rounds=3, p=0.001)
    >>> dec = get_decoder("pymatching", exp.circuit(), exp.dem())
    >>> import numpy as np
    >>> dec.decode_batch(np.zeros((2, exp.circuit().num_detectors), dtype=bool)).tolist()
    [[False], [False]]
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Protocol

import numpy as np
import stim


class Decoder(Protocol):
    """What :func:`get_decoder` returns."""

    metadata: dict[str, Any]

    def decode_batch(self, dets: np.ndarray) -> np.ndarray: ...


@dataclasses.dataclass(frozen=True)
class DecoderSpec:
    """How to build a named decoder.

    Attributes:
        target: ``"module:function"``, imported lazily; the function is called as
            ``function(name, circuit, dem, **options)``.
        options: the option names it accepts; ``None`` = it checks its own options.
    """

    target: str
    options: tuple[str, ...] | None = ()

    def accepts(self, option: str) -> bool:
        return self.options is None or option in self.options


# name -> spec. Adding a decoder is one line here.
DECODERS: dict[str, DecoderSpec] = {
    "pymatching": DecoderSpec("qec.decoders:make_pymatching"),
    "pymatching-correlated": DecoderSpec("qec.decoders:make_pymatching"),
    "predecoder": DecoderSpec("predecoder.pipeline:make_decoder", options=None),
    "predecoder-correlated": DecoderSpec("predecoder.pipeline:make_decoder", options=None),
}


def decoder_spec(name: str) -> DecoderSpec:
    """The registry entry for ``name``; ``ValueError`` naming the known decoders otherwise."""
    if name not in DECODERS:
        raise ValueError(f"unknown decoder {name!r}; choose from {', '.join(DECODERS)}")
    return DECODERS[name]


def get_decoder(
    name: str, circuit: stim.Circuit, dem: stim.DetectorErrorModel, **options: Any
) -> Decoder:
    """Build the decoder called ``name`` for ``circuit`` and its ``dem``.

    Raises ``ValueError`` for an unknown name, an option the decoder does not take, or a decoder
    whose module is not installed yet.
    """
    spec = decoder_spec(name)
    if spec.options is not None:
        unknown = sorted(set(options) - set(spec.options))
        if unknown:
            raise ValueError(f"decoder {name!r} takes no option {', '.join(unknown)}")
    module_name, _, func_name = spec.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name is not None and module_name.startswith(e.name):
            raise ValueError(f"decoder {name!r} is not available yet (no module {module_name})") from e
        raise
    factory = getattr(module, func_name, None)
    if factory is None:
        raise ValueError(f"decoder {name!r} is not available yet ({spec.target} is missing)")
    return factory(name, circuit, dem, **options)


def is_bit_packed(dets: np.ndarray, num_detectors: int) -> bool:
    """Whether ``dets`` is Stim's bit-packed layout for ``num_detectors`` detectors."""
    packed_width = (num_detectors + 7) // 8
    return dets.dtype == np.uint8 and dets.shape[-1] == packed_width and packed_width != num_detectors


class PyMatchingDecoder:
    """PyMatching on the DEM, plain or correlated (PyMatching >= 2.3 ``enable_correlations``)."""

    def __init__(self, dem: stim.DetectorErrorModel, correlated: bool = False):
        import pymatching

        self.correlated = bool(correlated)
        kwargs = {"enable_correlations": True} if self.correlated else {}
        self.matching = pymatching.Matching.from_detector_error_model(dem, **kwargs)
        self._decode_kwargs = kwargs
        self.num_detectors = dem.num_detectors
        self.num_observables = dem.num_observables
        self.metadata: dict[str, Any] = {}

    def decode_batch(self, dets: np.ndarray) -> np.ndarray:
        dets = np.asarray(dets)
        if dets.ndim != 2:
            raise ValueError(f"expected a 2D (shots, detectors) array, got shape {dets.shape}")
        if is_bit_packed(dets, self.num_detectors):
            return self.matching.decode_batch(
                dets, bit_packed_shots=True, bit_packed_predictions=True, **self._decode_kwargs
            )
        if dets.shape[1] != self.num_detectors:
            raise ValueError(f"expected {self.num_detectors} detectors per shot, got {dets.shape[1]}")
        out = self.matching.decode_batch(dets.astype(np.uint8, copy=False), **self._decode_kwargs)
        return out.astype(bool, copy=False)


def make_pymatching(
    name: str, circuit: stim.Circuit, dem: stim.DetectorErrorModel, **options: Any
) -> PyMatchingDecoder:
    """Factory for ``"pymatching"`` and ``"pymatching-correlated"``."""
    return PyMatchingDecoder(dem, correlated=name.endswith("-correlated"))
