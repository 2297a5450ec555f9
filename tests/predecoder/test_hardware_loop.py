"""The closed loop on a device's shots (`qec closed-loop --experiment`): learn each folder's DEM
from one half, fine-tune, score on the other half; resume, refusals, one-line errors."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import stim

from experiments.cli import main
from qec._hardware._dem_provenance import FittedOn, read_provenance
from qec._hardware._experiment_folders import read_experiment_folder

pytestmark = pytest.mark.slow  # learns DEMs and trains a model

DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "google_qec3v5"
R03 = DATA / "surface_code_bX_d3_r03_center_3_5"
R05 = DATA / "surface_code_bX_d3_r05_center_3_5"


def _loop(out, *extra):
    return ["closed-loop", "--experiment", str(R03), str(R05), "--half", "even", "--samples", "2560",
            "--max-shots", "600", "--init", "none", "--preset", "tiny", "--bootstrap", "0", "--out", str(out), *extra]


def test_device_loop_learns_trains_scores_and_resumes(tmp_path, capsys):
    out = tmp_path / "loop"
    assert main([*_loop(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["scored_half"] == "odd" and json.loads((out / "results.json").read_text()) == doc
    names = ["predecoder-weighted", "pymatching-correlated", "pymatching", "google-pymatching",
             "google-correlated-matching", "google-belief-matching", "google-tensor-network"]
    assert [f["shots"] for f in doc["folders"]] == [300, 300]
    assert all(list(f["decoders"]) == names for f in doc["folders"])
    assert list(doc["patches"][0]["decoders"]) == names
    # Each folder's DEM was learned from its even half and says so; the model keeps the records.
    for folder in (R03, R05):
        dem_path = out / "dems" / f"{folder.name}.even.dem"
        assert read_provenance(dem_path) == [FittedOn(folder.name, "even", 300)]
        # Correlated PyMatching's column is that DEM on the odd half.
        f = read_experiment_folder(folder)
        events, actual = f.events(600)[1::2], f.actual_flips(600)[1::2]
        import pymatching

        m = pymatching.Matching.from_detector_error_model(stim.DetectorErrorModel.from_file(dem_path),
                                                          enable_correlations=True)
        pred = m.decode_batch(events, bit_packed_shots=True, bit_packed_predictions=True, enable_correlations=True)
        errors = int(np.count_nonzero((pred[:, 0] & 1).astype(bool) != actual[:, 0]))
        row = next(r for r in doc["folders"] if r["name"] == folder.name)
        assert row["decoders"]["pymatching-correlated"]["errors"] == errors
    from predecoder import load_model

    assert {r.folder for r in load_model(out / "train" / "best.safetensors").fitted_on} == {R03.name, R05.name}
    # A rerun resumes: nothing learned or trained again, the folders come from scores.csv.
    assert main([*_loop(out), "--json"]) == 0
    captured = capsys.readouterr()
    assert "closed loop: learned" not in captured.err and "nothing to train" in captured.err
    assert captured.err.count("from scores.csv") == 2
    again = json.loads(captured.out)
    counts = lambda d: [{n: (c["errors"], c["only_fails"]) for n, c in f["decoders"].items()} for f in d["folders"]]  # noqa: E731
    assert counts(again) == counts(doc)
    eps = lambda d: [{n: c["eps_per_round"] for n, c in p["decoders"].items()} for p in d["patches"]]  # noqa: E731
    assert eps(again) == eps(doc)
    # qec hardware --dem DIR decodes each half with the other half's file: the loop's column again.
    argv = ["hardware", str(R03), str(R05), "--decoders", "pymatching-correlated", "--dem", str(out / "dems"),
            "--max-shots", "600", "--json", "--bootstrap", "0"]
    assert main([*argv, "--half", "odd"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert [f["decoders"]["pymatching-correlated"]["errors"] for f in got["folders"]] == [
        f["decoders"]["pymatching-correlated"]["errors"] for f in doc["folders"]]
    # ... and refuses the half the files were learned from (no odd-half files to decode it with either).
    assert main([*argv, "--half", "even"]) == 2
    assert "fitted on" in capsys.readouterr().err
    assert main(["hardware", str(R03), "--dem", str(tmp_path), "--json"]) == 2
    assert "holds no <experiment folder>.<even|odd>.dem files" in capsys.readouterr().err
    # Other arguments into the same folder: one line naming them.
    assert main(_loop(out, "--lr", "0.01")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lr 0.001 there, 0.01 now" in err


def test_device_loop_refusals_are_one_line(tmp_path, capsys, make_model_file, make_experiment_folder):
    from qec import MemoryExperiment

    def refused(argv, match):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and match in err, err

    refused(["closed-loop", "--experiment", str(R03), "--out", str(tmp_path / "a")], "needs --half even|odd")
    refused(["closed-loop", "--experiment", str(R03), "--half", "even", "--distance", "3", "--out",
             str(tmp_path / "a")], "--distance: not a flag of the --experiment mode")
    refused(["closed-loop", "-d", "3", "--p", "0.003", "--hot", "3", "3", "5", "--minutes", "1", "--out",
             str(tmp_path / "a")], "--minutes: not a flag of the simulated mode")
    refused(["closed-loop", "--out", str(tmp_path / "a")], "give --experiment FOLDER")
    refused(["closed-loop", "--experiment", str(R03), "--half", "even", "--samples", "0", "--out", str(tmp_path / "a")],
            "--samples must be >= 1")
    from predecoder import HardwareLoopConfig
    from qec import QecError

    with pytest.raises(QecError, match="give a training budget"):
        HardwareLoopConfig(folders=(str(R03),), out=str(tmp_path / "a"), minutes=None)
    d5 = make_experiment_folder(MemoryExperiment(5, 3, 0.003), 100, 1)
    refused(["closed-loop", "--experiment", str(R03), d5, "--half",
             "even", "--out", str(tmp_path / "a")], "one model serves one distance and basis")
    # A warm start trained on the shots the loop would score.
    model = make_model_file(3, {"threshold": 0.0, "fitted_on": [FittedOn(R05.name, "odd", 300).to_json()]})
    refused(["closed-loop", "--experiment", str(R03), str(R05), "--half", "even", "--init", model, "--out",
             str(tmp_path / "b")], f"the warm start was trained on the 300 odd shots of {R05.name}")
    assert not (tmp_path / "b").exists()
