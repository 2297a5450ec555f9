"""Sliding-window decoding: the windows of :mod:`qec._decoding._window_plan` decoded one after the other as the
detection events arrive, with the same result shape as the batch decoders.

Each window's local model is matched once per window, for all shots (one ``decode_batch``): its
first ``num_observables`` observable predictions are the committed flip, accumulated; the others
are the carried detectors, XORed into the events the later windows see. Windows whose local models
are equal (a memory experiment's bulk windows) share one matcher, so memory does not grow with the
rounds. Two matchers:

- PyMatching on the window's model, plain or correlated (:class:`WindowDecoder`);
- per-shot weights on a fixed graph (:meth:`WindowDecoder.weighted`, :class:`qec._decoding._weighted_matcher.WeightedMatcher`),
  for neural-weighted matching: each window takes its columns' values.

:class:`WindowStream` takes the events a chunk at a time, in detector order, and decodes every
window as soon as its detectors have all arrived, holding only the events of the windows still
open.

Example:
    >>> import numpy as np
    >>> from qec import MemoryExperiment, PyMatchingDecoder
    >>> exp = MemoryExperiment(distance=3, rounds=30, p=0.01)
    >>> events = exp.circuit().compile_detector_sampler(seed=1).sample(200)
    >>> whole = WindowDecoder(exp.dem(), SlidingWindow(31, 31))  # one window: global matching
    >>> np.array_equal(whole.decode_batch(events), PyMatchingDecoder(exp.dem()).decode_batch(events))
    True
    >>> dec = WindowDecoder(exp.dem(), SlidingWindow(6, 2))
    >>> len(dec.steps), len(dec.matchers)  # 14 windows, the 11 in the bulk alike
    (14, 4)
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterator

import numpy as np
import scipy.sparse
import stim

from qec._encoding._bit_packing import check_shots, pack_bits, unpack_bits
from qec._decoding._dem_stream import CHUNK_ERRORS, DemChunk, dem_chunks, detector_times
from qec._errors import QecError
from qec._decoding._window_plan import SlidingWindow, WindowPart, detector_layers, plan_windows, window_model_text

# Observables per weighted matcher (its core keeps them in 64 bits); more carried detectors are
# matched in groups, every group with the same weights and so the same matching.
OBSERVABLES_PER_MATCH = 64


@dataclasses.dataclass(frozen=True)
class _Shifted:
    """An index array as ``base + offsets``, the offsets shared between translated windows."""

    base: int
    offsets: np.ndarray

    def array(self) -> np.ndarray:
        return self.offsets + self.base


@dataclasses.dataclass(frozen=True)
class _Step:
    key: str
    detectors: _Shifted
    carry: _Shifted
    faults: _Shifted
    last_detector: int  # the window is ready once this detector has arrived
    first_layer: int


class _ModelMatcher:
    """PyMatching on a window's local model."""

    def __init__(self, part: WindowPart, correlated: bool):
        import pymatching

        self.kwargs = {"enable_correlations": True} if correlated else {}
        self.matching = pymatching.Matching.from_detector_error_model(
            stim.DetectorErrorModel(window_model_text(part)), **self.kwargs)

    def decode(self, events: np.ndarray, values: np.ndarray | None) -> np.ndarray:
        return self.matching.decode_batch(events, **self.kwargs).astype(bool, copy=False)


class _WeightedMatcher:
    """Per-shot weights on a window's graph (one column per error, at most two detectors)."""

    def __init__(self, part: WindowPart, backend: str, clip: float):
        from qec._decoding._weighted_matcher import WeightedMatcher

        column = np.repeat(np.arange(len(part.probabilities)), np.diff(part.starts))
        det, obs = part.targets >= 0, part.targets <= -2
        shape = (len(part.detectors), len(part.probabilities))
        H = scipy.sparse.csc_matrix((np.ones(det.sum(), np.uint8), (part.targets[det], column[det])), shape=shape)
        rows = part.num_observables + len(part.carry)
        L = scipy.sparse.csr_matrix((np.ones(obs.sum(), np.uint8), (-2 - part.targets[obs], column[obs])),
                                    shape=(rows, shape[1]))
        self.clip = clip
        self.index = np.arange(shape[1])
        self.groups = [WeightedMatcher(H, L[lo:lo + OBSERVABLES_PER_MATCH], backend=backend)
                       for lo in range(0, max(rows, 1), OBSERVABLES_PER_MATCH)]

    def decode(self, events: np.ndarray, values: np.ndarray | None) -> np.ndarray:
        out = [g.decode_batch_from_logits(events, values, self.index, clip=self.clip) for g in self.groups]
        return out[0] if len(out) == 1 else np.concatenate(out, axis=1)


def _column_chunks(H, L, times: np.ndarray, size: int | None = None) -> Callable[[], Iterator[DemChunk]]:
    """The columns of check matrices ``H`` (detectors x columns) and ``L`` (observables x
    columns) as a model's errors, one piece each (probabilities unused: zero), in chunks of
    ``size`` columns ordered by their earliest detector's time, so that a window's columns come
    in a few chunks (their positions are the column indices)."""
    H = scipy.sparse.csc_matrix(H, dtype=np.uint8)
    L = scipy.sparse.csc_matrix(L, dtype=np.uint8)
    for m in (H, L):
        m.eliminate_zeros()
    both = scipy.sparse.vstack([H, L]).tocsc()
    both.sort_indices()
    is_det = both.indices < H.shape[0]
    time = np.full(len(both.indices), np.inf)
    time[is_det] = np.asarray(times, dtype=np.float64)[both.indices[is_det]]
    first = np.minimum.reduceat(np.append(time, np.inf), np.minimum(both.indptr[:-1], len(time)))
    first[np.diff(both.indptr) == 0] = np.inf
    order = np.argsort(first, kind="stable")
    size = size or CHUNK_ERRORS

    def chunks() -> Iterator[DemChunk]:
        for lo in range(0, len(order), size):
            columns = order[lo:lo + size]
            part = both[:, columns]
            rows = part.indices.astype(np.int64)
            targets = np.where(rows < H.shape[0], rows, -2 - (rows - H.shape[0]))
            yield DemChunk(np.zeros(len(columns)), targets, part.indptr.astype(np.int64), np.zeros(0, np.int64),
                           np.zeros(0), columns)

    return chunks


class WindowDecoder:
    """Sliding-window matching of a detector error model (PyMatching, plain or correlated).

    Args:
        dem: the model; each detector's time is its last coordinate.
        window: the windows' rounds and commit region.
        correlated: PyMatching's correlated matching in each window.

    ``decode_batch(events, bit_packed=False)``: bool (shots, num_detectors) -> bool (shots,
    num_observables), or bit-packed uint8 in and out, as :class:`qec.PyMatchingDecoder`.
    ``steps`` holds one entry per window; ``matchers`` the distinct windows' matchers.
    """

    def __init__(self, dem: stim.DetectorErrorModel, window: SlidingWindow, *, correlated: bool = False):
        times = detector_times(dem)
        self._setup(window, dem.num_detectors, dem.num_observables,
                    plan_windows(lambda: dem_chunks(dem), times, window, dem.num_observables),
                    lambda part: _ModelMatcher(part, correlated))
        self.correlated = bool(correlated)
        layers, count = detector_layers(times)
        in_order = not np.any(np.diff(layers) < 0)
        #: int64 (rounds + 1,): round t's detectors are [round_starts[t], round_starts[t + 1]), when the
        #: detectors come round by round (None otherwise).
        self.round_starts = np.searchsorted(layers, np.arange(count + 1)) if in_order else None

    @classmethod
    def weighted(cls, H, L, times: np.ndarray, window: SlidingWindow, *, backend: str = "auto",
                 clip: float = 30.0) -> "WindowDecoder":
        """Sliding windows over a graph with per-shot weights (:class:`qec._decoding._weighted_matcher.WeightedMatcher`).

        Args:
            H: (num_detectors, columns) 0/1, at most two detectors per column.
            L: (num_observables, columns) 0/1.
            times: float (num_detectors,): each detector's time.
            backend, clip: as :class:`~qec._decoding._weighted_matcher.WeightedMatcher` and its
                ``decode_batch_from_logits``.

        Decode with :meth:`decode_batch_from_logits`.
        """
        self = cls.__new__(cls)
        self._setup(window, H.shape[0], L.shape[0], plan_windows(_column_chunks(H, L, times), times, window,
                                                                 L.shape[0]),
                    lambda part: _WeightedMatcher(part, backend, clip))
        self.correlated = False
        return self

    def _setup(self, window: SlidingWindow, num_detectors: int, num_observables: int, parts,
               build: Callable[[WindowPart], object]) -> None:
        self.window = window
        self.num_detectors, self.num_observables = int(num_detectors), int(num_observables)
        self.matchers: dict[str, object] = {}
        self.steps: list[_Step] = []
        shared: dict[bytes, np.ndarray] = {}

        def shift(a: np.ndarray) -> _Shifted:
            base = int(a[0]) if len(a) else 0
            offsets = a - base
            return _Shifted(base, shared.setdefault(offsets.tobytes(), offsets))

        for part in parts:
            if part.key not in self.matchers:
                self.matchers[part.key] = build(part)
            last = int(part.detectors.max()) if len(part.detectors) else -1
            self.steps.append(_Step(part.key, shift(part.detectors), shift(part.carry), shift(part.faults), last,
                                    part.layers[0]))
        # The lowest detector any window from step k on still reads or flips.
        lowest = [min([int(s.detectors.base)] + ([s.carry.base] if len(s.carry.offsets) else []))
                  for s in self.steps]
        self._needed = np.minimum.accumulate(np.array(lowest + [self.num_detectors])[::-1])[::-1]
        self.metadata: dict = {"window": str(window)}

    def stream(self, shots: int, values: Callable[[np.ndarray], np.ndarray] | None = None) -> "WindowStream":
        """A :class:`WindowStream` for ``shots`` shots (``values``: for a weighted decoder, the
        float (shots, f) values of columns ``f``, asked for as each window is decoded)."""
        return WindowStream(self, shots, values)

    def decode_batch(self, events: np.ndarray, bit_packed: bool = False) -> np.ndarray:
        """bool (shots, num_detectors) -> bool (shots, num_observables); bit-packed uint8 in and out
        with ``bit_packed=True``."""
        events = check_shots(events, self.num_detectors, bit_packed)
        if bit_packed:
            events = unpack_bits(events, self.num_detectors)
        stream = self.stream(len(events))
        stream.push(events)
        out = stream.result()
        return pack_bits(out) if bit_packed else out

    def decode_batch_from_logits(self, events: np.ndarray, logits: np.ndarray, logit_index: np.ndarray) -> np.ndarray:
        """Weighted windows: bool (shots, num_detectors) events, float (shots, width) logits and
        int (columns,) each column's position in a row of logits -> bool (shots, num_observables)."""
        events = check_shots(events, self.num_detectors, False)
        logits, logit_index = np.asarray(logits), np.asarray(logit_index, dtype=np.int64)
        stream = self.stream(len(events), lambda faults: logits[:, logit_index[faults]])
        stream.push(events)
        return stream.result()


class WindowStream:
    """One pass of a :class:`WindowDecoder` over events that arrive a chunk at a time.

    ``push(events)`` takes bool or 0/1 (shots, k): the next k detectors' events (detector order)
    and decodes every window whose detectors have all arrived; ``result()`` is the bool (shots,
    num_observables) prediction once all detectors have arrived. Memory holds the events of the
    open windows only.
    """

    def __init__(self, decoder: WindowDecoder, shots: int, values: Callable[[np.ndarray], np.ndarray] | None = None):
        self.decoder = decoder
        self.shots = int(shots)
        self.values = values
        self.received = 0
        self.next_step = 0
        self.observables = np.zeros((self.shots, decoder.num_observables), dtype=bool)
        self._lo = self._high = 0  # the buffer holds detectors [_lo, _lo + width); written below _high
        self._events = np.zeros((self.shots, 0), dtype=np.uint8)

    def _cover(self, end: int) -> None:
        """Make the buffer hold detectors [lowest still needed, end)."""
        if end > self._lo + self._events.shape[1]:
            drop = max(0, int(self.decoder._needed[self.next_step]) - self._lo)
            keep = self._events[:, drop:max(drop, self._high - self._lo)]
            self._lo += drop
            grown = np.zeros((self.shots, max(end - self._lo, 2 * keep.shape[1])), dtype=np.uint8)
            grown[:, :keep.shape[1]] = keep
            self._events = grown
        self._high = max(self._high, end)

    def push(self, events: np.ndarray) -> None:
        """The next detectors' events, bool or 0/1 (shots, k)."""
        events = np.asarray(events)
        if events.ndim != 2 or events.shape[0] != self.shots:
            raise QecError(f"push (shots={self.shots}, k) events, got shape {events.shape}")
        end = self.received + events.shape[1]
        if end > self.decoder.num_detectors:
            raise QecError(f"{end} detectors pushed, the model has {self.decoder.num_detectors}")
        self._cover(end)
        self._events[:, self.received - self._lo:end - self._lo] ^= events.astype(np.uint8, copy=False)
        self.received = end
        steps = self.decoder.steps
        while self.next_step < len(steps) and steps[self.next_step].last_detector < self.received:
            self._decode(steps[self.next_step])
            self.next_step += 1

    def _decode(self, step: _Step) -> None:
        detectors, carry = step.detectors.array(), step.carry.array()
        if len(carry):
            self._cover(int(carry.max()) + 1)
        local = self._events[:, detectors - self._lo]
        values = None if self.values is None else self.values(step.faults.array())
        out = self.decoder.matchers[step.key].decode(local, values)
        n = self.decoder.num_observables
        self.observables ^= out[:, :n]
        if len(carry):
            self._events[:, carry - self._lo] ^= out[:, n:].view(np.uint8)

    def result(self) -> np.ndarray:
        """bool (shots, num_observables): the prediction, once every detector has arrived."""
        if self.received != self.decoder.num_detectors:
            raise QecError(f"{self.received} of {self.decoder.num_detectors} detectors have arrived")
        return self.observables
