"""Logical-error-rate collection: several decoders compared on the same sampled shots.

For every point (a :class:`LerTask`: a memory experiment and the decoders to compare) the engine
samples bit-packed detection events with Stim, runs every decoder on the same shots and counts a
shot as failed when any observable prediction differs from the sampled observable, until each
decoder has ``max_shots`` shots or ``max_errors`` errors.

Shots: each point has a shot stream (:class:`qec._collection._shot_stream.ShotStream`): batch k is a function of
(base seed, the point's circuit, k) alone, and every decoder's shots are a prefix of it. So a
decoder added later, or another variant (threshold, model, DEM) of one, decodes exactly the shots
the others decoded; the decoders that already have those shots decode them again beside it, for
the paired counts only (their rows add no shots or errors). Paired counts are kept per decoder
*variant* (:mod:`qec._collection._pairing`), so every comparison the report prints is between decoders that
decoded the same shots, and satisfies errors(A) - errors(B) = only(A vs B) - only(B vs A).

Results are sinter ``TaskStats`` rows, appended to a sinter CSV one finished job at a time, in the
order the jobs were issued (so an interruption never leaves a gap in a decoder's prefix), whole or
not at all. ``sinter plot`` / ``sinter combine`` read the file. Re-running a collection resumes:
what the CSV holds for a strong id counts toward the targets and the stream continues after it;
the point's stream (its base seed) is the one the CSV recorded. For a fixed seed and
``max_shots``, ``workers=N`` and ``cluster=`` write the same rows as ``workers=1`` (but for their
seconds): the jobs (:mod:`qec._collection._ler_jobs`) go to an executor, the local process pool or a Dask
cluster (:mod:`qec._collection._cluster`), and come back into the one loop below.

Example:
    >>> from qec import MemoryExperiment
    >>> from qec._collection._ler import LerTask, collect_ler
    >>> task = LerTask(MemoryExperiment(distance=3, rounds=3, p=0.001), ("pymatching",))
    >>> [r.shots for r in collect_ler([task], max_shots=2000, seed=1)]
    [2000]
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import secrets
from collections import Counter
from typing import Any, Mapping, Sequence

import sinter

from qec._runtime._arguments import whole_number
from qec._circuits._memory_experiment import MemoryExperiment
from qec._decoding._decoders import CustomDecoder, decoder_factory
from qec._errors import QecError
from qec._collection._ler_jobs import Job, JobRunner, PointSpec, run_job
from qec._collection._ler_result import PAIR_KEY, LerResult, LerTask
from qec._runtime._memory_estimate import PROCESS_BYTES, check_fits, detectors, point_bytes
from qec._collection._pairing import only_key, shared_key, stream_seeds
from qec._runtime._progress import progress_bar
from qec._collection._shot_stream import FIRST_BATCH, MIN_BATCH, ShotStream
from qec._data._stats_csv import CsvLockedError, CsvSink, check_writable, read_csv_stats, strong_id
from qec._data._statistics import CONFIDENCE_95_LIKELIHOOD_FACTOR, per_round
from qec._runtime._worker_processes import stop_workers, worker_pool

# Names this module has always offered.
__all__ = [
    "CONFIDENCE_95_LIKELIHOOD_FACTOR", "CsvLockedError", "LerResult", "LerTask", "PAIR_KEY", "check_writable",
    "collect_ler", "per_round", "read_csv_stats", "strong_id",
]


_WORKER_RUNNER = JobRunner()


def _worker_init(specs) -> None:
    global _WORKER_RUNNER
    _WORKER_RUNNER = JobRunner(specs)


def _worker_job(job: Job) -> dict[str, Any]:
    return _WORKER_RUNNER.run(job)


# ---------------------------------------------------------------------------------------------
# The collection loop.


def _point_rows(existing: Mapping[str, sinter.TaskStats], experiment: MemoryExperiment) -> list[sinter.TaskStats]:
    """The CSV's rows of ``experiment``'s point, whatever their decoder (by the experiment's
    metadata: d, r, p, basis, noise and its version, scaled qubits, parameters)."""
    want = experiment.json_metadata()
    keys = ("d", "r", "p", "b", "noise", "noise_version", "scale", "params")
    return [s for s in existing.values() if isinstance(s.json_metadata, dict)
            and all(s.json_metadata.get(k) == want.get(k) for k in keys)]


def _point_seed(experiment: MemoryExperiment, rows: Sequence[sinter.TaskStats], seed: int | None,
                fresh_seed: int) -> int:
    """The base seed of a point's stream: the one its rows in the CSV were collected with (a
    given ``seed`` must be it), else ``seed``, else ``fresh_seed``."""
    recorded = set().union(*(stream_seeds(s.custom_counts) for s in rows)) if rows else set()
    where = f"the d={experiment.distance}, r={experiment.rounds}, p={experiment.p:g} {experiment.basis} point"
    if seed is not None:
        if recorded and int(seed) not in recorded:
            raise QecError(f"the CSV holds {where}'s shots of seed {', '.join(map(str, sorted(recorded)))}, not "
                             f"{seed}: give that seed (or none) to continue its shots, or another --out")
        return int(seed)
    if len(recorded) > 1:
        raise QecError(f"the CSV holds {where}'s shots of seeds {', '.join(map(str, sorted(recorded)))}: "
                         f"give the one to continue")
    return next(iter(recorded)) if recorded else fresh_seed


class _Point:
    """Book-keeping for one task: its stream, each decoder's position in it, the jobs."""

    def __init__(self, index: int, task: LerTask, existing: Mapping[str, sinter.TaskStats], seed: int | None,
                 fresh_seed: int, custom_decoders: Mapping[str, CustomDecoder] | None,
                 metadata: Mapping[str, Mapping[str, Any]] | None = None):
        """``metadata``: each decoder's, as a worker built it (a cluster's collection); ``None``
        builds the decoders here."""
        self.index = index
        self.task = task
        self.circuit = task.experiment.circuit()
        self.dem = task.experiment.dem()
        self.circuit_text = str(self.circuit)
        self.dem_text = str(self.dem)
        self.names = tuple(task.decoders)
        self.factories = {n: decoder_factory(n, custom_decoders) for n in self.names}
        self.decoders: dict[str, Any] = {}
        if metadata is None:
            self.decoders = {n: f(self.circuit, self.dem) for n, f in self.factories.items()}
            metadata = {n: dict(getattr(d, "metadata", None) or {}) for n, d in self.decoders.items()}
        self.metadata = {n: dict(metadata[n]) for n in self.names}
        self.results: dict[str, LerResult] = {}
        for n in self.names:
            meta = dict(task.experiment.json_metadata())
            meta.update(self.metadata[n])
            sid = strong_id(self.circuit_text, self.dem_text, n, meta)
            r = LerResult(task.experiment, n, sid, meta)
            old = existing.get(sid)
            if old is not None:
                r.shots, r.errors, r.seconds = old.shots, old.errors, old.seconds
                r.custom_counts = Counter(old.custom_counts)
            self.results[n] = r
        for r in self.results.values():
            r.peers = [o for o in self.results.values() if o is not r]
        base = _point_seed(task.experiment, _point_rows(existing, task.experiment), seed, fresh_seed)
        self.stream = ShotStream(self.circuit, base, self.circuit_text)
        # Each decoder's shots of this stream are its prefix [0, position); issued includes jobs in flight.
        self.issued = {n: int(r.custom_counts.get(self.stream.key, 0)) for n, r in self.results.items()}
        self.inflight = {n: 0 for n in self.names}
        self.existing_shots = {n: r.shots for n, r in self.results.items()}
        self.cache: dict = {}

    def spec(self) -> PointSpec:
        """What a worker needs to rebuild this point and check it built the same decoders."""
        return PointSpec(self.task.experiment, tuple(self.factories.items()), self.metadata, self.stream.sampler)

    def wants(self, name: str, max_shots: int | None, max_errors: int | None) -> int:
        """Shots this decoder may still be given (0 when done); errors are checked on finished
        jobs only."""
        r = self.results[name]
        if max_errors is not None and r.errors >= max_errors:
            return 0
        if max_shots is None:
            return 1 << 62
        return max(0, max_shots - r.shots - self.inflight[name])

    def next_job(self, seq: int, max_shots: int | None, max_errors: int | None) -> Job | None:
        """The next shots to decode: from the position of the decoders furthest behind, to the
        end of that batch, the nearest target or the next other decoder's position (so that
        every other decoder either has all of the job's shots, and decodes them beside, or none)."""
        wants = {n: self.wants(n, max_shots, max_errors) for n in self.names}
        active = [n for n in self.names if wants[n] > 0]
        if not active:
            return None
        start = min(self.issued[n] for n in active)
        new = tuple(n for n in active if self.issued[n] == start)
        k, offset = self.stream.locate(start)
        end = min(self.stream.batch_start(k) + self.stream.batch_size(k), start + min(wants[n] for n in new),
                  *(self.issued[n] for n in self.names if self.issued[n] > start))
        if max_errors is not None:
            # Aim at the decoder that needs the most shots to reach max_errors, counting the shots
            # in flight (workers, a cluster) as done. A rate not known yet lets at most as many
            # shots be in flight as have come back (the jobs then grow as one machine's batches).
            need = 0.0
            for n in new:
                r = self.results[n]
                if r.errors == 0 and not self.inflight[n]:
                    need = math.inf
                    break
                if r.errors == 0:
                    room = max(r.shots, FIRST_BATCH) - self.inflight[n]
                else:
                    room = (max_errors - r.errors) * r.shots / r.errors * 1.1 + 1 - self.inflight[n]
                need = max(need, room)
            if need <= 0:
                return None  # wait for the jobs in flight
            if need < math.inf:
                end = min(end, start + max(MIN_BATCH, int(need)))
        companions = tuple(n for n in self.names if n not in new and self.issued[n] >= end)
        for n in new:
            self.issued[n] = end
            self.inflight[n] += end - start
        return Job(seq, self.index, k, self.stream.batch_size(k), self.stream.batch_seed(k), offset, end - start,
                    new, companions)

    def record(self, job: Job, out: Mapping[str, Any]) -> list[sinter.TaskStats]:
        """Add a finished job to the totals; its rows (the companions' with paired counts only)."""
        rows = []
        decoded = (*job.new, *job.companions)
        for n in decoded:
            r = self.results[n]
            partners = [m for m in decoded if m != n and (n in job.new or m in job.new)]
            custom = Counter()
            for m in partners:
                custom[only_key(self.results[m])] = out["pairs"][(n, m)]
                custom[shared_key(self.results[m])] = job.shots
            shots, errors, seconds = 0, 0, 0.0
            if n in job.new:
                self.inflight[n] -= job.shots
                shots, errors, seconds = job.shots, out["errors"][n], out["seconds"][n]
                custom[self.stream.key] = job.shots
            r.shots += shots
            r.errors += errors
            r.seconds += seconds
            r.custom_counts.update(custom)
            rows.append(sinter.TaskStats(
                strong_id=r.strong_id, decoder=n, json_metadata=r.json_metadata,
                shots=shots, errors=errors, discards=0, seconds=seconds, custom_counts=custom,
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
    cluster: str | None = None,
) -> list[LerResult]:
    """Collect shots for every task until each decoder has ``max_shots`` or ``max_errors``.

    Args:
        tasks: the points; all decoders of a task decode the same shots.
        max_shots: shot target per (point, decoder), existing CSV rows included; never exceeded.
        max_errors: stop a decoder once it has this many errors (checked per finished job).
        seed: base seed of the points' shot streams (batch k's seed derives from it, the circuit
            and k). A point ``out`` already holds continues the stream of the seed its rows were
            collected with: ``None`` takes it, another seed is a ``ValueError``. ``None`` for a
            new point = random.
        out: sinter CSV to append to (and resume from); ``None`` = keep results in memory only.
        workers: processes; 1 = sample and decode in this process.
        cluster: a Dask scheduler's address (``tcp://host:8786``) or ``local:N`` (a
            ``LocalCluster`` of N processes): the jobs run on its workers (:mod:`qec._collection._cluster`;
            needs ``distributed``), with the rows ``workers=1`` writes. Not with ``workers > 1``.
        progress: a bar of the shots decoded (each decoder's) on stderr (:mod:`qec._runtime._progress`).
        custom_decoders: decoders beyond :data:`qec._decoding._decoders.DECODERS`, by name: factories
            ``(circuit, dem) -> decoder`` (e.g. ``predecoder.ler_decoders()``) or ``sinter.Decoder``
            objects (e.g. ``tesseract_decoder.make_tesseract_sinter_decoders_dict()``).

    Returns:
        One :class:`LerResult` per (task, decoder), in order, with totals including what ``out``
        held before.
    """
    if max_shots is None and max_errors is None:
        raise QecError("give max_shots and/or max_errors")
    if max_shots is not None:
        max_shots = whole_number("max_shots", max_shots, minimum=0)
    if max_errors is not None:
        max_errors = whole_number("max_errors", max_errors, minimum=1)
    workers = whole_number("workers", workers, minimum=1)
    address = None
    if cluster is not None:
        from qec._collection._cluster import ClusterAddress, import_distributed

        if workers > 1:
            raise QecError("give --workers or --cluster, not both (--cluster local:N runs N worker processes here)")
        address = ClusterAddress.parse(cluster)
        import_distributed()
    if seed is not None:
        seed = whole_number("seed", seed, minimum=0)
    check_distinct_points(tasks)
    for t in tasks:
        for name in t.decoders:
            decoder_factory(name, custom_decoders)  # an unknown name fails before any sampling
    if max_shots is None:
        for t in tasks:
            if not any(i.type == "error" and i.args_copy()[0] > 0 for i in t.experiment.dem().flattened()):
                raise QecError(
                    f"the d={t.experiment.distance}, p={t.experiment.p} experiment has no noise, so "
                    f"max_errors is never reached: give max_shots"
                )
    check_tasks_fit(tasks, address.local_workers or 1 if address is not None else workers)
    sink = CsvSink(None if out is None else os.fspath(out))  # locks the CSV before reading it
    bar = None
    executor = None
    try:
        existing = {} if out is None else read_csv_stats(out)
        fresh_seed = secrets.randbits(63)
        if address is None:
            points = [_Point(i, t, existing, seed, fresh_seed, custom_decoders) for i, t in enumerate(tasks)]
        else:
            executor, points = _cluster_points(address, tasks, existing, seed, fresh_seed, custom_decoders)
        if any(p.wants(n, max_shots, max_errors) for p in points for n in p.names):
            sink.check_can_add()  # a CSV that can only be read: refused before any sampling
    except BaseException:
        if executor is not None:
            executor.stop()
        sink.close()
        raise
    total = None if max_shots is None else sum(max(0, max_shots - n) for p in points for n in p.existing_shots.values())
    if progress and total != 0:  # each decoder's shots counted; only max_errors: a count with its rate
        bar = progress_bar(total, "decoding")
    try:
        if executor is not None:
            _collect_parallel(points, sink, max_shots, max_errors, executor, bar)
        elif workers > 1:
            _collect_parallel(points, sink, max_shots, max_errors,
                              _ProcessPoolJobs(workers, [p.spec() for p in points]), bar)
        else:
            _collect_serial(points, sink, max_shots, max_errors, bar)
    except BaseException:
        if bar is not None:
            bar.leave = False  # the error's one line takes the bar's place
        raise
    finally:
        sink.close()
        if bar is not None:
            bar.close()
    return [r for p in points for r in p.results.values()]


def _cluster_points(address, tasks, existing, seed, fresh_seed, custom_decoders):
    """The Dask executor and the points, whose decoder metadata the cluster's workers report
    (this process builds no decoder: it may have no GPU where the workers have one)."""
    from qec._collection._cluster import DaskJobs, needs_gpu
    from qec._collection._shot_stream import sampler_id

    factories = [tuple((n, decoder_factory(n, custom_decoders)) for n in t.decoders) for t in tasks]
    executor = DaskJobs(address, gpu=any(needs_gpu(f) for fs in factories for _, f in fs))
    try:
        metadata = executor.describe([PointSpec(t.experiment, fs, None, sampler_id()) for t, fs in zip(tasks, factories)])
        points = [_Point(i, t, existing, seed, fresh_seed, custom_decoders, metadata[i]) for i, t in enumerate(tasks)]
        executor.use([p.spec() for p in points])
    except BaseException:
        executor.stop()
        raise
    return executor, points


def check_distinct_points(tasks: Sequence[LerTask]) -> None:
    """:class:`qec.QecError` when two tasks are the same point (as sinter refuses a task given
    twice): both would count the point's shots, and a CSV would hold them twice."""
    seen: dict[MemoryExperiment, int] = {}
    for i, t in enumerate(tasks):
        j = seen.setdefault(t.experiment, i)
        if j != i:
            e = t.experiment
            raise QecError(f"tasks {j} and {i} are the same point (d={e.distance}, r={e.rounds}, p={e.p:g}, "
                           f"{e.basis}, {e.noise}): give each point once, with all its decoders in one LerTask")


def check_tasks_fit(tasks: Sequence[LerTask], workers: int = 1) -> None:
    """:class:`qec._runtime._memory_estimate.TooLargeError` (one line, with the estimate) when the points,
    which a collection holds all at once with their decoders (this process, and each of
    ``workers`` processes when there are more than one), exceed the memory available."""
    need = sum(point_bytes(t.experiment.distance, t.experiment.rounds, t.decoders) for t in tasks)
    largest = max(tasks, key=lambda t: detectors(t.experiment.distance, t.experiment.rounds), default=None)
    if largest is None:
        return
    e = largest.experiment
    what = (f"the d={e.distance}, rounds={e.rounds} point" if len(tasks) == 1 else
            f"the {len(tasks)} points (the largest d={e.distance}, rounds={e.rounds})")
    what += f" with {len(largest.decoders)} decoder(s)"
    if workers > 1:
        need = need * (workers + 1) + PROCESS_BYTES * workers
        what += f" in this process and {workers} workers"
    check_fits(need, what, sum(detectors(t.experiment.distance, t.experiment.rounds) for t in tasks))


def _collect_serial(points, sink, max_shots, max_errors, bar) -> None:
    seq = 0
    for p in points:
        while True:
            job = p.next_job(seq, max_shots, max_errors)
            if job is None:
                break
            seq += 1
            _commit(p, job, run_job(p.circuit, p.decoders, job, p.cache), sink, bar)
        p.cache.clear()


def _commit(point: _Point, job: Job, out: Mapping[str, Any], sink: CsvSink, bar) -> None:
    sink.write(point.record(job, out))
    if bar is not None:
        bar.update(job.shots * len(job.new))


class _ProcessPoolJobs:
    """The executor of ``workers=N``: a spawned pool of N processes on this machine."""

    def __init__(self, workers: int, specs: Sequence[PointSpec]):
        self.workers = workers
        self.pool = worker_pool(workers, _worker_init, (list(specs),))
        self.futures: dict[concurrent.futures.Future, Job] = {}

    def capacity(self) -> int:
        return 2 * self.workers

    def submit(self, job: Job) -> None:
        self.futures[self.pool.submit(_worker_job, job)] = job

    def finished(self) -> list[tuple[Job, Any]]:
        done, _ = concurrent.futures.wait(self.futures, return_when=concurrent.futures.FIRST_COMPLETED)
        return [(self.futures.pop(f), f.result()) for f in done]

    def stop(self) -> None:
        stop_workers(self.pool)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def _collect_parallel(points, sink, max_shots, max_errors, executor, bar) -> None:
    """Jobs are issued in the serial order and their rows written in it (a finished job waits for
    the ones issued before it): the same rows as :func:`_collect_serial`, and never a gap in a
    decoder's prefix of the stream when the run stops. ``executor`` runs them (the local process
    pool or a Dask cluster): it holds ``capacity()`` jobs at a time, and at most four times that
    wait to be written behind a slow one."""
    try:
        finished_jobs: dict[int, tuple[Job, Any]] = {}
        issued = committed = in_flight = 0
        while True:
            limit = executor.capacity()
            for p in points:
                while in_flight < limit and issued - committed < 4 * limit:
                    job = p.next_job(issued, max_shots, max_errors)
                    if job is None:
                        break
                    issued += 1
                    in_flight += 1
                    executor.submit(job)
            if not in_flight:
                break
            for job, out in executor.finished():
                in_flight -= 1
                finished_jobs[job.seq] = (job, out)
            while committed in finished_jobs:
                job, out = finished_jobs.pop(committed)
                _commit(points[job.point], job, out, sink, bar)
                committed += 1
    except BaseException:  # Ctrl-C, a failed batch: stop now, the rows written so far are whole
        executor.stop()
        raise
    executor.close()
