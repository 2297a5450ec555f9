"""Statistics of logical error rates: one place for intervals, per-round rates and paired tests.

Intervals are sinter's (``sinter.fit_binomial``, the likelihood-ratio interval at 95%), per-round
rates sinter's ``shot_error_rate_to_piece_error_rate``. A paired comparison of two decoders on the
same shots uses the discordant counts (shots where only one of them failed): McNemar's z.

Error per round over experiments of several lengths (hardware data): :func:`fit_decay` fits
``1 - 2 P(r) = A (1 - 2 eps)^r`` to the logical error per shot P(r) at each number of rounds r,
and :func:`fit_decay_interval` adds a bootstrap-over-shots interval.

Example:
    >>> f = fit_ler(errors=30, shots=1000)
    >>> round(f.best, 3), f.low < 0.03 < f.high
    (0.03, True)
    >>> paired_z(only_a=40, only_b=60)
    -2.0
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np
import sinter

from qec._errors import QecError

# fit_binomial's likelihood-ratio interval at 95% confidence: exp(chi2_1(0.95) / 2).
CONFIDENCE_95_LIKELIHOOD_FACTOR = math.exp(3.841458820694124 / 2)


def fit_ler(errors: int, shots: int) -> sinter.Fit:
    """LER per shot: best estimate and 95% likelihood-ratio interval (nan for no shots)."""
    if shots == 0:
        return sinter.Fit(low=math.nan, best=math.nan, high=math.nan)
    return sinter.fit_binomial(
        num_shots=shots, num_hits=errors, max_likelihood_factor=CONFIDENCE_95_LIKELIHOOD_FACTOR
    )


def per_round(fit: sinter.Fit, rounds: int) -> sinter.Fit:
    """Per-round rates of a per-shot fit; rates at or above 1/2 per shot map to 1/2 per round."""
    def one(x: float) -> float:
        if math.isnan(x):
            return x
        if x >= 0.5:
            return 0.5
        return float(sinter.shot_error_rate_to_piece_error_rate(x, pieces=rounds, values=1))
    return sinter.Fit(low=one(fit.low), best=one(fit.best), high=one(fit.high))


def paired_z(only_a: int, only_b: int) -> float:
    """McNemar's normal-approximation z of two decoders on the same shots, from the shots where
    only ``a`` failed and only ``b`` failed; negative means ``a`` made fewer errors."""
    n = only_a + only_b
    return (only_a - only_b) / math.sqrt(n) if n else 0.0


@dataclasses.dataclass(frozen=True)
class DecayFit:
    """Error per round from the decay of the logical fidelity over rounds.

    Attributes:
        eps: error per round, the best fit of ``1 - 2 P(r) = A (1 - 2 eps)^r``.
        low, high: its interval (bootstrap over shots; equal to ``eps`` without one).
        amplitude: A, the fidelity the fit extrapolates to r = 0 (state preparation and readout).
        rounds: the rounds the fit used.
    """

    eps: float
    low: float
    high: float
    amplitude: float
    rounds: tuple[int, ...]


def fit_decay(rounds: Sequence[int], errors: Sequence[float], shots: Sequence[int]) -> tuple[float, float]:
    """(eps, A) of ``1 - 2 P(r) = A (1 - 2 eps)^r``, P(r) = errors / shots at each r.

    A least-squares straight line through ln(1 - 2P) against r, every point weighted alike: the
    project's reference figures for Google's Sycamore data come out of this fit (d=5, Google's
    PyMatching predictions, rounds >= 3: 4.53%), while weighting each point by its binomial
    variance gives 4.46%: the decay is not exactly exponential, so the weighting is part of the
    definition. Points with
    P >= 1/2 carry no information and are left out. Needs two distinct rounds among the points
    kept; (nan, nan) otherwise.

    Example:
        >>> eps, a = fit_decay([3, 5, 7], [0.5 * (1 - 0.9 * 0.96**r) * 10**6 for r in (3, 5, 7)], [10**6] * 3)
        >>> round(eps, 6), round(a, 6)
        (0.02, 0.9)
    """
    r = np.asarray(rounds, dtype=np.float64)
    n = np.asarray(shots, dtype=np.float64)
    p = np.asarray(errors, dtype=np.float64) / np.where(n > 0, n, 1)
    return _fit_decay(r, p, n)


def _fit_decay(r: np.ndarray, p: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    ok = (n > 0) & (p < 0.5)
    if len(np.unique(r[ok])) < 2:
        return math.nan, math.nan
    x, y = r[ok], np.log1p(-2 * p[ok])
    xm, ym = x.mean(), y.mean()
    slope = np.sum((x - xm) * (y - ym)) / np.sum((x - xm) ** 2)
    return float(0.5 * (1 - math.exp(slope))), float(math.exp(ym - slope * xm))


def fit_decay_interval(
    rounds: Sequence[int],
    errors: Sequence[int],
    shots: Sequence[int],
    *,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> DecayFit:
    """:func:`fit_decay` with a bootstrap-over-shots interval.

    Each replicate redraws every experiment's shots with replacement (its error count is then
    binomial with the measured rate: the same thing, drawn directly) and refits; the interval is
    the central ``confidence`` range of the replicates' eps. ``bootstrap=0`` gives no interval
    (low = high = eps).

    Example:
        >>> f = fit_decay_interval([3, 5, 7, 9], [1400, 2200, 2900, 3500], [10000] * 4, seed=1)
        >>> f.low < f.eps < f.high, f.rounds
        (True, (3, 5, 7, 9))
    """
    r = np.asarray(rounds, dtype=np.float64)
    n = np.asarray(shots, dtype=np.int64)
    k = np.asarray(errors, dtype=np.int64)
    if not (r.shape == n.shape == k.shape) or r.ndim != 1:
        raise QecError("rounds, errors and shots must be 1-D sequences of one length")
    if np.any(k < 0) or np.any(k > n):
        raise QecError("errors must lie between 0 and shots")
    p = k / np.where(n > 0, n, 1)
    eps, amplitude = _fit_decay(r, p, n)
    used = tuple(int(x) for x in sorted(set(r[(n > 0) & (p < 0.5)].tolist())))
    low = high = eps
    if bootstrap > 0 and not math.isnan(eps):
        rng = np.random.default_rng(seed)
        draws = rng.binomial(n[None, :], p[None, :], size=(bootstrap, len(n)))
        reps = np.array([_fit_decay(r, d / np.where(n > 0, n, 1), n)[0] for d in draws])
        reps = reps[~np.isnan(reps)]
        if len(reps):
            tail = (1 - confidence) / 2
            low, high = (float(v) for v in np.quantile(reps, [tail, 1 - tail]))
    return DecayFit(eps=eps, low=low, high=high, amplitude=amplitude, rounds=used)
