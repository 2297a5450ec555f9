"""CUDA paths (marked ``cuda``; skipped without a GPU): the GPU pipeline decodes as the CPU one,
half precision stays within the intervals, training steps run on the device, the benchmark runs.

    python -m pytest -m cuda        # what benchmarks/gpu_check_and_train.py runs first
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from predecoder import PipelineDecoder, load_model
from predecoder._bench import run_bench
from predecoder._training import TrainConfig, train
from qec import MemoryExperiment

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.mark.parametrize("name", ["small", "fast"])
def test_gpu_pipeline_decodes_as_the_cpu_pipeline(name):
    exp = MemoryExperiment(9, 8, 0.006, "x")
    circuit, dem = exp.circuit(), exp.dem()
    dets = circuit.compile_detector_sampler(seed=3).sample(2000)
    model = load_model(name)
    cpu = PipelineDecoder(circuit, dem, model=model, device="cpu")
    gpu = PipelineDecoder(circuit, dem, model=load_model(name), device="cuda")
    lc, lg = cpu.logits(dets), gpu.logits(dets).cpu()
    torch.testing.assert_close(lg, lc, atol=1e-3, rtol=1e-3)
    # Predictions agree wherever no logit sits within 1e-3 of the threshold.
    near = ((lc - cpu.threshold).abs() < 1e-3).flatten(1).any(dim=1).numpy()
    np.testing.assert_array_equal(cpu.decode_batch(dets)[~near], gpu.decode_batch(dets)[~near])


def test_half_precision_within_intervals():
    exp = MemoryExperiment(9, 8, 0.006, "x")
    circuit, dem = exp.circuit(), exp.dem()
    dets, obs = circuit.compile_detector_sampler(seed=4).sample(4000, separate_observables=True)
    fails = {}
    for precision in ("fp32", "fp16", "bf16"):
        dec = PipelineDecoder(circuit, dem, model="small", device="cuda", precision=precision)
        fails[precision] = int((dec.decode_batch(dets) != obs).any(axis=1).sum())
    for precision in ("fp16", "bf16"):
        assert abs(fails[precision] - fails["fp32"]) <= 3 * max(1.0, fails["fp32"]) ** 0.5, fails


def test_training_steps_on_the_gpu(tmp_path):
    cfg = TrainConfig(distance=5, p=0.006, out=str(tmp_path), preset="fast", batch=64, steps=6, val_shots=200,
                      val_every=3, device="cuda", bf16=True, sampler="torch", init="fast", lr=1e-5)
    state = train(cfg, log=lambda m: None)
    assert state.step == 6 and state.last_validation is not None
    assert load_model(tmp_path / "best.safetensors").training_noise == ("depolarizing", 2)


def test_bench_on_the_gpu():
    row = run_bench(distance=9, p=0.006, rounds=None, noise="depolarizing", basis="x", batch=4, shots=8,
                    device="cuda", model="small", repeats=2, warmup=1, precision="fp16")
    assert row["device"].startswith("cuda") and row["end_to_end_us_per_round"] > 0


def test_cuda_graph_latency_path_decodes_as_the_pipeline():
    from predecoder._latency_path import LatencyPath

    exp = MemoryExperiment(13, 12, 0.003, "x")
    circuit, dem = exp.circuit(), exp.dem()
    dets = circuit.compile_detector_sampler(seed=5).sample(300)
    packed = np.packbits(dets, axis=1, bitorder="little")
    for precision in ("fp32", "fp16"):
        dec = PipelineDecoder(circuit, dem, model="small", device="cuda", precision=precision)
        path = LatencyPath(dec)
        assert path.graph is not None
        want = dec.decode_batch(dets)
        np.testing.assert_array_equal(np.array([path.decode_shot(p) for p in packed]), want)
        np.testing.assert_array_equal(np.array(list(path.decode_stream(iter(packed)))), want)
