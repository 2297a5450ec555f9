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
import os
import secrets
from typing import Any, Mapping, Sequence

from qec._runtime._arguments import whole_number
from qec._circuits._memory_experiment import MemoryExperiment
from qec._decoding._decoders import CustomDecoder, decoder_factory
from qec._errors import QecError
from qec._collection._ler_jobs import Job, JobRunner, PointSpec, run_job
from qec._collection._ler_points import Point
from qec._collection._ler_result import PAIR_KEY, LerResult, LerTask
from qec._runtime._memory_estimate import PROCESS_BYTES, check_fits, detectors, point_bytes
from qec._runtime._progress import progress_bar
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
            points = [Point(i, t, existing, seed, fresh_seed, custom_decoders) for i, t in enumerate(tasks)]
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
        points = [Point(i, t, existing, seed, fresh_seed, custom_decoders, metadata[i]) for i, t in enumerate(tasks)]
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


def _commit(point: Point, job: Job, out: Mapping[str, Any], sink: CsvSink, bar) -> None:
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
