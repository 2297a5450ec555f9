"""The unit of work of an LER collection (:mod:`qec._collection._ler`): a job, shots [offset, offset + shots)
of batch k of one point's shot stream, decoded by the decoders the job names; and the runner that
does it wherever the job lands: in the collecting process, in a local worker process
(``--workers``) or on a Dask worker (``--cluster``, :mod:`qec._collection._cluster`).

A job carries its batch's seed, so its result depends on nothing but the job and the point's
circuit and decoders. A worker rebuilds those from a :class:`PointSpec` (the experiment, not
circuit text: Stim prints probabilities with six digits) and checks that they are the ones the
collection recorded: the same Stim sampler (else the seed's shots differ) and the same decoder
metadata (else another model file stands at the model's path). Anything a worker cannot
build is a :class:`WorkerSetupError`: one line naming the worker and what it lacks.

Example:
    >>> from qec import MemoryExperiment
    >>> from qec._decoding._decoders import DECODERS
    >>> from qec._collection._shot_stream import ShotStream, sampler_id
    >>> exp = MemoryExperiment(3, 3, 0.01)
    >>> spec = PointSpec(exp, (("pymatching", DECODERS["pymatching"]),), {"pymatching": {}}, sampler_id())
    >>> stream = ShotStream(exp.circuit(), base_seed=1)
    >>> job = Job(0, 0, 0, stream.batch_size(0), stream.batch_seed(0), 0, 1024, ("pymatching",), ())
    >>> out = JobRunner([spec]).run(job)
    >>> sorted(out), out["errors"]["pymatching"] == JobRunner([spec]).run(job)["errors"]["pymatching"]
    (['errors', 'pairs', 'seconds'], True)
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Mapping, Sequence

import stim

from qec._circuits._memory_experiment import MemoryExperiment
from qec._errors import QecError
from qec._collection._pairing import failure_vectors, paired_failure_counts
from qec._collection._shot_stream import sample_batch, sampler_id


@dataclasses.dataclass(frozen=True)
class Job:
    """Shots [offset, offset + shots) of batch ``batch`` of point ``point``'s stream."""

    seq: int  # issue order over the whole collection: rows are written in this order
    point: int
    batch: int  # the stream's batch index
    batch_shots: int
    batch_seed: int
    offset: int  # first shot of the job within the batch
    shots: int
    new: tuple[str, ...]  # decoders that get these shots
    companions: tuple[str, ...]  # decoders that already have them: paired counts only


@dataclasses.dataclass(frozen=True)
class PointSpec:
    """What a worker needs to rebuild a point: its experiment, its decoders' factories (name,
    ``factory(circuit, dem)``), what each decoder says of itself in the collection (``metadata``,
    part of its strong id; ``None`` while the collection is asking, :meth:`JobRunner.describe`),
    and the Stim sampler its stream is sampled with (:func:`qec._collection._shot_stream.sampler_id`)."""

    experiment: MemoryExperiment
    factories: tuple[tuple[str, Any], ...]
    metadata: Mapping[str, Mapping[str, Any]] | None
    sampler: str


class WorkerSetupError(QecError):
    """A worker cannot run a job as the collecting process would (a module or a file it lacks,
    another Stim build, another model): one line naming the worker and the cause."""


def run_job(circuit: stim.Circuit, decoders: Mapping[str, Any], job: Job, cache: dict) -> dict[str, Any]:
    """Sample the job's batch (or take it from ``cache``, which keeps the last batch), decode its
    slice with the new decoders and the companions; errors, seconds and all paired counts."""
    t0 = time.perf_counter()
    if cache.get("batch") != (job.point, job.batch):
        cache.clear()
        cache["batch"] = (job.point, job.batch)
        cache["shots"] = sample_batch(circuit, job.batch_shots, job.batch_seed)
    events, obs = (a[job.offset:job.offset + job.shots] for a in cache["shots"])
    t_sample = time.perf_counter() - t0
    fails, seconds = failure_vectors({n: decoders[n] for n in (*job.new, *job.companions)}, events, obs,
                                     bit_packed=True)
    errors, pairs = paired_failure_counts(fails)
    return {"errors": errors, "seconds": {n: t + t_sample for n, t in seconds.items()}, "pairs": pairs}


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def setup_error(where: str, what: str, e: BaseException) -> WorkerSetupError:
    """The one-line :class:`WorkerSetupError` for ``e``, raised at ``where`` (a worker) while
    doing ``what``: a missing module or file is named."""
    if isinstance(e, ImportError):
        module = getattr(e, "name", None) or _first_line(e)
        return WorkerSetupError(f"{where} cannot import {module} ({what}): install it there, in the same "
                                f"version as here")
    if isinstance(e, FileNotFoundError) or getattr(e, "filename", None):
        name = getattr(e, "filename", None) or _first_line(e)
        return WorkerSetupError(f"{where} has no file {name} ({what}): give every worker the file at the same "
                                f"path (or a shared file system)")
    return WorkerSetupError(f"{where} failed {what}: {type(e).__name__}: {_first_line(e)}")


class JobRunner:
    """Runs jobs in a worker: builds each point's circuit once and each decoder the first time a
    job needs it, from the point's :class:`PointSpec`, checks them against the spec (sampler and
    decoder metadata), and keeps the last batch sampled (a batch's jobs often follow one another).
    Decoders a job does not name are not built: a job of CPU decoders never builds a GPU one."""

    def __init__(self, specs: Sequence[PointSpec] = (), where: str = "a worker process"):
        self.specs: dict[int, PointSpec] = dict(enumerate(specs))
        self.where = where
        self.points: dict[int, tuple[stim.Circuit, stim.DetectorErrorModel, dict[str, Any]]] = {}
        self.cache: dict = {}

    def add(self, index: int, spec: PointSpec) -> None:
        """Know point ``index`` by its spec (the first spec given stays)."""
        self.specs.setdefault(index, spec)

    def has(self, index: int) -> bool:
        """Whether point ``index`` is known."""
        return index in self.specs

    def run(self, job: Job) -> dict[str, Any]:
        """Run ``job``: errors, seconds and paired counts per decoder (:func:`run_job`)."""
        circuit, decoders = self._decoders(job.point, (*job.new, *job.companions))
        return run_job(circuit, decoders, job, self.cache)

    def describe(self, index: int) -> dict[str, dict[str, Any]]:
        """Builds all of point ``index``'s decoders; what each says of itself (its metadata)."""
        spec = self.specs[index]
        _, decoders = self._decoders(index, tuple(name for name, _ in spec.factories))
        return {name: dict(getattr(d, "metadata", None) or {}) for name, d in decoders.items()}

    def _decoders(self, index: int, names: Sequence[str]) -> tuple[stim.Circuit, dict[str, Any]]:
        spec = self.specs[index]
        if index not in self.points:
            mine = sampler_id()
            if mine != spec.sampler:
                raise WorkerSetupError(
                    f"{self.where} samples with {mine}, the collection's shot stream with {spec.sampler}: the "
                    f"seeds would give other shots there; give every worker the Stim version and CPU features "
                    f"of the collecting machine")
            self.points[index] = (spec.experiment.circuit(), spec.experiment.dem(), {})
        circuit, dem, built = self.points[index]
        factories = dict(spec.factories)
        for name in names:
            if name not in built:
                built[name] = self._build(spec, name, factories[name], circuit, dem)
        return circuit, built

    def _build(self, spec: PointSpec, name: str, factory: Any, circuit: stim.Circuit,
               dem: stim.DetectorErrorModel) -> Any:
        e = spec.experiment
        point = f"the d={e.distance}, r={e.rounds}, p={e.p:g} {e.basis} point"
        try:
            decoder = factory(circuit, dem)
        except Exception as err:
            raise setup_error(self.where, f"building decoder {name!r} for {point}", err) from None
        if spec.metadata is not None:
            theirs, ours = dict(spec.metadata.get(name, {})), dict(getattr(decoder, "metadata", None) or {})
            if ours != theirs:
                raise WorkerSetupError(
                    f"{self.where} built decoder {name!r} with metadata {ours}, the collection's is "
                    f"{theirs}: give every worker the same model files and packages")
        return decoder
