"""qec._decoding._decoders and qec._collection._ler: decoder registry, paired collection, CSV, resume, statistics."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import sinter

from qec import DECODERS, MemoryExperiment, get_decoder
from qec._encoding._bit_packing import pack_bits
from qec._decoding._decoders import load_custom_decoders
from qec._decoding._pymatching_decoder import PyMatchingDecoder, PyMatchingFactory
from qec._collection._ler import (
    CONFIDENCE_95_LIKELIHOOD_FACTOR,
    LerTask,
    collect_ler,
    read_csv_stats,
    strong_id,
)

EXP = MemoryExperiment(distance=3, rounds=3, p=0.01, basis="x")
BOTH = ("pymatching", "pymatching-correlated")


# ---------------------------------------------------------------------------------------------
# Decoders.


@pytest.mark.parametrize("name", BOTH)
def test_decoder_bool_and_bit_packed_agree(name):
    circuit, dem = EXP.circuit(), EXP.dem()
    dec = get_decoder(name, circuit, dem)
    assert dec.metadata == {}
    dets, obs = circuit.compile_detector_sampler(seed=5).sample(500, separate_observables=True)
    pred = dec.decode_batch(dets)
    assert pred.dtype == bool and pred.shape == (500, circuit.num_observables)
    packed = pack_bits(dets)
    pred_packed = dec.decode_batch(packed, bit_packed=True)
    assert pred_packed.dtype == np.uint8 and pred_packed.shape == (500, 1)
    np.testing.assert_array_equal(np.unpackbits(pred_packed, axis=1, count=1, bitorder="little").astype(bool), pred)
    # A decoder beats guessing "no flip" at this low noise.
    assert np.count_nonzero(pred != obs) < np.count_nonzero(obs)


def test_correlated_uses_pymatching_correlations():
    dec = get_decoder("pymatching-correlated", EXP.circuit(), EXP.dem())
    assert dec.correlated and not get_decoder("pymatching", EXP.circuit(), EXP.dem()).correlated


def test_decoder_errors():
    with pytest.raises(ValueError, match="unknown decoder 'nope'; choose from pymatching, pymatching-correlated"):
        get_decoder("nope", EXP.circuit(), EXP.dem())
    with pytest.raises(ValueError, match="wrong number of detectors|expected 24 detectors"):
        get_decoder("pymatching", EXP.circuit(), EXP.dem()).decode_batch(np.zeros((2, 5), dtype=bool))
    with pytest.raises(ValueError, match="neither a factory"):
        get_decoder("odd", EXP.circuit(), EXP.dem(), {"odd": 42})


def test_qec_knows_only_its_own_decoders():
    assert sorted(DECODERS) == ["pymatching", "pymatching-correlated"]
    with pytest.raises(ValueError, match="unknown decoder 'predecoder'"):
        collect_ler([LerTask(EXP, ("predecoder",))], max_shots=10)


@pytest.mark.slow
def test_custom_decoders_are_passed_in_like_sinters():
    """A factory and a sinter.Decoder (sinter's own PyMatching) decode the same shots as ours."""
    sinter_pm = sinter.BUILT_IN_DECODERS["pymatching"]
    custom = {"factory-pm": PyMatchingFactory(correlated=False), "sinter-pm": sinter_pm}
    task = LerTask(EXP, ("pymatching", "factory-pm", "sinter-pm"))
    for workers in (1, 2):
        rs = collect_ler([task], max_shots=3000, seed=4, custom_decoders=custom, workers=workers)
        assert len({r.errors for r in rs}) == 1 and rs[0].errors > 0
        assert all(v == 0 for r in rs for v in r.only_fails().values())
    dets = EXP.circuit().compile_detector_sampler(seed=2).sample(300)
    wrapped = get_decoder("sinter-pm", EXP.circuit(), EXP.dem(), custom)
    np.testing.assert_array_equal(wrapped.decode_batch(dets), get_decoder("pymatching", EXP.circuit(), EXP.dem()).decode_batch(dets))
    packed = np.packbits(dets, axis=1, bitorder="little")
    assert wrapped.decode_batch(packed, bit_packed=True).dtype == np.uint8


def test_load_custom_decoders(tmp_path, monkeypatch):
    (tmp_path / "my_ler_decoders.py").write_text(
        "from qec import DECODERS\n\ndef decoders():\n    return {'mine': DECODERS['pymatching']}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert sorted(load_custom_decoders("my_ler_decoders:decoders")) == ["mine"]
    for bad, match in (("nocolon", "MODULE:FUNCTION"), ("no_such_module_x:f", "cannot import"),
                       ("qec._decoding._decoders:nothing", "has no function")):
        with pytest.raises(ValueError, match=match):
            load_custom_decoders(bad)


# ---------------------------------------------------------------------------------------------
# Collection.


def test_paired_counts_are_consistent():
    a, b = collect_ler([LerTask(EXP, BOTH)], max_shots=20_000, seed=11)
    assert a.shots == b.shots == 20_000
    only_a = a.only_fails()["pymatching-correlated"]
    only_b = b.only_fails()["pymatching"]
    # errors(A) - errors(B) = #(A fails, B not) - #(B fails, A not) on the same shots.
    assert a.errors - b.errors == only_a - only_b
    assert 0 <= only_a <= a.errors and 0 <= only_b <= b.errors
    assert a.errors > 50


def test_same_seed_same_counts_and_seed_changes_counts():
    r1 = collect_ler([LerTask(EXP)], max_shots=5000, seed=3)[0]
    r2 = collect_ler([LerTask(EXP)], max_shots=5000, seed=3)[0]
    r3 = collect_ler([LerTask(EXP)], max_shots=5000, seed=4)[0]
    assert r1.errors != r3.errors  # different seed, different shots (fixed seeds: stable)
    assert (r1.shots, r1.errors) == (r2.shots, r2.errors)
    assert r1.strong_id == r3.strong_id


def test_max_errors_stops_early():
    (r,) = collect_ler([LerTask(MemoryExperiment(3, 3, 0.03, "x"))], max_errors=100, seed=2)
    assert 100 <= r.errors < 1000
    assert r.shots < 100_000


def test_max_errors_with_workers_counts_the_shots_in_flight():
    """Jobs in flight count toward --max-errors at the rate seen so far: with two workers each
    decoder ends near its target (it ended at 7-10x the target when they did not)."""
    tasks = [LerTask(MemoryExperiment(3, 3, p, "x"), BOTH) for p in (0.01, 0.02)]
    for r in collect_ler(tasks, max_errors=300, seed=7, workers=2):
        assert 300 <= r.errors < 450, (r.decoder, r.shots, r.errors)


def test_zero_noise_has_no_errors():
    (r,) = collect_ler([LerTask(MemoryExperiment(3, 2, 0.0, "z"))], max_shots=3000, seed=2)
    assert (r.shots, r.errors) == (3000, 0)
    j = r.to_json()
    assert j["ler"] == 0.0 and j["ler_high"] > 0


def test_csv_is_sinter_readable_and_resumes(tmp_path):
    out = tmp_path / "stats.csv"
    tasks = [LerTask(EXP, BOTH), LerTask(MemoryExperiment(3, 2, 0.02, "z"), BOTH)]
    first = collect_ler(tasks, max_shots=3000, seed=7, out=out)
    lines = out.read_text().splitlines()
    assert lines[0] == sinter.CSV_HEADER
    stats = sinter.read_stats_from_csv_files(str(out))
    assert len(stats) == 4
    by_id = {s.strong_id: s for s in stats}
    for r in first:
        s = by_id[r.strong_id]
        assert (s.shots, s.errors, s.decoder) == (3000, r.errors, r.decoder)
        assert s.json_metadata["d"] == 3 and s.json_metadata["noise"] == "depolarizing"
        assert dict(s.custom_counts) == dict(r.custom_counts)

    # Same targets again: nothing new is sampled.
    again = collect_ler(tasks, max_shots=3000, seed=7, out=out)
    assert out.read_text().splitlines() == lines
    assert [(r.shots, r.errors) for r in again] == [(r.shots, r.errors) for r in first]

    # Higher target: only the missing shots are collected, with fresh seeds.
    more = collect_ler(tasks, max_shots=5000, seed=7, out=out)
    stats = {s.strong_id: s for s in sinter.read_stats_from_csv_files(str(out))}
    for r in more:
        assert r.shots == 5000 == stats[r.strong_id].shots
        assert r.errors == stats[r.strong_id].errors
    # Paired consistency survives resuming.
    a, b = more[0], more[1]
    assert a.errors - b.errors == a.only_fails()[b.decoder] - b.only_fails()[a.decoder]


def test_resumed_shots_use_new_seeds(tmp_path):
    """A resumed run's batches differ from the first run's (seeds derive from shots done)."""
    out = tmp_path / "s.csv"
    exp = MemoryExperiment(3, 3, 0.05, "x")
    collect_ler([LerTask(exp)], max_shots=1024, seed=1, out=out)
    collect_ler([LerTask(exp)], max_shots=2048, seed=1, out=out)
    rows = [line for line in out.read_text().splitlines()[1:]]
    assert len(rows) == 2
    e1, e2 = (int(r.split(",")[1]) for r in rows)
    # Both batches have 1024 shots; identical seeds would give identical error counts.
    single = collect_ler([LerTask(exp)], max_shots=1024, seed=1)[0]
    assert e1 == single.errors
    assert e2 != e1


@pytest.mark.slow
def test_parallel_workers(tmp_path):
    out = tmp_path / "w.csv"
    a, b = collect_ler([LerTask(EXP, BOTH)], max_shots=6000, seed=9, out=out, workers=2)
    assert a.shots == b.shots == 6000
    assert a.errors - b.errors == a.only_fails()[b.decoder] - b.only_fails()[a.decoder]
    stats = sinter.read_stats_from_csv_files(str(out))
    assert sorted(s.shots for s in stats) == [6000, 6000]


def test_statistics_use_sinter():
    (r,) = collect_ler([LerTask(EXP)], max_shots=4000, seed=1)
    fit = sinter.fit_binomial(num_shots=r.shots, num_hits=r.errors, max_likelihood_factor=CONFIDENCE_95_LIKELIHOOD_FACTOR)
    j = r.to_json()
    assert (j["ler_low"], j["ler"], j["ler_high"]) == pytest.approx((fit.low, fit.best, fit.high))
    assert j["ler_per_round"] == pytest.approx(
        sinter.shot_error_rate_to_piece_error_rate(fit.best, pieces=3, values=1)
    )
    # 1 - (1 - 2 q)^3 = 2 * ler  for per-round q.
    q = j["ler_per_round"]
    assert (1 - (1 - 2 * q) ** 3) / 2 == pytest.approx(j["ler"])
    assert CONFIDENCE_95_LIKELIHOOD_FACTOR == pytest.approx(6.8259, rel=1e-4)


def test_strong_id_depends_on_everything():
    c, d = str(EXP.circuit()), str(EXP.dem())
    base = strong_id(c, d, "pymatching", {"d": 3})
    assert len(base) == 64
    assert base != strong_id(c, d, "pymatching-correlated", {"d": 3})
    assert base != strong_id(c, d, "pymatching", {"d": 3, "model": "abc"})
    assert base != strong_id(c + "\n", d, "pymatching", {"d": 3})
    assert base == strong_id(c, d, "pymatching", {"d": 3})


@dataclasses.dataclass(frozen=True)
class TaggedFactory:
    """A factory whose decoders carry metadata (as a pre-decoder's model hash)."""

    model: str

    def __call__(self, circuit, dem):
        dec = PyMatchingDecoder(dem)
        dec.metadata = {"model": self.model}
        return dec


def test_decoder_metadata_separates_results(tmp_path):
    out = tmp_path / "m.csv"
    task = LerTask(EXP, ("tagged",))
    ra = collect_ler([task], max_shots=1000, seed=1, out=out, custom_decoders={"tagged": TaggedFactory("A")})[0]
    rb = collect_ler([task], max_shots=1000, seed=1, out=out, custom_decoders={"tagged": TaggedFactory("B")})[0]
    assert ra.strong_id != rb.strong_id and rb.shots == 1000
    stats = read_csv_stats(out)
    assert {s.json_metadata["model"] for s in stats.values()} == {"A", "B"}
    assert rb.to_json()["metadata"] == {"model": "B"}


def test_malformed_csv(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("hello,world\n1,2\n")
    with pytest.raises(ValueError, match="malformed CSV"):
        collect_ler([LerTask(EXP)], max_shots=10, out=bad)
    bad.write_text(sinter.CSV_HEADER + "\nnot,a,row\n")
    with pytest.raises(ValueError, match="malformed CSV"):
        read_csv_stats(bad)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown decoder"):
        collect_ler([LerTask(EXP, ("pymatching", "nope"))], max_shots=10)
    with pytest.raises(ValueError, match="listed twice"):
        LerTask(EXP, ("pymatching", "pymatching"))
    with pytest.raises(ValueError, match="max_shots and/or max_errors"):
        collect_ler([LerTask(EXP)])
    with pytest.raises(ValueError, match="workers"):
        collect_ler([LerTask(EXP)], max_shots=10, workers=0)


def test_per_round_of_zero_and_large_rates():
    from qec._collection._ler import per_round

    f = per_round(sinter.Fit(low=0.0, best=0.6, high=math.nan), 5)
    assert f.low == 0.0 and f.best == 0.5 and math.isnan(f.high)


def test_workers_rebuild_the_exact_circuit():
    # Stim's circuit text rounds probabilities, so workers rebuild from the experiment.
    import pickle

    exp = pickle.loads(pickle.dumps(EXP))
    assert exp.circuit() == EXP.circuit() and exp.dem() == EXP.dem()


def test_workers_check_the_sampler_and_the_decoders_metadata():
    """A worker builds the point from its spec and checks it built what the collecting process
    built: the same Stim sampler (else a seed gives other shots) and decoder metadata (else
    another model stands at the model's path); otherwise one line naming the worker."""
    from qec._decoding._decoders import DECODERS
    from qec._collection._ler_jobs import Job, JobRunner, PointSpec, WorkerSetupError
    from qec._collection._shot_stream import ShotStream, sampler_id

    exp = MemoryExperiment(3, 3, 0.01, "x")
    stream = ShotStream(exp.circuit(), 1)
    job = Job(0, 0, 0, 1024, stream.batch_seed(0), 0, 1024, ("pymatching",), ())
    factories = (("pymatching", DECODERS["pymatching"]),)
    assert JobRunner([PointSpec(exp, factories, {"pymatching": {}}, sampler_id())]).run(job)["errors"]["pymatching"] > 0
    other_build = PointSpec(exp, factories, {"pymatching": {}}, "stim0.0-avx512")
    with pytest.raises(WorkerSetupError, match="worker w samples with stim.*stim0.0-avx512"):
        JobRunner([other_build], where="worker w").run(job)
    other_model = PointSpec(exp, factories, {"pymatching": {"model": "abc"}}, sampler_id())
    with pytest.raises(WorkerSetupError, match="worker w built decoder 'pymatching' with metadata"):
        JobRunner([other_model], where="worker w").run(job)


def test_a_worker_that_cannot_build_a_decoder_is_one_line_naming_the_file():
    from qec._collection._ler_jobs import Job, JobRunner, PointSpec, WorkerSetupError
    from qec._collection._shot_stream import sampler_id

    def missing(circuit, dem):
        raise FileNotFoundError(2, "No such file or directory", "/shared/m.safetensors")

    exp = MemoryExperiment(3, 3, 0.01, "x")
    spec = PointSpec(exp, (("x", missing),), {"x": {}}, sampler_id())
    with pytest.raises(WorkerSetupError, match=r"^worker w has no file /shared/m.safetensors \(building decoder 'x'"):
        JobRunner([spec], where="worker w").run(Job(0, 0, 0, 1024, 1, 0, 1024, ("x",), ()))


# ---------------------------------------------------------------------------------------------
# Issue 30: faults, round three.


def test_the_same_point_twice_is_refused_as_sinter_refuses_a_task_twice(tmp_path):
    """Item 1: two tasks of one point would both count its shots (a CSV then claims twice as many)."""
    out = tmp_path / "dup.csv"
    twice = [LerTask(EXP), LerTask(MemoryExperiment(3, 3, 0.01, "x"), ("pymatching-correlated",))]
    with pytest.raises(ValueError, match=r"tasks 0 and 1 are the same point \(d=3, r=3, p=0.01"):
        collect_ler(twice, max_shots=100, seed=1, out=out)
    assert not out.exists() or read_csv_stats(out) == {}
    # Distinct points of the same circuit family are fine.
    results = collect_ler([LerTask(EXP), LerTask(MemoryExperiment(3, 3, 0.02, "x"))], max_shots=100, seed=1, out=out)
    assert [r.shots for r in results] == [100, 100]


@pytest.mark.parametrize("kwargs, message", [
    (dict(max_shots=1.5), "max_shots must be an integer >= 0, got 1.5"),
    (dict(max_shots="100"), "max_shots must be an integer >= 0, got '100'"),
    (dict(max_shots=100, max_errors=True), "max_errors must be an integer >= 1, got True"),
    (dict(max_shots=100, seed=-1), "seed must be an integer >= 0, got -1"),
    (dict(max_shots=100, workers=2.5), "workers must be an integer >= 1, got 2.5"),
])
def test_collect_ler_names_a_wrong_argument(kwargs, message):
    """Item 12: a TypeError from deep inside, or a silent conversion, becomes a QecError naming it."""
    from qec import QecError

    with pytest.raises(QecError, match=f"^{message.replace('(', '.').replace(')', '.')}$"):
        collect_ler([LerTask(EXP)], **kwargs)


def _holders_of(path: str) -> int:
    """How many of this process's open files are ``path``."""
    import os

    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == path
        except OSError:
            pass
    return count


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="/dev/full and /proc are Linux's")
def test_a_failed_first_write_leaves_the_csv_neither_open_nor_locked():
    """Item 14: collect_ler(out="/dev/full") raised but kept the file open and locked, so the next
    collection into it was told another one was writing it."""
    import fcntl

    from qec import QecError

    before = _holders_of("/dev/full")
    for _ in range(2):  # the second is told the same, not "being written by another collection"
        with pytest.raises(QecError, match="cannot write /dev/full: No space left on device"):
            collect_ler([LerTask(EXP)], max_shots=10, out="/dev/full")
    assert _holders_of("/dev/full") == before
    with open("/dev/full", "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # free


def _read_only_file_system(monkeypatch, path):
    """Opening ``path`` for writing fails as on a read-only mount (EROFS); reading works."""
    import builtins
    import errno
    import os

    import qec._data._stats_csv as stats_csv

    real_open, real_os_open = builtins.open, os.open
    path = os.fspath(path)

    def fake_open(file, mode="r", *args, **kwargs):
        if os.fspath(file) == path and any(c in mode for c in "aw+x"):
            raise OSError(errno.EROFS, "Read-only file system", path)
        return real_open(file, mode, *args, **kwargs)

    def fake_os_open(file, flags, *args, **kwargs):
        if os.fspath(file) == path and flags & (os.O_WRONLY | os.O_RDWR):
            raise OSError(errno.EROFS, "Read-only file system", path)
        return real_os_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(stats_csv, "open", fake_open, raising=False)
    monkeypatch.setattr(stats_csv.os, "open", fake_os_open)


def test_a_complete_csv_on_a_read_only_file_system_is_reported(tmp_path, monkeypatch, capsys):
    """Item 16: re-reporting a finished sweep needs no writing; adding shots is refused in one line
    before any sampling."""
    from experiments.cli import main

    out = tmp_path / "done.csv"
    argv = ["ler", "-d", "3", "--p", "0.01", "--decoders", "pymatching", "pymatching-correlated", "--max-shots", "500",
            "--seed", "1", "--out", str(out), "--json"]
    import json

    def rows(text):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in json.loads(text)["results"]]

    assert main(argv) == 0
    first = rows(capsys.readouterr().out)
    text = out.read_text()
    _read_only_file_system(monkeypatch, out)
    assert main(argv) == 0
    assert rows(capsys.readouterr().out) == first
    more = argv[:argv.index("500")] + ["1000"] + argv[argv.index("500") + 1:]
    assert main(more) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot write {out}: Read-only file system" in err and "Traceback" not in err
    assert out.read_text() == text
    results = collect_ler([LerTask(EXP, BOTH)], max_shots=500, seed=1, out=out)  # the library alike
    assert [r.shots for r in results] == [500, 500]


def test_get_decoder_refuses_the_other_bases_dem():
    """Item 6: plain PyMatching on the Z memory's DEM decoded the X memory's shots at LER 0.28."""
    from qec._data._dem_files import DemMismatchError

    circuit_x = MemoryExperiment(3, 3, 0.01, "x").circuit()
    dem_z = MemoryExperiment(3, 3, 0.01, "z").dem()
    assert dem_z.num_detectors == circuit_x.num_detectors
    for name in BOTH:
        with pytest.raises(DemMismatchError, match="detector 0 sits at"):
            get_decoder(name, circuit_x, dem_z)
    assert get_decoder("pymatching", circuit_x, MemoryExperiment(3, 3, 0.01, "x").dem()) is not None


@pytest.mark.parametrize("events, message", [
    (np.full((2, 24), 0.5), "events must be 0 or 1 (or bool), got 0.5"),
    (np.full((2, 24), 2, dtype=np.int64), "events must be 0 or 1 (or bool), got 2"),
    (np.full((2, 24), -1, dtype=np.int8), "events must be 0 or 1 (or bool), got -1"),
    (np.full((2, 24), "1"), "events must be bool or 0/1 numbers, got dtype <U1"),
])
def test_decode_batch_refuses_events_that_are_not_bits(events, message):
    """Item 6: a float array of 0.5 was read as zeros, an int array of 2s as ones."""
    from qec import QecError

    dec = get_decoder("pymatching", EXP.circuit(), EXP.dem())
    with pytest.raises(QecError, match=f"^{message.replace('(', '.').replace(')', '.')}$"):
        dec.decode_batch(events)
    ones = dec.decode_batch(np.ones((2, 24), dtype=np.float32))  # 0/1 numbers of any dtype are bits
    assert (ones == dec.decode_batch(np.ones((2, 24), dtype=bool))).all()
