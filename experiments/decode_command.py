"""``qec decode``: decode a file of detection events (Stim's sample formats) into predictions.

    qec decode --circuit C.stim --dets F.b8 --dets-format b8 --out P.b8 --out-format b8 \\
        [--decoder predecoder|predecoder-correlated|pymatching|pymatching-correlated] [--model M] \\
        [--block-rounds K] [--device D]

The file is streamed in chunks of ``--chunk-shots`` shots (memory does not grow with the file),
with a progress bar on stderr. Formats are Stim's: ``b8`` (bit-packed, little-endian, a whole
number of bytes per shot), ``01`` (one line of '0'/'1' per shot) and ``r8`` (run lengths of
zeros). The output is written to a temporary file next to ``--out`` and renamed at the end, so a
failed run leaves no half-written predictions behind.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from typing import BinaryIO, Iterator

import numpy as np
import stim

from experiments.cli import UsageError

DECODER_CHOICES = ("predecoder", "predecoder-correlated", "pymatching", "pymatching-correlated")
IN_FORMATS = ("b8", "01", "r8")
OUT_FORMATS = ("b8", "01")
R8_BLOCK_BYTES = 1 << 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--circuit", required=True, help="Stim circuit file (rotated surface-code memory for the pre-decoder)")
    parser.add_argument("--dets", required=True, help="detection events file")
    parser.add_argument("--dets-format", default="b8", help=f"format of --dets ({', '.join(IN_FORMATS)}; default b8)")
    parser.add_argument("--out", required=True, help="predictions file (observable flips)")
    parser.add_argument("--out-format", default="b8", help=f"format of --out ({', '.join(OUT_FORMATS)}; default b8)")
    parser.add_argument("--decoder", default="predecoder", help=f"decoder ({', '.join(DECODER_CHOICES)}; default predecoder)")
    parser.add_argument("--model", default=None, help="pre-decoder model file (default: the shipped model)")
    parser.add_argument("--threshold", type=float, default=None, help="logit threshold (default: the model's)")
    parser.add_argument("--block-rounds", type=int, default=None,
                        help="pre-decoder block size in rounds (default 32); memory is bounded by it")
    parser.add_argument("--block-space", type=int, default=None, help="pre-decoder block size in rows/cols (default: whole patch)")
    parser.add_argument("--block-batch", type=int, default=None, help="blocks per forward pass (default 64)")
    parser.add_argument("--device", default="cpu", help="torch device for the network: cpu, cuda[:N], auto (default cpu)")
    parser.add_argument("--precision", default="fp32", help="network precision: fp32, fp16 (CUDA), bf16 (default fp32)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--chunk-shots", type=int, default=4096, help="shots decoded per chunk (default 4096)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary on stderr")


# ---------------------------------------------------------------------------------------------
# Stim's sample formats, streamed.


def read_b8(f: BinaryIO, num_bits: int, chunk_shots: int, size: int, name: str) -> Iterator[tuple[np.ndarray, int]]:
    """Yields (bool (k, num_bits), bytes consumed) from a b8 stream."""
    per_shot = (num_bits + 7) // 8
    if size % per_shot:
        raise UsageError(
            f"{name} has {size} bytes, not a whole number of {per_shot}-byte shots: it does not fit "
            f"the circuit's {num_bits} detectors in b8 format"
        )
    pad_mask = np.uint8((0xFF << (num_bits % 8)) & 0xFF) if num_bits % 8 else np.uint8(0)
    while True:
        data = f.read(per_shot * chunk_shots)
        if not data:
            return
        if len(data) % per_shot:
            raise UsageError(f"{name} ended in the middle of a shot")
        packed = np.frombuffer(data, dtype=np.uint8).reshape(-1, per_shot)
        if pad_mask and (packed[:, -1] & pad_mask).any():
            raise UsageError(
                f"{name} sets padding bits past detector {num_bits}: it does not fit the circuit's "
                f"{num_bits} detectors in b8 format"
            )
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
                raise UsageError(
                    f"{name} line {line_no + k + 1} has {len(row)} characters; the circuit has {num_bits} detectors"
                )
        arr = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), num_bits)
        bad = (arr != ord("0")) & (arr != ord("1"))
        if bad.any():
            k = int(np.nonzero(bad.any(axis=1))[0][0])
            raise UsageError(f"{name} line {line_no + k + 1} holds characters other than 0 and 1")
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
                raise UsageError(f"{name} ends in the middle of a shot: it does not fit the circuit's {num_bits} detectors in r8 format")
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
                raise UsageError(
                    f"{name} near shot {shots_done + 1} does not decode to {num_bits}-bit shots in r8 format"
                )
            out = np.zeros((n, num_bits), dtype=bool)
            out[shot[~sentinel], bit[~sentinel]] = True
            shots_done += n
            yield out, int(stop - start)
        carry = buf[ends[-1] + 1:]
        if not data:
            if len(carry):
                raise UsageError(f"{name} ends in the middle of a shot: it does not fit the circuit's {num_bits} detectors in r8 format")
            return


def write_predictions(f: BinaryIO, predictions: np.ndarray, fmt: str) -> None:
    predictions = np.asarray(predictions, dtype=bool)
    if fmt == "b8":
        f.write(np.packbits(predictions, axis=1, bitorder="little").tobytes())
    else:
        chars = np.where(predictions, ord("1"), ord("0")).astype(np.uint8)
        lines = np.concatenate([chars, np.full((len(chars), 1), ord("\n"), dtype=np.uint8)], axis=1)
        f.write(lines.tobytes())


# ---------------------------------------------------------------------------------------------


def _load_circuit(path: str) -> stim.Circuit:
    try:
        return stim.Circuit.from_file(path)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as e:  # Stim raises ValueError with a multi-line parse message
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(f"cannot read circuit {path}: {first}") from None


def build_decoder(args: argparse.Namespace, circuit: stim.Circuit):
    from qec.decoders import get_decoder
    from qec.layout import LayoutError

    if args.decoder not in DECODER_CHOICES:
        raise UsageError(f"unknown decoder {args.decoder!r}; choose from {', '.join(DECODER_CHOICES)}")
    try:
        dem = circuit.detector_error_model(decompose_errors=True, approximate_disjoint_errors=True)
    except ValueError as e:
        raise UsageError(f"cannot build a matchable detector error model from {args.circuit}: "
                         f"{str(e).strip().splitlines()[0]}") from None
    options = {}
    pre = args.decoder.startswith("predecoder")
    given = {"--model": args.model, "--threshold": args.threshold, "--block-rounds": args.block_rounds,
             "--block-space": args.block_space, "--block-batch": args.block_batch}
    if not pre:
        extra = [k for k, v in given.items() if v is not None]
        if extra:
            raise UsageError(f"{', '.join(extra)} only apply to the pre-decoder, not {args.decoder}")
        return get_decoder(args.decoder, circuit, dem)
    for key, flag in (("model", "--model"), ("threshold", "--threshold"), ("block_rounds", "--block-rounds"),
                      ("block_space", "--block-space"), ("block_batch", "--block-batch")):
        if given[flag] is not None:
            options[key] = given[flag]
    options["device"] = args.device
    options["precision"] = args.precision
    try:
        return get_decoder(args.decoder, circuit, dem, **options)
    except LayoutError as e:
        raise UsageError(f"{args.circuit} is not a rotated surface-code memory circuit the pre-decoder can map: {e}") from None


def run(args: argparse.Namespace) -> int:
    if args.dets_format not in IN_FORMATS:
        raise UsageError(f"unknown --dets-format {args.dets_format!r}; choose from {', '.join(IN_FORMATS)}")
    if args.out_format not in OUT_FORMATS:
        raise UsageError(f"unknown --out-format {args.out_format!r}; choose from {', '.join(OUT_FORMATS)}")
    if args.chunk_shots < 1:
        raise UsageError(f"--chunk-shots must be >= 1, got {args.chunk_shots}")
    if args.threads is not None:
        if args.threads < 1:
            raise UsageError(f"--threads must be >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    if os.path.isdir(args.dets):
        raise UsageError(f"--dets {args.dets} is a directory")
    if not os.path.exists(args.dets):
        raise UsageError(f"--dets {args.dets} does not exist")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if os.path.isdir(args.out):
        raise UsageError(f"--out {args.out} is a directory")
    if not os.path.isdir(out_dir):
        raise UsageError(f"--out {args.out}: directory {out_dir} does not exist")
    circuit = _load_circuit(args.circuit)
    decoder = build_decoder(args, circuit)
    n = circuit.num_detectors
    size = os.path.getsize(args.dets)

    from tqdm import tqdm

    t0 = time.perf_counter()
    shots = 0
    flips = 0
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=os.path.basename(args.out) + ".", suffix=".tmp")
    try:
        with open(args.dets, "rb") as fin, os.fdopen(fd, "wb") as fout, tqdm(
            total=size, unit="B", unit_scale=True, file=sys.stderr, disable=args.quiet, desc="decode"
        ) as bar:
            if args.dets_format == "b8":
                chunks = read_b8(fin, n, args.chunk_shots, size, args.dets)
            elif args.dets_format == "01":
                chunks = read_01(fin, n, args.chunk_shots, args.dets)
            else:
                chunks = read_r8(fin, n, args.chunk_shots, args.dets)
            for events, consumed in chunks:
                prediction = np.asarray(decoder.decode_batch(events), dtype=bool)
                write_predictions(fout, prediction, args.out_format)
                shots += len(events)
                flips += int(prediction.any(axis=1).sum())
                bar.update(consumed)
        os.replace(tmp, args.out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dt = time.perf_counter() - t0
    if not args.quiet:
        rate = shots / dt if dt > 0 else float("inf")
        print(f"decoded {shots} shots with {args.decoder} in {dt:.2f} s ({rate:.0f} shots/s); "
              f"{flips} predicted observable flips -> {args.out}", file=sys.stderr)
    return 0
