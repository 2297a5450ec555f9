"""Logical-error-rate collection: several decoders compared on the same sampled shots.

For every point (a :class:`LerTask`: a memory experiment and the decoders to compare) the engine
samples bit-packed detection events with Stim, runs every decoder on the same batch and counts a
shot as failed when any observable prediction differs from the sampled observable. Batches grow
geometrically (like sinter) until each decoder has ``max_shots`` shots or ``max_errors`` errors.

Results are sinter ``TaskStats`` rows, appended to a sinter CSV one finished batch at a time and
flushed, so an interruption loses no finished batch and ``sinter plot`` / ``sinter combine`` read
the file. Re-running the same collection resumes: what the CSV already holds for a strong id
counts toward the targets, and the new batches' seeds are derived from the shots already done, so
continued shots are fresh.

Paired comparison: each row's ``custom_counts`` holds ``only_vs:<other decoder>`` = the shots of
those batches where this decoder failed and ``<other decoder>`` did not (McNemar's discordant
pairs); ``sinter combine`` sums them like the other counts.

Example:
    >>> from qec import MemoryExperiment
    >>> from qec.ler import LerTask, collect_ler
    >>> task = LerTask(MemoryExperiment(distance=3, rounds=3, p=0.001), ("pymatching",))
    >>> [r.shots for r in collect_ler([task], max_shots=2000, seed=1)]
    [2000]
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import math
import os
import secrets
import sys
import time
from collections import Counter
from typing import Any, Mapping, Sequence

import numpy as np
import sinter
import stim

from qec.circuits import MemoryExperiment
from qec.decoders import CustomDecoder, decoder_factory
from qec.ler_result import PAIR_KEY, LerResult, LerTask
from qec.memory_estimate import check_fits, detectors, point_bytes
from qec.stats_csv import CsvLockedError, CsvSink, check_writable, read_csv_stats, strong_id
from qec.statistics import CONFIDENCE_95_LIKELIHOOD_FACTOR, per_round
from qec.worker_processes import stop_workers, worker_pool

# Names this module has always offered.
__all__ = [
    "CONFIDENCE_95_LIKELIHOOD_FACTOR", "CsvLockedError", "LerResult", "LerTask", "PAIR_KEY", "check_writable",
    "collect_ler", "per_round", "read_csv_stats", "strong_id",
]

_MIN_BATCH = 256
_FIRST_BATCH = 1024
_MAX_BATCH = 1 << 16
_MAX_BATCH_BYTES = 1 << 26


# ---------------------------------------------------------------------------------------------
# Sampling and decoding of one batch (in this process or in a worker).


def _pack_predictions(pred: np.ndarray, num_observables: int) -> np.ndarray:
    pred = np.asarray(pred)
    width = (num_observables + 7) // 8
    if pred.dtype == np.uint8 and pred.ndim == 2 and pred.shape[1] == width and (
        width != num_observables or num_observables == 1
    ):
        return pred
    return np.packbits(pred.astype(bool, copy=False), axis=1, bitorder="little")


def _run_batch(
    circuit: stim.Circuit, decoders: Sequence[tuple[str, Any]], shots: int, seed: int
) -> dict[str, Any]:
    t0 = time.perf_counter()
    sampler = circuit.compile_detector_sampler(seed=seed)
    events, obs = sampler.sample(shots, separate_observables=True, bit_packed=True)
    t_sample = time.perf_counter() - t0
    fails: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    for name, dec in decoders:
        t = time.perf_counter()
        pred = _pack_predictions(dec.decode_batch(events, bit_packed=True), circuit.num_observables)
        if pred.shape != obs.shape:
            raise RuntimeError(f"decoder {name} returned predictions of shape {pred.shape}, expected {obs.shape}")
        fails[name] = np.any(pred != obs, axis=1)
        seconds[name] = time.perf_counter() - t + t_sample
    errors = {n: int(np.count_nonzero(f)) for n, f in fails.items()}
    pairs = {
        (a, b): int(np.count_nonzero(fails[a] & ~fails[b]))
        for a in fails for b in fails if a != b
    }
    return {"shots": shots, "errors": errors, "seconds": seconds, "pairs": pairs}


_WORKER_TASKS: list[tuple[MemoryExperiment, list[tuple[str, Any]]]] = []
_WORKER_CACHE: dict[int, tuple[stim.Circuit, dict[str, Any]]] = {}


def _worker_init(tasks) -> None:
    global _WORKER_TASKS
    _WORKER_TASKS = tasks
    _WORKER_CACHE.clear()


def _worker_batch(task_index: int, names: tuple[str, ...], shots: int, seed: int) -> dict[str, Any]:
    if task_index not in _WORKER_CACHE:
        # Rebuilt from the experiment, not from circuit text: Stim's text form rounds
        # probabilities to 6 digits.
        experiment, factories = _WORKER_TASKS[task_index]
        circuit, dem = experiment.circuit(), experiment.dem()
        _WORKER_CACHE[task_index] = (circuit, {n: factory(circuit, dem) for n, factory in factories})
    circuit, decs = _WORKER_CACHE[task_index]
    return _run_batch(circuit, [(n, decs[n]) for n in names], shots, seed)


# ---------------------------------------------------------------------------------------------
# The collection loop.


class _Point:
    """Book-keeping for one task."""

    def __init__(self, index: int, task: LerTask, existing: Mapping[str, sinter.TaskStats], base_seed: int,
                 custom_decoders: Mapping[str, CustomDecoder] | None):
        self.index = index
        self.task = task
        self.circuit = task.experiment.circuit()
        self.dem = task.experiment.dem()
        self.circuit_text = str(self.circuit)
        self.dem_text = str(self.dem)
        self.factories = {n: decoder_factory(n, custom_decoders) for n in task.decoders}
        self.decoders = {n: f(self.circuit, self.dem) for n, f in self.factories.items()}
        self.results: dict[str, LerResult] = {}
        for n, dec in self.decoders.items():
            meta = dict(task.experiment.json_metadata())
            meta.update(getattr(dec, "metadata", None) or {})
            sid = strong_id(self.circuit_text, self.dem_text, n, meta)
            r = LerResult(task.experiment, n, sid, meta)
            old = existing.get(sid)
            if old is not None:
                r.shots, r.errors, r.seconds = old.shots, old.errors, old.seconds
                r.custom_counts = Counter(old.custom_counts)
            self.results[n] = r
        self.inflight: dict[str, int] = {n: 0 for n in self.decoders}
        self.existing_shots = {n: r.shots for n, r in self.results.items()}
        # Seeds come from (base seed, circuit, shot offset); the offset starts after the shots
        # already collected, so resumed collections never repeat a batch.
        self.offset = max(self.existing_shots.values())
        self.seed_key = hashlib.sha256(f"{base_seed}\0{self.circuit_text}".encode()).digest()
        self.batch = _FIRST_BATCH
        bytes_per_shot = (self.circuit.num_detectors + 7) // 8 + 1
        self.max_batch = max(_MIN_BATCH, min(_MAX_BATCH, _MAX_BATCH_BYTES // bytes_per_shot))

    def wants(self, name: str, max_shots: int | None, max_errors: int | None) -> int:
        """Shots this decoder may still be given (0 when done); errors are checked on finished
        batches only."""
        r = self.results[name]
        if max_errors is not None and r.errors >= max_errors:
            return 0
        if max_shots is None:
            return 1 << 62
        return max(0, max_shots - r.shots - self.inflight[name])

    def active(self, max_shots, max_errors) -> list[str]:
        return [n for n in self.decoders if self.wants(n, max_shots, max_errors) > 0]

    def done(self, max_shots, max_errors) -> bool:
        return not self.active(max_shots, max_errors) and not any(self.inflight.values())

    def next_job(self, max_shots, max_errors) -> tuple[tuple[str, ...], int, int] | None:
        names = tuple(self.active(max_shots, max_errors))
        if not names:
            return None
        shots = min(self.batch, self.max_batch, *(self.wants(n, max_shots, max_errors) for n in names))
        if max_errors is not None:
            # Aim at the decoder that needs the most shots to reach max_errors.
            need = 0.0
            for n in names:
                r = self.results[n]
                if r.errors == 0:
                    need = math.inf
                    break
                need = max(need, (max_errors - r.errors) * r.shots / r.errors)
            if need < math.inf:
                shots = min(shots, max(_MIN_BATCH, int(need * 1.1) + 1))
        self.batch = min(self.batch * 2, self.max_batch)
        seed = int.from_bytes(
            hashlib.sha256(self.seed_key + self.offset.to_bytes(8, "little")).digest()[:8], "little"
        ) >> 1
        self.offset += shots
        for n in names:
            self.inflight[n] += shots
        return names, shots, seed

    def record(self, names: tuple[str, ...], out: Mapping[str, Any]) -> list[sinter.TaskStats]:
        rows = []
        shots = out["shots"]
        for n in names:
            self.inflight[n] -= shots
            r = self.results[n]
            custom = Counter({
                PAIR_KEY + b: out["pairs"][(a, b)] for (a, b) in out["pairs"] if a == n
            })
            r.shots += shots
            r.errors += out["errors"][n]
            r.seconds += out["seconds"][n]
            r.custom_counts.update(custom)
            rows.append(sinter.TaskStats(
                strong_id=r.strong_id, decoder=n, json_metadata=r.json_metadata,
                shots=shots, errors=out["errors"][n], discards=0, seconds=out["seconds"][n],
                custom_counts=custom,
            ))
        return rows


def collect_ler(
    tasks: Sequence[LerTask],
    *,
    max_shots: int | None = None,
    max_errors: int | None = None,
    seed: int | None = None,
    out: str | os.PathLike | None = None,
    workers: int = 1,
    progress: bool = False,
    custom_decoders: Mapping[str, CustomDecoder] | None = None,
) -> list[LerResult]:
    """Collect shots for every task until each decoder has ``max_shots`` or ``max_errors``.

    Args:
        tasks: the points; all decoders of a task decode the same shots.
        max_shots: shot target per (point, decoder), existing CSV rows included; never exceeded.
        max_errors: stop a decoder once it has this many errors (checked per finished batch).
        seed: base seed; batch seeds derive from it, the circuit and the shot offset. ``None`` =
            random.
        out: sinter CSV to append to (and resume from); ``None`` = keep results in memory only.
        workers: processes; 1 = sample and decode in this process.
        progress: tqdm bar on stderr.
        custom_decoders: decoders beyond :data:`qec.decoders.DECODERS`, by name: factories
            ``(circuit, dem) -> decoder`` (e.g. ``predecoder.ler_decoders()``) or ``sinter.Decoder``
            objects (e.g. ``tesseract_decoder.make_tesseract_sinter_decoders_dict()``).

    Returns:
        One :class:`LerResult` per (task, decoder), in order, with totals including what ``out``
        held before.
    """
    if max_shots is None and max_errors is None:
        raise ValueError("give max_shots and/or max_errors")
    if max_shots is not None and max_shots < 0 or max_errors is not None and max_errors < 1:
        raise ValueError("max_shots must be >= 0 and max_errors >= 1")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    for t in tasks:
        for name in t.decoders:
            decoder_factory(name, custom_decoders)  # an unknown name fails before any sampling
    if max_shots is None:
        for t in tasks:
            if not any(i.type == "error" and i.args_copy()[0] > 0 for i in t.experiment.dem().flattened()):
                raise ValueError(
                    f"the d={t.experiment.distance}, p={t.experiment.p} experiment has no noise, so "
                    f"max_errors is never reached: give max_shots"
                )
    check_tasks_fit(tasks)
    sink = CsvSink(None if out is None else os.fspath(out))  # locks the CSV before reading it
    bar = None
    try:
        existing = {} if out is None else read_csv_stats(out)
        base_seed = secrets.randbits(63) if seed is None else int(seed)
        points = [_Point(i, t, existing, base_seed, custom_decoders) for i, t in enumerate(tasks)]
    except BaseException:
        sink.close()
        raise
    if progress and max_shots is not None:
        try:
            from tqdm import tqdm

            total = sum(max(0, max_shots - min(p.existing_shots.values())) for p in points)
            bar = tqdm(total=total, unit="shot", file=sys.stderr, disable=not sys.stderr.isatty())
        except ImportError:
            bar = None
    try:
        if workers == 1:
            _collect_serial(points, sink, max_shots, max_errors, bar)
        else:
            _collect_parallel(points, sink, max_shots, max_errors, workers, bar)
    finally:
        sink.close()
        if bar is not None:
            bar.close()
    return [r for p in points for r in p.results.values()]


def check_tasks_fit(tasks: Sequence[LerTask]) -> None:
    """:class:`qec.memory_estimate.TooLargeError` (one line, with the estimate) when the points,
    which a collection holds all at once with their decoders, exceed the memory available."""
    need = sum(point_bytes(t.experiment.distance, t.experiment.rounds, t.decoders) for t in tasks)
    largest = max(tasks, key=lambda t: detectors(t.experiment.distance, t.experiment.rounds), default=None)
    if largest is None:
        return
    e = largest.experiment
    what = (f"the d={e.distance}, rounds={e.rounds} point" if len(tasks) == 1 else
            f"the {len(tasks)} points (the largest d={e.distance}, rounds={e.rounds})")
    check_fits(need, f"{what} with {len(largest.decoders)} decoder(s)",
               sum(detectors(t.experiment.distance, t.experiment.rounds) for t in tasks))


def _collect_serial(points, sink, max_shots, max_errors, bar) -> None:
    for p in points:
        while True:
            job = p.next_job(max_shots, max_errors)
            if job is None:
                break
            names, shots, seed = job
            res = _run_batch(p.circuit, [(n, p.decoders[n]) for n in names], shots, seed)
            sink.write(p.record(names, res))
            if bar is not None:
                bar.update(shots)


def _collect_parallel(points, sink, max_shots, max_errors, workers, bar) -> None:
    specs = [(p.task.experiment, list(p.factories.items())) for p in points]
    pool = worker_pool(workers, _worker_init, (specs,))
    try:
        pending: dict[concurrent.futures.Future, tuple[_Point, tuple[str, ...]]] = {}
        while True:
            for p in points:
                while len(pending) < 2 * workers:
                    job = p.next_job(max_shots, max_errors)
                    if job is None:
                        break
                    names, shots, seed = job
                    fut = pool.submit(_worker_batch, p.index, names, shots, seed)
                    pending[fut] = (p, names)
            if not pending:
                break
            finished, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
            for fut in finished:
                p, names = pending.pop(fut)
                res = fut.result()
                sink.write(p.record(names, res))
                if bar is not None:
                    bar.update(res["shots"])
    except BaseException:  # Ctrl-C, a failed batch: stop now, the rows written so far are whole
        stop_workers(pool)
        raise
    pool.shutdown(wait=True)
