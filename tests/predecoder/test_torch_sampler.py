"""The on-device sampler (GPU training path) is exact and has Stim's statistics; runs on CPU here."""

import numpy as np
import torch

from predecoder._torch_sampler import TorchLabeledSampler
from qec import CorrectionBasis, MemoryExperiment, SpaceTimeLayout


def test_torch_sampler_exact_labels_and_stim_statistics():
    exp = MemoryExperiment(3, 3, 0.01, "z", "si1000")
    layout = SpaceTimeLayout.from_circuit(exp.circuit())
    cb = CorrectionBasis.from_layout(layout)
    sampler = TorchLabeledSampler(exp.dem(), cb, device="cpu", seed=7)
    shots = 40_000
    inputs, obs, labels = sampler.sample(shots)
    assert inputs.shape == (shots, 4, *layout.shape) and labels.shape == (shots, *cb.shape)
    events = layout.from_grid(inputs.numpy())
    lab = labels.numpy() > 0.5
    assert np.array_equal(cb.syndrome(lab), events)
    assert np.array_equal(cb.observable_flip(lab), obs.numpy())
    assert np.array_equal(inputs[:, 2:].numpy(), np.broadcast_to(layout.detector_mask(), (shots, 2, *layout.shape)))
    ref = exp.dem().compile_sampler(seed=1).sample(shots)[0].astype(bool)
    a, b = events.mean(0), ref.mean(0)
    sigma = np.sqrt((a * (1 - a) + b * (1 - b)) / shots) + 1e-9
    assert np.all(np.abs(a - b) <= 5 * sigma)


def test_reseed_reproduces():
    exp = MemoryExperiment(3, 2, 0.01, "x")
    cb = CorrectionBasis.from_layout(SpaceTimeLayout.from_circuit(exp.circuit()))
    s = TorchLabeledSampler(exp.dem(), cb, seed=1)
    a = s.sample(100)
    s.reseed(1)
    b = s.sample(100)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
