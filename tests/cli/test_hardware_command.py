"""`qec hardware` and `qec learn-noise --experiment` through experiments.cli.main(argv): the
JSON contract, the table, the figure, the CSV, and one-line errors for bad input."""

from __future__ import annotations

import json
import pathlib
import shutil

import numpy as np
import pytest
import sinter
import stim

from experiments.cli import main
from qec._hardware._experiment_folders import read_experiment_folder
from qec._hardware._hardware_columns import CircuitDem
from qec._hardware._hardware_scores import score_folder
from qec import hardware_columns

DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "google_qec3v5"
R03 = DATA / "surface_code_bX_d3_r03_center_3_5"
R05 = DATA / "surface_code_bX_d3_r05_center_3_5"
SLICES = [str(DATA / f"surface_code_bX_d3_r0{r}_center_3_5") for r in (1, 3, 5)]


def one_line_error(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("qec ") and err.count("\n") == 1, err
    assert match in err, err


def test_json_contract(capsys):
    argv = ["hardware", *SLICES, "--decoders", "pymatching", "pymatching-correlated", "google-pymatching",
            "google-correlated-matching", "google-belief-matching", "google-tensor-network",
            "--dem", "circuit", "--bootstrap", "100", "--json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)  # exactly one document
    assert list(doc) == ["folders", "patches"]
    assert [f["rounds"] for f in doc["folders"]] == [1, 3, 5]
    for f in doc["folders"]:
        assert {"name", "d", "rounds", "center", "basis", "shots", "decoders"} <= set(f)
        assert (f["d"], f["center"], f["basis"], f["shots"]) == (3, [3, 5], "x", 2000)
        assert set(f["decoders"]) == {"pymatching", "pymatching-correlated", "google-pymatching",
                                      "google-correlated-matching", "google-belief-matching", "google-tensor-network"}
        for c in f["decoders"].values():
            assert {"errors", "shots"} <= set(c) and c["shots"] == 2000
        assert f["decoders"]["pymatching"]["errors"] == f["decoders"]["google-pymatching"]["errors"]
    (p,) = doc["patches"]
    assert (p["d"], p["center"], p["basis"], p["rounds"]) == (3, [3, 5], "x", [3, 5])
    for name, c in p["decoders"].items():
        assert set(c) == {"eps_per_round", "low", "high", "seconds_per_shot"}
        assert c["low"] <= c["eps_per_round"] <= c["high"]
        # Runtime is part of the result: ours took time, Google's recorded predictions none.
        assert (c["seconds_per_shot"] > 0) == (not name.startswith("google-")), (name, c)
    # Progress goes to stderr, a line per folder.
    assert captured.err.count("qec hardware: surface_code_") == 3


def test_table_plot_csv_and_max_shots(tmp_path, capsys):
    out, png = tmp_path / "hw.csv", tmp_path / "hw.png"
    argv = ["hardware", str(DATA), "--decoders", "pymatching", "google-pymatching", "--dem", "circuit", "pij",
            "--max-shots", "800", "--out", str(out), "--plot", str(png), "--bootstrap", "50",
            "--reference", "google-pymatching"]
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "pymatching@circuit" in table and "pymatching@pij" in table and "google-pymatching" in table
    assert "patch d=3 center 3_5 basis x" in table and "only-fails vs google-pymatching: 0 vs 0" in table
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stats = sinter.read_stats_from_csv_files(out)
    assert len(stats) == 3 * 3 and {s.shots for s in stats} == {800}
    # The first 800 shots, halves by index: as the library computes them.
    ref = score_folder(R05, hardware_columns(["pymatching"], [CircuitDem()]), max_shots=800)
    row = next(s for s in stats if s.decoder == "pymatching@circuit" and s.json_metadata["r"] == 5)
    assert row.errors == ref.decoders["pymatching"].errors
    # A rerun takes every folder from the CSV.
    assert main(argv) == 0
    assert capsys.readouterr().err.count("(from the CSV)") == 3
    assert len(sinter.read_stats_from_csv_files(out)) == 9


def test_learned_dems_decode_the_other_half(tmp_path, capsys):
    assert main(["hardware", str(R05), "--decoders", "pymatching", "--dem", "learned", "--json",
                 "--bootstrap", "0"]) == 0
    doc = json.loads(capsys.readouterr().out)
    errors = doc["folders"][0]["decoders"]["pymatching"]["errors"]
    # The same from the files `qec learn-noise --experiment` writes.
    fails = 0
    folder = read_experiment_folder(R05)
    events, actual = folder.events(), folder.actual_flips()
    import pymatching

    for learn_on, decode in (("even", 1), ("odd", 0)):
        path = tmp_path / f"{learn_on}.dem"
        assert main(["learn-noise", "--experiment", str(R05), "--half", learn_on, "--out", str(path)]) == 0
        assert f"wrote {path}" in capsys.readouterr().out
        m = pymatching.Matching.from_detector_error_model(stim.DetectorErrorModel.from_file(path))
        pred = m.decode_batch(events[decode::2], bit_packed_shots=True, bit_packed_predictions=True)
        fails += int(np.count_nonzero((pred[:, 0] & 1).astype(bool) != actual[decode::2, 0]))
    assert errors == fails


def test_predecoder_decodes_googles_circuits(capsys, make_model_file):
    model = make_model_file(1, {"threshold": 1e9})  # corrects nothing: the pipeline is PyMatching
    assert main(["hardware", str(R03), "--decoders", "predecoder", "google-pymatching", "--dem", "circuit",
                 "--model", model, "--max-shots", "300", "--json", "--bootstrap", "0"]) == 0
    d = json.loads(capsys.readouterr().out)["folders"][0]["decoders"]
    assert d["predecoder"]["errors"] == d["google-pymatching"]["errors"]
    assert d["predecoder"]["only_fails"]["google-pymatching"] == 0



def test_one_network_pass_serves_a_models_compositions(capsys, make_model_file, monkeypatch):
    """predecoder, predecoder-correlated and predecoder-weighted of one model run its network once
    per chunk and score exactly what each scores alone; each column's seconds hold the shared pass."""
    from predecoder._pipeline import PipelineDecoder

    model = make_model_file(3, {"threshold": 0.0})
    base = ["hardware", str(R03), "--model", model, "--max-shots", "300", "--half", "odd", "--json",
            "--bootstrap", "0", "--dem", "circuit", "--decoders"]
    names = ["predecoder", "predecoder-correlated", "predecoder-weighted"]
    calls = []
    forward = PipelineDecoder.logits_from_grid
    monkeypatch.setattr(PipelineDecoder, "logits_from_grid", lambda self, x: calls.append(len(x)) or forward(self, x))
    assert main([*base, *names, "google-pymatching"]) == 0
    together = json.loads(capsys.readouterr().out)["folders"][0]["decoders"]
    assert sum(calls) == 150  # the 150 odd shots went through the network once
    for name in names:
        assert main([*base, name, "google-pymatching"]) == 0
        alone = json.loads(capsys.readouterr().out)["folders"][0]["decoders"]
        assert alone[name]["errors"] == together[name]["errors"]
        assert alone[name]["only_fails"]["google-pymatching"] == together[name]["only_fails"]["google-pymatching"]
        assert together[name]["seconds"] > 0
    assert sum(calls) == 600

def test_bad_input_is_one_line(tmp_path, capsys):
    one_line_error(capsys, ["hardware", str(tmp_path / "nope")], "does not exist")
    one_line_error(capsys, ["hardware", str(R03), "--decoders", "magic"], "unknown decoder 'magic'")
    one_line_error(capsys, ["hardware", str(R03), "--dem", "fancy"], "--dem fancy: give circuit, pij, learned")
    one_line_error(capsys, ["hardware", str(R03), "--max-shots", "0"], "--max-shots must be >= 1")
    one_line_error(capsys, ["hardware", str(R03), "--reference", "nope"], "--reference nope is not one of the decoders")
    one_line_error(capsys, ["hardware", str(R03), "--out", str(R03 / "properties.yml")], "refusing to overwrite an input")
    one_line_error(capsys, ["hardware", str(R03), "--plot", str(R03 / "circuit_ideal.stim")], "refusing to overwrite")
    broken = tmp_path / R03.name
    shutil.copytree(R03, broken)
    (broken / "obs_flips_predicted_by_belief_matching.01").unlink()
    one_line_error(capsys, ["hardware", str(broken), "--decoders", "google-belief-matching"],
                   "no predictions of belief_matching")
    (broken / "circuit_detector_error_model.dem").unlink()
    one_line_error(capsys, ["hardware", str(broken), "--decoders", "pymatching"],
                   "needs circuit_detector_error_model.dem, which is missing")
    one_line_error(capsys, ["learn-noise", "--experiment", str(R03), "--out", str(tmp_path / "x.dem")],
                   "--experiment needs --half")
    one_line_error(capsys, ["learn-noise", "--experiment", str(R03), "--half", "odd", "--out",
                            str(R03 / "pij_from_odd_for_even.dem")], "refusing to overwrite an input")
    one_line_error(capsys, ["learn-noise", "--half", "odd"], "--half needs --experiment")


def test_half_scores_only_that_half(capsys):
    argv = ["hardware", str(R05), "--decoders", "pymatching", "google-correlated-matching", "--dem", "circuit",
            "learned", "--max-shots", "1200", "--json", "--bootstrap", "0"]
    assert main(argv) == 0
    both = json.loads(capsys.readouterr().out)["folders"][0]
    assert main(argv + ["--half", "odd"]) == 0
    odd = json.loads(capsys.readouterr().out)["folders"][0]
    assert (both["shots"], both["half"], odd["shots"], odd["half"]) == (1200, None, 600, "odd")
    # Shot by shot what the whole run did on the odd shots (the learned DEM from the even ones).
    folder = read_experiment_folder(R05)
    actual = folder.actual_flips(1200)[1::2]
    google = folder.predictions("correlated_matching", 1200)[1::2]
    assert odd["decoders"]["google-correlated-matching"]["errors"] == int((google != actual).sum())
    import pymatching

    events = folder.events(1200)[1::2]
    for dem, name in ((folder.circuit_dem(), "pymatching@circuit"), (None, "pymatching@learned")):
        if dem is None:
            from noise_learning._experiment_dems import learn_folder_dem

            dem = learn_folder_dem(folder, "even", max_shots=1200).dem()
        pred = pymatching.Matching.from_detector_error_model(dem).decode_batch(
            events, bit_packed_shots=True, bit_packed_predictions=True)
        assert odd["decoders"][name]["errors"] == int(((pred[:, :1] & 1).astype(bool) != actual).sum())
        assert odd["decoders"][name]["seconds"] > 0
    assert both["decoders"]["pymatching@learned"]["errors"] > odd["decoders"]["pymatching@learned"]["errors"]


def test_what_was_fitted_on_a_half_is_refused_there(tmp_path, capsys, make_model_file):
    from qec._hardware._dem_provenance import FittedOn

    learned = tmp_path / "learned.dem"
    assert main(["learn-noise", "--experiment", str(R05), "--half", "even", "--out", str(learned)]) == 0
    capsys.readouterr()
    assert learned.read_text().startswith(
        '# fitted_on: {"folder": "surface_code_bX_d3_r05_center_3_5", "half": "even", "shots": 1000}\n')
    one = ["hardware", str(R05), "--bootstrap", "0", "--json"]
    one_line_error(capsys, [*one, "--decoders", "pymatching", "--dem", str(learned)],
                   "pymatching was fitted on the 1000 even shots of surface_code_bX_d3_r05_center_3_5; score only "
                   "shots it never saw (--half odd)")
    one_line_error(capsys, [*one, "--decoders", "pymatching", "--dem", str(learned), "--half", "even"], "--half odd")
    assert main([*one, "--decoders", "pymatching", "--dem", str(learned), "--half", "odd"]) == 0
    assert [f["shots"] for f in json.loads(capsys.readouterr().out)["folders"]] == [1000]
    base = ["hardware", str(R03), str(R05), "--bootstrap", "0", "--json"]
    # A model trained on a learned DEM carries its provenance: the same refusal.
    model = make_model_file(2, {"threshold": 0.0, "fitted_on": [FittedOn(R05.name, "odd", 1000).to_json()]})
    for name in ("predecoder", "predecoder-weighted"):
        one_line_error(capsys, [*base, "--decoders", name, "--model", model, "--max-shots", "100"],
                       f"{name} was fitted on the 1000 odd shots of {R05.name}")
    assert main([*base, "--decoders", "predecoder-weighted", "google-pymatching", "--model", model,
                 "--max-shots", "100", "--half", "even"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [f["decoders"]["predecoder-weighted"]["shots"] for f in doc["folders"]] == [50, 50]
    assert main(["models", "--model", model]) == 0
    assert f"DEM learned from the 1000 odd shots of {R05.name} (never score those with it)" in capsys.readouterr().out


def test_learn_noise_estimators_on_a_folder(tmp_path, capsys):
    """Both estimators learn from a folder's half; the likelihood's record rises, its DEM has the
    correlation estimate's instructions with other probabilities; their columns in qec hardware."""
    from noise_learning import learn_folder_dem

    docs = {}
    for estimator in ("likelihood", "correlations"):
        path = tmp_path / f"{estimator}.dem"
        assert main(["learn-noise", "--experiment", str(R05), "--half", "even", "--estimator", estimator,
                     "--out", str(path), "--json"]) == 0
        docs[estimator] = json.loads(capsys.readouterr().out)
    assert docs["likelihood"]["method"] == "likelihood" and docs["correlations"]["method"] == "hyperedge"
    fit = docs["likelihood"]["likelihood_fit"]
    assert fit["objective"] == "windows" and fit["log_likelihood"] > fit["log_likelihood_start"]
    assert "likelihood_fit" not in docs["correlations"]
    dems = {e: stim.DetectorErrorModel.from_file(tmp_path / f"{e}.dem") for e in docs}
    strip = lambda dem: [(i.type, i.targets_copy()) for i in dem.flattened()]  # noqa: E731
    assert strip(dems["likelihood"]) == strip(dems["correlations"]) and dems["likelihood"] != dems["correlations"]
    one_line_error(capsys, ["learn-noise", "--experiment", str(R05), "--half", "even", "--order", "2", "--out",
                            str(tmp_path / "x.dem")], "--estimator likelihood fits the 3-/4-point hyperedges")
    one_line_error(capsys, ["learn-noise", "--experiment", str(R05), "--half", "even", "--estimator", "network",
                            "--out", str(tmp_path / "x.dem")], "likelihood or correlations")
    # qec hardware: learned is the likelihood estimate, learned-correlations the moment estimate.
    assert main(["hardware", str(R05), "--decoders", "pymatching", "--dem", "learned", "learned-correlations",
                 "--half", "odd", "--json", "--bootstrap", "0"]) == 0
    got = json.loads(capsys.readouterr().out)["folders"][0]["decoders"]
    folder = read_experiment_folder(R05)
    events, actual = folder.events()[1::2], folder.actual_flips()[1::2]
    import pymatching

    for column, estimator in (("pymatching@learned", "likelihood"), ("pymatching@learned-correlations",
                                                                    "correlations")):
        dem = learn_folder_dem(folder, "even", estimator=estimator).dem()
        pred = pymatching.Matching.from_detector_error_model(dem).decode_batch(
            events, bit_packed_shots=True, bit_packed_predictions=True)
        assert got[column]["errors"] == int(((pred[:, :1] & 1).astype(bool) != actual).sum())


# --- Issue 30: faults, round three ---------------------------------------------------------------


def test_a_csv_written_into_the_folder_resumes(tmp_path, capsys):
    """Item 15: `qec hardware FOLDER --out FOLDER/hw.csv` worked once; the identical rerun was
    refused as "is the input" (every file of the folder counted as one)."""
    folder = tmp_path / R03.name
    shutil.copytree(R03, folder)
    argv = ["hardware", str(folder), "--decoders", "pymatching", "google-pymatching", "--max-shots", "300",
            "--bootstrap", "0", "--json", "--out", str(folder / "hw.csv")]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(argv) == 0  # resumed: the folder's rows come from the CSV
    captured = capsys.readouterr()
    assert "(from the CSV)" in captured.err
    assert [f["decoders"]["pymatching"]["errors"] for f in json.loads(captured.out)["folders"]] == \
        [f["decoders"]["pymatching"]["errors"] for f in first["folders"]]
    # The folder's own files stay inputs.
    one_line_error(capsys, argv[:-1] + [str(folder / "detection_events.b8")], "refusing to overwrite an input")
    learned = folder / "learned.dem"  # learn-noise's output in the folder, likewise
    for _ in range(2):
        assert main(["learn-noise", "--experiment", str(folder), "--half", "even", "--out", str(learned)]) == 0
    capsys.readouterr()


def test_a_dem_that_cannot_decode_is_named(tmp_path, capsys):
    """Item 18: the refusal named the decoder ("pymatching cannot decode these shots") when it
    meant the DEM."""
    import re

    zero = tmp_path / "zero.dem"
    zero.write_text(re.sub(r"error\([^)]*\)", "error(0)", (R03 / "circuit_detector_error_model.dem").read_text()))
    one_line_error(capsys, ["hardware", str(R03), "--decoders", "pymatching", "--dem", str(zero), "--max-shots", "100"],
                   "DEM zero.dem@")
    one_line_error(capsys, ["hardware", str(R03), "--decoders", "pymatching", "--dem", str(zero), "--max-shots", "100"],
                   "has no error of positive probability")
    # A DEM learned from too few shots: the learned DEM (and the half it came from) is named.
    one_line_error(capsys, ["hardware", str(R03), "--decoders", "pymatching", "--dem", "learned", "--max-shots", "20",
                            "--bootstrap", "0"], "DEM learned (fitted on the odd half) started from a moment estimate "
                                                 "that leaves")
