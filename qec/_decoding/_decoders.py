"""Decoders by name: this package's own global decoders, and any others passed in.

A decoder is built for one circuit and its detector error model with :func:`get_decoder` and has

- ``decode_batch(events) -> predictions``: ``events`` is either a ``(shots, num_detectors)`` bool (or
  0/1 uint8) array, giving a ``(shots, num_observables)`` bool array; or Stim's bit-packed layout,
  a ``(shots, ceil(num_detectors / 8))`` uint8 array (little-endian bits, as
  ``stim.CompiledDetectorSampler.sample(..., bit_packed=True)`` returns), giving bit-packed
  ``(shots, ceil(num_observables / 8))`` uint8 predictions. The caller says which:
  ``decode_batch(events, bit_packed=True)`` (default ``False``); :mod:`qec._encoding._bit_packing` checks it.
- ``metadata: dict``: what distinguishes this decoder's results from another decoder of the same
  name (e.g. the pre-decoder model's hash). It is merged into the CSV row's ``json_metadata``
  and so into the strong id: results of two different models never merge.

:data:`DECODERS` holds only this package's decoders (plain and correlated PyMatching). Others are
*passed in*, as sinter does with ``custom_decoders``: a mapping from name to either a factory
``factory(circuit, dem) -> decoder`` (the pre-decoder's are ``predecoder.ler_decoders()``) or any
``sinter.Decoder`` (tesseract-decoder, beliefmatching, ...), which is wrapped by
:class:`qec._decoding._sinter_adapter.SinterDecoderAdapter`. Factories and sinter decoders must pickle, so that worker processes can
rebuild them.

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
from typing import Any, Callable, Mapping, Protocol, Sequence, Union

import numpy as np
import stim

from qec._errors import QecError
from qec._decoding._pymatching_decoder import PyMatchingFactory
from qec._decoding._sinter_adapter import SinterDecoderAdapter
from qec._decoding._window_plan import SlidingWindow


class Decoder(Protocol):
    """What :func:`get_decoder` returns."""

    metadata: dict[str, Any]

    def decode_batch(self, events: np.ndarray, bit_packed: bool = False) -> np.ndarray:
        """bool (shots, detectors) -> bool (shots, observables); bit-packed uint8 in and out with ``bit_packed=True``."""


# A factory builds a decoder for one circuit and its DEM.
DecoderFactory = Callable[[stim.Circuit, stim.DetectorErrorModel], Decoder]
# What a custom-decoders mapping may hold: a factory, or a sinter.Decoder.
CustomDecoder = Union[DecoderFactory, Any]


# This package's own decoders.
DECODERS: dict[str, DecoderFactory] = {
    "pymatching": PyMatchingFactory(correlated=False),
    "pymatching-correlated": PyMatchingFactory(correlated=True),
}


def decoder_factory(name: str, custom_decoders: Mapping[str, CustomDecoder] | None = None) -> DecoderFactory:
    """The factory for ``name``: ``custom_decoders`` first, then :data:`DECODERS`; a
    ``sinter.Decoder`` is wrapped; ``NAME/wW:C`` is decoder ``NAME`` in sliding windows
    (:func:`windowed_factory`). ``ValueError`` naming the known decoders otherwise."""
    custom = custom_decoders or {}
    base, windowed, window = name.rpartition("/w")
    if windowed and base and name not in custom:
        return windowed_factory(base, decoder_factory(base, custom), SlidingWindow.parse(window))
    if name in custom:
        entry = custom[name]
        if hasattr(entry, "compile_decoder_for_dem"):
            return SinterDecoderAdapter.factory(entry)
        if not callable(entry):
            raise QecError(f"custom decoder {name!r} is neither a factory(circuit, dem) nor a sinter.Decoder")
        return entry
    if name in DECODERS:
        return DECODERS[name]
    known = list(DECODERS) + [n for n in custom if n not in DECODERS]
    raise QecError(f"unknown decoder {name!r}; choose from {', '.join(known)}")


def windowed_factory(name: str, factory: DecoderFactory, window: SlidingWindow) -> DecoderFactory:
    """``factory`` (decoder ``name``'s) matching in sliding windows: a factory with a ``window``
    field (PyMatching's, the pre-decoder's) gets ``window``; a :class:`WithDem` keeps its DEM
    around the windowed factory; any other decoder has no windowed form (a :class:`QecError`)."""
    if isinstance(factory, WithDem):
        return WithDem(windowed_factory(name, factory.decoder, window), factory.dem, factory.label)
    if dataclasses.is_dataclass(factory) and any(f.name == "window" for f in dataclasses.fields(factory)):
        return dataclasses.replace(factory, window=window)
    raise QecError(f"decoder {name!r} has no windowed form: windows need one of this package's matching decoders "
                   f"(pymatching, pymatching-correlated, the pre-decoder's)")


def windowed_names(names: Sequence[str], windows: Sequence[SlidingWindow]) -> list[str]:
    """Each name followed by its windowed variants ``NAME/wW:C``, one per window.

    >>> windowed_names(["pymatching"], [SlidingWindow(10, 5), SlidingWindow(15, 5)])
    ['pymatching', 'pymatching/w10:5', 'pymatching/w15:5']
    """
    return [v for n in names for v in (n, *(n + w.suffix for w in windows))]


@dataclasses.dataclass(frozen=True, eq=False)
class WithDem:
    """A decoder built on its own DEM (a learned one, say) instead of the experiment's.

    The DEM is checked against each circuit (:func:`qec._data._dem_files.check_dem_fits`: detector count
    and coordinates, observables); the built decoder's metadata gains ``"dem": label`` so that
    its results never merge with those of the experiment's own DEM.

    Attributes:
        decoder: a factory or a ``sinter.Decoder`` (see :func:`decoder_factory`).
        dem: the DEM it decodes with.
        label: how results name the DEM, e.g. ``"learned.dem@1a2b3c4d5e6f"``.
    """

    decoder: Any
    dem: stim.DetectorErrorModel
    label: str

    def __call__(self, circuit: stim.Circuit, dem: stim.DetectorErrorModel) -> Decoder:
        from qec._data._dem_files import check_dem_fits

        check_dem_fits(self.dem, circuit, name=f"DEM {self.label}")
        factory = SinterDecoderAdapter.factory(self.decoder) if hasattr(self.decoder, "compile_decoder_for_dem") else self.decoder
        built = factory(circuit, self.dem)
        built.metadata = {**built.metadata, "dem": self.label}
        return built


def get_decoder(
    name: str,
    circuit: stim.Circuit,
    dem: stim.DetectorErrorModel | str,
    custom_decoders: Mapping[str, CustomDecoder] | None = None,
) -> Decoder:
    """Build the decoder called ``name`` for ``circuit`` and its ``dem`` (or a DEM file's path).

    Raises ``ValueError`` for an unknown name (see :func:`decoder_factory`), and a
    :class:`qec._data._dem_files.DemMismatchError` when ``dem`` does not fit ``circuit`` (its detectors'
    count or coordinates: the other memory basis's DEM, say, would decode silently wrong).
    """
    from qec._data._dem_files import as_dem, check_dem_fits

    factory = decoder_factory(name, custom_decoders)
    dem = as_dem(dem)
    check_dem_fits(dem, circuit)
    return factory(circuit, dem)


def load_custom_decoders(spec: str) -> dict[str, Any]:
    """``"module:function"`` -> the mapping ``function()`` returns (sinter's
    ``--custom_decoders_module_function`` convention). ``ValueError`` with one line otherwise.

    Example:
        >>> sorted(load_custom_decoders("predecoder:ler_decoders"))
        ['predecoder', 'predecoder-correlated', 'predecoder-weighted']
    """
    module_name, sep, func_name = spec.partition(":")
    if not sep or not module_name or not func_name:
        raise QecError(f"custom decoders {spec!r}: give MODULE:FUNCTION")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise QecError(f"custom decoders {spec!r}: cannot import {module_name} ({e})") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise QecError(f"custom decoders {spec!r}: {module_name} has no function {func_name}")
    try:
        out = func()
    except Exception as e:  # any function can be named: os:system raises TypeError
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise QecError(f"custom decoders {spec!r}: {module_name}.{func_name}() failed ({type(e).__name__}: {first}); "
                         f"it must take no arguments and return {{name: decoder}}") from None
    if not isinstance(out, Mapping):
        raise QecError(f"custom decoders {spec!r}: {func_name}() returned {type(out).__name__}, not a dict")
    return dict(out)
