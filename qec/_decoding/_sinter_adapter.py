"""A ``sinter.Decoder`` (tesseract-decoder, beliefmatching, ...) used as one of ours: the adapter
from sinter's decoder interface to :class:`qec._decoding._decoders.Decoder`. (The opposite direction, our
pipeline as a ``sinter.Decoder``, is :class:`predecoder._sinter_decoder.PipelineSinterDecoder`.)

Example:
    >>> import numpy as np, sinter
    >>> from qec import MemoryExperiment
    >>> dem = MemoryExperiment(distance=3, rounds=3, p=0.001).dem()
    >>> dec = SinterDecoderAdapter(sinter.BUILT_IN_DECODERS["pymatching"], dem)
    >>> dec.decode_batch(np.zeros((2, 24), dtype=bool)).tolist()
    [[False], [False]]
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import stim

from qec._encoding._bit_packing import check_shots, pack_bits, unpack_bits


@dataclasses.dataclass(frozen=True)
class SinterDecoderFactory:
    """Builds :class:`SinterDecoderAdapter` around a ``sinter.Decoder`` for each circuit's DEM."""

    decoder: Any

    def __call__(self, circuit: stim.Circuit, dem: stim.DetectorErrorModel) -> "SinterDecoderAdapter":
        return SinterDecoderAdapter(self.decoder, dem)


class SinterDecoderAdapter:
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

    @staticmethod
    def factory(decoder: Any) -> SinterDecoderFactory:
        """A factory(circuit, dem) that adapts ``decoder`` (a ``sinter.Decoder``)."""
        return SinterDecoderFactory(decoder)

    def decode_batch(self, events: np.ndarray, bit_packed: bool = False) -> np.ndarray:
        """bool (shots, num_detectors) -> bool (shots, num_observables); bit-packed uint8 in and out
        with ``bit_packed=True``."""
        events = check_shots(events, self.num_detectors, bit_packed)
        if not bit_packed:
            events = pack_bits(events)
        if self.compiled is not None:
            pred = self.compiled.decode_shots_bit_packed(bit_packed_detection_event_data=events)
        else:
            pred = self._decode_via_files(events)
        pred = np.asarray(pred, dtype=np.uint8)
        return pred if bit_packed else unpack_bits(pred, self.num_observables)

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
