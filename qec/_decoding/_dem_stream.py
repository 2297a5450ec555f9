"""A detector error model's errors and detector coordinates as numpy chunks, in file order, with its
``repeat`` blocks expanded lazily: memory is bounded by one chunk however many rounds the model
repeats (Stim folds a memory experiment's rounds into one ``repeat`` block).

An error is a run of integer *tokens*: a detector ``D5`` is 5, the separator ``^`` is
:data:`SEPARATOR` (-1) and an observable ``Lk`` is :func:`observable_token` (``-2 - k``).
Everything else a model holds (``logical_observable`` declarations, coordinates beyond each
detector's last one) is left out.

Example:
    >>> import stim
    >>> dem = stim.DetectorErrorModel('''
    ...     error(0.1) D0 L0
    ...     repeat 2 {
    ...         error(0.2) D0 D1 ^ D2
    ...         detector(0, 0, 0) D0
    ...         shift_detectors(0, 0, 1) 1
    ...     }''')
    >>> [c.targets.tolist() for c in dem_chunks(dem)]
    [[0, -2], [0, 1, -1, 2, 1, 2, -1, 3]]
    >>> detector_times(dem).tolist()
    [0.0, 1.0, nan, nan]
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import numpy as np
import stim

SEPARATOR = -1
# Errors per chunk when a repeat block is expanded (a few MB of arrays).
CHUNK_ERRORS = 1 << 16


def observable_token(k: int | np.ndarray) -> int | np.ndarray:
    """The token of observable ``Lk`` (its inverse is itself: ``-2 - token``)."""
    return -2 - k


@dataclasses.dataclass(frozen=True)
class DemChunk:
    """Consecutive errors and detector declarations of a model, absolute indices.

    Attributes:
        probabilities: float64 (errors,).
        targets: int64 (tokens,): all the errors' tokens, one after the other.
        starts: int64 (errors + 1,): error e's tokens are ``targets[starts[e]:starts[e + 1]]``.
        detectors: int64 (declared,): detectors declared with coordinates in this part.
        times: float64 (declared,): their last coordinate (shifts applied).
        positions: int64 (errors,): the errors' positions in the model, when the chunks come in
            another order (None: right after the previous chunk's).
    """

    probabilities: np.ndarray
    targets: np.ndarray
    starts: np.ndarray
    detectors: np.ndarray
    times: np.ndarray
    positions: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class _Flat:
    """Instructions without a repeat, detector indices and times relative to the block's start."""

    probabilities: np.ndarray
    targets: np.ndarray
    starts: np.ndarray
    detectors: np.ndarray
    times: np.ndarray
    dims: np.ndarray  # the coordinate each time is (its detector's last)


@dataclasses.dataclass(frozen=True)
class _Repeat:
    count: int
    body: "_Block"
    detector_offset: int  # where the block starts, relative to the enclosing block
    coordinate_offset: np.ndarray


@dataclasses.dataclass(frozen=True)
class _Block:
    parts: tuple  # _Flat and _Repeat, in order
    detector_shift: int  # what one pass through the block shifts
    coordinate_shift: np.ndarray


def _pad(v, n: int) -> np.ndarray:
    out = np.zeros(n)
    out[:len(v)] = v
    return out


def _compile(dem: stim.DetectorErrorModel, dims: int) -> _Block:
    parts: list = []
    shift, coord = 0, np.zeros(dims)
    probs: list[float] = []
    tokens: list[int] = []
    lengths: list[int] = []
    dets: list[int] = []
    times: list[float] = []
    det_dims: list[int] = []

    def flush():
        if probs or dets:
            starts = np.zeros(len(lengths) + 1, dtype=np.int64)
            np.cumsum(lengths, out=starts[1:])
            parts.append(_Flat(np.array(probs, dtype=np.float64), np.array(tokens, dtype=np.int64), starts,
                               np.array(dets, dtype=np.int64), np.array(times, dtype=np.float64),
                               np.array(det_dims, dtype=np.int64)))
            for buffer in (probs, tokens, lengths, dets, times, det_dims):
                buffer.clear()

    for inst in dem:
        if isinstance(inst, stim.DemRepeatBlock):
            flush()
            body = _compile(inst.body_copy(), dims)
            parts.append(_Repeat(inst.repeat_count, body, shift, coord.copy()))
            shift += inst.repeat_count * body.detector_shift
            coord = coord + inst.repeat_count * body.coordinate_shift
        elif inst.type == "error":
            run = [SEPARATOR if t.is_separator() else shift + t.val if t.is_relative_detector_id()
                   else observable_token(t.val) for t in inst.targets_copy()]
            probs.append(inst.args_copy()[0])
            tokens.extend(run)
            lengths.append(len(run))
        elif inst.type == "detector":
            args = inst.args_copy()
            for t in inst.targets_copy():
                dets.append(shift + t.val)
                times.append(args[-1] + coord[len(args) - 1] if args else np.nan)
                det_dims.append(len(args) - 1)
        elif inst.type == "shift_detectors":
            shift += int(inst.targets_copy()[0])
            coord = coord + _pad(inst.args_copy(), dims)
    flush()
    return _Block(tuple(parts), shift, coord)


def _dimensions(dem: stim.DetectorErrorModel) -> int:
    """The most coordinates any detector or shift of the model has (at least 1)."""
    most = 1
    for inst in dem:
        if isinstance(inst, stim.DemRepeatBlock):
            most = max(most, _dimensions(inst.body_copy()))
        elif inst.type in ("detector", "shift_detectors"):
            most = max(most, len(inst.args_copy()))
    return most


def _tile(flat: _Flat, first: int, count: int, det_base: int, det_step: int, coord_base: np.ndarray,
          coord_step: np.ndarray) -> DemChunk:
    """Passes ``first .. first + count - 1`` of a repeated flat part, as one chunk."""
    passes = np.arange(first, first + count, dtype=np.int64)
    targets = np.tile(flat.targets, count)
    shifts = np.repeat(det_base + passes * det_step, len(flat.targets))
    is_det = targets >= 0
    targets[is_det] += shifts[is_det]
    n = len(flat.targets)
    starts = (flat.starts[:-1][None, :] + n * np.arange(count)[:, None]).ravel()
    starts = np.append(starts, n * count)
    detectors = np.tile(flat.detectors, count) + np.repeat(det_base + passes * det_step, len(flat.detectors))
    times = (np.tile(flat.times + coord_base[flat.dims], count)
             + np.repeat(passes, len(flat.detectors)) * np.tile(coord_step[flat.dims], count))
    return DemChunk(np.tile(flat.probabilities, count), targets, starts, detectors, times)


def _emit(block: _Block, det_base: int, coord_base: np.ndarray, chunk_errors: int) -> Iterator[DemChunk]:
    zero = np.zeros_like(coord_base)
    for part in block.parts:
        if isinstance(part, _Flat):
            yield _tile(part, 0, 1, det_base, 0, coord_base, zero)
            continue
        base, coords = det_base + part.detector_offset, coord_base + part.coordinate_offset
        body = part.body
        if all(isinstance(p, _Flat) for p in body.parts) and len(body.parts) == 1:
            per = max(1, chunk_errors // max(1, len(body.parts[0].probabilities)))
            for first in range(0, part.count, per):
                yield _tile(body.parts[0], first, min(per, part.count - first), base, body.detector_shift,
                            coords, body.coordinate_shift)
        else:
            for k in range(part.count):
                yield from _emit(body, base + k * body.detector_shift, coords + k * body.coordinate_shift,
                                 chunk_errors)


def dem_chunks(dem: stim.DetectorErrorModel, chunk_errors: int = CHUNK_ERRORS) -> Iterator[DemChunk]:
    """The model's errors and detector declarations in file order, a chunk at a time (a repeat
    block's passes are tiled about ``chunk_errors`` errors at a time)."""
    dims = _dimensions(dem)
    block = _compile(dem, dims)
    yield from (c for c in _emit(block, 0, np.zeros(dims), chunk_errors) if len(c.probabilities) or len(c.detectors))


def detector_times(dem: stim.DetectorErrorModel) -> np.ndarray:
    """float64 (num_detectors,): each detector's last coordinate (NaN where it has none)."""
    out = np.full(dem.num_detectors, np.nan)
    for chunk in dem_chunks(dem):
        out[chunk.detectors] = chunk.times
    return out
