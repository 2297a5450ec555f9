"""benchmarks/residual_correlations.py: its accounting adds up (every removed event is traced to
the fired DEM errors behind it, isolated XZ errors fall in exactly one class) and its residual
pipelines are the pipeline's own."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def mod(benchmark_script):
    return benchmark_script("residual_correlations")


def test_the_accounting_adds_up(make_model_file, mod):
    model = make_model_file(4, {"threshold": 0.0})
    r = mod.run(3, 2, 0.01, "x", model, shots=300, seed=5)
    assert sum(r["removed_by_kind"].values()) == r["events"]["removed"] > 0
    assert r["events"]["raw"] - r["events"]["removed"] + r["events"]["added"] == r["events"]["residual"]
    iso = r["isolated_xz"]
    assert iso["both"] + iso["x_only"] + iso["z_only"] + iso["neither"] == iso["count"] > 0
    assert r["dem_errors"]["xz"] > 0 and r["fired"]["xz"] > 0
    c = r["correlated_rescues"]
    e = r["errors"]
    assert e["pymatching"] - e["pymatching-correlated"] == c["count"] - c["raw_broken"]
    assert e["predecoder"] - e["predecoder-correlated"] == c["residual_rescued"] - c["residual_broken"]
    for k in ("raw", "residual"):
        assert 0 <= r["co_occurrence"][k]["chance_rate"] <= 1 and 0 <= r["co_occurrence"][k]["partner_rate"] <= 1
    assert "isolated fired XZ errors" in mod.summary(r)


def test_its_residual_pipeline_is_the_pipelines(make_model_file, mod):
    """The residual and plain-matching predictions equal PipelineDecoder's own on the same shots."""
    import stim

    from predecoder import PipelineDecoder
    from qec import MemoryExperiment

    model = make_model_file(4, {"threshold": 0.0})
    exp = MemoryExperiment(3, 2, 0.01, "x")
    dem = exp.dem()
    events, obs, _ = dem.compile_sampler(seed=5).sample(300, return_errors=True)
    dec = PipelineDecoder(exp.circuit(), dem, model=model)
    fails = np.any(dec.decode_batch(events.astype(bool)) != obs.astype(bool), axis=1)
    r = mod.run(3, 2, 0.01, "x", model, shots=300, seed=5)
    assert r["errors"]["predecoder"] == int(fails.sum())
    assert isinstance(dem, stim.DetectorErrorModel)
