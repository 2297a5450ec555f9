"""Decoders by name: this package's own global decoders, and any others passed in.

A decoder is built for one circuit and its detector error model with :func:`get_decoder` and has

- ``decode_batch(events) -> predictions``: ``events`` is either a ``(shots, num_detectors)`` bool (or
  0/1 uint8) array, giving a ``(shots, num_observables)`` bool array; or Stim's bit-packed layout,
  a ``(shots, ceil(num_detectors / 8))`` uint8 array (little-endian bits, as
  ``stim.CompiledDetectorSampler.sample(..., bit_packed=True)`` returns), giving bit-packed
  ``(shots, ceil(num_observables / 8))`` uint8 predictions. The two are told apart by dtype and
  width (bit-packed input must be ``uint8``, unpacked input must have the full width), or said
  explicitly with ``decode_batch(events, bit_packed=True/False)``, which collections always do.
- ``metadata: dict``: what distinguishes this decoder's results from another decoder of the same
  name (e.g. the pre-decoder model's hash). It is merged into the CSV row's ``json_metadata``
  and so into the strong id: results of two different models never merge.

:data:`DECODERS` holds only this package's decoders (plain and correlated PyMatching). Others are
*passed in*, as sinter does with ``custom_decoders``: a mapping from name to either a factory
``factory(circuit, dem) -> decoder`` (the pre-decoder's are ``predecoder.ler_decoders()``) or any
``sinter.Decoder`` (tesseract-decoder, beliefmatching, ...), which is wrapped by
:class:`SinterDecoder`. Factories and sinter decoders must pickle, so that worker processes can
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
from typing import Any, Callable, Mapping, Protocol, Union

import numpy as np
import stim


class Decoder(Protocol):
    """What :func:`get_decoder` returns."""

    metadata: dict[str, Any]

    def decode_batch(self, events: np.ndarray, bit_packed: bool | None = None) -> np.ndarray: ...


# A factory builds a decoder for one circuit and its DEM.
DecoderFactory = Callable[[stim.Circuit, stim.DetectorErrorModel], Decoder]
# What a custom-decoders mapping may hold: a factory, or a sinter.Decoder.
CustomDecoder = Union[DecoderFactory, Any]


@dataclasses.dataclass(frozen=True)
class PyMatchingFactory:
    """Builds :class:`PyMatchingDecoder`, plain or correlated."""

    correlated: bool = False

    def __call__(self, circuit: stim.Circuit, dem: stim.DetectorErrorModel) -> "PyMatchingDecoder":
        return PyMatchingDecoder(dem, correlated=self.correlated)


# This package's own decoders.
DECODERS: dict[str, DecoderFactory] = {
    "pymatching": PyMatchingFactory(correlated=False),
    "pymatching-correlated": PyMatchingFactory(correlated=True),
}


def decoder_factory(name: str, custom_decoders: Mapping[str, CustomDecoder] | None = None) -> DecoderFactory:
    """The factory for ``name``: ``custom_decoders`` first, then :data:`DECODERS`; a
    ``sinter.Decoder`` is wrapped. ``ValueError`` naming the known decoders otherwise."""
    custom = custom_decoders or {}
    if name in custom:
        entry = custom[name]
        if hasattr(entry, "compile_decoder_for_dem"):
            return SinterDecoderFactory(entry)
        if not callable(entry):
            raise ValueError(f"custom decoder {name!r} is neither a factory(circuit, dem) nor a sinter.Decoder")
        return entry
    if name in DECODERS:
        return DECODERS[name]
    known = list(DECODERS) + [n for n in custom if n not in DECODERS]
    raise ValueError(f"unknown decoder {name!r}; choose from {', '.join(known)}")


@dataclasses.dataclass(frozen=True, eq=False)
class WithDem:
    """A decoder built on its own DEM (a learned one, say) instead of the experiment's.

    The DEM is checked against each circuit (:func:`qec.dem_files.check_dem_fits`: detector count
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
        from qec.dem_files import check_dem_fits

        check_dem_fits(self.dem, circuit, name=f"DEM {self.label}")
        factory = SinterDecoderFactory(self.decoder) if hasattr(self.decoder, "compile_decoder_for_dem") else self.decoder
        built = factory(circuit, self.dem)
        built.metadata = {**built.metadata, "dem": self.label}
        return built


def get_decoder(
    name: str,
    circuit: stim.Circuit,
    dem: stim.DetectorErrorModel,
    custom_decoders: Mapping[str, CustomDecoder] | None = None,
) -> Decoder:
    """Build the decoder called ``name`` for ``circuit`` and its ``dem``.

    Raises ``ValueError`` for an unknown name (see :func:`decoder_factory`).
    """
    return decoder_factory(name, custom_decoders)(circuit, dem)


def load_custom_decoders(spec: str) -> dict[str, Any]:
    """``"module:function"`` -> the mapping ``function()`` returns (sinter's
    ``--custom_decoders_module_function`` convention). ``ValueError`` with one line otherwise.

    Example:
        >>> sorted(load_custom_decoders("predecoder:ler_decoders"))
        ['predecoder', 'predecoder-correlated', 'predecoder-weighted']
    """
    module_name, sep, func_name = spec.partition(":")
    if not sep or not module_name or not func_name:
        raise ValueError(f"custom decoders {spec!r}: give MODULE:FUNCTION")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"custom decoders {spec!r}: cannot import {module_name} ({e})") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ValueError(f"custom decoders {spec!r}: {module_name} has no function {func_name}")
    try:
        out = func()
    except Exception as e:  # any function can be named: os:system raises TypeError
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ValueError(f"custom decoders {spec!r}: {module_name}.{func_name}() failed ({type(e).__name__}: {first}); "
                         f"it must take no arguments and return {{name: decoder}}") from None
    if not isinstance(out, Mapping):
        raise ValueError(f"custom decoders {spec!r}: {func_name}() returned {type(out).__name__}, not a dict")
    return dict(out)


def is_bit_packed(events: np.ndarray, num_detectors: int, bit_packed: bool | None = None) -> bool:
    """Whether ``events`` (2D) is Stim's bit-packed layout for ``num_detectors`` detectors.

    ``bit_packed`` says it explicitly (and is checked: uint8 of width ceil(N / 8), or full width N);
    None infers it from dtype and width.
    """
    packed_width = (num_detectors + 7) // 8
    if bit_packed is None:
        return events.dtype == np.uint8 and events.shape[-1] == packed_width and packed_width != num_detectors
    if bit_packed:
        if events.dtype != np.uint8 or events.shape[-1] != packed_width:
            raise ValueError(
                f"bit-packed shots must be uint8 with {packed_width} bytes per shot, got {events.dtype} x {events.shape[-1]}"
            )
        return True
    if events.shape[-1] != num_detectors:
        raise ValueError(f"expected {num_detectors} detectors per shot, got {events.shape[-1]}")
    return False


def check_shots(events: np.ndarray, num_detectors: int, bit_packed: bool | None = None) -> tuple[np.ndarray, bool]:
    """(``events`` as an array, whether it is bit-packed); ``ValueError`` unless it is a 2D
    (shots, detectors) array, bit-packed (uint8, ceil(N / 8) bytes) or of the full width N."""
    events = np.asarray(events)
    if events.ndim != 2:
        raise ValueError(f"expected a 2D (shots, detectors) array, got shape {events.shape}")
    packed = is_bit_packed(events, num_detectors, bit_packed)
    if not packed and events.shape[1] != num_detectors:
        raise ValueError(
            f"expected {num_detectors} detectors (or {(num_detectors + 7) // 8} bit-packed bytes) per shot, "
            f"got {events.shape[1]}"
        )
    return events, packed


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

    def decode_batch(self, events: np.ndarray, bit_packed: bool | None = None) -> np.ndarray:
        events, packed = check_shots(events, self.num_detectors, bit_packed)
        if packed:
            return self.matching.decode_batch(
                events, bit_packed_shots=True, bit_packed_predictions=True, **self._decode_kwargs
            )
        out = self.matching.decode_batch(events.astype(np.uint8, copy=False), **self._decode_kwargs)
        return out.astype(bool, copy=False)


@dataclasses.dataclass(frozen=True)
class SinterDecoderFactory:
    """Builds :class:`SinterDecoder` around a ``sinter.Decoder``."""

    decoder: Any

    def __call__(self, circuit: stim.Circuit, dem: stim.DetectorErrorModel) -> "SinterDecoder":
        return SinterDecoder(self.decoder, dem)


class SinterDecoder:
    """A ``sinter.Decoder`` (compiled for one DEM) as a :class:`Decoder`.

    Shots go to its compiled decoder's ``decode_shots_bit_packed``, as sinter does; a decoder that
    cannot compile (``NotImplementedError``, e.g. beliefmatching's) goes through its
    ``decode_via_files`` with b8 files in a temporary directory, sinter's fallback.
    """

    def __init__(self, decoder: Any, dem: stim.DetectorErrorModel):
        self.decoder = decoder
        self.dem = dem
        try:
            self.compiled = decoder.compile_decoder_for_dem(dem=dem)
        except NotImplementedError:
            self.compiled = None
        self.num_detectors = dem.num_detectors
        self.num_observables = dem.num_observables
        self.metadata: dict[str, Any] = {}

    def decode_batch(self, events: np.ndarray, bit_packed: bool | None = None) -> np.ndarray:
        events, packed = check_shots(events, self.num_detectors, bit_packed)
        if not packed:
            events = np.packbits(events.astype(bool, copy=False), axis=1, bitorder="little")
        if self.compiled is not None:
            pred = self.compiled.decode_shots_bit_packed(bit_packed_detection_event_data=events)
        else:
            pred = self._decode_via_files(events)
        pred = np.asarray(pred, dtype=np.uint8)
        if packed:
            return pred
        return np.unpackbits(pred, axis=1, count=self.num_observables, bitorder="little").astype(bool)

    def _decode_via_files(self, packed: np.ndarray) -> np.ndarray:
        import pathlib
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            d = pathlib.Path(tmp)
            self.dem.to_file(d / "dem.dem")
            (d / "events.b8").write_bytes(np.ascontiguousarray(packed).tobytes())
            self.decoder.decode_via_files(
                num_shots=len(packed), num_dets=self.num_detectors, num_obs=self.num_observables,
                dem_path=d / "dem.dem", dets_b8_in_path=d / "events.b8",
                obs_predictions_b8_out_path=d / "obs.b8", tmp_dir=d,
            )
            width = (self.num_observables + 7) // 8
            return np.frombuffer((d / "obs.b8").read_bytes(), dtype=np.uint8).reshape(len(packed), width)
