"""The closed loop: learn the DEM of hot-spot noise, train on it, compare with true and nominal
(a tiny end-to-end run); learned DEMs that do not fit the circuit are one-line errors."""

from __future__ import annotations

import pytest

import json

from experiments.cli import main
from predecoder._closed_loop import ClosedLoopConfig, run_closed_loop
from predecoder import load_model
from qec import MemoryExperiment

pytestmark = pytest.mark.slow  # learns a DEM and trains models

HOT = ((3.0, 3.0, 5.0),)


def test_tiny_closed_loop_end_to_end_and_resume(tmp_path):
    cfg = ClosedLoopConfig(distance=3, p=0.004, hot=HOT, out=str(tmp_path), learn_shots=20_000, samples=1024,
                           test_shots=3000, preset="tiny", init=None, val_shots=400)
    result = run_closed_loop(cfg, log=lambda m: None)
    summary = result.to_json()
    names = {f"{d}-{k}" for d in ("pymatching", "pipeline") for k in ("true", "learned", "nominal")}
    assert set(summary["results"]) == names
    assert len({r["shots"] for r in summary["results"].values()}) == 1  # the same shots for all six
    for kind in ("true", "learned", "nominal"):
        meta = load_model(tmp_path / f"train_{kind}" / "best.safetensors").metadata
        assert meta["dem"].endswith(f"{kind}.dem") and meta["samples_this_run"] >= 1024
    # Hot spots: the nominal DEM's matching is worse than the true one's on the same shots.
    r = summary["results"]
    assert r["pymatching-nominal"]["errors"] > r["pymatching-true"]["errors"]
    assert summary["gap_closed"]["matcher"] == result.gap_closed("pymatching")
    assert result.results["pipeline-learned"].shots == r["pipeline-learned"]["shots"]
    assert json.loads((tmp_path / "results.json").read_text())["results"] == summary["results"]
    # A rerun resumes: the learned DEM and finished trainings are reused.
    learned = (tmp_path / "learned.dem").read_bytes()
    again = run_closed_loop(cfg, log=lambda m: None).to_json()
    assert (tmp_path / "learned.dem").read_bytes() == learned and again["results"] == summary["results"]


def test_a_dem_that_does_not_fit_is_one_line(tmp_path, capsys):
    z_dem = tmp_path / "z.dem"
    MemoryExperiment(5, 5, 0.003, "z").dem().to_file(z_dem)  # same detector count as x, other places
    assert main(["ler", "-d", "5", "--p", "0.003", "--basis", "x", "--dem", str(z_dem), "--max-shots", "100"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "detector 0 sits at" in err and "another circuit" in err
    assert main(["ler", "-d", "3", "--p", "0.003", "--dem", str(z_dem), "--max-shots", "100"]) == 2
    assert "has 120 detectors, the circuit 24" in capsys.readouterr().err
    assert main(["train", "--distance", "3", "--p", "0.003", "--preset", "tiny", "--steps", "1", "--dem", str(z_dem),
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fits neither memory basis" in err


def test_a_learned_dem_decodes_through_qec_ler(tmp_path, capsys):
    learned = tmp_path / "learned.dem"
    assert main(["learn-noise", "--distance", "3", "--p", "0.004", "--scale-qubit", "3", "3", "5", "--train-shots",
                 "20000", "--test-shots", "500", "--out", str(learned), "--json"]) == 0
    capsys.readouterr()
    argv = ["ler", "-d", "3", "--p", "0.004", "--scale-qubit", "3", "3", "5", "--max-shots", "500", "--seed", "1",
            "--json"]
    assert main(argv + ["--dem", str(learned)]) == 0
    row = json.loads(capsys.readouterr().out)["results"][0]
    assert row["metadata"]["dem"].startswith("learned.dem@")
