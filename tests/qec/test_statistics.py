"""qec._data._statistics: the error per round from the decay of 1 - 2P(r) over rounds, with a bootstrap
interval over shots."""

import math

import numpy as np
import pytest

from qec._data._statistics import fit_decay, fit_decay_interval


def _ler(eps: float, amplitude: float, rounds: np.ndarray) -> np.ndarray:
    return 0.5 * (1 - amplitude * (1 - 2 * eps) ** rounds)


def test_exact_decay_is_recovered():
    rounds = np.array([3, 5, 7, 9, 11])
    ler = _ler(0.031, 0.93, rounds)
    eps, amplitude = fit_decay(rounds, ler * 1e9, [10**9] * 5)
    assert eps == pytest.approx(0.031, rel=1e-6)
    assert amplitude == pytest.approx(0.93, rel=1e-6)


def test_points_at_or_above_one_half_and_single_rounds_give_no_fit():
    # A point with P >= 1/2 is dropped; what is left must span two rounds.
    eps, _ = fit_decay([3, 5, 25], [100, 200, 600], [1000, 1000, 1000])
    assert eps == pytest.approx(fit_decay([3, 5], [100, 200], [1000, 1000])[0])
    assert math.isnan(fit_decay([5], [100], [1000])[0])
    assert math.isnan(fit_decay([5, 7], [100, 600], [1000, 1000])[0])
    fit = fit_decay_interval([5], [100], [1000])
    assert math.isnan(fit.eps) and fit.rounds == (5,)


@pytest.mark.slow
def test_bootstrap_interval_covers_the_true_rate():
    """Binomial data from a known decay: the 95% interval holds the true eps in about 95% of
    experiments (fixed seeds; 200 experiments, 300 bootstrap replicates each)."""
    rng = np.random.default_rng(11)
    rounds = np.array([3, 5, 7, 9, 11, 13])
    shots = np.full(len(rounds), 20_000)
    true_eps, amplitude = 0.03, 0.95
    p = _ler(true_eps, amplitude, rounds)
    covered = 0
    widths = []
    for k in range(200):
        errors = rng.binomial(shots, p)
        fit = fit_decay_interval(rounds, errors, shots, bootstrap=300, seed=k)
        assert fit.low <= fit.eps <= fit.high
        covered += fit.low <= true_eps <= fit.high
        widths.append(fit.high - fit.low)
    assert 0.88 <= covered / 200 <= 0.99
    # The interval is 2 x 1.96 standard errors of the least-squares slope, carried to eps.
    var_y = 4 * p * (1 - p) / (shots * (1 - 2 * p) ** 2)
    dx = rounds - rounds.mean()
    se_slope = np.sqrt(np.sum(dx**2 * var_y)) / np.sum(dx**2)
    se_eps = se_slope * (1 - 2 * true_eps) / 2
    assert np.median(widths) == pytest.approx(2 * 1.96 * se_eps, rel=0.15)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="one length"):
        fit_decay_interval([3, 5], [1], [10, 10])
    with pytest.raises(ValueError, match="between 0 and shots"):
        fit_decay_interval([3, 5], [11, 1], [10, 10])
