"""PyMatching on a detector error model, plain or correlated, as a :class:`qec._decoding._decoders.Decoder`:
the project's one PyMatching wrapper.

Example:
    >>> import numpy as np
    >>> from qec import MemoryExperiment
    >>> dec = PyMatchingDecoder(MemoryExperiment(distance=3, rounds=3, p=0.001).dem(), correlated=True)
    >>> dec.decode_batch(np.zeros((2, 3), dtype=np.uint8), bit_packed=True).tolist()
    [[0], [0]]
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import stim

from qec._encoding._bit_packing import check_shots


@dataclasses.dataclass(frozen=True)
class PyMatchingFactory:
    """Builds :class:`PyMatchingDecoder`, plain or correlated; with a ``window`` (a
    :class:`qec.SlidingWindow`), the :class:`qec.WindowDecoder` matching in those windows."""

    correlated: bool = False
    window: Any = None

    def __call__(self, circuit: stim.Circuit, dem: stim.DetectorErrorModel):
        if self.window is not None:
            from qec._decoding._window_decoder import WindowDecoder

            return WindowDecoder(dem, self.window, correlated=self.correlated)
        return PyMatchingDecoder(dem, correlated=self.correlated)


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

    def decode_batch(self, events: np.ndarray, bit_packed: bool = False) -> np.ndarray:
        """bool (shots, num_detectors) -> bool (shots, num_observables); bit-packed uint8 in and out
        with ``bit_packed=True``."""
        events = check_shots(events, self.num_detectors, bit_packed)
        if bit_packed:
            return self.matching.decode_batch(
                events, bit_packed_shots=True, bit_packed_predictions=True, **self._decode_kwargs
            )
        out = self.matching.decode_batch(events.astype(np.uint8, copy=False), **self._decode_kwargs)
        return out.astype(bool, copy=False)
