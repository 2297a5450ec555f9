"""``predecoder-weighted``: the network's logits as per-shot matching weights on the raw events."""

import json
import subprocess
import sys

import numpy as np
import pymatching
import pytest
import scipy.sparse

from predecoder import PipelineDecoder, sinter_decoders
from predecoder._latency_path import LatencyPath
from predecoder._pipeline import MAX_WEIGHT
from qec import MemoryExperiment


def probe_predictions(dec: PipelineDecoder, events: np.ndarray) -> np.ndarray:
    """The measurement that motivated the decoder (shared/probes/neural_weights_probe.py): for every
    valid basis element k, weight -logit_k clipped to +-30, one PyMatching graph per shot."""
    basis = dec.correction_basis
    idx = np.flatnonzero(basis.valid.ravel())
    H = scipy.sparse.csc_matrix(basis.H)[:, idx]
    L = scipy.sparse.csr_matrix(basis.L.reshape(1, -1)[:, idx].astype(np.uint8))
    logits = dec.logits(events).reshape(len(events), -1)[:, idx].numpy().astype(np.float64)
    out = np.zeros((len(events), 1), dtype=bool)
    for i in range(len(events)):
        m = pymatching.Matching.from_check_matrix(H, weights=np.clip(-logits[i], -30, 30), faults_matrix=L,
                                                  use_virtual_boundary_node=True)
        out[i] = m.decode(events[i])
    return out


@pytest.mark.parametrize("distance,basis,p", [(5, "x", 0.006), (5, "z", 0.006), (3, "x", 0.01), (7, "x", 0.003)])
def test_equals_the_probe_per_shot_rebuild_exactly(distance, basis, p):
    exp = MemoryExperiment(distance, distance - 1, p, basis=basis)
    circuit, dem = exp.circuit(), exp.dem()
    events = circuit.compile_detector_sampler(seed=distance).sample(300)
    dec = PipelineDecoder(circuit, dem, global_decoder="pymatching-weighted")
    assert MAX_WEIGHT == 30.0
    np.testing.assert_array_equal(dec.decode_batch(events), probe_predictions(dec, events))


@pytest.mark.slow
def test_beats_plain_pymatching_on_the_same_shots():
    exp = MemoryExperiment(5, 4, 0.006, basis="x")
    circuit, dem = exp.circuit(), exp.dem()
    events, obs = circuit.compile_detector_sampler(seed=3).sample(6000, separate_observables=True)
    weighted = PipelineDecoder(circuit, dem, global_decoder="pymatching-weighted").decode_batch(events)
    plain = pymatching.Matching.from_detector_error_model(dem).decode_batch(events)
    fails_w = int(np.sum(weighted[:, 0] != obs[:, 0]))
    fails_p = int(np.sum(plain[:, 0] != obs[:, 0]))
    # Measured: 1.2-1.35x fewer errors at d=5; require a gap well beyond the noise (about 180 vs 220).
    assert fails_w < 0.92 * fails_p, (fails_w, fails_p)


def test_hybrid_threshold_applies_confident_corrections_first():
    exp = MemoryExperiment(5, 5, 0.006, basis="x")
    circuit, dem = exp.circuit(), exp.dem()
    events, obs = circuit.compile_detector_sampler(seed=4).sample(400, separate_observables=True)
    pure = PipelineDecoder(circuit, dem, global_decoder="pymatching-weighted")
    assert pure.threshold == float("inf") and "threshold" not in pure.metadata
    assert pure.metadata["matching"] == "neural-weights"
    # A threshold above every logit applies nothing: the same predictions as pure weights.
    high = PipelineDecoder(circuit, dem, global_decoder="pymatching-weighted", threshold=1e6)
    np.testing.assert_array_equal(high.decode_batch(events), pure.decode_batch(events))
    assert high.metadata["threshold"] == 1e6
    # A low threshold removes events before matching; its residual has fewer events.
    hybrid = PipelineDecoder(circuit, dem, global_decoder="pymatching-weighted", threshold=2.0)
    pred, residual = hybrid.decode_batch(events, return_residual=True)
    assert residual.sum() < events.sum()
    assert pred.shape == (400, 1)
    res, flip, logits = hybrid.weighted_inputs(events[:50])
    c = hybrid.corrections(events[:50]).reshape(50, -1)
    assert np.all(logits[c] == -MAX_WEIGHT)  # applied corrections are frozen edges


def test_bit_packed_and_chunked_inputs_agree():
    exp = MemoryExperiment(3, 3, 0.01, basis="x")
    circuit, dem = exp.circuit(), exp.dem()
    events = circuit.compile_detector_sampler(seed=5).sample(300)
    dec = PipelineDecoder(circuit, dem, global_decoder="pymatching-weighted", batch_size=64)
    pred = dec.decode_batch(events)
    packed = dec.decode_batch(np.packbits(events, axis=1, bitorder="little"), bit_packed=True)
    np.testing.assert_array_equal(np.unpackbits(packed, axis=1, count=1, bitorder="little").astype(bool), pred)


def test_latency_path_and_stream_give_the_batch_predictions():
    exp = MemoryExperiment(3, 3, 0.01, basis="z")
    circuit, dem = exp.circuit(), exp.dem()
    events = circuit.compile_detector_sampler(seed=6).sample(60)
    for threshold in (None, 2.0):
        dec = PipelineDecoder(circuit, dem, global_decoder="pymatching-weighted", threshold=threshold)
        path = LatencyPath(dec)
        packed = np.packbits(events, axis=1, bitorder="little")
        single = np.array([path.decode_shot(s) for s in packed])
        streamed = np.array(list(path.decode_stream(iter(packed))))
        np.testing.assert_array_equal(single, dec.decode_batch(events))
        np.testing.assert_array_equal(streamed, single)


def test_matching_workers_are_refused_with_a_clear_error():
    exp = MemoryExperiment(3, 3, 0.01)
    with pytest.raises(ValueError, match="weighted"):
        PipelineDecoder(exp.circuit(), exp.dem(), global_decoder="pymatching-weighted", matching_workers=2)


def test_sinter_offers_the_weighted_decoder_pinned_by_model_hash():
    decoders = sinter_decoders()
    pinned = [n for n in decoders if n.startswith("predecoder-weighted@")]
    assert len(pinned) == 1
    exp = MemoryExperiment(3, 3, 0.01)
    dem = exp.dem()
    compiled = decoders[pinned[0]].compile_decoder_for_dem(dem=dem)
    packed = exp.circuit().compile_detector_sampler(seed=7).sample(100, bit_packed=True)
    direct = PipelineDecoder(exp.circuit(), dem, global_decoder="pymatching-weighted").decode_batch(packed, bit_packed=True)
    np.testing.assert_array_equal(compiled.decode_shots_bit_packed(bit_packed_detection_event_data=packed), direct)


@pytest.mark.slow
def test_qec_ler_decode_and_bench_name_it(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "experiments.cli", "ler", "-d", "3", "--p", "0.01", "--decoders", "pymatching",
         "predecoder-weighted", "--max-shots", "300", "--seed", "1", "--json"],
        capture_output=True, text=True, check=True,
    )
    rows = json.loads(out.stdout)["results"]
    assert {r["decoder"] for r in rows} == {"pymatching", "predecoder-weighted"}
    assert all(r["shots"] == 300 for r in rows)
    exp = MemoryExperiment(3, 3, 0.01)
    exp.circuit().to_file(tmp_path / "c.stim")
    events = exp.circuit().compile_detector_sampler(seed=8).sample(50)
    np.packbits(events, axis=1, bitorder="little").tofile(tmp_path / "d.b8")
    subprocess.run(
        [sys.executable, "-m", "experiments.cli", "decode", "--circuit", str(tmp_path / "c.stim"), "--dets",
         str(tmp_path / "d.b8"), "--dets-format", "b8", "--out", str(tmp_path / "p.01"), "--out-format", "01",
         "--decoder", "predecoder-weighted", "--quiet"],
        check=True,
    )
    lines = (tmp_path / "p.01").read_text().split()
    expected = PipelineDecoder(exp.circuit(), exp.dem(), global_decoder="pymatching-weighted").decode_batch(events)
    assert [line == "1" for line in lines] == expected[:, 0].tolist()
    out = subprocess.run(
        [sys.executable, "-m", "experiments.cli", "bench", "-d", "3", "--p", "0.01", "--batch", "8", "--shots", "16",
         "--decoder", "predecoder-weighted", "--repeats", "1", "--latency-decodes", "0", "--json"],
        capture_output=True, text=True, check=True,
    )
    row = json.loads(out.stdout)["results"][0]
    assert row["decoder"] == "predecoder-weighted" and row["weighted_matching_us_per_round"] > 0
    assert row["pymatching_residual_us_per_round"] is None and row["threshold"] is None


def test_a_weighted_run_says_which_matcher_it_used(capsys):
    """Issue 31: a predecoder-weighted run names the weighted matcher's backend (compiled core or
    the slower fallback) on stderr."""
    from experiments.cli import main
    from qec._decoding._weighted_matcher import describe_backend

    assert main(["ler", "-d", "3", "--p", "0.01", "--max-shots", "100", "--seed", "1",
                 "--decoders", "predecoder-weighted"]) == 0
    assert f"predecoder-weighted: weighted matching by {describe_backend()}" in capsys.readouterr().err
