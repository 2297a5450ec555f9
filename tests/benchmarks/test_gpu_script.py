"""benchmarks/gpu_check_and_train.py runs end to end on a CPU with tiny sizes (--smoke): every
step's output lands in one folder, and an earlier run is never overwritten."""

from __future__ import annotations

import json

import pytest

from predecoder import load_model

pytestmark = pytest.mark.slow  # runs the GPU script's CPU smoke form (training, benchmarks)


@pytest.fixture
def script(benchmark_script):
    return benchmark_script("gpu_check_and_train")


def test_smoke_run_writes_everything_into_one_folder(tmp_path, capsys, script):
    out = tmp_path / "run"
    assert script.main(["--out", str(out), "--device", "cpu", "--smoke"]) == 0
    capsys.readouterr()
    for name in ("environment.json", "tests.log", "bench.json", "train.log", "eval.json", "summary.json"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert [s["step"] for s in summary["steps"]] == ["tests", "bench predecoder", "bench predecoder-weighted",
                                                     "throughput", "train", "eval"]
    assert (out / "throughput.json").exists() and summary["training_variant"] in ("base", "channels-last")
    assert all(s["returncode"] == 0 for s in summary["steps"])
    bench = json.loads((out / "bench.json").read_text())["results"]
    assert [r["decoder"] for r in bench] == ["predecoder", "predecoder", "predecoder-weighted", "predecoder-weighted"]
    assert bench[0]["distance"] == 3
    new = load_model(out / "train" / "best.safetensors")
    assert new.training_noise == ("depolarizing", 2)
    assert new.metadata["init"]["sha256"] == load_model("fast").sha256  # continued the flagship
    ev = json.loads((out / "eval.json").read_text())
    assert set(ev["results"]) == {"pymatching", "pymatching-correlated", "predecoder-old", "predecoder-new",
                                  "predecoder-weighted-old", "predecoder-weighted-new"}
    assert len({r["shots"] for r in ev["results"].values()}) == 1  # the same shots for all


def test_an_earlier_run_is_never_overwritten(tmp_path, script):
    (tmp_path / "keep.txt").write_text("earlier run")
    with pytest.raises(SystemExit):
        script.main(["--out", str(tmp_path), "--device", "cpu", "--smoke"])
    assert (tmp_path / "keep.txt").read_text() == "earlier run"


def test_the_two_calls_fit_the_lease(capsys, script):
    """One call runs at most 10 minutes; the lease is 15 minutes with the two machine starts."""
    assert script.main(["--plan", "--skip", "eval"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["call1_total"] <= 9 and plan["call2_total"] <= 3
    assert plan["call1_total"] + plan["call2_total"] + plan["machine_starts"] <= 15


def test_call_two_evaluates_a_given_model(tmp_path, capsys, script):
    out = tmp_path / "eval"
    assert script.main(["--out", str(out), "--device", "cpu", "--smoke", "--eval-model", "small",
                           "--skip", "tests", "bench", "throughput", "train"]) == 0
    capsys.readouterr()
    summary = json.loads((out / "summary.json").read_text())
    assert [s["step"] for s in summary["steps"]] == ["eval"] and summary["new_model"] == "small"
    ev = json.loads((out / "eval.json").read_text())
    assert ev["new_model"] == load_model("small").sha256 and "weighted_new_vs_correlated" in ev
