"""Whether a file of detection events belongs to the circuit it is decoded with.

Stim's b8 format has no header: a file of another circuit whose size happens to be a whole number
of this circuit's shots reads without complaint (2,000 shots of a d=3 circuit are 400 shots of a
d=5 one). Two checks catch what can be caught:

- :func:`check_shot_count`: the number of shots the user says the file holds (``--shots N``);
- :func:`check_events_fit_dem`: the events' correlations against the DEM's. An error flips
  its detectors together, so detectors one round apart at the same place (a measurement error's
  pair) fire together far more often than apart, in every real or simulated memory experiment;
  misread shots mix bits of different detectors and shots, and that correlation is gone. The
  check compares the observed correlation coefficients of those pairs with the ones the DEM's
  matching graph gives (:func:`expected_pair_correlations`) and refuses only when the observed
  ones are below a fifth of the expected and the shots say so by many standard errors. Measured
  (d=3 to 7, 5,000 shots): shots of other noise strengths and models (0.0003 to 0.03,
  depolarizing, SI1000, Stim's, against a depolarizing DEM of 0.001) keep 0.57-2.1 of the expected;
  Google's Sycamore shots against their circuit DEMs 0.88-1.24; a d=3 file read as d=5 shots 0.03.
  Nearly random events (detection rate over 0.3) say nothing either way and pass.

Example:
    >>> from qec import MemoryExperiment
    >>> exp = MemoryExperiment(3, 3, 0.01)
    >>> events = exp.circuit().compile_detector_sampler(seed=1).sample(2000)
    >>> check_events_fit_dem(events, exp.dem(), "dets.b8")
    >>> misread = events[:, np.random.default_rng(1).permutation(24)]  # the detectors in another order
    >>> check_events_fit_dem(misread, exp.dem(), "dets.b8")
    Traceback (most recent call last):
    ...
    qec._data._shot_files.ShotFileError: dets.b8 does not look like shots of this circuit: ...
"""

from __future__ import annotations

import numpy as np
import stim

from qec._encoding._bit_packing import unpack_bits
from qec._data._dem_files import _matching_edges
from qec._data._shot_files import ShotFileError

# At most this many shots (the first of a file) are checked, and at most this many bits read.
CHECK_SHOTS = 20_000
CHECK_BITS = 50_000_000
# Refuse below this fraction of the expected correlation, when it is this many standard errors.
MIN_FRACTION = 0.2
MIN_SIGNAL = 10.0
# Mean detection rate above which events carry no usable correlation.
SATURATED = 0.3


def check_shot_count(found: int, expected: int | None, name: str) -> None:
    """:class:`ShotFileError` unless the file ``name`` holds ``expected`` shots (None: no check)."""
    if expected is not None and found != expected:
        raise ShotFileError(f"{name} holds {found} shots of this circuit, not the {expected} given (--shots): "
                            f"is it a file of another circuit?")


def expected_pair_correlations(dem: stim.DetectorErrorModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of detectors an edge of ``dem``'s matching graph joins (PyMatching's graph: the
    decomposed errors' components, parallel ones merged): int (k, 2) pairs, their correlation
    coefficient if the edges fire independently (a detector fires with probability
    (1 - prod(1 - 2p)) / 2 over its edges), and whether the pair is one round apart at one place
    (coordinates equal but the last, which differs by 1)."""
    n = dem.num_detectors
    log_single = np.zeros(n)
    pairs, log_pair = [], []
    for a, b, attributes in _matching_edges(dem):
        weight = np.log(max(abs(1.0 - 2.0 * attributes["error_probability"]), 1e-12))
        log_single[a] += weight
        if b is not None:
            log_single[b] += weight
            pairs.append((min(a, b), max(a, b)))
            log_pair.append(weight)
    pairs = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    a, b = pairs[:, 0], pairs[:, 1]
    ea, eb = np.exp(log_single[a]), np.exp(log_single[b])
    eab = np.exp(log_single[a] + log_single[b] - 2 * np.asarray(log_pair))  # the edges at exactly one of the two
    pa, pb, pab = (1 - ea) / 2, (1 - eb) / 2, (1 - ea - eb + eab) / 4
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = np.nan_to_num((pab - pa * pb) / np.sqrt(pa * (1 - pa) * pb * (1 - pb)))
    coords = dem.get_detector_coordinates()
    timelike = np.array([_one_round_apart(coords.get(int(x), []), coords.get(int(y), [])) for x, y in pairs],
                        dtype=bool).reshape(-1)
    return pairs, phi, timelike


def _one_round_apart(a, b) -> bool:
    return len(a) >= 2 and len(a) == len(b) and list(a[:-1]) == list(b[:-1]) and abs(a[-1] - b[-1]) == 1


def check_events_fit_dem(events: np.ndarray, dem: stim.DetectorErrorModel, name: str, *,
                         bit_packed: bool = False) -> None:
    """:class:`ShotFileError` when ``events`` (shots of ``dem``'s detectors, bit-packed or not;
    the first :data:`CHECK_SHOTS` are used) lack the correlation ``dem`` predicts between
    detectors one round apart (all correlated pairs when its detectors have no coordinates):
    shots of another circuit. See the module docstring for why genuine shots pass."""
    n = dem.num_detectors
    if n == 0 or len(events) == 0:
        return
    take = max(1, min(CHECK_SHOTS, CHECK_BITS // n))
    events = events[:take]
    events = unpack_bits(events, n) if bit_packed else np.asarray(events, dtype=bool)
    rate = events.mean(axis=0)
    if rate.mean() > SATURATED:
        return
    pairs, expected, timelike = expected_pair_correlations(dem)
    use = timelike if timelike.any() else np.ones(len(pairs), dtype=bool)
    a, b = pairs[:, 0], pairs[:, 1]
    use &= (expected > 0) & (rate[a] > 0) & (rate[a] < 1) & (rate[b] > 0) & (rate[b] < 1)
    if not use.any():
        return
    a, b, expected = a[use], b[use], expected[use]
    shots = len(events)
    together = np.zeros(len(a))
    for lo in range(0, len(a), 1024):
        hi = lo + 1024
        together[lo:hi] = (events[:, a[lo:hi]] & events[:, b[lo:hi]]).mean(axis=0)
    observed = (together - rate[a] * rate[b]) / np.sqrt(rate[a] * (1 - rate[a]) * rate[b] * (1 - rate[b]))
    standard_error = np.sqrt(len(a) / shots)  # of the sum of the coefficients, the events independent
    if expected.sum() < MIN_SIGNAL * standard_error:
        return  # too few shots to tell
    fraction = observed.sum() / expected.sum()
    if fraction < MIN_FRACTION:
        kind = "one round apart" if timelike.any() else "that errors flip together"
        raise ShotFileError(
            f"{name} does not look like shots of this circuit: its detectors {kind} fire together "
            f"{max(fraction, 0):.0%} as often as the circuit's errors make them ({len(a)} pairs, {shots} shots; "
            f"genuine shots, even at other noise strengths, show 40% or more). Is it a file of another circuit "
            f"(b8 has no header)?")
