"""Noise identity travels with results: models and CSV rows record the noise model's version,
results of two versions never merge, unknown versions are one-line errors, and a model trained on
another version than the experiment's says so."""

from __future__ import annotations

import json

import pytest
import sinter

from experiments.cli import main
from experiments.plot_command import series_label
from predecoder import ModelFileError, load_model
from predecoder._training import TrainConfig, train
from qec import LerTask, MemoryExperiment, collect_ler
from qec._data._stats_csv import read_csv_stats, strong_id


def test_versions_enter_the_strong_id_so_rows_never_merge():
    exp = MemoryExperiment(3, 3, 0.005, "x")
    meta = exp.json_metadata()
    assert meta["noise_version"] == 2
    old = {k: v for k, v in meta.items() if k != "noise_version"}  # a row written before versions
    c, d = str(exp.circuit()), str(exp.dem())
    assert strong_id(c, d, "pymatching", meta) != strong_id(c, d, "pymatching", old)


def _rewrite_version(path, version):
    lines = path.read_text().splitlines()
    stats = [sinter.TaskStats(strong_id=s.strong_id, decoder=s.decoder, json_metadata={**s.json_metadata,
             "noise_version": version}, shots=s.shots, errors=s.errors, discards=0, seconds=s.seconds)
             for s in sinter.read_stats_from_csv_files(str(path))]
    path.write_text("\n".join([lines[0]] + [s.to_csv_line() for s in stats]) + "\n")


def test_a_csv_row_with_an_unknown_noise_version_is_one_line(tmp_path, capsys):
    out = tmp_path / "s.csv"
    collect_ler([LerTask(MemoryExperiment(3, 3, 0.005, "x"))], max_shots=500, seed=1, out=out)
    assert len(read_csv_stats(out)) == 1
    _rewrite_version(out, 9)
    with pytest.raises(ValueError, match="unknown noise version 9 of 'depolarizing'"):
        read_csv_stats(out)
    assert main(["ler", "-d", "3", "--p", "0.005", "--max-shots", "600", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown noise version 9" in err


def test_model_files_record_the_training_noise_and_reject_unknown_versions(make_model_file):
    current = load_model(make_model_file(1, {"noise": "depolarizing", "noise_version": 2, "distance": 5, "p": 0.006}))
    assert current.training_noise == ("depolarizing", 2)
    assert current.describe_training_noise() == "depolarizing v2, d=5, p=0.006"
    assert current.noise_mismatch("depolarizing") is None and current.noise_mismatch("si1000") is None
    old = load_model(make_model_file(2, {"noise": "depolarizing", "distance": 5, "p": 0.006}))  # unrecorded
    assert old.training_noise == ("depolarizing", 1)
    note = old.noise_mismatch("depolarizing")
    assert note is not None and "\n" not in note and "depolarizing v1 (superseded)" in note
    assert load_model(make_model_file(3, {})).training_noise is None
    with pytest.raises(ModelFileError, match="training noise: unknown noise version 5"):
        load_model(make_model_file(4, {"noise": "depolarizing", "noise_version": 5}))


def test_shipped_default_is_trained_on_the_current_noise():
    model = load_model()
    assert model.training_noise == ("depolarizing", 2)
    assert model.noise_mismatch("depolarizing") is None


def test_ler_names_the_model_noise_and_notes_a_mismatch(make_model_file, capsys):
    old = make_model_file(5, {"noise": "depolarizing", "distance": 3, "p": 0.01})
    argv = ["ler", "-d", "3", "--p", "0.01", "--decoders", "predecoder", "--max-shots", "300", "--seed", "1",
            "--model", old, "--json"]
    assert main(argv) == 0
    cap = capsys.readouterr()
    assert "trained on depolarizing v1 (superseded), d=3, p=0.01" in cap.err
    assert "note: model" in cap.err and "this experiment uses depolarizing v2" in cap.err
    row = json.loads(cap.out)["results"][0]
    assert row["noise_version"] == 2 and row["metadata"]["model_noise"] == "depolarizing v1"


def test_rounds_relative_to_the_distance(capsys):
    assert main(["ler", "-d", "3", "5", "--rounds", "d-1", "d", "--p", "0.01", "--max-shots", "200", "--seed", "1",
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert sorted((r["distance"], r["rounds"]) for r in rows) == [(3, 2), (3, 3), (5, 4), (5, 5)]
    assert main(["ler", "-d", "3", "--rounds", "d-3", "--p", "0.01", "--max-shots", "10"]) == 2
    assert "rounds must be >= 1, got 0 at d=3" in capsys.readouterr().err


def test_plot_series_differ_by_noise_version_and_everything_but_p():
    new = {"d": 5, "r": 4, "p": 0.006, "b": "x", "noise": "depolarizing", "noise_version": 2}
    old = {"d": 5, "r": 4, "p": 0.006, "b": "x", "noise": "depolarizing"}
    assert series_label("pymatching", new) == "pymatching d=5 r=4 depolarizing v2 x"
    assert series_label("pymatching", old) == "pymatching d=5 r=4 depolarizing v1 x"
    assert series_label("predecoder", {**new, "r": 5, "model": "ab12", "threshold": 2.0}) == \
        "predecoder d=5 depolarizing v2 x model=ab12 threshold=2.0"


def test_resume_refuses_a_run_of_another_noise_version(tmp_path):
    cfg = TrainConfig(distance=3, p=0.01, out=str(tmp_path), preset="tiny", batch=16, steps=4, val_shots=0,
                      threads=1, warmup_steps=1)
    train(cfg, log=lambda m: None, stop_at_step=2)
    assert load_model(tmp_path / "last.safetensors").training_noise == ("depolarizing", 2)
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["noise_version"] == 2
    del state["noise_version"]  # as written before versions: depolarizing v1
    (tmp_path / "state.json").write_text(json.dumps(state))
    with pytest.raises(ValueError, match="trained on depolarizing v1 \\(superseded\\) noise; this qec's depolarizing is v2"):
        train(cfg, resume=True, log=lambda m: None)


def test_models_command_shows_the_training_noise(make_model_file, capsys):
    path = make_model_file(6, {"noise": "depolarizing", "noise_version": 2, "distance": 5, "p": 0.006,
                               "samples_seen": 1000, "preset": "tiny"})
    assert main(["models", "--model", path]) == 0
    out = capsys.readouterr().out
    assert "trained on depolarizing v2, d=5, p=0.006" in out and "1,000 samples" in out
    assert main(["models", "--model", path, "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["models"][0]["summary"]
    assert (row["noise"], row["noise_version"], row["preset"]) == ("depolarizing", 2, "tiny")
    assert main(["models", "--model", str(path) + ".missing"]) == 2
    assert "does not exist" in capsys.readouterr().err
