"""``--window W:C`` in qec ler, decode and hardware: windowed variants decode the same shots as the
global decoders (paired counts), predictions equal the library's, bad windows are one line and
exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sinter
import stim

from experiments.cli import main
from qec import MemoryExperiment, get_decoder

DATA = Path(__file__).resolve().parents[1] / "data" / "google_qec3v5"


def test_ler_adds_a_windowed_variant_per_decoder_on_the_same_shots(tmp_path, capsys, benchmark_script):
    out = tmp_path / "stats.csv"
    argv = ["ler", "-d", "3", "--rounds", "12", "--p", "0.008", "--decoders", "pymatching", "pymatching-correlated",
            "--window", "6:3", "--window", "13:1", "--max-shots", "1500", "--seed", "3", "--out", str(out), "--json"]
    assert main(argv) == 0
    rows = {r["decoder"]: r for r in json.loads(capsys.readouterr().out)["results"]}
    assert list(rows) == ["pymatching", "pymatching/w6:3", "pymatching/w13:1", "pymatching-correlated",
                          "pymatching-correlated/w6:3", "pymatching-correlated/w13:1"]
    for name, r in rows.items():
        assert r["shots"] == 1500 and set(r["paired_shots"].values()) == {1500}
        if "/w" in name:
            assert r["metadata"]["window"] == name.split("/w")[1]
    # One window over the 13 layers is global matching: no shot differs.
    for name in ("pymatching", "pymatching-correlated"):
        assert rows[f"{name}/w13:1"]["errors"] == rows[name]["errors"]
        assert rows[name]["only_fails"][f"{name}/w13:1"] == 0
    w = rows["pymatching/w6:3"]
    assert w["errors"] - rows["pymatching"]["errors"] == w["only_fails"]["pymatching"] - rows["pymatching"]["only_fails"]["pymatching/w6:3"]
    assert {s.decoder for s in sinter.read_stats_from_csv_files(str(out))} == set(rows)
    assert main(argv) == 0  # resume: complete already, the windowed rows included
    again = {r["decoder"]: r["shots"] for r in json.loads(capsys.readouterr().out)["results"]}
    assert again == {name: 1500 for name in rows}
    # benchmarks/streaming_accuracy.py pairs each windowed row with its global one.
    found = benchmark_script("streaming_accuracy").comparisons([str(out)])
    assert [(x["decoder"], x["window"]) for x in found] == [
        ("pymatching", "6:3"), ("pymatching", "13:1"), ("pymatching-correlated", "6:3"), ("pymatching-correlated", "13:1")]
    for x in found:
        name = x["decoder"] + "/w" + x["window"]
        assert (x["errors_windowed"], x["only_windowed"]) == (rows[name]["errors"], rows[name]["only_fails"][x["decoder"]])


@pytest.mark.parametrize("argv", [
    ["ler", "-d", "3", "--p", "0.01", "--max-shots", "10", "--window", "3:4"],
    ["ler", "-d", "3", "--p", "0.01", "--max-shots", "10", "--window", "x"],
    ["ler", "-d", "3", "--p", "0.01", "--max-shots", "10", "--window", "0:0"],
    ["hardware", str(DATA / "surface_code_bX_d3_r03_center_3_5"), "--decoders", "pymatching", "--window", "2:3"],
])
def test_bad_windows_exit_2_in_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "window" in err and "Traceback" not in err


def test_a_decoder_without_a_windowed_form_is_refused(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_decoders.py").write_text(
        "import sinter\n"
        "def decoders():\n"
        "    return {'mine': sinter.BUILT_IN_DECODERS['pymatching']}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    argv = ["ler", "-d", "3", "--p", "0.01", "--max-shots", "10", "--decoders", "mine", "--window", "3:1",
            "--custom-decoders", "my_decoders:decoders"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "decoder 'mine' has no windowed form" in err and err.count("\n") == 1


def test_decode_with_a_window_equals_the_library(tmp_path, capsys):
    exp = MemoryExperiment(distance=3, rounds=10, p=0.01, basis="z")
    circuit = exp.circuit()
    (tmp_path / "c.stim").write_text(str(circuit))
    dets = circuit.compile_detector_sampler(seed=2).sample(400)
    stim.write_shot_data_file(data=dets, path=str(tmp_path / "d.b8"), format="b8", num_detectors=circuit.num_detectors)
    out = tmp_path / "p.01"
    assert main(["decode", "--circuit", str(tmp_path / "c.stim"), "--dets", str(tmp_path / "d.b8"), "--out", str(out),
                 "--out-format", "01", "--decoder", "pymatching", "--window", "4:2", "--quiet"]) == 0
    got = stim.read_shot_data_file(path=str(out), format="01", num_measurements=1)
    dem = circuit.detector_error_model(decompose_errors=True, approximate_disjoint_errors=True)
    assert np.array_equal(got, get_decoder("pymatching/w4:2", circuit, dem).decode_batch(dets))
    assert main(["decode", "--circuit", str(tmp_path / "c.stim"), "--dets", str(tmp_path / "d.b8"), "--out",
                 str(tmp_path / "q.01"), "--window", "4:5"]) == 2
    assert "cannot be longer" in capsys.readouterr().err


def test_hardware_scores_windowed_columns_of_ours_only(capsys):
    folder = str(DATA / "surface_code_bX_d3_r05_center_3_5")
    assert main(["hardware", folder, "--decoders", "pymatching", "google-pymatching", "--window", "6:1", "3:1",
                 "--max-shots", "1000", "--bootstrap", "0", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    counts = doc["folders"][0]["decoders"]
    assert list(counts) == ["pymatching", "pymatching/w6:1", "pymatching/w3:1", "google-pymatching"]
    assert counts["pymatching/w6:1"]["errors"] == counts["pymatching"]["errors"]  # one window: global
    assert counts["pymatching/w6:1"]["only_fails"]["pymatching"] == 0
