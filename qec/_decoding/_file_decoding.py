"""Decode a file of detection events into a file of predictions: :func:`decode_file`, the library
form of ``qec decode`` (sinter's ``predict_on_disk`` for any decoder of this package).

The input is streamed in chunks (memory does not grow with the file) in Stim's sample formats
(:mod:`qec._data._shot_files`); the output is written with :func:`qec._data._output_files.atomic_output`: never
over an input, else to a temporary file renamed at the end, so a failed run leaves no half file.

Example:
    >>> import os, tempfile
    >>> import stim
    >>> from qec import MemoryExperiment
    >>> from qec._decoding._pymatching_decoder import PyMatchingDecoder
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
import time

import numpy as np
import stim

from qec._runtime._arguments import whole_number
from qec._encoding._bit_packing import packed_width
from qec._errors import QecError
from qec._data._output_files import atomic_output, check_output_path
from qec._runtime._progress import progress_bar
from qec._data._shot_checks import CHECK_SHOTS, check_events_fit_dem, check_shot_count
from qec._data._shot_files import IN_FORMATS, OUT_FORMATS, check_b8_file, check_shot_file, read_shots, write_shots


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
    dem: stim.DetectorErrorModel | None = None,
    shots: int | None = None,
) -> DecodedFile:
    """Decode every shot of ``dets_path`` with ``decoder`` (anything with ``decode_batch(events)``:
    bool (shots, num_detectors) in, (shots, num_observables) out) into ``out_path``.

    Args:
        dets_format: ``b8``, ``01`` or ``r8`` (:data:`qec._data._shot_files.IN_FORMATS`).
        out_format: ``b8`` or ``01``.
        chunk_shots: shots decoded per chunk.
        inputs: other files the decoding reads (a circuit, a model): the output never replaces them.
        progress: a progress bar of the shots decoded on stderr.
        out_label: how errors name the output (default "output"; ``qec decode`` says ``--out``).
        dem: the DEM the shots should come from: the first shots are checked against it before
            anything is decoded (:func:`qec._data._shot_checks.check_events_fit_dem`), so a file of
            another circuit whose size happens to fit is refused.
        shots: the number of shots the file must hold (b8 has no header: a file of another
            circuit can fit the detector count); checked from a b8 file's size before decoding,
            at the end of a 01 or r8 file (the output is then not written).

    Raises :class:`qec.QecError` naming the file and the problem (missing, a directory, not fitting
    ``num_detectors``, ``dem`` or ``shots``, an output that would replace an input).
    """
    dets_path, out_path = os.fspath(dets_path), os.fspath(out_path)
    num_detectors = whole_number("num_detectors", num_detectors, minimum=1)
    chunk_shots = whole_number("chunk_shots", chunk_shots, minimum=1)
    if shots is not None:
        shots = whole_number("shots", shots, minimum=0)
    if dets_format not in IN_FORMATS:
        raise QecError(f"unknown dets format {dets_format!r}; choose from {', '.join(IN_FORMATS)}")
    if out_format not in OUT_FORMATS:
        raise QecError(f"unknown output format {out_format!r}; choose from {', '.join(OUT_FORMATS)}")
    check_shot_file(dets_path)
    inputs = (dets_path, *map(os.fspath, inputs))
    what = out_label or "output"
    check_output_path(out_path, inputs=inputs, what=what)
    size = os.path.getsize(dets_path)
    total = None
    if dets_format == "b8":
        check_b8_file(dets_path, num_detectors, dets_path)
        total = size // packed_width(num_detectors)
        check_shot_count(total, shots, dets_path)
    if dem is not None:
        check_events_fit_dem(_first_shots(dets_path, dets_format, num_detectors), dem, dets_path)

    t0 = time.perf_counter()
    decoded = flips = 0
    with open(dets_path, "rb") as fin, atomic_output(out_path, inputs=inputs, what=what) as fout, progress_bar(
        total, "decoding", disable=not progress,
    ) as bar:
        try:
            for events, _ in read_shots(fin, dets_format, num_detectors, chunk_shots, size, dets_path):
                prediction = np.asarray(decoder.decode_batch(events), dtype=bool)
                write_shots(fout, prediction, out_format)
                decoded += len(events)
                flips += int(prediction.any(axis=1).sum())
                bar.update(len(events))
            check_shot_count(decoded, shots, dets_path)
        except BaseException:
            bar.leave = False  # the error's one line takes the bar's place
            raise
    return DecodedFile(shots=decoded, flips=flips, seconds=time.perf_counter() - t0)


def _first_shots(path: str, fmt: str, num_detectors: int) -> np.ndarray:
    """The first :data:`qec._data._shot_checks.CHECK_SHOTS` shots of a file, bool (shots, num_detectors)."""
    with open(path, "rb") as f:
        return next(iter(read_shots(f, fmt, num_detectors, CHECK_SHOTS, os.path.getsize(path), path)),
                    (np.zeros((0, num_detectors), dtype=bool), 0))[0]
