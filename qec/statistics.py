"""Statistics of logical error rates: one place for intervals, per-round rates and paired tests.

Intervals are sinter's (``sinter.fit_binomial``, the likelihood-ratio interval at 95%), per-round
rates sinter's ``shot_error_rate_to_piece_error_rate``. A paired comparison of two decoders on the
same shots uses the discordant counts (shots where only one of them failed): McNemar's z.

Example:
    >>> f = fit_ler(errors=30, shots=1000)
    >>> round(f.best, 3), f.low < 0.03 < f.high
    (0.03, True)
    >>> paired_z(only_a=40, only_b=60)
    -2.0
"""

from __future__ import annotations

import math

import sinter

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
