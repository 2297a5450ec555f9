"""`qec ler` and `qec plot` through experiments.cli.main(argv), plus one run of the installed script."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import sinter

from experiments.cli import main
from qec import MemoryExperiment

BASE = ["ler", "--distance", "3", "--p", "0.01", "--max-shots", "2000", "--seed", "1"]


def run_json(capsys, argv):
    assert main(argv + ["--json"]) == 0
    out = capsys.readouterr().out
    return json.loads(out)  # exactly one JSON document


def test_ler_json_shape(capsys):
    doc = run_json(capsys, ["ler", "-d", "3", "5", "--rounds", "2", "--p", "0.005", "0.01", "--basis", "x", "z",
                            "--decoders", "pymatching", "pymatching-correlated", "--max-shots", "500", "--seed", "2"])
    assert list(doc) == ["results"]
    rows = doc["results"]
    assert len(rows) == 2 * 2 * 2 * 2  # d x p x basis x decoders
    keys = {"decoder", "distance", "rounds", "p", "basis", "noise", "shots", "errors", "ler", "ler_low",
            "ler_high", "ler_per_round"}
    for r in rows:
        assert keys <= set(r)
        assert r["shots"] == 500 and r["rounds"] == 2 and r["noise"] == "depolarizing"
        assert r["ler_low"] <= r["ler"] <= r["ler_high"]
    assert {(r["distance"], r["p"], r["basis"], r["decoder"]) for r in rows} == {
        (d, p, b, dec) for d in (3, 5) for p in (0.005, 0.01) for b in "xz"
        for dec in ("pymatching", "pymatching-correlated")
    }


def test_ler_default_rounds_is_distance_and_noise_models(capsys):
    doc = run_json(capsys, ["ler", "-d", "3", "5", "--p", "0.004", "--noise", "depolarizing", "si1000", "stim",
                            "--max-shots", "300", "--seed", "1"])
    rows = doc["results"]
    assert {r["noise"] for r in rows} == {"depolarizing", "si1000", "stim"}
    assert all(r["rounds"] == r["distance"] for r in rows)


def test_ler_table_and_resume(tmp_path, capsys):
    out = tmp_path / "stats.csv"
    argv = BASE + ["--decoders", "pymatching", "pymatching-correlated", "--out", str(out)]
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "pymatching-correlated" in table and "LER/shot" in table
    assert main(argv) == 0  # resume: already complete
    capsys.readouterr()
    stats = sinter.read_stats_from_csv_files(str(out))
    assert sorted(s.shots for s in stats) == [2000, 2000]
    doc = run_json(capsys, argv + ["--max-shots", "3000"])  # the last --max-shots wins
    assert [r["shots"] for r in doc["results"]] == [3000, 3000]
    stats = sinter.read_stats_from_csv_files(str(out))
    assert sorted(s.shots for s in stats) == [3000, 3000]
    a, b = doc["results"]
    assert a["errors"] - b["errors"] == a["only_fails"][b["decoder"]] - b["only_fails"][a["decoder"]]


def test_ler_threshold_is_recorded_and_a_high_one_leaves_plain_pymatching(capsys, make_model_file):
    model = make_model_file(0, {"threshold": 0.0})
    argv = BASE + ["--decoders", "predecoder", "pymatching", "--model", str(model), "--threshold", "1000"]
    pre, plain = run_json(capsys, argv)["results"]
    assert pre["metadata"]["threshold"] == 1000.0 and "threshold" not in plain.get("metadata", {})
    assert pre["errors"] == plain["errors"] and pre["only_fails"] == {"pymatching": 0}


def test_scale_qubit(capsys):
    doc = run_json(capsys, BASE + ["--scale-qubit", "2", "2", "3.0", "--scale-qubit", "1", "1", "2"])
    assert doc["results"][0]["scale_qubits"] == [[2.0, 2.0, 3.0], [1.0, 1.0, 2.0]]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["ler", "-d", "4", "--p", "0.01"], "distance must be odd and >= 3"),
        (["ler", "-d", "1", "--p", "0.01"], "distance must be odd and >= 3"),
        (["ler", "-d", "3", "--rounds", "0", "--p", "0.01"], "rounds must be >= 1"),
        (["ler", "-d", "3", "--p", "0.5"], "p must be in [0, 0.5)"),
        (["ler", "-d", "3", "--p", "-0.1"], "p must be in [0, 0.5)"),
        (["ler", "-d", "3", "--p", "0.01", "--noise", "pink"], "unknown noise model 'pink'"),
        (["ler", "-d", "3", "--p", "0.01", "--basis", "y"], "unknown basis 'y'"),
        (["ler", "-d", "3", "--p", "0.01", "--decoders", "magic"], "unknown decoder 'magic'"),
        (["ler", "-d", "3", "--p", "0.01", "--max-shots", "0"], "--max-shots must be >= 1"),
        (["ler", "-d", "3", "--p", "0.01", "--workers", "0"], "--workers must be >= 1"),
        (["ler", "-d", "3", "--p", "0.01", "--scale-qubit", "7", "7", "2"], "no qubit at coordinates (7, 7)"),
        (["ler", "-d", "3", "--p", "0.01", "--out", "/nonexistent-dir/x.csv"], "--out /nonexistent-dir/x.csv: directory /nonexistent-dir does not exist"),
        (["plot", "--in", "/nonexistent.csv", "--out", "x.png"], "no such file"),
    ],
)
def test_bad_input_is_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_user_errors_are_qec_errors_and_bugs_keep_their_tracebacks(monkeypatch, capsys):
    import experiments.ler_command
    from qec import QecError

    def user_mistake(args):
        raise QecError("--p: a user mistake")

    monkeypatch.setattr(experiments.ler_command, "run", user_mistake)
    assert main(BASE) == 2
    assert capsys.readouterr().err == "qec ler: error: --p: a user mistake\n"

    def bug(args):
        raise ValueError("an internal inconsistency")  # not a QecError: a bug, not the user's input

    monkeypatch.setattr(experiments.ler_command, "run", bug)
    with pytest.raises(ValueError, match="internal inconsistency"):
        main(BASE)


def test_unwritable_and_malformed_out(tmp_path, capsys):
    d = tmp_path / "dir"
    d.mkdir()
    assert main(BASE + ["--out", str(d)]) == 2
    assert "is a directory" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("this is not a sinter csv\n")
    assert main(BASE + ["--out", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "malformed CSV" in err and err.count("\n") == 1
    assert bad.read_text() == "this is not a sinter csv\n"  # left untouched
    assert main(["plot", "--in", str(bad), "--out", str(tmp_path / "x.png")]) == 2
    assert "malformed CSV" in capsys.readouterr().err


@pytest.mark.slow
def test_plot(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert main(["ler", "-d", "3", "5", "--p", "0.01", "0.02", "--decoders", "pymatching", "pymatching-correlated",
                 "--max-shots", "1000", "--seed", "3", "--out", str(out)]) == 0
    for extra in ([], ["--per-round"]):
        png = tmp_path / f"ler{len(extra)}.png"
        assert main(["plot", "--in", str(out), "--out", str(png)] + extra) == 0
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()


@pytest.mark.slow
def test_installed_script(tmp_path):
    exe = shutil.which("qec") or os.path.join(os.path.dirname(sys.executable), "qec")
    if not os.path.exists(exe):
        pytest.skip("qec script not installed")
    ok = subprocess.run([exe] + BASE + ["--json"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["results"][0]["shots"] == 2000
    bad = subprocess.run([exe, "ler", "-d", "2", "--p", "0.01"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == "qec ler: error: distance must be odd and >= 3, got 2"


# ---------------------------------------------------------------------------------------------
# Issue 30: faults, round three.


def test_repeated_sweep_values_are_swept_once_with_a_note(tmp_path, capsys):
    """Item 1: `-d 3 3` wrote two identical rows and the CSV then claimed 200 shots; a rerun
    resumed from that. The sweep is the product of its flags' values, so a repeated value is
    swept once, with one line on stderr saying so (sinter's collect refuses a task given twice:
    qec.collect_ler does, see tests/qec/test_ler.py)."""
    issue = tmp_path / "issue.csv"  # the issue's command
    assert main(["ler", "-d", "3", "3", "--p", "0.003", "--max-shots", "100", "--seed", "1", "--out", str(issue)]) == 0
    assert capsys.readouterr().err.startswith("qec ler: note: --distance 3 given more than once")
    assert [s.shots for s in sinter.read_stats_from_csv_files(str(issue))] == [100]
    out = tmp_path / "dup.csv"
    argv = ["ler", "-d", "3", "3", "--p", "0.003", "3e-3", "--basis", "x", "x", "--rounds", "3", "d", "--decoders",
            "pymatching", "pymatching", "--max-shots", "100", "--seed", "1", "--out", str(out), "--json"]
    for _ in range(2):  # the same command again: resumed, nothing added, nothing doubled
        assert main(argv) == 0
        captured = capsys.readouterr()
        assert captured.err == ("qec ler: note: --distance 3; --p 0.003; --basis x; --decoders pymatching; --rounds 3 "
                                "at d=3 given more than once: each point and decoder is swept once\n")
        assert [r["shots"] for r in json.loads(captured.out)["results"]] == [100]
        assert [s.shots for s in sinter.read_stats_from_csv_files(str(out))] == [100]


def test_the_ler_bar_counts_shots_readably_on_stderr(monkeypatch, capsys):
    """Item 18: the bar appeared only on a terminal and only with --max-shots, its unit printed
    as '91423.16decoded shot/s'. Off a terminal (a log) it is a line per period."""
    import qec._runtime._progress

    monkeypatch.setattr(qec._runtime._progress, "LOG_PERIOD_S", 0.0)  # a line at every update
    assert main(BASE + ["--decoders", "pymatching", "pymatching-correlated"]) == 0
    err = capsys.readouterr().err
    assert "decoding: 100%" in err and "4.00k/4.00k" in err and " shots/s]" in err, err
    assert "\r" not in err and "decoded shot" not in err
    assert main(["ler", "-d", "3", "--p", "0.01", "--max-errors", "30", "--seed", "1"]) == 0
    err = capsys.readouterr().err
    assert "decoding: " in err and " shots [" in err and " shots/s]" in err, err


def test_a_dem_that_cannot_decode_is_one_line(tmp_path, capsys):
    """Item 8: probability-0, -1 and 1 errors crashed inside PyMatching; item 18: a folder as --dem
    said 'DEM tmp@e3b0... has 0 detectors'."""
    dem = str(MemoryExperiment(3, 3, 0.01, "x").dem())
    zero = tmp_path / "zero.dem"
    zero.write_text(re.sub(r"error\([^)]*\)", "error(0)", dem))
    certain = tmp_path / "certain.dem"
    certain.write_text(re.sub(r"error\([^)]*\)", "error(1)", dem, count=1))
    negative = tmp_path / "negative.dem"
    negative.write_text(re.sub(r"error\([^)]*\)", "error(-1)", dem, count=1))
    argv = ["ler", "-d", "3", "--p", "0.01", "--max-shots", "1000", "--seed", "1", "--dem"]
    for path, message in ((zero, "has no error of positive probability"), (certain, "1 error(s) of probability 1"),
                          (negative, "must be a probability (0 to 1) but got -1"), (tmp_path, "is a directory")):
        assert main(argv + [str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"--dem {path}" in err and message in err, err
    # Some zero-probability errors that leave every detector a path to a boundary decode fine.
    some = tmp_path / "some.dem"
    some.write_text(re.sub(r"error\([^)]*\)", "error(0)", dem, count=3))
    assert main(argv + [str(some)]) == 0
    capsys.readouterr()


def test_ler_compares_several_models_on_the_same_shots(capsys):
    """Issue 31: `qec ler --model A B` runs each pre-decoder decoder once per model, named
    DECODER@HASH (as sinter's pinned names), every one paired with every other on the same shots."""
    import json

    from experiments.cli import main
    from predecoder import load_model

    small, fast = load_model("small").short_hash, load_model("fast").short_hash
    argv = ["ler", "-d", "3", "--p", "0.01", "--decoders", "pymatching", "predecoder-weighted", "--model", "small",
            "fast", "--max-shots", "300", "--seed", "1", "--json"]
    assert main(argv) == 0
    rows = {r["decoder"]: r for r in json.loads(capsys.readouterr().out)["results"]}
    names = [f"predecoder-weighted@{small}", f"predecoder-weighted@{fast}"]
    assert sorted(rows) == sorted(["pymatching", *names])
    assert rows[names[0]]["metadata"]["model"] == small and rows[names[1]]["metadata"]["model"] == fast
    assert all(r["shots"] == 300 for r in rows.values())
    assert set(rows[names[0]]["only_fails"]) == {"pymatching", names[1]}
    # One model keeps the decoders' own names; a model given twice is one line, exit status 2.
    assert main(argv[:10] + ["--max-shots", "100", "--seed", "1", "--json"]) == 0
    assert [r["decoder"] for r in json.loads(capsys.readouterr().out)["results"]] == ["pymatching", "predecoder-weighted"]
    assert main(argv[:9] + ["small", "small", "--max-shots", "100"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == \
        f"qec ler: error: --model small and small are the same model ({small})"
