"""Stim's bit-packed shot layout, in one place: little-endian bits, ``ceil(n / 8)`` bytes per shot
(what ``stim.CompiledDetectorSampler.sample(..., bit_packed=True)`` returns and b8 files hold).

Whether an array is bit-packed is always said, never guessed from its shape: every
``decode_batch(events, bit_packed=...)`` takes the flag, and :func:`check_shots` checks the array
against it.

Example:
    >>> import numpy as np
    >>> packed = pack_bits(np.array([[1, 0, 0, 0, 0, 0, 0, 0, 1]], dtype=bool))
    >>> packed.tolist(), unpack_bits(packed, 9).astype(int).tolist()
    ([[1, 1]], [[1, 0, 0, 0, 0, 0, 0, 0, 1]])
"""

from __future__ import annotations

import numpy as np

from qec._errors import QecError


def packed_width(num_bits: int) -> int:
    """Bytes per shot of ``num_bits`` bits, bit-packed."""
    return (num_bits + 7) // 8


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """bool (or 0/1) (shots, n) -> uint8 (shots, ceil(n / 8)), little-endian bits."""
    return np.packbits(np.asarray(bits).astype(bool, copy=False), axis=1, bitorder="little")


def unpack_bits(packed: np.ndarray, num_bits: int) -> np.ndarray:
    """uint8 (shots, ceil(n / 8)) -> bool (shots, ``num_bits``)."""
    return np.unpackbits(packed, axis=1, count=num_bits, bitorder="little").astype(bool)


def check_shots(events: np.ndarray, num_detectors: int, bit_packed: bool) -> np.ndarray:
    """``events`` as a 2D array of the layout ``bit_packed`` says: uint8 (shots, ceil(N / 8)) when
    bit-packed, else (shots, N) bool or numbers that are all 0 or 1 (never 0.5 read as 0, or 2 as
    1). :class:`qec.QecError` naming the mismatch otherwise."""
    events = np.asarray(events)
    if events.ndim != 2:
        raise QecError(f"expected a 2D (shots, detectors) array, got shape {events.shape}")
    if bit_packed:
        width = packed_width(num_detectors)
        if events.dtype != np.uint8 or events.shape[1] != width:
            raise QecError(
                f"bit-packed shots must be uint8 with {width} bytes per shot, got {events.dtype} x {events.shape[1]}"
            )
    elif events.shape[1] != num_detectors:
        hint = " (bit-packed? say bit_packed=True)" if events.shape[1] == packed_width(num_detectors) else ""
        raise QecError(f"expected {num_detectors} detectors per shot, got {events.shape[1]}{hint}")
    elif events.dtype != np.bool_:
        if events.dtype.kind not in "uif":
            raise QecError(f"events must be bool or 0/1 numbers, got dtype {events.dtype}")
        bad = (events != 0) & (events != 1)
        if bad.any():
            raise QecError(f"events must be 0 or 1 (or bool), got {events[bad].flat[0].item()!r}")
    return events
