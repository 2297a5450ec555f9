"""PyMatching in worker processes, for throughput: a batch is split into one chunk per worker and
the chunks are decoded at the same time; :meth:`ParallelMatcher.submit` returns a future, so the
caller can go on (e.g. run the pre-decoder's network on the next chunk) while matching runs.

Processes, not threads: decoding releases no more than one core per process either way, and
processes need nothing of PyMatching's GIL handling. Workers die with their parent.

Example:
    >>> from qec import MemoryExperiment
    >>> exp = MemoryExperiment(3, 3, 0.01, "x")
    >>> events = exp.circuit().compile_detector_sampler(seed=1).sample(100, bit_packed=True)
    >>> with ParallelMatcher(exp.dem(), workers=2) as matcher:
    ...     pred = matcher.decode_batch(events, bit_packed=True)
    >>> pred.shape, pred.dtype.name
    ((100, 1), 'uint8')
"""

from __future__ import annotations

import concurrent.futures

import numpy as np
import stim

from qec._decoding._pymatching_decoder import PyMatchingDecoder
from qec._errors import QecError
from qec._runtime._worker_processes import worker_pool

_MATCHER: PyMatchingDecoder | None = None


def _init(dem_text: str, correlated: bool) -> None:
    global _MATCHER
    _MATCHER = PyMatchingDecoder(stim.DetectorErrorModel(dem_text), correlated=correlated)


def _decode(events: np.ndarray, bit_packed: bool) -> np.ndarray:
    assert _MATCHER is not None
    return _MATCHER.decode_batch(events, bit_packed=bit_packed)


class ParallelMatcher:
    """PyMatching (plain or correlated) on ``dem`` in ``workers`` processes; a
    :class:`qec._decoding._decoders.Decoder`. Close it (or use ``with``) to stop the workers."""

    def __init__(self, dem: stim.DetectorErrorModel, correlated: bool = False, workers: int = 2):
        if workers < 1:
            raise QecError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self.correlated = bool(correlated)
        self.num_detectors = dem.num_detectors
        self.num_observables = dem.num_observables
        self.metadata: dict = {}
        self._pool = worker_pool(workers, _init, (str(dem), self.correlated))

    def submit(self, events: np.ndarray, bit_packed: bool = False) -> concurrent.futures.Future:
        """Decode ``events`` in one worker, asynchronously."""
        return self._pool.submit(_decode, np.ascontiguousarray(events), bit_packed)

    def decode_batch(self, events: np.ndarray, bit_packed: bool = False) -> np.ndarray:
        """As :meth:`PyMatchingDecoder.decode_batch`, the shots split over the workers."""
        events = np.asarray(events)
        if len(events) == 0:
            return self.submit(events, bit_packed).result()
        parts = np.array_split(events, min(self.workers, len(events)))
        return np.concatenate([f.result() for f in [self.submit(p, bit_packed) for p in parts]])

    def close(self) -> None:
        """Stop the worker processes (pending decodes are cancelled)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "ParallelMatcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
