"""Maximum-likelihood DEMs (noise_learning._likelihood): the exact and window likelihoods against
brute-force enumeration, their gradients, a fit that never lowers the likelihood, and the
recovery of a known DEM from simulated shots."""

import itertools

import numpy as np
import pytest
import torch

from noise_learning import DemStructure, LikelihoodEstimator, dem_log_likelihood
from noise_learning._exact_likelihood import ExactLikelihood
from noise_learning._likelihood import dem_mechanisms
from noise_learning._walsh_hadamard import parity_signs, walsh_hadamard
from noise_learning._window_likelihood import WindowLikelihood, local_windows
from qec import MemoryExperiment, QecError


def _brute_force(mechanisms, p, num_detectors, events):
    """log P(x) of each shot by enumerating every subset of fired mechanisms."""
    prob = {}
    for fired in itertools.product((0, 1), repeat=len(mechanisms)):
        x = np.zeros(num_detectors, dtype=bool)
        pr = 1.0
        for f, m, q in zip(fired, mechanisms, p):
            pr *= q if f else 1 - q
            if f:
                x[list(m)] ^= True
        prob[x.tobytes()] = prob.get(x.tobytes(), 0.0) + pr
    return np.asarray([np.log(prob.get(e.tobytes(), 0.0)) for e in events])


# Three layers of two detectors; mechanisms within a layer or across two consecutive ones.
LAYERED = [(0,), (1,), (0, 1), (0, 2), (1, 3), (0, 3), (2, 3), (2, 4), (3, 5), (4,), (5,), (2, 4, 5), (4, 5)]
TIMES = np.array([0, 0, 1, 1, 2, 2], dtype=float)


@pytest.fixture(scope="module")
def layered_shots():
    rng = np.random.default_rng(5)
    p = rng.uniform(0.02, 0.2, len(LAYERED))
    fired = rng.random((3000, len(LAYERED))) < p
    events = np.zeros((3000, 6), dtype=bool)
    for k, m in enumerate(LAYERED):
        events[np.ix_(fired[:, k], list(m))] ^= True
    return p, events


def test_walsh_hadamard_is_the_sylvester_transform():
    x = torch.randn(3, 32, dtype=torch.float64)
    h = torch.as_tensor(parity_signs(np.arange(32), 5), dtype=torch.float64)
    assert torch.allclose(walsh_hadamard(x), x @ h.T)
    assert torch.allclose(walsh_hadamard(walsh_hadamard(x)), 32 * x)
    with pytest.raises(ValueError):
        walsh_hadamard(torch.zeros(6))


def test_exact_likelihood_equals_enumeration(layered_shots):
    p, events = layered_shots
    w = torch.as_tensor(-np.log(1 - 2 * p))
    lik = ExactLikelihood(LAYERED, np.arange(len(LAYERED)), TIMES, events)
    value, _ = lik.value_and_grad(w)
    assert value == pytest.approx(_brute_force(LAYERED, p, 6, events).mean(), rel=1e-10)


def test_window_likelihood_is_the_sum_of_exact_marginals(layered_shots):
    p, events = layered_shots
    w = torch.as_tensor(-np.log(1 - 2 * p))
    windows = [(0, 1, 2), (2, 3, 4, 5), (1, 3)]
    lik = WindowLikelihood(LAYERED, np.arange(len(LAYERED)), windows, events)
    expected = 0.0
    for win in windows:
        # The marginal of a window: mechanisms restricted to it.
        local = [tuple(win.index(i) for i in m if i in win) for m in LAYERED]
        keep = [k for k, m in enumerate(local) if m]
        expected += _brute_force([local[k] for k in keep], p[keep], len(win), events[:, list(win)]).mean()
    assert float(lik(w)) == pytest.approx(expected, rel=1e-10)
    # One window holding every detector is the exact likelihood.
    whole = WindowLikelihood(LAYERED, np.arange(len(LAYERED)), [tuple(range(6))], events)
    exact = ExactLikelihood(LAYERED, np.arange(len(LAYERED)), TIMES, events)
    assert float(whole(w)) == pytest.approx(exact.value_and_grad(w)[0], rel=1e-10)


def test_window_counts_of_translates_are_merged():
    # Two windows whose mechanisms share parameters are one row: their counts add up.
    mechs = [(0,), (1,), (0, 1), (2,), (3,), (2, 3)]
    tied = np.array([0, 1, 2, 0, 1, 2])
    events = np.array([[1, 0, 1, 1], [0, 0, 0, 1], [1, 1, 0, 0]], dtype=bool)
    lik = WindowLikelihood(mechs, tied, [(0, 1), (2, 3)], events)
    assert lik.distinct_windows == 1
    # codes (bit b = the window's b-th detector): (0,1) sees 1, 0, 3; (2,3) sees 3, 2, 0
    assert lik.pattern_counts(0).tolist() == [2, 1, 1, 2]
    assert WindowLikelihood(mechs, np.arange(6), [(0, 1), (2, 3)], events).distinct_windows == 2


@pytest.mark.parametrize("kind", ["exact", "windows"])
def test_gradients_match_finite_differences(layered_shots, kind):
    p, events = layered_shots
    params = np.arange(len(LAYERED)) % 7  # some weights tied
    w = torch.as_tensor(np.random.default_rng(1).uniform(0.05, 0.3, 7))
    if kind == "exact":
        lik = ExactLikelihood(LAYERED, params, TIMES, events)
    else:
        lik = WindowLikelihood(LAYERED, params, [(0, 1, 2, 3), (2, 3, 4, 5)], events)
    _, grad = lik.value_and_grad(w)
    for k in range(7):
        step = torch.zeros(7, dtype=torch.float64)
        step[k] = 1e-6
        numeric = (lik.value_and_grad(w + step)[0] - lik.value_and_grad(w - step)[0]) / 2e-6
        assert float(grad[k]) == pytest.approx(numeric, rel=1e-5, abs=1e-8)


def test_exact_likelihood_refuses_what_it_cannot_do():
    with pytest.raises(QecError, match="more than two consecutive"):
        ExactLikelihood([(0, 4)], np.arange(1), TIMES, np.zeros((2, 6), dtype=bool))
    with pytest.raises(QecError, match="at most 10 detectors"):
        ExactLikelihood([(0,)], np.arange(1), np.zeros(11), np.zeros((2, 11), dtype=bool))


def test_local_windows_hold_every_mechanism_whole():
    dem = MemoryExperiment(3, 3, 0.005).dem()
    mechs, w = dem_mechanisms(dem)
    windows = local_windows(mechs, w, dem.num_detectors, 6)
    assert all(len(win) <= 6 for win in windows)
    sets = [set(win) for win in windows]
    assert all(any(set(m) <= s for s in sets) for m in mechs)
    with pytest.raises(QecError, match="window size"):
        local_windows(mechs, w, dem.num_detectors, 17)


@pytest.fixture(scope="module")
def d3_shots():
    exp = MemoryExperiment(3, 3, 0.006, "x", scale_qubits=((3.0, 3.0, 4.0),))
    sampler = exp.circuit().compile_detector_sampler(seed=11)
    return exp, sampler.sample(60_000, bit_packed=True)


@pytest.mark.parametrize("objective", ["windows", "exact"])
def test_fit_never_lowers_the_likelihood(d3_shots, objective):
    exp, events = d3_shots
    structure = DemStructure.from_dem(MemoryExperiment(3, 3, 0.006, "x").dem())
    model = LikelihoodEstimator(structure, objective=objective, pool_rounds=False, max_iterations=15).fit(
        events[:20_000], bit_packed=True)
    fit = model.likelihood_fit
    assert fit.objective == objective and fit.rounds >= 1
    assert all(b >= a for a, b in zip(fit.log_likelihood, fit.log_likelihood[1:]))
    assert fit.log_likelihood[-1] > fit.log_likelihood[0]
    # The record is the likelihood of the returned model (recomputed independently, exact).
    if objective == "exact":
        ll = dem_log_likelihood(model.dem(), events[:20_000], bit_packed=True)
        assert ll == pytest.approx(fit.log_likelihood[-1], abs=1e-3)


@pytest.mark.slow
def test_fit_recovers_a_known_dem(d3_shots):
    """Shots of a hot-spot circuit, the structure of the uniform one: the likelihood estimate of the
    mechanisms is closer to the truth than the moment estimate it starts from, and held-out shots
    are more likely under it."""
    exp, events = d3_shots
    structure = DemStructure.from_dem(MemoryExperiment(3, 3, 0.006, "x").dem())
    est = LikelihoodEstimator(structure, objective="exact", pool_rounds=False, max_iterations=60)
    model = est.fit(events[:40_000], bit_packed=True)
    true_mechs, true_w = dem_mechanisms(exp.dem())
    truth = dict(zip(true_mechs, true_w))
    ours = np.asarray([truth.get(m, 0.0) for m in model.mechanisms])
    fitted = -np.log(1 - 2 * model.probabilities)
    start = -np.log(1 - 2 * model.likelihood_fit.start.probabilities)
    assert np.sqrt(np.mean((fitted - ours) ** 2)) < np.sqrt(np.mean((start - ours) ** 2))
    held_out = events[40_000:]
    assert dem_log_likelihood(model.dem(), held_out, bit_packed=True) > dem_log_likelihood(
        model.likelihood_fit.start.dem(), held_out, bit_packed=True)
    # ... and less likely than under the true DEM itself only by a little.
    assert dem_log_likelihood(exp.dem(), held_out, bit_packed=True) - dem_log_likelihood(
        model.dem(), held_out, bit_packed=True) < 0.01
