"""Decode a file of detection events into a file of predictions: :func:`decode_file`, the library
form of ``qec decode`` (sinter's ``predict_on_disk`` for any decoder of this package).

The input is streamed in chunks (memory does not grow with the file) in Stim's sample formats
(:mod:`qec._shot_files`); the output is written with :func:`qec._output_files.atomic_output`: never
over an input, else to a temporary file renamed at the end, so a failed run leaves no half file.

Example:
    >>> import os, tempfile
    >>> import stim
    >>> from qec import MemoryExperiment
    >>> from qec._pymatching_decoder import PyMatchingDecoder
    >>> exp = MemoryExperiment(distance=3, rounds=3, p=0.01)
    >>> folder = tempfile.mkdtemp()
    >>> dets = os.path.join(folder, "dets.b8")
    >>> events = exp.circuit().compile_detector_sampler(seed=1).sample(100)
    >>> stim.write_shot_data_file(data=events, path=dets, format="b8", num_detectors=24)
    >>> done = decode_file(PyMatchingDecoder(exp.dem()), dets, os.path.join(folder, "obs.01"),
    ...                    num_detectors=24, out_format="01")
    >>> done.shots, os.path.getsize(os.path.join(folder, "obs.01"))
    (100, 200)
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time

import numpy as np

from qec._errors import QecError
from qec._output_files import atomic_output, check_output_path
from qec._shot_files import IN_FORMATS, OUT_FORMATS, check_b8_file, check_shot_file, read_shots, write_shots


@dataclasses.dataclass(frozen=True)
class DecodedFile:
    """What :func:`decode_file` did: ``shots`` decoded, ``flips`` (shots with at least one
    predicted observable flip) and the wall ``seconds`` it took."""

    shots: int
    flips: int
    seconds: float

    @property
    def shots_per_second(self) -> float:
        return self.shots / self.seconds if self.seconds > 0 else float("inf")


def decode_file(
    decoder,
    dets_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    num_detectors: int,
    dets_format: str = "b8",
    out_format: str = "b8",
    chunk_shots: int = 4096,
    inputs: tuple[str | os.PathLike, ...] = (),
    progress: bool = False,
    out_label: str | None = None,
) -> DecodedFile:
    """Decode every shot of ``dets_path`` with ``decoder`` (anything with ``decode_batch(events)``:
    bool (shots, num_detectors) in, (shots, num_observables) out) into ``out_path``.

    Args:
        dets_format: ``b8``, ``01`` or ``r8`` (:data:`qec._shot_files.IN_FORMATS`).
        out_format: ``b8`` or ``01``.
        chunk_shots: shots decoded per chunk.
        inputs: other files the decoding reads (a circuit, a model): the output never replaces them.
        progress: a progress bar on stderr (bytes read).
        out_label: how errors name the output (default "output"; ``qec decode`` says ``--out``).

    Raises :class:`qec.QecError` naming the file and the problem (missing, a directory, not fitting
    ``num_detectors``, an output that would replace an input).
    """
    dets_path, out_path = os.fspath(dets_path), os.fspath(out_path)
    if dets_format not in IN_FORMATS:
        raise QecError(f"unknown dets format {dets_format!r}; choose from {', '.join(IN_FORMATS)}")
    if out_format not in OUT_FORMATS:
        raise QecError(f"unknown output format {out_format!r}; choose from {', '.join(OUT_FORMATS)}")
    if chunk_shots < 1:
        raise QecError(f"chunk_shots must be >= 1, got {chunk_shots}")
    check_shot_file(dets_path)
    inputs = (dets_path, *map(os.fspath, inputs))
    what = out_label or "output"
    check_output_path(out_path, inputs=inputs, what=what)
    size = os.path.getsize(dets_path)
    if dets_format == "b8":
        check_b8_file(dets_path, num_detectors, dets_path)

    from tqdm import tqdm

    t0 = time.perf_counter()
    shots = flips = 0
    with open(dets_path, "rb") as fin, atomic_output(out_path, inputs=inputs, what=what) as fout, tqdm(
        total=size, unit="B", unit_scale=True, file=sys.stderr, desc="decode", disable=not progress,
    ) as bar:
        for events, consumed in read_shots(fin, dets_format, num_detectors, chunk_shots, size, dets_path):
            prediction = np.asarray(decoder.decode_batch(events), dtype=bool)
            write_shots(fout, prediction, out_format)
            shots += len(events)
            flips += int(prediction.any(axis=1).sum())
            bar.update(consumed)
    return DecodedFile(shots=shots, flips=flips, seconds=time.perf_counter() - t0)
