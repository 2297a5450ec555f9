"""The sparse labeled sampler has Stim's statistics; both samplers give exact labels."""

import numpy as np
import pytest

from qec._circuits._memory_experiment import MemoryExperiment
from qec._encoding._correction_basis import CorrectionBasis
from qec._encoding._layout import SpaceTimeLayout
from qec._encoding._sampling import LabeledSampler, sample_fired_errors


def _setup(d=5, noise="depolarizing", basis="x", p=0.006):
    exp = MemoryExperiment(d, d, p, basis, noise)
    return exp, CorrectionBasis.from_layout(SpaceTimeLayout.from_circuit(exp.circuit()))


def test_fired_errors_are_bernoulli():
    rng = np.random.default_rng(1)
    probs = np.array([0.001, 0.001, 0.02, 0.3, 0.0, 1.0])
    shots = 200_000
    s, e = sample_fired_errors(probs, shots, rng)
    assert len(set(zip(s.tolist(), e.tolist()))) == len(s)  # no pair fires twice
    counts = np.bincount(e, minlength=len(probs))
    expected = probs * shots
    sigma = np.sqrt(shots * probs * (1 - probs)) + 1e-9
    assert np.all(np.abs(counts - expected) <= 5 * sigma)
    assert counts[4] == 0 and counts[5] == shots


@pytest.mark.parametrize("noise", ["depolarizing", "si1000", "stim"])
def test_sparse_sampler_matches_stim_statistics(noise):
    exp, cb = _setup(noise=noise)
    shots = 100_000
    ours, _, _ = LabeledSampler(exp.dem(), cb, seed=11).sample(shots)
    ref = exp.dem().compile_sampler(seed=12).sample(shots)[0].astype(bool)
    a, b = ours.mean(0), ref.mean(0)
    sigma = np.sqrt((a * (1 - a) + b * (1 - b)) / shots) + 1e-9
    # Per-detector rates agree within 5 sigma, and the mean event density within 1%.
    assert np.all(np.abs(a - b) <= 5 * sigma)
    assert abs(ours.mean() - ref.mean()) <= 0.01 * ref.mean()
    # Pairwise co-occurrence of neighbouring detectors agrees too (a correlated statistic).
    ca = (ours[:, :-1] & ours[:, 1:]).mean(0)
    cr = (ref[:, :-1] & ref[:, 1:]).mean(0)
    s2 = np.sqrt((ca + cr) / shots) + 1e-9
    assert np.all(np.abs(ca - cr) <= 6 * s2)


def test_stim_method_gives_exact_labels_too():
    exp, cb = _setup(d=3, basis="z")
    events, obs, labels = LabeledSampler(exp.dem(), cb, seed=3, method="stim").sample(20_000)
    assert np.array_equal(cb.syndrome(labels), events)
    assert np.array_equal(cb.observable_flip(labels), obs)


def test_seed_reproduces_and_bad_arguments():
    exp, cb = _setup(d=3)
    a = LabeledSampler(exp.dem(), cb, seed=5).sample(1000)
    b = LabeledSampler(exp.dem(), cb, seed=5).sample(1000)
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    with pytest.raises(ValueError, match="sampling method"):
        LabeledSampler(exp.dem(), cb, method="magic")
