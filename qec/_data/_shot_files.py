"""Stim's sample formats, streamed: detection events in, predictions out.

``b8`` (bit-packed, little-endian, a whole number of bytes per shot), ``01`` (one line of '0'/'1'
per shot) and ``r8`` (run lengths of zeros) in; ``b8`` and ``01`` out. The readers yield chunks
of at most ``chunk_shots`` shots, so memory does not grow with the file (``stim.read_shot_data_file``
reads a whole file at once). A file that does not fit the number of bits per shot raises
:class:`ShotFileError` with one line naming the file and the problem. :func:`read_b8_file` and
:func:`read_01_file` read the first shots of a whole file into one array.

Example:
    >>> import io
    >>> import numpy as np
    >>> buf = io.BytesIO()
    >>> write_shots(buf, np.array([[1, 0, 1], [0, 0, 0]], dtype=bool), "01")
    >>> buf.getvalue()
    b'101\\n000\\n'
    >>> [c.tolist() for c, _ in read_shots(io.BytesIO(buf.getvalue()), "01", 3, chunk_shots=8)]
    [[[True, False, True], [False, False, False]]]
"""

from __future__ import annotations

import itertools
import os
from typing import BinaryIO, Iterator

import numpy as np

from qec._errors import QecError

IN_FORMATS = ("b8", "01", "r8")
OUT_FORMATS = ("b8", "01")
R8_BLOCK_BYTES = 1 << 20


class ShotFileError(QecError):
    """A shot file that does not fit the expected number of bits per shot."""


def check_b8_size(size: int, num_bits: int, name: str) -> None:
    """Raise :class:`ShotFileError` unless ``size`` bytes are whole ``num_bits``-bit b8 shots."""
    if num_bits < 1:
        raise ShotFileError(f"{name}: the circuit has no detectors, so no shot fits it")
    per_shot = (num_bits + 7) // 8
    if size % per_shot:
        raise ShotFileError(
            f"{name} has {size} bytes, not a whole number of {per_shot}-byte shots: it does not fit "
            f"the circuit's {num_bits} detectors in b8 format"
        )


# What a 01 file is made of; b8 data of only these bytes is 01 text given the wrong --dets-format.
_01_TEXT_BYTES = np.zeros(256, dtype=bool)
_01_TEXT_BYTES[[ord("0"), ord("1"), ord("\n"), ord("\r")]] = True
# Bytes of a file's start that :func:`check_b8_file` looks at.
B8_PROBE_BYTES = 1 << 16


def check_not_01_text(head: bytes, name: str) -> None:
    """Raise :class:`ShotFileError` when ``head`` (the start of a file read as b8) holds only
    '0', '1' and line ends, with at least one line end: that is 01 text, not b8 data (b8 shots
    made only of those bytes, newline included, do not occur in practice)."""
    data = np.frombuffer(head, dtype=np.uint8)
    if len(data) and _01_TEXT_BYTES[data].all() and (data == ord("\n")).any():
        raise ShotFileError(f"{name} holds only '0', '1' and newlines: it is 01 text, not b8 data "
                            f"(--dets-format 01 reads it)")


def check_shot_file(path: str, what: str | None = None) -> None:
    """Raise :class:`qec.QecError` when ``path`` is a directory or does not exist (``what``, e.g.
    ``"--dets"``, names it in the message)."""
    name = path if what is None else f"{what} {path}"
    if os.path.isdir(path):
        raise QecError(f"{name} is a directory")
    if not os.path.exists(path):
        raise QecError(f"{name} does not exist")


def check_b8_file(path: str, num_bits: int, name: str | None = None) -> None:
    """Raise :class:`ShotFileError` unless the file at ``path`` can be b8 shots of ``num_bits``
    bits: a whole number of shots (:func:`check_b8_size`) and not 01 text (:func:`check_not_01_text`)."""
    name = path if name is None else name
    check_b8_size(os.path.getsize(path), num_bits, name)
    with open(path, "rb") as f:
        check_not_01_text(f.read(B8_PROBE_BYTES), name)


def read_shots(
    f: BinaryIO, fmt: str, num_bits: int, chunk_shots: int, size: int | None = None, name: str = "input"
) -> Iterator[tuple[np.ndarray, int]]:
    """Yields (bool (k, num_bits), bytes consumed) chunks of a ``fmt`` stream (k <= chunk_shots).

    ``size`` (the file's length) lets b8 input be checked before the first chunk.
    """
    if fmt == "b8":
        if size is not None:
            check_b8_size(size, num_bits, name)
        return read_b8(f, num_bits, chunk_shots, name)
    if fmt == "01":
        return read_01(f, num_bits, chunk_shots, name)
    if fmt == "r8":
        return read_r8(f, num_bits, chunk_shots, name)
    raise ShotFileError(f"unknown shot format {fmt!r}; choose from {', '.join(IN_FORMATS)}")


def read_b8(f: BinaryIO, num_bits: int, chunk_shots: int, name: str) -> Iterator[tuple[np.ndarray, int]]:
    """Yields (bool (k, num_bits), bytes consumed) from a b8 stream."""
    per_shot = (num_bits + 7) // 8
    first = True
    while True:
        data = f.read(per_shot * chunk_shots)
        if not data:
            return
        if first:
            check_not_01_text(data[:B8_PROBE_BYTES], name)
            first = False
        if len(data) % per_shot:
            raise ShotFileError(f"{name} ended in the middle of a shot")
        packed = np.frombuffer(data, dtype=np.uint8).reshape(-1, per_shot)
        _b8_padding_error(packed, num_bits, name)
        yield np.unpackbits(packed, axis=1, count=num_bits, bitorder="little").astype(bool), len(data)


def read_01(f: BinaryIO, num_bits: int, chunk_shots: int, name: str) -> Iterator[tuple[np.ndarray, int]]:
    """Yields (bool (k, num_bits), bytes consumed) from a 01 stream (one line per shot)."""
    line_no = 0
    while True:
        lines = list(itertools.islice(f, chunk_shots))
        if not lines:
            return
        consumed = sum(len(line) for line in lines)
        rows = [line.rstrip(b"\r\n") for line in lines]
        for k, row in enumerate(rows):
            if len(row) != num_bits:
                raise ShotFileError(
                    f"{name} line {line_no + k + 1} has {len(row)} characters; the circuit has {num_bits} detectors"
                )
        arr = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), num_bits)
        bad = (arr != ord("0")) & (arr != ord("1"))
        if bad.any():
            k = int(np.nonzero(bad.any(axis=1))[0][0])
            raise ShotFileError(f"{name} line {line_no + k + 1} holds characters other than 0 and 1")
        line_no += len(rows)
        yield arr == ord("1"), consumed


def read_r8(f: BinaryIO, num_bits: int, chunk_shots: int, name: str) -> Iterator[tuple[np.ndarray, int]]:
    """Yields (bool (k, num_bits), bytes consumed) from an r8 stream.

    r8: each byte b < 255 is b zeros then a one, 255 is 255 zeros; every shot's bits are
    followed by one extra (sentinel) one, so a shot encodes exactly num_bits + 1 bits.
    """
    period = num_bits + 1
    carry = np.zeros(0, dtype=np.uint8)
    shots_done = 0
    while True:
        data = f.read(R8_BLOCK_BYTES)
        buf = np.concatenate([carry, np.frombuffer(data, dtype=np.uint8)]) if data else carry
        if not data and len(buf) == 0:
            return
        ones = buf < 255
        cs = np.cumsum(buf.astype(np.int64) + ones)
        ends = np.nonzero(ones & (cs % period == 0))[0]
        if len(ends) == 0:
            if not data:
                raise ShotFileError(f"{name} ends in the middle of a shot: it does not fit the circuit's {num_bits} detectors in r8 format")
            carry = buf
            continue
        # At most chunk_shots shots per yield.
        for lo in range(0, len(ends), chunk_shots):
            hi = min(lo + chunk_shots, len(ends))
            start = 0 if lo == 0 else ends[lo - 1] + 1
            stop = ends[hi - 1] + 1
            piece_ones = ones[start:stop]
            pos = cs[start:stop][piece_ones] - 1 - (cs[start - 1] if start else 0)
            n = hi - lo
            shot, bit = pos // period, pos % period
            sentinel = bit == num_bits
            if sentinel.sum() != n or not np.array_equal(shot[sentinel], np.arange(n)):
                raise ShotFileError(
                    f"{name} near shot {shots_done + 1} does not decode to {num_bits}-bit shots in r8 format"
                )
            out = np.zeros((n, num_bits), dtype=bool)
            out[shot[~sentinel], bit[~sentinel]] = True
            shots_done += n
            yield out, int(stop - start)
        carry = buf[ends[-1] + 1:]
        if not data:
            if len(carry):
                raise ShotFileError(f"{name} ends in the middle of a shot: it does not fit the circuit's {num_bits} detectors in r8 format")
            return


def _b8_padding_error(packed: np.ndarray, num_bits: int, name: str) -> None:
    if num_bits % 8 and (packed[:, -1] & np.uint8((0xFF << (num_bits % 8)) & 0xFF)).any():
        raise ShotFileError(
            f"{name} sets padding bits past detector {num_bits}: it does not fit the circuit's "
            f"{num_bits} detectors in b8 format"
        )


def read_b8_file(path: str, num_bits: int, max_shots: int | None = None, name: str | None = None) -> np.ndarray:
    """The first ``max_shots`` shots (all when None) of a b8 file, bit-packed: uint8 (shots,
    ceil(num_bits / 8)), Stim's ``bit_packed=True`` layout, ready for ``decode_batch``.

    :class:`ShotFileError` (one line naming the file) when its size is not a whole number of
    shots or it sets padding bits; ``OSError`` when it cannot be read.
    """
    name = name or path
    per_shot = (num_bits + 7) // 8
    check_b8_size(os.path.getsize(path), num_bits, name)
    count = -1 if max_shots is None else max_shots * per_shot
    packed = np.fromfile(path, dtype=np.uint8, count=count).reshape(-1, per_shot)
    _b8_padding_error(packed, num_bits, name)
    return packed


def read_01_file(path: str, num_bits: int, max_shots: int | None = None, name: str | None = None) -> np.ndarray:
    """The first ``max_shots`` shots (all when None) of a 01 file: bool (shots, num_bits);
    :class:`ShotFileError` (one line naming the file and line) for a malformed line."""
    name = name or path
    chunks = []
    taken = 0
    with open(path, "rb") as f:
        for chunk, _ in read_01(f, num_bits, chunk_shots=1 << 16, name=name):
            if max_shots is not None and taken + len(chunk) > max_shots:
                chunk = chunk[: max_shots - taken]
            chunks.append(chunk)
            taken += len(chunk)
            if max_shots is not None and taken >= max_shots:
                break
    return np.concatenate(chunks) if chunks else np.zeros((0, num_bits), dtype=bool)


def write_shots(f: BinaryIO, shots: np.ndarray, fmt: str) -> None:
    """Append bool (k, bits) ``shots`` to ``f`` in ``fmt`` (``b8`` or ``01``)."""
    predictions = np.asarray(shots, dtype=bool)
    if fmt == "b8":
        f.write(np.packbits(predictions, axis=1, bitorder="little").tobytes())
    else:
        chars = np.where(predictions, ord("1"), ord("0")).astype(np.uint8)
        lines = np.concatenate([chars, np.full((len(chars), 1), ord("\n"), dtype=np.uint8)], axis=1)
        f.write(lines.tobytes())
