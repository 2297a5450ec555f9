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

from predecoder.model_catalog import model_path
from predecoder.model_file import ModelFileError
from predecoder.decoders import PREDECODER_NAMES, PipelineDecoderFactory
from predecoder.pipeline import PipelineDecoder
from qec.layout import LayoutError, SpaceTimeLayout



def layout_from_dem(dem: stim.DetectorErrorModel) -> SpaceTimeLayout:
    """The space-time layout of a rotated surface-code memory DEM, from detector coordinates.

    The detector coordinates (x, y, t) are matched, up to a translation in (x, y) and in any
    order, against Stim's generated noiseless memory circuit of the implied distance, rounds and
    basis; that circuit supplies qubit positions, stabilizer types and the observable.

    Raises :class:`LayoutError` saying why when the DEM does not fit.
    """
    n = dem.num_detectors
    if n == 0:
        raise LayoutError("the DEM has no detectors")
    if dem.num_observables != 1:
        raise LayoutError(f"expected exactly 1 observable, the DEM has {dem.num_observables}")
    coords = dem.get_detector_coordinates()
    pts = np.zeros((n, 3), dtype=np.int64)
    for k in range(n):
        c = coords.get(k)
        if c is None or len(c) < 3:
            raise LayoutError(f"detector {k} has no (x, y, t) coordinates")
        if any(abs(v - round(v)) > 1e-9 for v in c[:3]):
            raise LayoutError(f"detector {k} has non-integer coordinates {tuple(c[:3])}")
        pts[k] = [round(v) for v in c[:3]]
    sites = {tuple(p) for p in pts[:, :2].tolist()}
    distance = int(round((len(sites) + 1) ** 0.5))
    if distance < 2 or distance * distance - 1 != len(sites):
        raise LayoutError(
            f"detectors sit at {len(sites)} distinct (x, y) sites; a distance-d rotated surface code has d*d - 1"
        )
    t0 = int(pts[:, 2].min())
    rounds = int(pts[:, 2].max()) - t0
    if rounds < 1:
        raise LayoutError("detectors span a single time layer; need at least one round")
    for basis in ("x", "z"):
        gen = stim.Circuit.generated(f"surface_code:rotated_memory_{basis}", distance=distance, rounds=rounds)
        if gen.num_detectors != n:
            continue
        gc = gen.get_detector_coordinates()
        gpts = np.array([[round(v) for v in gc[k][:3]] for k in range(n)], dtype=np.int64)
        shift = gpts.min(axis=0) - pts.min(axis=0)
        moved = pts + shift
        lookup = {tuple(p): k for k, p in enumerate(gpts.tolist())}
        perm = [lookup.get(tuple(p)) for p in moved.tolist()]
        if any(k is None for k in perm):
            continue
        perm = np.asarray(perm, dtype=np.int64)
        if len(np.unique(perm)) != n:
            continue
        layout = SpaceTimeLayout.from_circuit(gen)
        return dataclasses.replace(
            layout,
            detector_channel=layout.detector_channel[perm],
            detector_t=layout.detector_t[perm],
            detector_row=layout.detector_row[perm],
            detector_col=layout.detector_col[perm],
        )
    raise LayoutError(
        f"the DEM's detector coordinates do not match a rotated surface-code memory experiment "
        f"(distance {distance}, {rounds} rounds, as laid out by Stim's generated circuits)"
    )


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


class SinterPreDecoder(sinter.Decoder):
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
            raise ValueError(f"the sinter pre-decoder takes no option {', '.join(unknown)}")
        self.model_path, self.sha256 = model_identity(model)
        self.global_decoder = global_decoder
        self.options = dict(options)

    def compile_decoder_for_dem(self, *, dem: stim.DetectorErrorModel) -> sinter.CompiledDecoder:
        from predecoder.model_file import load_model

        loaded = load_model(self.model_path)
        if loaded.sha256 != self.sha256:
            raise ModelFileError(
                f"model file {self.model_path} changed since the decoder was named "
                f"({self.sha256[:12]} -> {loaded.short_hash})"
            )
        decoder = PipelineDecoder(
            None, dem, model=loaded, global_decoder=self.global_decoder, layout=layout_from_dem(dem), **self.options
        )
        return _CompiledPipeline(decoder)

    def __repr__(self) -> str:
        return f"SinterPreDecoder(model={self.model_path!r} [{self.sha256[:12]}], {self.global_decoder})"


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
        decoder = SinterPreDecoder(model, global_decoder, **options)
        out[pinned_name(name, decoder.sha256)] = decoder
    return out


def pinned_name(name: str, sha256: str) -> str:
    """``"predecoder"`` and a model's sha256 -> ``"predecoder@<first 12 hex digits>"``: the name
    sinter records results under."""
    return f"{name}@{sha256[:12]}"
