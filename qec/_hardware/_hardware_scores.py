"""Decoders scored on hardware shots: every decoder on the same measured shots of every experiment
folder (:mod:`qec._hardware._experiment_folders`), paired, and each patch's error per round from the decay
over rounds.

A *column* of the results is one of

- a decoder of ours, by any name :func:`qec._decoding._decoders.decoder_factory` knows (``pymatching``,
  ``pymatching-correlated``, custom ones such as the pre-decoder's or a ``sinter.Decoder``),
  built for the folder's circuit with a DEM from a *DEM source*:

  * :class:`CircuitDem` (``circuit``): the folder's ``circuit_detector_error_model.dem``;
  * :class:`PijDem` (``pij``): each half decoded with the p_ij DEM estimated from the other half;
  * :class:`FileDem`: a DEM file;
  * any object with ``label``, ``per_half`` and ``dem(folder, fitted_on, max_shots)``, e.g.
    ``noise_learning.LearnedDem`` (a DEM learned from the other half's detection events);

  with one DEM source the column is the decoder's name, with several ``name@label``;
- a folder's recorded predictions of another decoder, Google's as :data:`GOOGLE_DECODERS`
  (``google-pymatching``, ``google-correlated-matching``, ``google-belief-matching``,
  ``google-tensor-network``).

Every column decodes (or predicted) the same shots; a shot fails when the prediction differs from
``obs_flips_actual.01``. Per folder: errors and, as ``qec ler``, the paired only-fails counts
(shots where this column failed and that one did not). A DEM fitted on a half is only ever used
on the other half. Per patch (same distance, center and basis): the error per round of each column
from :func:`qec._data._statistics.fit_decay_interval` over the folders with at least ``min_rounds``
rounds.

Results can go to a sinter CSV, a whole folder at a time; a rerun into the same CSV takes the
folders it already holds from it instead of decoding them again.

Example (a folder simulated with :func:`qec.hardware.write_experiment_folder`):
    >>> import tempfile
    >>> from qec import MemoryExperiment
    >>> from qec.hardware import write_experiment_folder
    >>> tmp = tempfile.TemporaryDirectory()
    >>> folder = write_experiment_folder(tmp.name, MemoryExperiment(3, 3, 0.005), 1000, seed=1)
    >>> from qec._hardware._hardware_columns import CircuitDem, hardware_columns
    >>> cols = hardware_columns(["pymatching", "google-pymatching"], [CircuitDem()])
    >>> [c.name for c in cols]
    ['pymatching', 'google-pymatching']
    >>> s = score_folder(folder, cols, max_shots=1000)
    >>> s.shots, s.decoders["pymatching"].errors == s.decoders["google-pymatching"].errors
    (1000, True)
    >>> tmp.cleanup()
"""

from __future__ import annotations


import collections
import concurrent.futures
import hashlib
import math
import os
import time
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import sinter
import stim

from qec._decoding._decoders import CustomDecoder, decoder_factory
from qec._data._dem_files import check_dem_decodable
from qec._hardware._dem_provenance import overlapping
from qec._errors import QecError
from qec._hardware._experiment_folders import (
    HALVES,
    ExperimentFolder,
    half_indices,
    other_half,
    read_experiment_folder,
)
from qec._encoding._bit_packing import unpack_bits
from qec._collection._pairing import decode_same_shots, paired_failure_counts
from qec._collection._ler_result import PAIR_KEY
from qec._data._statistics import fit_decay_interval
from qec._data._stats_csv import CsvSink, read_csv_stats, strong_id
from qec._hardware._hardware_columns import Column, dem_name
from qec._hardware._hardware_results import ColumnCounts, FolderScore, HardwareScores, PatchScore

MIN_ROUNDS = 3

# ---------------------------------------------------------------------------------------------
# One folder.


class _Prepared:
    """A folder's columns ready to decode: DEMs built, decoders built, strong ids known.

    With ``half``, only that half of the first ``max_shots`` shots is scored (``self.index``)."""

    def __init__(self, folder: ExperimentFolder, columns: Sequence[Column], max_shots: int | None,
                 custom_decoders: Mapping[str, CustomDecoder] | None, half: str | None = None):
        self.folder = folder
        self.half = half
        self.first = folder.shots if max_shots is None else min(int(max_shots), folder.shots)
        self.index = np.arange(self.first) if half is None else half_indices(self.first, half)
        self.shots = len(self.index)
        self.circuit = folder.circuit()
        self.events = folder.events(self.first)
        self.events_hash = hashlib.sha256(self.events.tobytes()).hexdigest()[:16]
        circuit_text = str(self.circuit)
        self.plans: dict[str, tuple[Column, dict[str | None, Any], float]] = {}
        self.ids: dict[str, str] = {}
        self.meta: dict[str, dict[str, Any]] = {}
        dems: dict[tuple[str, str | None], tuple[stim.DetectorErrorModel, float]] = {}
        base = {"folder": folder.name, "d": folder.distance, "r": folder.rounds, "b": folder.basis,
                "center": None if folder.center is None else "_".join(map(str, folder.center)),
                "shots": self.shots, "events": self.events_hash}
        if half is not None:
            base["half"] = half
        for col in columns:
            if col.recorded:
                if col.decoder not in folder.prediction_names:  # fails before any decoding
                    folder.predictions(col.decoder)
                meta = {**base, "predictions": col.decoder}
                self.plans[col.name] = (col, {}, 0.0)
                self.meta[col.name] = meta
                self.ids[col.name] = strong_id(circuit_text, "", col.name, meta)
                continue
            factory = decoder_factory(col.decoder, custom_decoders)
            if half is not None:
                halves = (half,)
            else:
                halves = HALVES if col.dem.per_half else (None,)
            decoders: dict[str | None, Any] = {}
            seconds = 0.0
            dem_texts = []
            for h in halves:
                fitted_on = other_half(h) if col.dem.per_half else None
                key = (col.dem.label, fitted_on)
                if key not in dems:
                    t0 = time.perf_counter()
                    dems[key] = (col.dem.dem(folder, fitted_on, self.first), time.perf_counter() - t0)
                    seconds += dems[key][1]
                    check_dem_decodable(dems[key][0], f"{folder.path}: DEM {dem_name(col.dem, fitted_on)}")
                dem = dems[key][0]
                decoders[h] = factory(self.circuit, dem)
                _refuse_fitted_shots(folder, col.name, h, [*getattr(col.dem, "fitted_on", ()),
                                                          *getattr(decoders[h], "fitted_on", ())])
                dem_texts.append(str(dem))
            meta = {**base, "dem": col.dem.label}
            for dec in decoders.values():
                meta.update(getattr(dec, "metadata", None) or {})
            self.plans[col.name] = (col, decoders, seconds)
            self.meta[col.name] = meta
            self.ids[col.name] = strong_id(circuit_text, "\n".join(dem_texts), col.name, meta)

    def decode(self) -> dict[str, ColumnCounts]:
        folder = self.folder
        actual = folder.actual_flips(self.first)[self.index]
        predicted, timed = self._decode_ours()
        fails: dict[str, np.ndarray] = {}
        seconds: dict[str, float] = {}
        for name, (col, decoders, setup_seconds) in self.plans.items():
            if col.recorded:
                pred = folder.predictions(col.decoder, self.first)[self.index]
            else:
                pred = predicted[name][self.index]
            if pred.shape != actual.shape:
                raise RuntimeError(f"column {name} predicted shape {pred.shape}, expected {actual.shape}")
            fails[name] = np.any(pred != actual, axis=1)
            seconds[name] = timed.get(name, 0.0)
        errors, pairs = paired_failure_counts(fails)
        return {
            name: ColumnCounts(
                errors=errors[name], shots=self.shots,
                only_fails={b: pairs[(a, b)] for (a, b) in pairs if a == name},
                seconds=seconds[name], metadata=self.meta[name], setup_seconds=self.plans[name][2],
            )
            for name in fails
        }

    def _decode_ours(self) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Our columns' predictions, bool (first, observables) (only the decoded halves filled),
        and their decoding seconds. Decoders that say they compute the same network output
        (equal ``network_key``, e.g. a pre-decoder's compositions of one model) and offer
        ``decode_together`` decode each half with one network pass; each column's seconds then
        hold the shared pass, as if it ran alone."""
        folder = self.folder
        halves: dict[str | None, dict[str, Any]] = {}
        predicted: dict[str, np.ndarray] = {}
        for name, (col, decoders, _) in self.plans.items():
            if col.recorded:
                continue
            predicted[name] = np.zeros((self.first, folder.num_observables), dtype=bool)
            for half, dec in decoders.items():
                halves.setdefault(half, {})[name] = dec
        seconds: dict[str, float] = collections.defaultdict(float)
        for half, decoders in halves.items():
            idx = slice(None) if half is None else half_indices(self.first, half)
            try:
                outs, secs = decode_same_shots(decoders, self.events[idx], bit_packed=True)
            except ValueError as e:  # e.g. a learned DEM too thin to match every syndrome
                first = (str(e).strip().splitlines() or [type(e).__name__])[0]
                cols = [self.plans[n][0] for n in decoders]
                used = ", ".join(dict.fromkeys(dem_name(c.dem, None if half is None else other_half(half)
                                                         if c.dem.per_half else None) for c in cols))
                raise QecError(f"{folder.path}: decoding with DEM {used} failed on these shots "
                               f"({', '.join(decoders)}: {first})") from None
            for name, out in outs.items():
                predicted[name][idx] = unpack_bits(np.asarray(out, dtype=np.uint8), folder.num_observables)
                seconds[name] += secs[name]
        return predicted, dict(seconds)


def check_columns(folders: Sequence[ExperimentFolder], columns: Sequence[Column],
                  custom_decoders: Mapping[str, CustomDecoder] | None = None, half: str | None = None) -> None:
    """:class:`qec._errors.QecError` before any decoding for an unknown decoder name, and for a
    column whose DEM or model was fitted on shots about to be scored (``half`` of ``folders``;
    None: both halves): the ``fitted_on`` records (:mod:`qec._hardware._dem_provenance`) of its DEM source and decoder factory."""
    for col in columns:
        if col.recorded:
            continue
        factory = decoder_factory(col.decoder, custom_decoders)
        records = [*getattr(col.dem, "fitted_on", ()), *getattr(factory, "fitted_on", ())]
        for f in folders:
            _refuse_fitted_shots(f, col.name, half, records)


def _refuse_fitted_shots(folder: ExperimentFolder, column: str, half: str | None, records: Sequence[Any]) -> None:
    """:class:`qec._errors.QecError` when ``records`` (what the column's DEM or model was fitted on,
    :class:`qec._hardware._dem_provenance.FittedOn`) cover the shots of ``folder`` about to be scored in
    ``half`` (None: both halves)."""
    hit = overlapping(records, folder.name, half)
    if hit:
        other = other_half(hit[0].half)
        raise QecError(
            f"{folder.path}: {column} was fitted on {hit[0].describe()}; score only shots it never saw "
            f"(--half {other})"
        )


def score_folder(
    folder: ExperimentFolder | str | os.PathLike,
    columns: Sequence[Column],
    *,
    max_shots: int | None = None,
    custom_decoders: Mapping[str, CustomDecoder] | None = None,
    half: str | None = None,
) -> FolderScore:
    """Every column on the first ``max_shots`` shots (all when None) of one folder; with
    ``half`` (``"even"`` or ``"odd"``) only that half of them."""
    if not isinstance(folder, ExperimentFolder):
        folder = read_experiment_folder(folder)
    prepared = _Prepared(folder, columns, max_shots, custom_decoders, half)
    return _score(folder, prepared.shots, prepared.decode(), half=half)


def _score(folder: ExperimentFolder, shots: int, counts: Mapping[str, ColumnCounts], from_csv: bool = False,
           half: str | None = None):
    return FolderScore(folder=folder, shots=shots, decoders=dict(counts), from_csv=from_csv, half=half)


def _rows(score: FolderScore, ids: Mapping[str, str], skip: Iterable[str] = ()) -> list[sinter.TaskStats]:
    skip = set(skip)
    return [
        sinter.TaskStats(
            strong_id=ids[name], decoder=name, json_metadata=dict(c.metadata), shots=c.shots, errors=c.errors,
            discards=0, seconds=c.seconds,
            custom_counts=collections.Counter({PAIR_KEY + b: v for b, v in c.only_fails.items()}),
        )
        for name, c in score.decoders.items() if ids[name] not in skip
    ]


def _folder_job(path: str, columns, max_shots, custom_decoders, held: Mapping[str, sinter.TaskStats],
                half: str | None = None):
    """(score, strong ids): decoded, or taken from CSV rows ``held`` when they hold every column."""
    folder = read_experiment_folder(path)
    prepared = _Prepared(folder, columns, max_shots, custom_decoders, half)
    rows = {name: held.get(sid) for name, sid in prepared.ids.items()}
    if all(r is not None and r.shots == prepared.shots for r in rows.values()):
        counts = {
            name: ColumnCounts(
                errors=r.errors, shots=r.shots, seconds=r.seconds, metadata=prepared.meta[name],
                only_fails={k[len(PAIR_KEY):]: int(v) for k, v in r.custom_counts.items() if k.startswith(PAIR_KEY)},
            )
            for name, r in rows.items()
        }
        return _score(folder, prepared.shots, counts, from_csv=True, half=half), prepared.ids
    return _score(folder, prepared.shots, prepared.decode(), half=half), prepared.ids


def score_hardware(
    folders: Sequence[str | os.PathLike],
    columns: Sequence[Column],
    *,
    max_shots: int | None = None,
    custom_decoders: Mapping[str, CustomDecoder] | None = None,
    workers: int = 1,
    out: str | os.PathLike | None = None,
    on_folder: Callable[[FolderScore], None] | None = None,
    min_rounds: int = MIN_ROUNDS,
    bootstrap: int = 1000,
    seed: int = 0,
    half: str | None = None,
) -> HardwareScores:
    """Every column on every folder (``folders`` in the folders' order), then each patch's error
    per round from them (:func:`fit_patches`).

    Args:
        folders: experiment folders (checked before any decoding).
        columns: from :func:`hardware_columns`.
        max_shots: the first N shots of each folder (halves split the same way); None = all.
        custom_decoders: decoders beyond qec's own (as :func:`qec._collection._ler.collect_ler` takes them).
        workers: processes; folders are decoded one per process, the largest first.
        out: sinter CSV: every finished folder's rows are appended at once; folders it already
            holds (every column, the same shots) are read from it, not decoded again.
        on_folder: called with each folder's score as it finishes (in finishing order).
        min_rounds, bootstrap, seed: the patches' decay fits (:func:`fit_patches`).
        half: score only this half (``"even"`` or ``"odd"``, by shot index) of each folder's
            first ``max_shots`` shots; DEMs fitted per half are then fitted on the other one.

    A column whose DEM or model says it was fitted on some of the shots to be scored (its
    ``fitted_on`` records, :mod:`qec._hardware._dem_provenance`) is refused with a :class:`qec._errors.QecError` before
    anything is decoded... of that folder.
    """
    if workers < 1:
        raise QecError(f"workers must be >= 1, got {workers}")
    if max_shots is not None and max_shots < 1:
        raise QecError(f"max_shots must be >= 1, got {max_shots}")
    if half is not None and half not in HALVES:
        raise QecError(f"half must be one of {', '.join(HALVES)}, got {half!r}")
    opened = [read_experiment_folder(f) for f in folders]
    names = [f.path for f in opened]
    if len(set(map(os.path.realpath, names))) != len(names):
        raise QecError("a folder is listed twice")
    check_columns(opened, columns, custom_decoders, half)
    sink = CsvSink(None if out is None else os.fspath(out))
    try:
        held = {} if out is None else read_csv_stats(out)
        results: dict[str, FolderScore] = {}

        def finish(score: FolderScore, ids: Mapping[str, str]) -> None:
            if not score.from_csv:
                sink.write(_rows(score, ids, skip=held))
            results[score.folder.path] = score
            if on_folder is not None:
                on_folder(score)

        order = sorted(opened, key=lambda f: -f.num_detectors)
        if workers == 1:
            for f in order:
                finish(*_folder_job(f.path, columns, max_shots, custom_decoders, held, half))
        else:
            from qec._runtime._worker_processes import worker_pool

            with worker_pool(workers) as pool:
                futures = {pool.submit(_folder_job, f.path, columns, max_shots, custom_decoders, held, half): f
                           for f in order}
                try:
                    for fut in concurrent.futures.as_completed(futures):
                        finish(*fut.result())
                finally:
                    for fut in futures:
                        fut.cancel()
    finally:
        sink.close()
    scores = [results[p] for p in names]
    return HardwareScores(folders=tuple(scores),
                          patches=tuple(fit_patches(scores, min_rounds=min_rounds, bootstrap=bootstrap, seed=seed)))


# ---------------------------------------------------------------------------------------------
# Patches.


def fit_patches(
    folders: Sequence[FolderScore], *, min_rounds: int = MIN_ROUNDS, bootstrap: int = 1000, seed: int = 0
) -> list[PatchScore]:
    """Each patch's error per round, per column present on all its folders: the decay fit over
    the folders with at least ``min_rounds`` rounds, with a bootstrap-over-shots interval
    (:func:`qec._data._statistics.fit_decay_interval`). Patches in first-seen order."""
    by_patch: dict[tuple, list[FolderScore]] = {}
    for f in folders:
        by_patch.setdefault(f.patch, []).append(f)
    out = []
    for (d, center, basis), group in by_patch.items():
        used = sorted((f for f in group if f.folder.rounds >= min_rounds), key=lambda f: f.folder.rounds)
        names = [n for n in group[0].decoders if all(n in f.decoders for f in group)]
        fits = {}
        per_shot = {}
        for k, name in enumerate(names):
            fits[name] = fit_decay_interval(
                [f.folder.rounds for f in used], [f.decoders[name].errors for f in used],
                [f.decoders[name].shots for f in used], bootstrap=bootstrap, seed=seed + k,
            )
            shots = sum(f.decoders[name].shots for f in used)
            per_shot[name] = sum(f.decoders[name].seconds for f in used) / shots if shots else math.nan
        out.append(PatchScore(distance=d, center=center, basis=basis, rounds=tuple(f.folder.rounds for f in used),
                              decoders=fits, seconds_per_shot=per_shot))
    return out
