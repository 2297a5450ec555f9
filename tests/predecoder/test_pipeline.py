"""The pipeline decoder: oracle corrections, residual algebra, registry, bad input."""

import math

import numpy as np
import pytest
import stim
import torch

from experiments.cli import main
from predecoder import ModelConfig, PreDecoderCNN, load_model
from predecoder._model_file import LoadedModel
from predecoder._device import resolve_device
from predecoder._decoders import ler_decoders
from predecoder._pipeline import PipelineDecoder
from qec import LabeledSampler, LayoutError, MemoryExperiment, get_decoder


@pytest.fixture(scope="module")
def model_path(make_model_file):
    return make_model_file(5, {"threshold": 0.1})


@pytest.mark.parametrize("d,rounds,basis,noise", [(3, 3, "x", "depolarizing"), (5, 5, "z", "depolarizing"),
                                                  (5, 3, "x", "si1000"), (3, 6, "z", "stim")])
@pytest.mark.parametrize("global_decoder", ["pymatching", "pymatching-correlated"])
def test_oracle_corrections_leave_no_residual_and_no_error(model_path, d, rounds, basis, noise, global_decoder):
    exp = MemoryExperiment(distance=d, rounds=rounds, p=0.01, basis=basis, noise=noise)
    dec = PipelineDecoder(exp.circuit(), exp.dem(), model=model_path, global_decoder=global_decoder)
    events, obs, labels = LabeledSampler(exp.dem(), dec.correction_basis, seed=d * rounds).sample(300)
    assert events.any()
    prediction, residual = dec.decode_corrections(events, labels)
    assert not residual.any()
    np.testing.assert_array_equal(prediction, obs)


def test_residual_and_flip_algebra(model_path):
    exp = MemoryExperiment(distance=5, rounds=4, p=0.01)
    circuit, dem = exp.circuit(), exp.dem()
    dec = PipelineDecoder(circuit, dem, model=model_path, threshold=-0.05)
    dets = circuit.compile_detector_sampler(seed=2).sample(40)
    c = dec.corrections(dets)
    assert c.any() and not (c & ~dec.correction_basis.valid).any()
    pred, residual = dec.decode_batch(dets, return_residual=True)
    np.testing.assert_array_equal(residual, dets ^ dec.correction_basis.syndrome(c))
    matching = get_decoder("pymatching", circuit, dem)
    np.testing.assert_array_equal(pred, dec.correction_basis.observable_flip(c) ^ matching.decode_batch(residual))
    # Bit-packed in, bit-packed out, same answers.
    packed = np.packbits(dets, axis=1, bitorder="little")
    out = dec.decode_batch(packed, bit_packed=True)
    assert out.dtype == np.uint8 and out.shape == (40, 1)
    np.testing.assert_array_equal(np.unpackbits(out, axis=1, count=1, bitorder="little").astype(bool), pred)
    # Chunking over shots changes nothing.
    small = PipelineDecoder(circuit, dem, model=model_path, threshold=-0.05, batch_size=7)
    np.testing.assert_array_equal(small.decode_batch(dets), pred)
    assert dec.decode_batch(dets[:0]).shape == (0, 1)


def test_no_corrections_is_plain_matching(model_path):
    exp = MemoryExperiment(distance=3, rounds=3, p=0.02)
    circuit, dem = exp.circuit(), exp.dem()
    dets = circuit.compile_detector_sampler(seed=4).sample(200)
    for name in ("pymatching", "pymatching-correlated"):
        dec = PipelineDecoder(circuit, dem, model=model_path, threshold=math.inf, global_decoder=name)
        pred, residual = dec.decode_batch(dets, return_residual=True)
        np.testing.assert_array_equal(residual, dets)
        np.testing.assert_array_equal(pred, get_decoder(name, circuit, dem).decode_batch(dets))


def test_registry_and_metadata(model_path):
    exp = MemoryExperiment(distance=3, rounds=3, p=0.01)
    model = load_model(model_path)
    custom = ler_decoders(model=model_path, block_rounds=2)
    dec = get_decoder("predecoder-correlated", exp.circuit(), exp.dem(), custom_decoders=custom)
    assert dec.global_decoder.correlated and dec.threshold == pytest.approx(0.1)
    assert dec.metadata == {"model": model.short_hash, "threshold": pytest.approx(0.1)}
    assert not get_decoder("predecoder", exp.circuit(), exp.dem(), custom).global_decoder.correlated
    with pytest.raises(TypeError, match="colour"):
        ler_decoders(model=model_path, colour="red")
    with pytest.raises(ValueError, match="unknown decoder 'predecoder'"):
        get_decoder("predecoder", exp.circuit(), exp.dem())  # qec knows only its own decoders
    bf16 = PipelineDecoder(exp.circuit(), exp.dem(), model=model, precision="bf16")
    assert bf16.metadata["precision"] == "bf16"
    dets = exp.circuit().compile_detector_sampler(seed=1).sample(8)
    torch.testing.assert_close(bf16.logits(dets), PipelineDecoder(exp.circuit(), exp.dem(), model=model).logits(dets),
                               atol=0.1, rtol=0.05)


def test_qec_ler_with_model(model_path, capsys):
    import json

    args = ["ler", "-d", "3", "--p", "0.01", "--decoders", "pymatching", "predecoder", "--max-shots", "300",
            "--seed", "1", "--json", "--model", model_path]
    assert main(args) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    pre = [r for r in rows if r["decoder"] == "predecoder"][0]
    assert pre["shots"] == 300 and load_model(model_path).short_hash in json.dumps(pre)


def test_bad_input(model_path, tmp_path):
    exp = MemoryExperiment(distance=3, rounds=3, p=0.01)
    circuit, dem = exp.circuit(), exp.dem()
    with pytest.raises(ValueError, match="unsupported device|unknown device"):
        PipelineDecoder(circuit, dem, model=model_path, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
        with pytest.raises(ValueError, match="fp16 needs a CUDA"):
            PipelineDecoder(circuit, dem, model=model_path, precision="fp16")
    with pytest.raises(ValueError, match="block_rounds must be >= 1"):
        PipelineDecoder(circuit, dem, model=model_path, block_rounds=0)
    odd = LoadedModel(PreDecoderCNN(ModelConfig((4,), (3, 3), in_channels=3)), {}, "0" * 64, "<memory>")
    with pytest.raises(ValueError, match="3 input / 4 output channels"):
        PipelineDecoder(circuit, dem, model=odd)
    dec = PipelineDecoder(circuit, dem, model=model_path)
    with pytest.raises(ValueError, match="expected 24 detectors"):
        dec.decode_batch(np.zeros((2, 23), dtype=bool))
    other = MemoryExperiment(distance=5, rounds=3, p=0.01)
    with pytest.raises(ValueError, match="detectors"):
        PipelineDecoder(circuit, other.dem(), model=model_path)
    rep = stim.Circuit.generated("repetition_code:memory", distance=5, rounds=3, after_clifford_depolarization=0.01)
    with pytest.raises(LayoutError):
        PipelineDecoder(rep, rep.detector_error_model(decompose_errors=True), model=model_path)


def test_default_model_if_shipped():
    from predecoder import default_model_path
    import os

    if not os.path.exists(default_model_path()):
        pytest.skip("no shipped default model yet")
    exp = MemoryExperiment(distance=3, rounds=3, p=0.01)
    dec = get_decoder("predecoder", exp.circuit(), exp.dem(), ler_decoders())
    dets = exp.circuit().compile_detector_sampler(seed=1).sample(16)
    assert dec.decode_batch(dets).shape == (16, 1)


def test_apply_corrections_equals_basis_algebra(model_path):
    exp = MemoryExperiment(distance=5, rounds=3, p=0.01, basis="z")
    dec = PipelineDecoder(exp.circuit(), exp.dem(), model=model_path)
    rng = np.random.default_rng(0)
    events = rng.random((20, dec.num_detectors)) < 0.1
    c = rng.random((20, *dec.correction_basis.shape)) < 0.05  # invalid elements included: they do nothing
    pred, residual = dec.decode_corrections(events, c)
    np.testing.assert_array_equal(residual, dec.correction_basis.residual_syndrome(events, c))
    flip = dec.correction_basis.observable_flip(c)
    np.testing.assert_array_equal(pred, flip ^ dec.global_decoder.decode_batch(residual))


@pytest.mark.slow
def test_matching_workers_overlap_and_decode_identically(model_path):
    """PyMatching in worker processes, overlapped with the network: the same predictions."""
    exp = MemoryExperiment(distance=5, rounds=5, p=0.01, basis="z")
    circuit, dem = exp.circuit(), exp.dem()
    dets = circuit.compile_detector_sampler(seed=9).sample(700)
    serial = PipelineDecoder(circuit, dem, model=model_path, batch_size=128)
    parallel = PipelineDecoder(circuit, dem, model=model_path, batch_size=128, matching_workers=2)
    try:
        np.testing.assert_array_equal(parallel.decode_batch(dets), serial.decode_batch(dets))
        packed = np.packbits(dets, axis=1, bitorder="little")
        np.testing.assert_array_equal(parallel.decode_batch(packed, bit_packed=True),
                                      serial.decode_batch(packed, bit_packed=True))
        pred, res = parallel.decode_batch(dets, return_residual=True)
        np.testing.assert_array_equal(res, serial.decode_batch(dets, return_residual=True)[1])
    finally:
        parallel.close()
    with pytest.raises(ValueError, match="matching_workers"):
        PipelineDecoder(circuit, dem, model=model_path, matching_workers=-1)


def test_decode_together_runs_the_network_once_and_equals_each_decode_batch(model_path, monkeypatch):
    """One network pass serves every composition of one model: the predictions are each
    pipeline's own, bit for bit (bool and bit-packed); pipelines of another network are refused."""
    exp = MemoryExperiment(distance=3, rounds=3, p=0.02, basis="x")
    circuit, dem = exp.circuit(), exp.dem()
    decs = [PipelineDecoder(circuit, dem, model=model_path, global_decoder=g, batch_size=64)
            for g in ("pymatching", "pymatching-correlated", "pymatching-weighted")]
    events = circuit.compile_detector_sampler(seed=3).sample(200)
    alone = [d.decode_batch(events) for d in decs]
    calls = []
    forward = PipelineDecoder.logits_from_grid
    monkeypatch.setattr(PipelineDecoder, "logits_from_grid", lambda self, x: calls.append(len(x)) or forward(self, x))
    together, seconds = PipelineDecoder.decode_together(decs, events)
    assert sum(calls) == 200 and len(calls) == 4  # chunks of 64: the network ran once per chunk
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(np.asarray(a, dtype=bool), np.asarray(b, dtype=bool))
    assert len(seconds) == 3 and all(s > 0 for s in seconds)
    packed = np.packbits(events, axis=1, bitorder="little")
    out, _ = PipelineDecoder.decode_together(decs, packed, bit_packed=True)
    for a, b in zip(alone, out):
        np.testing.assert_array_equal(np.packbits(np.asarray(a, dtype=bool), axis=1, bitorder="little"), b)
    other = PipelineDecoder(circuit, dem, model=model_path, block_rounds=1)
    with pytest.raises(ValueError, match="one network"):
        PipelineDecoder.decode_together([decs[0], other], events)


# --- Issue 30: faults, round three ---------------------------------------------------------------


def test_a_dem_of_the_other_basis_is_refused_and_a_dem_file_is_taken(model_path, tmp_path):
    """Item 6: PipelineDecoder (and so get_decoder's pre-decoders) took the Z memory's DEM for the
    X memory's circuit. Item 12: from_dem("c3.dem") raised an AttributeError: a path is read."""
    from qec import QecError
    from qec._data._dem_files import DemMismatchError

    exp_x, exp_z = MemoryExperiment(3, 3, 0.01, "x"), MemoryExperiment(3, 3, 0.01, "z")
    with pytest.raises(DemMismatchError, match="detector 0 sits at"):
        PipelineDecoder(exp_x.circuit(), exp_z.dem(), model=model_path)
    with pytest.raises(DemMismatchError, match="detector 0 sits at"):
        get_decoder("predecoder", exp_x.circuit(), exp_z.dem(), ler_decoders(model=model_path))
    path = tmp_path / "c3.dem"
    exp_x.dem().to_file(path)
    events = exp_x.circuit().compile_detector_sampler(seed=4).sample(200)
    from_path = PipelineDecoder.from_dem(str(path), model=model_path).decode_batch(events)
    assert (from_path == PipelineDecoder.from_dem(exp_x.dem(), model=model_path).decode_batch(events)).all()
    with pytest.raises(QecError, match="dem must be a stim.DetectorErrorModel or the path of a DEM file, got int"):
        PipelineDecoder.from_dem(3, model=model_path)
    with pytest.raises(QecError, match="does not exist"):
        PipelineDecoder.from_dem(str(tmp_path / "missing.dem"), model=model_path)
    with pytest.raises(QecError, match="events must be 0 or 1"):  # item 6: 0.5 was read as 0
        PipelineDecoder.from_dem(exp_x.dem(), model=model_path).decode_batch(np.full((2, 24), 0.5))
