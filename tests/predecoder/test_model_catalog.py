"""Shipped models by name: small (the CPU default), fast (the flagship) and sycamore-d5 (for
Google's Sycamore d=5 patch), taken everywhere a model is taken, and listed with their training
record, measured ratios and, for a device model, where its noise was learned from."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from experiments.cli import main
from predecoder import DEFAULT_MODEL, SHIPPED_MODELS, load_model, model_path, shipped_models, sinter_decoders
from qec import MemoryExperiment


def test_names_resolve_to_the_package_files_and_paths_stay_paths(tmp_path):
    assert DEFAULT_MODEL == "small" and set(SHIPPED_MODELS) == {"small", "fast", "sycamore-d5", "sycamore-d3",
                                                               "sycamore-d3-v1", "sycamore-d5-v1"}
    for name in SHIPPED_MODELS:
        assert os.path.exists(model_path(name))
        assert load_model(name).summary()["preset"] == ("small" if name.startswith("sycamore") else name)
    assert model_path(None) == model_path("small")
    assert model_path(str(tmp_path / "x.safetensors")) == str(tmp_path / "x.safetensors")
    assert load_model("fast").network.num_parameters() == 912_772
    # The package's model files are never written by a command: they are read-only inputs.
    assert load_model("small").sha256 == load_model(model_path("small")).sha256


def test_models_lists_every_shipped_model(capsys):
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["models"]
    assert [r["name"] for r in rows] == ["small", "fast", "sycamore-d3", "sycamore-d3-v1", "sycamore-d5",
                                               "sycamore-d5-v1"] and rows[0]["default"]
    for r in rows:
        s = r["summary"]
        assert {"preset", "parameters", "distance", "noise", "noise_version", "samples_seen", "sha256",
                "validation"} <= set(s)
        assert r["purpose"]
    fast = rows[1]
    assert any(m["d"] == 9 and m["ratio"] > 1 for m in fast["measured"])
    assert main(["models"]) == 0
    assert "small (default)" in capsys.readouterr().out


def test_model_names_work_everywhere_a_model_is_taken(tmp_path, capsys):
    argv = ["ler", "-d", "3", "--p", "0.01", "--decoders", "predecoder", "--max-shots", "200", "--seed", "1",
            "--model", "fast", "--json"]
    assert main(argv) == 0
    row = json.loads(capsys.readouterr().out)["results"][0]
    assert row["metadata"]["model"] == load_model("fast").short_hash
    exp = MemoryExperiment(3, 3, 0.01, "x")
    names = sinter_decoders(model="fast")
    assert f"predecoder@{load_model('fast').short_hash}" in names
    assert main(["train", "--distance", "3", "--p", "0.01", "--preset", "small", "--init", "small", "--steps", "1",
                 "--batch", "4", "--val-shots", "0", "--threads", "1", "--out", str(tmp_path / "run")]) == 0
    meta = load_model(tmp_path / "run" / "last.safetensors").metadata
    assert meta["init"]["sha256"] == load_model("small").sha256
    capsys.readouterr()
    assert main(["bench", "-d", "3", "--p", "0.01", "--batch", "2", "--shots", "2", "--repeats", "1", "--warmup", "0",
                 "--model", "small", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["model"] == load_model("small").short_hash
    circuit = exp.circuit()
    dets = circuit.compile_detector_sampler(seed=1).sample(5)
    (tmp_path / "c.stim").write_text(str(circuit))
    np.packbits(dets, axis=1, bitorder="little").tofile(tmp_path / "d.b8")
    assert main(["decode", "--circuit", str(tmp_path / "c.stim"), "--dets", str(tmp_path / "d.b8"), "--out",
                 str(tmp_path / "p.01"), "--out-format", "01", "--model", "fast", "--quiet"]) == 0
    assert len((tmp_path / "p.01").read_text().splitlines()) == 5
    pytest.importorskip("onnx")
    assert main(["export", "--model", "small", "--out", str(tmp_path / "m.onnx"), "--no-verify"]) == 0


@pytest.mark.parametrize("name", ["sycamore-d5", "sycamore-d5-v1"])
def test_the_sycamore_model_loads_on_googles_d5_circuit_and_says_where_its_noise_came_from(capsys, name):
    """sycamore-d5: small's network fine-tuned on DEMs learned from the even halves of Google's d=5
    X-basis folders; its layout is the d=5 Sycamore circuit's, its provenance and hardware
    measurement are listed, and qec hardware would refuse it on the shots it learned from."""
    import pathlib

    import stim

    from predecoder import PipelineDecoder
    from qec._hardware._dem_provenance import overlapping

    model = load_model(name)
    s = model.summary()
    assert s["preset"] == "small" and s["distance"] == 5 and s["rounds"] == [3, 5, 7, 11, 13, 15, 19, 21, 23]
    folders = {f.folder for f in model.fitted_on}
    assert len(folders) == 9 and all(f.endswith("_center_5_5") for f in folders)
    assert {f.half for f in model.fitted_on} == {"even"}
    assert overlapping(model.fitted_on, "surface_code_bX_d5_r03_center_5_5", "even")
    assert not overlapping(model.fitted_on, "surface_code_bX_d5_r03_center_5_5", "odd")
    circuit = stim.Circuit.from_file(pathlib.Path(__file__).resolve().parents[1] / "data" / "google_qec3v5" /
                                     "surface_code_bX_d5_r03_center_5_5" / "circuit_ideal.stim")
    dec = PipelineDecoder(circuit, circuit.detector_error_model(), model=name,
                          global_decoder="pymatching-weighted")
    assert dec.layout.distance == 5 and dec.layout.shape == (4, 6, 6)
    assert not np.asarray(dec.decode_batch(np.zeros((3, circuit.num_detectors), dtype=bool))).any()
    assert dec.fitted_on == model.fitted_on

    assert main(["models", "--json"]) == 0
    row = next(r for r in json.loads(capsys.readouterr().out)["models"] if r["name"] == name)
    assert "even" in row["provenance"]["summary"] and len(row["provenance"]["folders"]) == 9
    hw = [m for m in row["measured"] if m.get("kind") == "hardware"]
    assert hw and all(m["half"] == "odd" and m["low"] < m["eps_per_round"] < m["high"] for m in hw)
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "provenance: " in text and "measured on hardware: d=5" in text


@pytest.mark.parametrize("name, init", [("sycamore-d3", "sycamore-d5-v1"), ("sycamore-d3-v1", "sycamore-d5-v1")])
def test_the_d3_sycamore_models_cover_both_d3_patches(name, init):
    """sycamore-d3 (and the version it replaced, sycamore-d3-v1): its training DEMs came from the
    even halves of both d=3 patches' folders; its measurements are on the odd halves of each patch."""
    from qec._hardware._dem_provenance import overlapping

    model = load_model(name)
    assert model.summary()["distance"] == 3
    assert {f.folder.rsplit("center_", 1)[1] for f in model.fitted_on} == {"3_5", "5_7"}
    assert len(model.fitted_on) == 24 and {f.half for f in model.fitted_on} == {"even"}
    assert overlapping(model.fitted_on, "surface_code_bX_d3_r05_center_3_5", "even")
    assert not overlapping(model.fitted_on, "surface_code_bX_d3_r05_center_3_5", "odd")
    entry = next(s for s in shipped_models() if s.name == name)
    assert {m["patch"] for m in entry.measured} == {"d=3 center 3_5", "d=3 center 5_7"}
    assert entry.provenance["init"] == init


@pytest.mark.parametrize("name", ["sycamore-d3", "sycamore-d5"])
def test_a_retrained_device_model_took_its_name_only_where_it_measured_better(name):
    """sycamore-d3 and sycamore-d5 were retrained on the maximum-likelihood DEMs; each replaced its
    round-one version (NAME-v1) under the name because it made fewer errors per round on the odd
    halves of every patch it was measured on."""
    entries = {s.name: s for s in shipped_models()}
    new = {m["patch"]: m["eps_per_round"] for m in entries[name].measured}
    old = {m["patch"]: m["eps_per_round"] for m in entries[f"{name}-v1"].measured
           if m["decoder"] == "predecoder-weighted"}
    assert set(new) == set(old) and all(new[p] < old[p] for p in new)
    assert entries[name].provenance["estimator"] == "likelihood"
    assert entries[name].provenance["init"] in ("sycamore-d5-v1",)
    assert load_model(name).sha256 != load_model(f"{name}-v1").sha256
