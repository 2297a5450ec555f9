"""Sliding windows over a detector error model's time layers: what each window decodes, and what
its commits carry across the cut.

A detector's *layer* is the rank of its time (its last coordinate) among the model's distinct
times: layer t holds round t's detectors (t = 0 .. rounds for a memory experiment). With a
:class:`SlidingWindow` of W layers committing C, window k spans layers [kC, kC + W) and commits
[kC, kC + C); the first window that reaches the last layer is the last one and commits all it
spans. Each graphlike piece (a component of an error, between ``^``) has a *start*: its lowest
layer. Window k decodes the pieces that start inside it, restricted to its detectors (detectors
above the window are dropped: the piece becomes a boundary edge there, the usual open upper
boundary); pieces that start below it are already decided and left out (a closed lower boundary:
the past is what the commits left). A piece that starts in the commit region is committed: its
observables count, and the detectors it flips at or above the cut (layer kC + C and up) are
*carried*: they flip the events that later windows see. Both come out of one matching: the window's
model marks each carried detector j as an extra observable ``num_observables + j`` of the
committed pieces that flip it, so a decoder's observable prediction holds the committed flip and
the carry (:mod:`qec._decoding._window_decoder`).

Example:
    >>> import stim
    >>> dem = stim.DetectorErrorModel('''
    ...     error(0.1) D0 L0
    ...     error(0.1) D0 D1
    ...     error(0.1) D1 D2
    ...     error(0.1) D2
    ...     detector(0, 0) D0
    ...     detector(0, 1) D1
    ...     detector(0, 2) D2''')
    >>> from qec._decoding._dem_stream import dem_chunks, detector_times
    >>> parts = list(plan_windows(lambda: dem_chunks(dem), detector_times(dem), SlidingWindow(2, 1), 1))
    >>> [(p.layers, p.detectors.tolist(), p.carry.tolist()) for p in parts]
    [((0, 2), [0, 1], [1]), ((1, 3), [1, 2], [])]
    >>> window_model_text(parts[0])
    'error(0.1) D0 L0\\nerror(0.1) D0 D1 L1\\nerror(0.1) D1\\ndetector D1\\nlogical_observable L1'
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Callable, Iterable, Iterator

import numpy as np

from qec._decoding._dem_stream import SEPARATOR, DemChunk, observable_token
from qec._errors import QecError

_FAR = np.iinfo(np.int64).max  # the layer of a token that is no detector
_WINDOW = re.compile(r"\s*(\d+)\s*:\s*(\d+)\s*")


@dataclasses.dataclass(frozen=True)
class SlidingWindow:
    """Windows of ``rounds`` layers, each committing its first ``commit`` (1 <= commit <= rounds).

    Example:
        >>> SlidingWindow.parse("20:10"), str(SlidingWindow(20, 10))
        (SlidingWindow(rounds=20, commit=10), '20:10')
    """

    rounds: int
    commit: int

    def __post_init__(self) -> None:
        for name, value in (("rounds", self.rounds), ("commit", self.commit)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise QecError(f"window {name} must be an integer >= 1, got {value!r}")
        if self.commit > self.rounds:
            raise QecError(f"window {self.rounds}:{self.commit}: the commit region ({self.commit} rounds) cannot be "
                           f"longer than the window ({self.rounds})")

    @classmethod
    def parse(cls, text: str) -> "SlidingWindow":
        """``"W:C"`` -> ``SlidingWindow(W, C)``; a :class:`QecError` saying what is wrong otherwise."""
        match = _WINDOW.fullmatch(str(text))
        if not match:
            raise QecError(f"window {text!r}: give W:C, the window's rounds and the rounds it commits "
                           f"(integers, 1 <= C <= W), e.g. 20:10")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.rounds}:{self.commit}"

    @property
    def suffix(self) -> str:
        """What a windowed decoder's name adds: ``"/wW:C"``."""
        return f"/w{self}"


@dataclasses.dataclass(frozen=True, eq=False)
class WindowPart:
    """One window of a plan and the model it decodes (detectors and observables local).

    Attributes:
        index: the window's position (0 first).
        layers: (first, end): the layers [first, end) it spans.
        commit_end: the layers [first, commit_end) are committed (``end`` for the last window).
        detectors: int64 (n,): its detectors, ascending; local detector j is ``detectors[j]``.
        carry: int64 (m,): the detectors its commits flip at or above the cut, ascending; local
            observable ``num_observables + j`` flips ``carry[j]``.
        faults: int64 (f,): the positions of its errors among the model's (file order).
        probabilities: float64 (f,).
        targets, starts: the errors' local tokens (:mod:`qec._decoding._dem_stream`'s encoding).
        num_observables: the model's observables (before the carried ones).
        key: a hash of the local model: windows with equal keys decode alike.
    """

    index: int
    layers: tuple[int, int]
    commit_end: int
    detectors: np.ndarray
    carry: np.ndarray
    faults: np.ndarray
    probabilities: np.ndarray
    targets: np.ndarray
    starts: np.ndarray
    num_observables: int
    key: str


def detector_layers(times: np.ndarray) -> tuple[np.ndarray, int]:
    """(int64 layer per detector, number of layers) from float times; a :class:`QecError` names
    a detector without a time."""
    times = np.asarray(times, dtype=np.float64)
    missing = np.flatnonzero(np.isnan(times))
    if len(missing):
        raise QecError(f"detector {int(missing[0])} has no coordinates: a window needs each detector's time "
                       f"(its last coordinate)")
    if not len(times):
        raise QecError("the model has no detectors to window")
    values, layers = np.unique(times, return_inverse=True)
    return layers.astype(np.int64), len(values)


def window_count(layers: int, window: SlidingWindow) -> int:
    """How many windows cover ``layers`` layers."""
    if layers <= window.rounds:
        return 1
    return 1 + -(-(layers - window.rounds) // window.commit)


@dataclasses.dataclass(frozen=True)
class _Pieces:
    """The graphlike pieces (components) of a run of errors."""

    error: np.ndarray  # int64 (tokens,): each token's error
    piece: np.ndarray  # int64 (tokens,): each token's piece
    first: np.ndarray  # int64 (pieces,): each piece's first token
    start: np.ndarray  # int64 (pieces,): each piece's lowest layer (_FAR: no detector)
    layer: np.ndarray  # int64 (tokens,): each token's layer (_FAR: no detector)


def _pieces(targets: np.ndarray, starts: np.ndarray, layer_of: np.ndarray) -> _Pieces:
    error = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
    fresh = np.ones(len(targets), dtype=bool)
    fresh[1:] = (targets[:-1] == SEPARATOR) | (error[1:] != error[:-1])
    piece = np.cumsum(fresh) - 1
    is_det = targets >= 0
    layer = np.full(len(targets), _FAR, dtype=np.int64)
    layer[is_det] = layer_of[targets[is_det]]
    first = np.flatnonzero(fresh)
    start = np.minimum.reduceat(layer, first) if len(first) else np.zeros(0, dtype=np.int64)
    return _Pieces(error, piece, first, start, layer)


def _select(chunk: DemChunk, pieces: _Pieces, member: np.ndarray):
    """The errors of ``chunk`` with a piece in ``member`` (bool per piece): their probabilities,
    targets, starts and positions in the chunk."""
    keep = np.zeros(len(chunk.probabilities), dtype=bool)
    keep[pieces.error[pieces.first[member]]] = True
    lengths = np.diff(chunk.starts)[keep]
    starts = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    return chunk.probabilities[keep], chunk.targets[keep[pieces.error]], starts, np.flatnonzero(keep)


def _in_model_order(probabilities, targets, starts, positions):
    """The errors sorted by their positions in the model (chunks may come in another order)."""
    if np.all(positions[1:] >= positions[:-1]):
        return probabilities, targets, starts, positions
    order = np.argsort(positions, kind="stable")
    lengths = np.diff(starts)[order]
    new_starts = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_starts[1:])
    tokens = np.repeat(starts[:-1][order] - new_starts[:-1], lengths) + np.arange(new_starts[-1])
    return probabilities[order], targets[tokens], new_starts, positions[order]


def _localize(index, first, end, commit_end, probabilities, targets, starts, faults, layer_of, detectors,
              num_observables) -> WindowPart:
    """The window's local model from its errors (absolute tokens)."""
    p = _pieces(targets, starts, layer_of)
    member = (p.start >= first) & (p.start < end)
    committed = member & (p.start < commit_end)
    is_det, is_obs = targets >= 0, targets <= -2
    keep_det = is_det & member[p.piece] & (p.layer < end)
    keep_obs = is_obs & committed[p.piece]
    carried = is_det & committed[p.piece] & (p.layer >= commit_end)
    carry = np.unique(targets[carried])
    local = np.searchsorted(detectors, targets[keep_det])
    assert np.array_equal(detectors[local], targets[keep_det]), "a kept detector lies outside the window"
    # A separator goes before every kept piece but the first of its error.
    kept = np.flatnonzero(member)
    error_of = p.error[p.first[kept]]
    sep = kept[1:][error_of[1:] == error_of[:-1]]
    pos = np.arange(len(targets))
    rows = [  # (piece, category, position, token): separator, detectors, observables, carried
        (sep, np.zeros(len(sep)), np.zeros(len(sep)), np.full(len(sep), SEPARATOR)),
        (p.piece[keep_det], np.ones(len(local)), pos[keep_det], local),
        (p.piece[keep_obs], np.full(keep_obs.sum(), 2), pos[keep_obs], targets[keep_obs]),
        (p.piece[carried], np.full(carried.sum(), 3), pos[carried],
         observable_token(num_observables + np.searchsorted(carry, targets[carried]))),
    ]
    piece, category, position, token = (np.concatenate([r[k] for r in rows]) for k in range(4))
    order = np.lexsort((position, category, piece))
    local_targets = token[order].astype(np.int64)
    kept_errors = np.unique(error_of)
    counts = np.bincount(np.searchsorted(kept_errors, p.error[p.first[piece[order]]]), minlength=len(kept_errors))
    local_starts = np.zeros(len(kept_errors) + 1, dtype=np.int64)
    np.cumsum(counts, out=local_starts[1:])
    local_probabilities = probabilities[kept_errors]
    digest = hashlib.sha256()
    for a in (np.array([len(detectors), len(carry), num_observables]), local_probabilities, local_targets, local_starts):
        digest.update(np.ascontiguousarray(a).tobytes())
    return WindowPart(index, (first, end), commit_end, detectors, carry, faults[kept_errors], local_probabilities,
                      local_targets, local_starts, num_observables, digest.hexdigest())


def plan_windows(chunks: Callable[[], Iterable[DemChunk]], times: np.ndarray, window: SlidingWindow,
                 num_observables: int) -> Iterator[WindowPart]:
    """The windows of a model, in order, each built as soon as the model's chunks that touch it
    have been read (two passes over ``chunks()``: where each window's last error is, then the
    windows), so that memory holds a few windows' errors, not the model.

    Args:
        chunks: returns the model's chunks, the same every time it is called, in file order
            (``lambda: qec._decoding._dem_stream.dem_chunks(dem)``) or carrying the errors' positions (a
            window's errors are put back in the model's order).
        times: float (num_detectors,): each detector's time (:func:`qec._decoding._dem_stream.detector_times`).
        window: the windows' size and commit region.
        num_observables: the model's observables.
    """
    layer_of, layers = detector_layers(times)
    count = window_count(layers, window)
    W, C = window.rounds, window.commit

    def span(k: int) -> tuple[int, int, int]:
        first = k * C
        return (first, layers, layers) if k == count - 1 else (first, first + W, first + C)

    def touched(pieces: _Pieces) -> tuple[int, int]:
        starts = pieces.start[pieces.start != _FAR]
        if not len(starts):
            return 0, -1
        low = max(0, -(-(int(starts.min()) - W + 1) // C))
        return low, min(count - 1, int(starts.max()) // C)

    last_chunk = np.full(count, -1, dtype=np.int64)
    for j, chunk in enumerate(chunks()):
        low, high = touched(_pieces(chunk.targets, chunk.starts, layer_of))
        last_chunk[low:high + 1] = j
    order = np.argsort(layer_of, kind="stable")
    bounds = np.searchsorted(layer_of[order], np.arange(layers + 1))
    gathered: dict[int, list] = {}
    done: dict[int, WindowPart] = {}
    emitted = 0

    def finish(k: int) -> None:
        first, end, commit_end = span(k)
        got = gathered.pop(k, [])
        starts = np.zeros(1 + sum(len(g[0]) for g in got), dtype=np.int64)
        np.cumsum(np.concatenate([np.diff(g[2]) for g in got] or [np.zeros(0, np.int64)]), out=starts[1:])
        cat = (lambda i, dtype: np.concatenate([g[i] for g in got]) if got else np.zeros(0, dtype))
        detectors = np.sort(order[bounds[first]:bounds[end]])
        errors = _in_model_order(cat(0, np.float64), cat(1, np.int64), starts, cat(3, np.int64))
        done[k] = _localize(k, first, end, commit_end, *errors, layer_of, detectors, num_observables)

    for k in np.flatnonzero(last_chunk < 0):
        finish(int(k))
    base = 0
    for j, chunk in enumerate(chunks()):
        pieces = _pieces(chunk.targets, chunk.starts, layer_of)
        low, high = touched(pieces)
        for k in range(low, high + 1):
            first, end, _ = span(k)
            member = (pieces.start >= first) & (pieces.start < end)
            if member.any():
                probabilities, targets, starts, positions = _select(chunk, pieces, member)
                ids = base + positions if chunk.positions is None else chunk.positions[positions]
                gathered.setdefault(k, []).append((probabilities, targets, starts, ids))
        for k in np.flatnonzero(last_chunk == j):
            finish(int(k))
        base += len(chunk.probabilities)
        while emitted in done:
            yield done.pop(emitted)
            emitted += 1
    while emitted in done:
        yield done.pop(emitted)
        emitted += 1
    assert emitted == count, "a window was never finished"


def window_model_text(part: WindowPart) -> str:
    """The window's local model in Stim's text format: its errors (probabilities written exactly),
    then declarations fixing its detector and observable counts."""
    lines = []
    targets = part.targets
    names = np.where(targets >= 0, np.char.add("D", targets.astype(str)),
                     np.where(targets == SEPARATOR, "^", np.char.add("L", (-2 - targets).astype(str))))
    for e, p in enumerate(part.probabilities.tolist()):
        lines.append(f"error({p!r}) " + " ".join(names[part.starts[e]:part.starts[e + 1]]))
    if len(part.detectors):
        lines.append(f"detector D{len(part.detectors) - 1}")
    lines.append(f"logical_observable L{part.num_observables + len(part.carry) - 1}")
    return "\n".join(lines)
