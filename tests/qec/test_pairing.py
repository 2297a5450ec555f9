"""Paired means paired (issue 21): shots are a function of (base seed, point, batch index), every
decoder variant decodes a prefix of them, paired counts are kept per variant, and the report
compares two rows only where they decoded the same shots, checking
errors(A) - errors(B) = only_fails(A vs B) - only_fails(B vs A) for every pair it prints."""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import re
from collections import Counter

import pytest
import sinter

from experiments.cli import main
from experiments.ler_command import print_table
from qec import LerTask, MemoryExperiment, collect_ler
from qec import PyMatchingDecoder
from qec._collection._pairing import NotPaired, compare, only_key, shared_key
from qec._data._stats_csv import read_csv_stats

EXP = MemoryExperiment(3, 3, 0.01, "x")


@dataclasses.dataclass(frozen=True)
class Variant:
    """A decoder whose variants share one name: plain or correlated matching, told apart by
    metadata (as two thresholds or models of the pre-decoder are)."""

    correlated: bool

    def __call__(self, circuit, dem):
        dec = PyMatchingDecoder(dem, correlated=self.correlated)
        dec.metadata = {"variant": "correlated" if self.correlated else "plain"}
        return dec


def check_every_printed_pair(results, text: str) -> int:
    """Every 'A made the fewest errors: r x fewer than B (only-fails a vs b)' of the report is a
    pair that decoded the same shots, with the invariant and the printed numbers; returns how
    many were printed."""
    by = {r.decoder: r for r in results}
    printed = 0
    for line in text.splitlines():
        m = re.search(r": (\S+) made the fewest errors: (.*)$", line)
        if not m:
            continue
        best = by[m.group(1)]
        for ratio, other, only_a, only_b in re.findall(r"([\d.]+)x fewer than (\S+) \(only-fails (\d+) vs (\d+)\)",
                                                       m.group(2)):
            o = by[other]
            c = compare(best, o)  # raises unless they decoded the same shots
            assert best.shots == o.shots == best.paired_shots()[other]
            assert best.errors - o.errors == int(only_a) - int(only_b) == c.only_a - c.only_b
            assert float(ratio) == pytest.approx(o.errors / best.errors, abs=1e-3)
            printed += 1
    return printed


@pytest.mark.slow
def test_the_issues_two_commands_give_a_paired_comparison(tmp_path, capsys):
    """Issue 21's reproduction: the second run's threshold-8 variant decodes the first run's shots."""
    out = tmp_path / "x.csv"
    base = ["ler", "-d", "3", "--p", "0.01", "--decoders", "pymatching", "predecoder", "--max-shots", "5000",
            "--seed", "1", "--out", str(out)]
    assert main(base + ["--threshold", "2"]) == 0
    capsys.readouterr()
    assert main(base + ["--threshold", "8", "--json"]) == 0
    rows = {r["decoder"]: r for r in json.loads(capsys.readouterr().out)["results"]}
    pm, pre = rows["pymatching"], rows["predecoder"]
    assert pm["shots"] == pre["shots"] == pm["paired_shots"]["predecoder"] == pre["paired_shots"]["pymatching"] == 5000
    assert pm["errors"] - pre["errors"] == pm["only_fails"]["predecoder"] - pre["only_fails"]["pymatching"]
    # The same shots as a fresh collection of the two from nothing: shots are (seed, point, batch).
    fresh = tmp_path / "fresh.csv"
    assert main([*base[:-1], str(fresh), "--threshold", "8", "--json"]) == 0
    again = {r["decoder"]: r for r in json.loads(capsys.readouterr().out)["results"]}
    for name in ("pymatching", "predecoder"):
        assert (again[name]["errors"], again[name]["only_fails"]) == (rows[name]["errors"], rows[name]["only_fails"])
    # The table's comparison satisfies the invariant.
    assert main(base + ["--threshold", "8"]) == 0
    text = capsys.readouterr().out
    assert "made the fewest errors" in text and "not compared" not in text


def test_paired_counts_are_per_variant_and_every_printed_pair_is_paired(tmp_path):
    out = tmp_path / "v.csv"
    results = {}
    for correlated in (False, True):  # one CSV, two variants of the name "match", added one after the other
        custom = {"match": Variant(correlated)}
        results[correlated] = collect_ler([LerTask(EXP, ("pymatching", "match"))], max_shots=6000, seed=3, out=out,
                                          custom_decoders=custom)
    pm_plain, plain = results[False]
    pm, corr = results[True]
    assert plain.strong_id != corr.strong_id and pm.strong_id == pm_plain.strong_id
    # pymatching holds paired counts against each variant separately, on all 6000 shots.
    assert pm.custom_counts[shared_key(plain)] == pm.custom_counts[shared_key(corr)] == 6000
    assert pm.custom_counts[only_key(plain)] == 0  # the plain variant is pymatching itself
    assert pm.custom_counts[only_key(corr)] > 0 and pm.shots == 6000  # the companion added no shots
    c = compare(pm, corr)
    assert pm.errors - corr.errors == c.only_a - c.only_b
    buf = io.StringIO()
    print_table([pm, corr], file=buf)
    assert check_every_printed_pair([pm, corr], buf.getvalue()) == 1
    # From the CSV alone: pymatching is paired with each variant; the two variants, never decoded
    # together, are not compared (they are not mixed under their common name).
    stats = {(s.decoder, s.json_metadata.get("variant")): s for s in read_csv_stats(out).values()}
    assert len(stats) == 3
    for a, b in itertools.combinations(stats, 2):
        if a[0] == b[0]:
            with pytest.raises(NotPaired, match="never decoded the same shots together"):
                compare(stats[a], stats[b])
            continue
        c = compare(stats[a], stats[b])
        assert stats[a].errors - stats[b].errors == c.only_a - c.only_b


@pytest.mark.slow
def test_resuming_continues_the_same_shots(tmp_path):
    """A prefix of the stream: 3000 then 7000 shots are the 7000 shots of one run, and
    --workers 2 writes the rows --workers 1 writes (but for their seconds)."""
    task = LerTask(EXP, ("pymatching", "pymatching-correlated"))
    whole = collect_ler([task], max_shots=7000, seed=5)
    out = tmp_path / "r.csv"
    collect_ler([task], max_shots=3000, seed=5, out=out)
    resumed = collect_ler([task], max_shots=7000, seed=None, out=out)  # the CSV's seed is taken
    assert [(r.shots, r.errors, r.only_fails()) for r in resumed] == [(r.shots, r.errors, r.only_fails()) for r in whole]

    def rows(path):
        return [line.split(",")[:3] + line.split(",")[4:] for line in path.read_text().splitlines()]

    serial, parallel = tmp_path / "w1.csv", tmp_path / "w2.csv"
    tasks = [task, LerTask(MemoryExperiment(3, 2, 0.02, "z"), ("pymatching", "pymatching-correlated"))]
    collect_ler(tasks, max_shots=9000, seed=8, out=serial, workers=1)
    collect_ler(tasks, max_shots=9000, seed=8, out=parallel, workers=2)
    assert rows(serial) == rows(parallel) and len(rows(serial)) > 8


def test_another_seed_for_a_recorded_point_is_one_line(tmp_path, capsys):
    out = tmp_path / "s.csv"
    argv = ["ler", "-d", "3", "--p", "0.01", "--max-shots", "2000", "--out", str(out)]
    assert main(argv + ["--seed", "1"]) == 0
    capsys.readouterr()
    assert main(argv[:-3] + ["4000", "--out", str(out), "--seed", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "shots of seed 1, not 2" in err
    assert main(argv[:-3] + ["4000", "--out", str(out)]) == 0  # no --seed: the recorded one
    assert sum(s.shots for s in read_csv_stats(out).values()) == 4000


@dataclasses.dataclass(frozen=True)
class NoFlip:
    """Predicts 'no flip' always: about three times PyMatching's errors here."""

    def __call__(self, circuit, dem):
        return self

    metadata = {}

    def decode_batch(self, events, bit_packed=None):
        import numpy as np

        return np.zeros((len(events), 1), dtype=np.uint8 if bit_packed else bool)


def test_rows_that_did_not_decode_the_same_shots_are_not_compared(tmp_path):
    # max_errors stops the worse decoder first: it shares only part of the other's shots.
    b, a = collect_ler([LerTask(EXP, ("no-flip", "pymatching"))], max_errors=150, seed=2,
                       custom_decoders={"no-flip": NoFlip()})
    assert b.shots < a.shots and a.paired_shots() == {"no-flip": b.shots}
    with pytest.raises(NotPaired, match="decoded .* shots together, of"):
        compare(a, b)
    buf = io.StringIO()
    print_table([a, b], file=buf)
    assert "no paired comparison" in buf.getvalue() and "x fewer" not in buf.getvalue()
    assert a.only_fails() == {} and b.only_fails() == {}


def test_counts_that_break_the_invariant_are_refused():
    a, b = collect_ler([LerTask(EXP, ("pymatching", "pymatching-correlated"))], max_shots=3000, seed=1)
    assert check_every_printed_pair([a, b], _table([a, b])) == 1
    a.custom_counts[only_key(b)] += 3  # a corrupted count
    with pytest.raises(NotPaired, match="inconsistent"):
        compare(a, b)
    text = _table([a, b])
    assert "inconsistent" in text and "x fewer" not in text


def _table(results) -> str:
    buf = io.StringIO()
    print_table(results, file=buf)
    return buf.getvalue()


def test_rows_written_before_paired_counting_are_read_and_called_unpaired(tmp_path, capsys):
    """An old CSV (only_vs:<name> keys, no streams) stays readable: its rows are continued and
    reported as unpaired instead of with a ratio."""
    out = tmp_path / "old.csv"
    fresh = collect_ler([LerTask(EXP, ("pymatching", "pymatching-correlated"))], max_shots=2000, seed=1)
    lines = [sinter.CSV_HEADER]
    for r, other in zip(fresh, reversed(fresh)):
        lines.append(sinter.TaskStats(strong_id=r.strong_id, decoder=r.decoder, json_metadata=r.json_metadata,
                                      shots=r.shots, errors=r.errors, seconds=1.0,
                                      custom_counts=Counter({"only_vs:" + other.decoder: 5})).to_csv_line())
    out.write_text("\n".join(lines) + "\n")
    assert main(["ler", "-d", "3", "--p", "0.01", "--decoders", "pymatching", "pymatching-correlated",
                 "--max-shots", "3000", "--seed", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "no paired comparison" in text and "x fewer" not in text
    assert {s.shots for s in read_csv_stats(out).values()} == {3000}
