"""One point of an LER collection (:class:`Point`): its shot stream, the rows the CSV already holds
for it (:func:`point_rows`) and the seed they were collected with (:func:`point_seed`), each
decoder's position in the stream, the next job, and a finished job's rows."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Mapping, Sequence

import sinter

from qec._circuits._memory_experiment import MemoryExperiment
from qec._collection._ler_jobs import Job, PointSpec
from qec._collection._ler_result import LerResult, LerTask
from qec._collection._pairing import only_key, shared_key, stream_seeds
from qec._collection._shot_stream import FIRST_BATCH, MIN_BATCH, ShotStream
from qec._data._stats_csv import strong_id
from qec._decoding._decoders import CustomDecoder, decoder_factory
from qec._errors import QecError


def point_rows(existing: Mapping[str, sinter.TaskStats], experiment: MemoryExperiment) -> list[sinter.TaskStats]:
    """The CSV's rows of ``experiment``'s point, whatever their decoder (by the experiment's
    metadata: d, r, p, basis, noise and its version, scaled qubits, parameters)."""
    want = experiment.json_metadata()
    keys = ("d", "r", "p", "b", "noise", "noise_version", "scale", "params")
    return [s for s in existing.values() if isinstance(s.json_metadata, dict)
            and all(s.json_metadata.get(k) == want.get(k) for k in keys)]


def point_seed(experiment: MemoryExperiment, rows: Sequence[sinter.TaskStats], seed: int | None,
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


class Point:
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
        base = point_seed(task.experiment, point_rows(existing, task.experiment), seed, fresh_seed)
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
