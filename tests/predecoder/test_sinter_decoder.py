"""The pipeline as a sinter.Decoder: layout from the DEM, round trip through sinter.collect."""

import pickle

import numpy as np
import torch
import pytest
import sinter
import stim

from predecoder import PRESETS, PreDecoderCNN, load_model, save_model, sinter_decoders
from predecoder._pipeline import PipelineDecoder
from predecoder._sinter_decoder import PipelineSinterDecoder
from qec import LayoutError, LerTask, MemoryExperiment, SpaceTimeLayout, collect_ler


@pytest.fixture(scope="module")
def model_path(make_model_file):
    return make_model_file(7, {"threshold": -0.05})


def _reverse_final_detectors(circuit: stim.Circuit) -> stim.Circuit:
    """The same experiment with the last layer's DETECTOR lines in reverse order."""
    lines = str(circuit).splitlines()
    idx = [i for i, line in enumerate(lines) if line.startswith("DETECTOR")]
    tail = [i for i in idx if i > max(j for j, line in enumerate(lines) if line.startswith(("M", "MX")))]
    block = [lines[i] for i in tail]
    for i, line in zip(tail, reversed(block)):
        lines[i] = line
    return stim.Circuit("\n".join(lines))


@pytest.mark.parametrize("d,rounds,basis,noise", [(3, 3, "x", "depolarizing"), (5, 2, "z", "si1000")])
def test_layout_from_dem_matches_circuit_layout(d, rounds, basis, noise):
    circuit = MemoryExperiment(distance=d, rounds=rounds, p=0.01, basis=basis, noise=noise).circuit()
    for c in (circuit, _reverse_final_detectors(circuit)):
        ref = SpaceTimeLayout.from_circuit(c)
        got = SpaceTimeLayout.from_dem(c.detector_error_model(decompose_errors=True, approximate_disjoint_errors=True))
        assert (got.distance, got.rounds, got.basis, got.shape) == (ref.distance, ref.rounds, ref.basis, ref.shape)
        np.testing.assert_array_equal(got.detector_flat_index, ref.detector_flat_index)


def test_layout_from_dem_rejects_other_codes():
    rep = stim.Circuit.generated("repetition_code:memory", distance=5, rounds=3, after_clifford_depolarization=0.01)
    with pytest.raises(LayoutError, match="coordinates"):
        SpaceTimeLayout.from_dem(rep.detector_error_model())
    col = stim.Circuit.generated("color_code:memory_xyz", distance=3, rounds=2, after_clifford_depolarization=0.01)
    with pytest.raises(LayoutError):
        SpaceTimeLayout.from_dem(col.detector_error_model(decompose_errors=True, approximate_disjoint_errors=True))


def test_compiled_decoder_equals_pipeline(model_path):
    exp = MemoryExperiment(distance=3, rounds=4, p=0.01, basis="z")
    circuit = _reverse_final_detectors(exp.circuit())
    dem = circuit.detector_error_model(decompose_errors=True, approximate_disjoint_errors=True)
    decoders = sinter_decoders(model=model_path, block_rounds=2)
    tag = load_model(model_path).short_hash
    # pinned names only
    assert set(decoders) == {f"predecoder@{tag}", f"predecoder-correlated@{tag}", f"predecoder-weighted@{tag}"}
    dec = pickle.loads(pickle.dumps(decoders[f"predecoder-correlated@{tag}"]))  # workers get pickled decoders
    compiled = dec.compile_decoder_for_dem(dem=dem)
    dets = circuit.compile_detector_sampler(seed=3).sample(100, bit_packed=True)
    ref = PipelineDecoder(circuit, dem, model=model_path, global_decoder="pymatching-correlated")
    np.testing.assert_array_equal(compiled.decode_shots_bit_packed(bit_packed_detection_event_data=dets),
                                  ref.decode_batch(dets, bit_packed=True))
    with pytest.raises(ValueError, match="takes no option"):
        PipelineSinterDecoder(model_path, colour="red")


@pytest.mark.slow
def test_sinter_collect_round_trip(tmp_path):
    model_path = str(tmp_path / "quiet.safetensors")  # corrects nothing: the pipeline is PyMatching
    save_model(model_path, PreDecoderCNN(PRESETS["tiny"]), {"threshold": 1e9})
    exp = MemoryExperiment(distance=3, rounds=3, p=0.01)
    circuit = exp.circuit()
    tasks = [sinter.Task(circuit=circuit, json_metadata={"d": 3, "p": 0.01})]
    tag = load_model(model_path).short_hash
    stats = sinter.collect(num_workers=1, tasks=tasks, decoders=[f"predecoder@{tag}"],
                           custom_decoders=sinter_decoders(model=model_path), max_shots=500, max_batch_size=250)
    (row,) = stats
    assert row.decoder == f"predecoder@{tag}" and row.shots == 500
    # sinter samples with seeds of its own, so the count is random: it must lie within 6 sigma of
    # PyMatching's rate measured here on fixed-seed shots (the quiet pipeline is PyMatching); a
    # fixed bound of 60 errors, made for the noise before version 2, failed about 1 run in 8.
    (pm,) = collect_ler([LerTask(exp)], max_shots=20_000, seed=1)
    q = pm.errors / pm.shots
    assert abs(row.errors - 500 * q) < 6 * (500 * q * (1 - q)) ** 0.5
    # The CSV lines read back with sinter.
    path = tmp_path / "s.csv"
    path.write_text(sinter.CSV_HEADER + "\n" + "\n".join(s.to_csv_line() for s in stats) + "\n")
    assert len(sinter.read_stats_from_csv_files(path)) == 1


@pytest.mark.slow
def test_two_models_never_share_a_sinter_name(tmp_path):
    """Issue 19 item 11: under the plain name 'predecoder', sinter merged two models' rows into one
    strong id. Every name sinter_decoders offers carries its model's hash."""
    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        paths.append(str(tmp_path / f"m{seed}.safetensors"))
        save_model(paths[-1], PreDecoderCNN(PRESETS["tiny"]), {"threshold": 1e9})
    names = [set(sinter_decoders(model=p)) for p in paths]
    assert not names[0] & names[1] and all(n.startswith(("predecoder@", "predecoder-correlated@",
                                                         "predecoder-weighted@")) for ns in names for n in ns)
    tasks = [sinter.Task(circuit=MemoryExperiment(3, 3, 0.01).circuit(), json_metadata={"d": 3, "p": 0.01})]
    stats = [s for p, ns in zip(paths, names) for s in sinter.collect(
        num_workers=1, tasks=tasks, decoders=sorted(n for n in ns if n.startswith("predecoder@")),
        custom_decoders=sinter_decoders(model=p), max_shots=200, max_batch_size=200)]
    assert len({s.strong_id for s in stats}) == 2
