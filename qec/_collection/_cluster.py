"""LER collection on a Dask cluster (``qec ler --cluster ADDRESS``, ``collect_ler(cluster=...)``).

The engine is Dask's (``distributed``): a job of :mod:`qec._collection._ler_jobs` (a batch of one point, with
the batch's seed in it) is one Dask task; the collecting process issues the jobs in the order a
one-machine run issues them and writes their rows in that order as they come back, so a fixed seed
and ``max_shots`` give the rows of ``workers=1`` (but for their seconds). A task lost with its
worker is recomputed by Dask and its result is counted once, when it comes back. ``ADDRESS`` is a
scheduler's address (``tcp://host:8786``: Slurm, PBS, SSH, Kubernetes, ...; docs/cluster.md) or
``local:N``, a ``LocalCluster`` of N single-threaded worker processes on this machine.

Workers rebuild each point from its :class:`qec._collection._ler_jobs.PointSpec`, sent as pickled bytes that
only a worker unpickles: a worker that lacks a module or a model file fails with one line naming
it (:class:`qec._collection._ler_jobs.WorkerSetupError`). The scheduler needs this project installed (Dask
unpickles tasks there). A job that runs a decoder on a CUDA device (the pre-decoder with
``device="cuda"``) asks for the worker resource ``GPU`` (a worker started with ``--resources
GPU=1`` takes it); the others go to any worker. The collecting process never builds a decoder: a
worker reports each point's decoder metadata first (:meth:`DaskJobs.describe`), so a client
without a GPU can run a GPU sweep.

Example:
    >>> ClusterAddress.parse("local:2"), str(ClusterAddress.parse("tcp://10.0.0.5:8786"))
    (ClusterAddress(scheduler=None, local_workers=2), 'tcp://10.0.0.5:8786')
    >>> ClusterAddress.parse("10.0.0.5")
    Traceback (most recent call last):
    ...
    qec._errors.QecError: --cluster takes a scheduler address such as tcp://host:8786, or local:N, not '10.0.0.5'
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pickle
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from typing import Any, Mapping, Sequence

from qec._errors import QecError
from qec._collection._ler_jobs import Job, JobRunner, PointSpec, WorkerSetupError, setup_error

EXTRA = "pip install -e '.[cluster]'"
GPU = "GPU"  # the worker resource a CUDA decoder's jobs ask for


@dataclasses.dataclass(frozen=True)
class ClusterAddress:
    """Where the jobs run: a Dask scheduler (``scheduler``, e.g. ``tcp://host:8786``) or a
    ``LocalCluster`` of ``local_workers`` processes started here."""

    scheduler: str | None
    local_workers: int | None

    @classmethod
    def parse(cls, text: str) -> "ClusterAddress":
        """``tcp://host:port`` (any Dask scheme: tls, ucx, ws, inproc) or ``local:N``; else ``QecError``."""
        text = str(text).strip()
        m = re.fullmatch(r"local:(\d+)", text)
        if m:
            n = int(m.group(1))
            if n < 1:
                raise QecError(f"--cluster local:N needs N >= 1, got {text!r}")
            return cls(None, n)
        if re.fullmatch(r"[a-z][a-z0-9+]*://\S+", text):
            if _host_port(text) is None and urllib.parse.urlsplit(text).scheme in TCP_SCHEMES:
                raise QecError(f"--cluster {text}: give the scheduler as tcp://host:port, the port a number "
                               f"from 1 to 65535")
            return cls(text, None)
        raise QecError(f"--cluster takes a scheduler address such as tcp://host:8786, or local:N, not {text!r}")

    def __str__(self) -> str:
        return self.scheduler if self.scheduler is not None else f"local:{self.local_workers}"


# Schemes whose address is host:port over TCP (the others, ucx and inproc, are not probed).
TCP_SCHEMES = ("tcp", "tls", "ws", "wss")
DEFAULT_PORT = 8786


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a TCP scheduler address (Dask's default port when none is given); None
    when the address has no host or its port is not a number from 1 to 65535."""
    parts = urllib.parse.urlsplit(address)
    try:
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or (port is not None and port < 1):
        return None
    return parts.hostname, port or DEFAULT_PORT


def check_reachable(address: str, timeout: float = 10.0) -> None:
    """:class:`qec.QecError` at once when nothing accepts a connection at a TCP scheduler address
    (a refused connection is not waited on for the client's timeout); other schemes pass."""
    if urllib.parse.urlsplit(address).scheme not in TCP_SCHEMES:
        return
    host, port = _host_port(address)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except ConnectionRefusedError:
        raise QecError(f"--cluster {address}: connection refused: no Dask scheduler listens there (start one "
                       f"with `dask scheduler`, or give its address)") from None
    except OSError as e:
        raise QecError(f"--cluster {address}: cannot connect: {e.strerror or e}") from None


def import_distributed():
    """The ``distributed`` module; ``QecError`` naming the extra that brings it when it is missing."""
    try:
        import distributed
    except ImportError:
        raise QecError(f"--cluster needs the distributed package (the [cluster] extra): {EXTRA}") from None
    return distributed


def needs_gpu(factory: Any) -> bool:
    """Whether decoders made by ``factory`` run on a CUDA device: a factory whose ``device`` is
    ``cuda`` or ``cuda:N`` (the pre-decoder's, ``predecoder._decoders.PipelineDecoderFactory``), or
    one that wraps such a factory in ``decoder`` (:class:`qec._decoding._decoders.WithDem`). ``auto`` asks for
    nothing: it takes a GPU where the worker has one.

    >>> from qec._decoding._decoders import DECODERS
    >>> needs_gpu(DECODERS["pymatching"])
    False
    """
    device = getattr(factory, "device", None)
    if device is not None:
        return str(device).startswith("cuda")
    inner = getattr(factory, "decoder", None)
    return inner is not None and inner is not factory and needs_gpu(inner)


def job_resources(gpu_decoders: frozenset[str], names: Sequence[str]) -> dict[str, int] | None:
    """The Dask resources of a task that runs decoders ``names``: one GPU when one of them is in
    ``gpu_decoders``, else none (any worker).

    >>> job_resources(frozenset({"predecoder"}), ("predecoder", "pymatching")), job_resources(frozenset(), ("pymatching",))
    ({'GPU': 1}, None)
    """
    return {GPU: 1} if any(n in gpu_decoders for n in names) else None


# ---------------------------------------------------------------------------------------------
# On a worker.

_WORKER = threading.local()  # each worker thread keeps its own decoders (a decoder may not be thread-safe)
_KEEP_COLLECTIONS = 2


def _where() -> str:
    try:
        from distributed import get_worker

        return f"Dask worker {get_worker().address}"
    except (ImportError, ValueError):
        return "a Dask worker"


def _load_spec(data: bytes, where: str) -> PointSpec:
    try:
        return pickle.loads(data)
    except Exception as e:
        raise setup_error(where, "loading the sweep's decoders", e) from None


def _runner(token: str) -> JobRunner:
    runners: dict[str, JobRunner] = getattr(_WORKER, "runners", None) or {}
    _WORKER.runners = runners
    if token not in runners:
        while len(runners) >= _KEEP_COLLECTIONS:  # an earlier collection's decoders are let go
            runners.pop(next(iter(runners)))
        runners[token] = JobRunner(where=_where())
    return runners[token]


def run_on_worker(token: str, point: int, spec: bytes, job: Job | None) -> dict[str, Any]:
    """The Dask task: ``job`` of collection ``token`` (its results, :func:`qec._collection._ler_jobs.run_job`),
    or with ``job=None`` point ``point``'s decoder metadata (built once, then let go)."""
    if job is None:
        runner = JobRunner(where=_where())
        runner.add(point, _load_spec(spec, runner.where))
        return runner.describe(point)
    runner = _runner(token)
    if not runner.has(point):
        runner.add(point, _load_spec(spec, runner.where))
    return runner.run(job)


# ---------------------------------------------------------------------------------------------
# In the collecting process.


def _one_line(e: BaseException, distributed) -> BaseException:
    """A task's failure as the one-line error the CLI prints, where it is one of the known kinds."""
    if isinstance(e, WorkerSetupError):
        return e
    cause = e if isinstance(e, ImportError) else e.__cause__
    if isinstance(cause, ImportError):
        where = "the Dask scheduler" if "task graph" in str(e) else "a Dask worker"
        return setup_error(where, "loading a qec task", cause)
    if isinstance(e, distributed.KilledWorker):
        return QecError(f"Dask gave up on a batch: the workers that ran it died ({e}); out of memory? "
                          f"see the workers' logs")
    return e


class DaskJobs:
    """The executor of ``cluster=``, with the interface of ``qec._collection._ler``'s local process pool:
    ``capacity()`` jobs in flight, ``submit(job)``, ``finished()`` (the jobs done since the last
    call, with their results; blocks until there is one), ``stop()`` and ``close()``."""

    def __init__(self, address: ClusterAddress | str, *, gpu: bool = False, timeout: float = 30.0):
        distributed = import_distributed()
        self.distributed = distributed
        # Dask's client logs its failures (a lost scheduler, with tracebacks) on stderr, and so does
        # the tornado loop under it ("Exception in callback ... StreamClosedError"): the collection
        # reports them as one line instead, so their logs are quiet while it runs.
        self._log_levels = {**_quiet_logs("distributed"), **_quiet_logs("tornado")}
        self.address = address if isinstance(address, ClusterAddress) else ClusterAddress.parse(address)
        self.cluster = None
        if self.address.local_workers is not None:
            # A local cluster's workers share this machine's GPUs: each may take the GPU jobs.
            self.cluster = distributed.LocalCluster(
                n_workers=self.address.local_workers, threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=logging.ERROR, resources={GPU: 1} if gpu else None)
        try:
            if self.cluster is None:
                check_reachable(self.address.scheduler, timeout)
            self.client = distributed.Client(self.cluster if self.cluster is not None else self.address.scheduler,
                                             timeout=timeout)
        except BaseException:
            if self.cluster is not None:
                self.cluster.close()
            _restore_logs(self._log_levels)
            raise
        self.token = uuid.uuid4().hex
        self.specs: list[bytes] = []
        self.gpu_decoders: list[frozenset[str]] = []
        self.futures: dict[Any, Job] = {}  # future -> job
        self.completed = distributed.as_completed(loop=self.client.loop, with_results=True)
        self._capacity = (0.0, 2)

    def describe(self, specs: Sequence[PointSpec]) -> list[dict[str, dict[str, Any]]]:
        """Each point's decoder metadata, as a worker builds them (on a GPU worker where a decoder
        needs one); also where a worker's missing module or file shows first."""
        self.use(specs)
        if any(self.gpu_decoders) and not any(GPU in (w.get("resources") or {}) for w in self._workers_info()):
            print(f"qec: waiting for a Dask worker with the resource {GPU} (a worker started with --resources "
                  f"{GPU}=1) for the decoders on a CUDA device", file=sys.stderr)
        futures = [self.client.submit(run_on_worker, self.token, i, data, None, key=f"qec-describe-{self.token}-{i}",
                                      resources=job_resources(gpu, gpu))
                   for i, (data, gpu) in enumerate(zip(self.specs, self.gpu_decoders))]
        try:
            return self.client.gather(futures)
        except Exception as e:
            raise _one_line(e, self.distributed) from None

    def use(self, specs: Sequence[PointSpec]) -> None:
        """The points the jobs belong to (a job names its point by index)."""
        import cloudpickle  # distributed's own dependency: it pickles what plain pickle cannot

        self.specs = [cloudpickle.dumps(s) for s in specs]
        self.gpu_decoders = [frozenset(n for n, f in s.factories if needs_gpu(f)) for s in specs]

    def _workers_info(self) -> list[dict[str, Any]]:
        try:
            info = self.client.scheduler_info(n_workers=-1)  # all of them (newer versions list 5 by default)
        except TypeError:
            info = self.client.scheduler_info()
        return list(info["workers"].values())

    def workers(self) -> dict[str, int]:
        """Worker address -> threads."""
        return dict(self.client.nthreads())

    def capacity(self) -> int:
        """Jobs in flight: two per worker thread (asked of the scheduler at most once a second;
        at least two, so that a sweep waits in the queue for workers that are still starting)."""
        asked, n = self._capacity
        if time.monotonic() - asked > 1.0:
            n = max(2, 2 * sum(self.workers().values()))
            self._capacity = (time.monotonic(), n)
        return n

    def submit(self, job: Job) -> None:
        """Send ``job`` to the cluster (with the GPU resource its decoders need)."""
        names = (*job.new, *job.companions)
        future = self.client.submit(run_on_worker, self.token, job.point, self.specs[job.point], job,
                                    key=f"qec-ler-{self.token}-{job.point}-{job.seq}",
                                    resources=job_resources(self.gpu_decoders[job.point], names))
        self.futures[future] = job
        self.completed.add(future)

    def finished(self) -> list[tuple[Job, Mapping[str, Any]]]:
        """The jobs finished since the last call, with their results (waits for at least one)."""
        try:
            batch = self.completed.next_batch(block=True)
        except Exception as e:
            raise _one_line(e, self.distributed) from None
        out = []
        for future, result in batch:
            if future.status != "finished" or isinstance(result, BaseException):
                raise QecError(f"the Dask cluster {self.address} lost a batch ({future.status}): did its scheduler "
                               f"stop? The CSV holds every finished batch: the same command resumes the sweep")
            out.append((self.futures.pop(future), result))
            future.release()
        return out

    def stop(self) -> None:
        """Now (Ctrl-C, a failed batch): cancel what is in flight and let go of the cluster; a
        local cluster's worker processes are killed, not waited for (their batches are dropped)."""
        if self.cluster is not None:
            for nanny in list(self.cluster.workers.values()):
                pid = getattr(getattr(getattr(nanny, "process", None), "process", None), "pid", None)
                if pid:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
        else:
            with contextlib.suppress(Exception):  # the scheduler may be gone already
                if self.futures:
                    self.client.cancel(list(self.futures), force=True)
        self.futures.clear()
        self.close()

    def close(self) -> None:
        """Drop pending results and close the client (and a LocalCluster this started)."""
        self.completed.clear()
        try:
            self.client.close(timeout=10)
        finally:
            try:
                if self.cluster is not None:
                    self.cluster.close(timeout=10)
            finally:
                _restore_logs(self._log_levels)


def _quiet_logs(prefix: str) -> dict[str, int]:
    """Raise every ``prefix`` logger to CRITICAL; their levels before (for :func:`_restore_logs`)."""
    names = [prefix, *(n for n in logging.root.manager.loggerDict if n.startswith(prefix + "."))]
    levels = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.CRITICAL)
    return levels


def _restore_logs(levels: dict[str, int]) -> None:
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
