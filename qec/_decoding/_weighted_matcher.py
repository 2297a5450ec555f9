"""Minimum-weight perfect matching on one graph whose edge weights change with every shot.

A check matrix ``H`` (detectors x columns, one or two detectors per column; a column with one
detector is an edge to the boundary) and ``L`` (observables x columns) fix the graph; each shot
brings its own weight per column, e.g. ``-logit`` of a network's per-column error probability
(negative weights are allowed: such an edge is taken unless undoing it is cheaper). Parallel
columns merge as PyMatching's ``merge_strategy="smallest-weight"`` does, per shot.

Two backends give identical predictions:

- ``"compiled"``: ``qec._decoding._weighted_matching``, PyMatching's sparse-blossom core built once, with
  only the integer weights rewritten per shot (built at install time from the sources of the
  PyMatching release the project pins, see setup.py);
- ``"rebuild"``: one ``pymatching.Matching.from_check_matrix`` per shot (about 50x slower); the
  reference the compiled one is tested against, and the fallback where it was not built (an
  install with ``QEC_COMPILED_MATCHER=optional``): the first fallback decode of a process says so
  on stderr, in one line.

Example:
    >>> import numpy as np, scipy.sparse
    >>> H = scipy.sparse.csc_matrix(np.array([[1, 1, 0], [0, 1, 1]], dtype=np.uint8))  # a chain
    >>> L = scipy.sparse.csc_matrix(np.array([[1, 0, 0]], dtype=np.uint8))
    >>> m = WeightedMatcher(H, L)
    >>> events = np.array([[1, 0], [1, 0]], dtype=bool)
    >>> weights = np.array([[1.0, 5.0, 5.0], [9.0, 1.0, 1.0]])  # shot 1: the left edge is costly
    >>> m.decode_batch(events, weights).ravel().tolist()
    [True, False]
"""

from __future__ import annotations

import sys

import numpy as np
import scipy.sparse

from qec._errors import QecError

try:
    from qec._decoding import _weighted_matching
except ImportError:  # not built (no compiler or no network at install time)
    _weighted_matching = None

BACKENDS = ("auto", "compiled", "rebuild")


def compiled_available() -> bool:
    """Whether the compiled backend was built at install time."""
    return _weighted_matching is not None


def weighted_matching_backend() -> str:
    """The backend ``backend="auto"`` runs here: ``"compiled"`` or ``"rebuild"`` (the compiled core
    was not built)."""
    return "compiled" if compiled_available() else "rebuild"


def describe_backend(backend: str | None = None) -> str:
    """One line on a backend (default: the one ``"auto"`` runs), for reports and ``qec --version``."""
    backend = backend or weighted_matching_backend()
    if backend == "compiled":
        return f"the compiled core (PyMatching {_weighted_matching.PYMATCHING_VERSION}'s sparse blossom, per-shot weights)"
    why = "" if _weighted_matching is not None else ": qec._decoding._weighted_matching was not built at install time"
    return f"the rebuild fallback (a PyMatching graph per shot, about 50x slower{why})"


_warned_fallback = False


def _warn_fallback_once() -> None:
    global _warned_fallback
    if not _warned_fallback and _weighted_matching is None:
        _warned_fallback = True
        print("warning: per-shot weighted matching runs the rebuild fallback, about 50x slower: "
              "qec._decoding._weighted_matching was not built at install time (see README: install)",
              file=sys.stderr, flush=True)


class WeightedMatcher:
    """PyMatching with per-shot weights on a fixed graph.

    Args:
        H: (num_detectors, num_columns) 0/1 matrix (scipy sparse or dense), at most two ones per
            column; columns without a one are ignored (as PyMatching ignores them).
        L: (num_observables, num_columns) 0/1 matrix: the observables each column flips (<= 64).
        backend: ``"compiled"``, ``"rebuild"`` or ``"auto"`` (compiled where built).

    ``decode_batch(events, weights)`` equals, shot by shot,
    ``pymatching.Matching.from_check_matrix(H, weights=weights[b], faults_matrix=L,
    use_virtual_boundary_node=True).decode(events[b])``.
    """

    def __init__(self, H, L, backend: str = "auto"):
        if backend not in BACKENDS:
            raise QecError(f"unknown weighted-matching backend {backend!r}; choose from {', '.join(BACKENDS)}")
        if backend == "compiled" and _weighted_matching is None:
            raise QecError("the compiled weighted matcher (qec._decoding._weighted_matching) was not built at install time; "
                             "reinstall with a C++20 compiler and network access, or use backend='rebuild'")
        self.backend = weighted_matching_backend() if backend == "auto" else backend
        H = scipy.sparse.csc_matrix(H, dtype=np.uint8)
        L = scipy.sparse.csc_matrix(L, dtype=np.uint8)
        H.eliminate_zeros()
        H.sort_indices()
        if H.shape[1] != L.shape[1]:
            raise QecError(f"H has {H.shape[1]} columns but L has {L.shape[1]}")
        counts = np.diff(H.indptr)
        if counts.size and counts.max() > 2:
            raise QecError(f"column {int(np.argmax(counts > 2))} of H has {int(counts.max())} detectors; at most 2")
        if L.shape[0] > 64:
            raise QecError(f"at most 64 observables, got {L.shape[0]}")
        self.num_detectors, self.num_columns = H.shape
        self.num_observables = L.shape[0]
        self.H, self.L = H, L
        self._identity = np.arange(self.num_columns)
        if self.backend == "compiled":
            # Only columns with detectors make edges; their order is the merge order.
            self._columns = np.flatnonzero(counts > 0)
            self._index_cache: tuple = (None, None)
            first = H.indices[H.indptr[self._columns]].astype(np.int64)
            second = np.full(len(self._columns), -1, dtype=np.int64)
            two = counts[self._columns] == 2
            second[two] = H.indices[H.indptr[self._columns[two]] + 1]
            obs = np.zeros(self.num_columns, dtype=np.uint64)
            for k in range(self.num_observables):
                obs[(L[k].toarray().ravel() != 0)] |= np.uint64(1) << np.uint64(k)
            self._core = _weighted_matching.WeightedMatcher(
                self.num_detectors, first, second, obs[self._columns], self.num_observables
            )

    def decode_batch(self, events: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """bool (shots, num_detectors) events and float (shots, num_columns) weights -> bool
        (shots, num_observables) predicted observable flips. NaN weights are an error."""
        weights = np.asarray(weights)
        if weights.ndim != 2 or weights.shape[1] != self.num_columns:
            raise QecError(f"weights must be (shots, {self.num_columns}), got {weights.shape}")
        return self._decode(events, weights, self._identity, 1.0, np.inf)

    def decode_batch_from_logits(self, events: np.ndarray, logits: np.ndarray, logit_index: np.ndarray,
                                 clip: float = 30.0) -> np.ndarray:
        """Weights from logits: column k weighs ``clip(-logits[:, logit_index[k]], -clip, clip)``,
        the log-likelihood ratio log((1 - p) / p) of p = sigmoid(logit).

        Args:
            events: bool (shots, num_detectors).
            logits: float32 or float64 (shots, width), e.g. a network's flattened output.
            logit_index: int (num_columns,): each column's position in a row of ``logits``.
            clip: largest absolute weight (30: a probability of 1e-13 either way).

        Returns:
            bool (shots, num_observables).
        """
        logit_index = np.asarray(logit_index, dtype=np.int64)
        if logit_index.shape != (self.num_columns,):
            raise QecError(f"logit_index must have one entry per column ({self.num_columns})")
        return self._decode(events, np.asarray(logits), logit_index, -1.0, float(clip))

    def _decode(self, events, values, index, sign, clip) -> np.ndarray:
        events = np.asarray(events)
        if events.ndim != 2 or events.shape[1] != self.num_detectors:
            raise QecError(f"events must be (shots, {self.num_detectors}), got {events.shape}")
        if values.ndim != 2 or values.shape[0] != events.shape[0]:
            raise QecError(f"need one row of weights per shot: {values.shape[0]} rows for {events.shape[0]} shots")
        if self.backend == "rebuild":
            _warn_fallback_once()
            if len(index) and (index.min() < 0 or index.max() >= values.shape[1]):
                raise QecError(f"weight positions must lie in [0, {values.shape[1]})")
            weights = np.clip(sign * values[:, index].astype(np.float64), -clip, clip)
            return self._decode_by_rebuilding(events, weights)
        if values.dtype not in (np.float32, np.float64):
            values = values.astype(np.float64)
        events = events.view(np.uint8) if events.dtype == bool else events.astype(np.uint8)
        if self._index_cache[0] is not index:  # the same index array comes with every call of a decoder
            self._index_cache = (index, np.ascontiguousarray(index[self._columns], dtype=np.int64))
        try:
            flips = self._core.decode_batch(np.ascontiguousarray(events), np.ascontiguousarray(values),
                                            self._index_cache[1], sign, clip)
        except ValueError as e:  # the core checks positions and values (NaN) and says which
            raise QecError(str(e)) from None
        return flips.view(bool)

    def _decode_by_rebuilding(self, events: np.ndarray, weights: np.ndarray) -> np.ndarray:
        import pymatching

        out = np.zeros((len(events), self.num_observables), dtype=bool)
        for b in range(len(events)):
            if np.isnan(weights[b]).any():
                raise QecError("a matching weight is NaN")
            m = pymatching.Matching.from_check_matrix(
                self.H, weights=np.asarray(weights[b], dtype=np.float64), faults_matrix=self.L,
                use_virtual_boundary_node=True,
            )
            out[b] = m.decode(np.asarray(events[b], dtype=np.uint8))
        return out
