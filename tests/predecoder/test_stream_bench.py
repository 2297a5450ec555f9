"""qec bench --stream: rows with the documented fields, streamed predictions equal to the batch
decoder's, the flags checked."""

from __future__ import annotations

import json

import pytest

from experiments.cli import main
from predecoder._stream_bench import StreamOptions, run_stream_bench, stream_experiment

FIELDS = ("reaction_latency_us", "rounds_per_second", "peak_rss_bytes", "keeps_up")


class _SlowStream:
    """Each push takes 1 ms of virtual time (the clock is patched)."""

    def __init__(self, clock):
        self.clock = clock

    def push(self, events):
        self.clock.now += 1e-3

    def result(self):
        return events_zero()


def events_zero():
    import numpy as np

    return np.zeros((1, 1), dtype=bool)


def test_the_timing_model(monkeypatch):
    """10 rounds of 1 ms each: as fast as it goes, the reaction is the last push (1 ms); with a
    round every 0.5 ms the decoder falls behind, 4.5 ms by the last round's arrival (+1 ms)."""
    import numpy as np

    import predecoder._stream_bench as bench

    class Clock:
        now = 0.0

    clock = Clock()
    monkeypatch.setattr(bench.time, "perf_counter", lambda: clock.now)
    starts = np.arange(11)
    events = np.zeros((1, 10), dtype=bool)
    reaction, _, busy, _ = stream_experiment(_SlowStream(clock), events, starts, 0.0)
    assert reaction == pytest.approx(1e-3) and busy == pytest.approx(10e-3)
    reaction, _, busy, _ = stream_experiment(_SlowStream(clock), events, starts, 0.5e-3)
    assert reaction == pytest.approx(10e-3 - 9 * 0.5e-3) and busy == pytest.approx(10e-3)
    reaction, _, _, _ = stream_experiment(_SlowStream(clock), events, starts, 2e-3)
    assert reaction == pytest.approx(1e-3)  # the decoder waits for every round


@pytest.mark.parametrize("decoder", ["pymatching", "predecoder-weighted"])
def test_stream_rows(decoder):
    rows = run_stream_bench(StreamOptions(3, 0.01, decoder=decoder, experiments=5), (2, 4), fresh_process=False)
    assert [r["rounds"] for r in rows] == [6, 12] and [r["rounds_pushed"] for r in rows] == [7, 13]
    for r in rows:
        assert set(FIELDS) <= set(r) and set(r["reaction_latency_us"]) == {"p50", "p99", "max", "mean"}
        assert set(r["reaction_cpu_us"]) == {"p50", "p99", "max", "mean"}
        assert 0 < r["reaction_latency_us"]["p50"] <= r["reaction_latency_us"]["p99"] <= r["reaction_latency_us"]["max"]
        assert r["agrees_with_batch"] and r["window"] == "6:3" and r["keeps_up"] is (r["throughput_vs_device"] >= 1)
        assert r["rounds_per_second"] > 0 and r["peak_rss_bytes"] > 10**7


@pytest.mark.slow
def test_stream_command_json_in_fresh_processes(capsys):
    assert main(["bench", "--stream", "-d", "3", "--p", "0.01", "--decoder", "pymatching", "--window", "4:2",
                 "--stream-lengths", "1", "3", "--stream-shots", "3", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert [(r["rounds"], r["window"], r["experiments"]) for r in rows] == [(3, "4:2", 3), (9, "4:2", 3)]
    assert all(set(FIELDS) <= set(r) and r["agrees_with_batch"] for r in rows)


@pytest.mark.parametrize("argv, says", [
    (["--stream", "--rounds", "5"], "--rounds only applies to the batch benchmark"),
    (["--window", "4:2"], "--window only applies to --stream"),
    (["--decoder", "pymatching"], "is timed with --stream only"),
    (["--stream", "--window", "2:4"], "cannot be longer"),
    (["--stream", "--stream-shots", "0"], "--stream-shots must be >= 1"),
    (["--stream", "--cadence-us", "-1"], "--cadence-us must be a number >= 0"),
    (["--stream", "--device-round-us", "0"], "--device-round-us must be > 0"),
])
def test_stream_flags_are_checked(argv, says, capsys):
    assert main(["bench", "-d", "3", "--p", "0.01", *argv]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1
