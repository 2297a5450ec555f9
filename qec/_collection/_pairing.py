"""Paired counts between decoder variants, and the paired comparison of two rows.

Two decoders compared on the *same* shots differ by their discordant shots only: for decoders A
and B that decoded the same n shots,

    errors(A) - errors(B) = only_fails(A vs B) - only_fails(B vs A),

where only_fails(A vs B) counts the shots A failed and B did not (McNemar's discordant pairs).
The counts live in each row's sinter ``custom_counts`` and are summed like shots and errors:

- ``only_vs:<variant>``: shots this row's decoder failed and ``<variant>`` did not;
- ``paired_vs:<variant>``: shots this row's decoder decoded together with ``<variant>``;
- ``stream:<seed>@<sampler>``: shots of the point's shot stream of that base seed, sampled by that
  Stim build (see :mod:`qec._collection._ler`).

``<variant>`` is :func:`variant_id`: the decoder's name and the first 12 hex digits of its row's
strong id, which pins everything the row's results depend on (circuit, DEM, name, model hash,
threshold, ...): two thresholds or two models under one decoder name are two variants, never
mixed. A row's counts against another are a paired comparison only when the two decoded all of
their shots together (:func:`compare`); rows written before paired counting kept
``only_vs:<name>`` keys without a variant and are never compared.

Example:
    >>> from collections import Counter
    >>> from types import SimpleNamespace as Row
    >>> a = Row(decoder="a", strong_id="1" * 64, shots=100, errors=9, custom_counts=Counter())
    >>> b = Row(decoder="b", strong_id="2" * 64, shots=100, errors=5, custom_counts=Counter())
    >>> a.custom_counts.update({only_key(b): 6, shared_key(b): 100})
    >>> b.custom_counts.update({only_key(a): 2, shared_key(a): 100})
    >>> c = compare(b, a)
    >>> (c.only_a, c.only_b, round(c.ratio, 2))
    (2, 6, 1.8)
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Mapping

import numpy as np

from qec._errors import QecError
from qec._data._statistics import paired_z

ONLY_KEY = "only_vs:"
SHARED_KEY = "paired_vs:"
STREAM_KEY = "stream:"


def variant_id(row: Any) -> str:
    """``"<decoder>@<first 12 hex digits of the strong id>"`` of a row (anything with
    ``decoder`` and ``strong_id``)."""
    return f"{row.decoder}@{row.strong_id[:12]}"


def only_key(other: Any) -> str:
    """The custom-counts key of the shots a row failed and ``other``'s variant did not."""
    return ONLY_KEY + variant_id(other)


def shared_key(other: Any) -> str:
    """The custom-counts key of the shots a row decoded together with ``other``'s variant."""
    return SHARED_KEY + variant_id(other)


def stream_key(seed: int, sampler: str) -> str:
    """The custom-counts key of a row's shots from the stream of base ``seed`` drawn by ``sampler``."""
    return f"{STREAM_KEY}{int(seed)}@{sampler}"


def stream_seeds(custom_counts: dict[str, int]) -> set[int]:
    """The base seeds of the streams a row's shots came from."""
    out = set()
    for key in custom_counts:
        if key.startswith(STREAM_KEY):
            seed = key[len(STREAM_KEY):].split("@", 1)[0]
            if seed.isdigit():
                out.add(int(seed))
    return out


class NotPaired(QecError):
    """Two rows that cannot be compared pairwise; the message says why."""


@dataclasses.dataclass(frozen=True)
class PairedComparison:
    """Decoders ``a`` and ``b`` on the same ``shots`` shots: their errors and discordant shots."""

    a: str
    b: str
    shots: int
    errors_a: int
    errors_b: int
    only_a: int  # shots a failed and b did not
    only_b: int  # shots b failed and a did not

    @property
    def ratio(self) -> float:
        """How many times more errors ``b`` made than ``a`` (inf when ``a`` made none)."""
        return self.errors_b / self.errors_a if self.errors_a else float("inf") if self.errors_b else 1.0

    @property
    def z(self) -> float:
        """McNemar's z of the discordant shots (:func:`qec._data._statistics.paired_z`); negative: ``a`` is better."""
        return float(paired_z(self.only_a, self.only_b))


def compare(a: Any, b: Any) -> PairedComparison:
    """The paired comparison of rows ``a`` and ``b`` (totals with ``decoder``, ``strong_id``,
    ``shots``, ``errors``, ``custom_counts``), or :class:`NotPaired` saying why there is none:
    they did not decode all their shots together, or their counts break the invariant
    errors(a) - errors(b) = only(a vs b) - only(b vs a) (then the counts are not to be trusted)."""
    shared_a, shared_b = int(a.custom_counts.get(shared_key(b), 0)), int(b.custom_counts.get(shared_key(a), 0))
    if not (a.shots == b.shots == shared_a == shared_b) or a.shots == 0:
        if not shared_a and not shared_b:
            raise NotPaired(f"{a.decoder} and {b.decoder} never decoded the same shots together "
                            f"({a.shots} and {b.shots} shots; rows written before paired counting, or of "
                            f"different seeds)")
        raise NotPaired(f"{a.decoder} and {b.decoder} decoded {min(shared_a, shared_b)} shots together, of "
                        f"{a.shots} and {b.shots}")
    only_a, only_b = int(a.custom_counts.get(only_key(b), 0)), int(b.custom_counts.get(only_key(a), 0))
    if a.errors - b.errors != only_a - only_b:
        raise NotPaired(f"the paired counts of {a.decoder} and {b.decoder} are inconsistent: errors {a.errors} - "
                        f"{b.errors} != only-fails {only_a} - {only_b}")
    return PairedComparison(a.decoder, b.decoder, a.shots, a.errors, b.errors, only_a, only_b)


# ---------------------------------------------------------------------------------------------
# The engine: several decoders on the same shots. The LER collection (per job), the hardware
# scores (per folder) and the learned-DEM comparison all count through these.


def failure_vectors(
    decoders: Mapping[str, Any], events: np.ndarray, observables: np.ndarray, *, bit_packed: bool,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Each decoder on the same shots: (bool (shots,) failure per decoder, seconds per decoder).

    ``events`` and ``observables`` are both bit-packed uint8 (``bit_packed=True``; a decoder must
    then return uint8 (shots, ceil(observables / 8))) or both bool (shots, detectors) and (shots,
    observables). A decoder returning another shape is a :class:`qec.QecError` naming it.

    Example:
        >>> from qec import MemoryExperiment, PyMatchingDecoder
        >>> exp = MemoryExperiment(distance=3, rounds=3, p=0.02)
        >>> events, obs = exp.circuit().compile_detector_sampler(seed=1).sample(500, separate_observables=True)
        >>> decs = {"plain": PyMatchingDecoder(exp.dem()), "correlated": PyMatchingDecoder(exp.dem(), correlated=True)}
        >>> fails, _ = failure_vectors(decs, events, obs, bit_packed=False)
        >>> errors, pairs = paired_failure_counts(fails)
        >>> errors["plain"] - errors["correlated"] == pairs[("plain", "correlated")] - pairs[("correlated", "plain")]
        True
    """
    observables = np.asarray(observables)
    fails: dict[str, np.ndarray] = {}
    predictions, seconds = decode_same_shots(decoders, events, bit_packed=bit_packed)
    for name in decoders:
        pred = predictions[name]
        if bit_packed and pred.dtype != np.uint8:
            raise QecError(f"decoder {name} returned {pred.dtype} predictions for bit-packed shots; a decoder asked "
                           f"bit_packed=True returns uint8 (shots, {observables.shape[1]})")
        if pred.shape != observables.shape:
            raise QecError(f"decoder {name} returned predictions of shape {pred.shape}, expected {observables.shape}")
        fails[name] = np.any(pred != observables, axis=1)
    return fails, seconds


def decode_same_shots(decoders: Mapping[str, Any], events: np.ndarray, *,
                      bit_packed: bool) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Each decoder's predictions on the same ``events`` (``decode_batch(events, bit_packed=...)``)
    and the seconds it took. Decoders that say they compute the same network output (equal
    ``network_key``) and offer ``decode_together`` (a pre-decoder's compositions of one network,
    windowed or not) share one network pass; each one's seconds then hold that pass, as if it ran
    alone."""
    groups: dict[tuple, list[tuple[str, Any]]] = {}
    for name, dec in decoders.items():
        key = getattr(dec, "network_key", None)
        together = key is not None and callable(getattr(type(dec), "decode_together", None))
        groups.setdefault(("network", key) if together else ("alone", name), []).append((name, dec))
    predictions: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    for group in groups.values():
        if len(group) > 1:
            outs, secs = type(group[0][1]).decode_together([d for _, d in group], events, bit_packed=bit_packed)
        else:
            t0 = time.perf_counter()
            outs = [group[0][1].decode_batch(events, bit_packed=bit_packed)]
            secs = [time.perf_counter() - t0]
        for (name, _), out, sec in zip(group, outs, secs):
            predictions[name], seconds[name] = np.asarray(out), sec
    return predictions, seconds


def paired_failure_counts(
    fails: Mapping[str, np.ndarray]
) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """(errors per decoder, {(a, b): shots where a failed and b did not}) from bool (shots,)
    failure vectors of decoders that decoded the same shots (McNemar's discordant pairs)."""
    errors = {n: int(np.count_nonzero(f)) for n, f in fails.items()}
    pairs = {(a, b): int(np.count_nonzero(fails[a] & ~fails[b])) for a in fails for b in fails if a != b}
    return errors, pairs


def compare_failures(a: str, fails_a: np.ndarray, b: str, fails_b: np.ndarray) -> PairedComparison:
    """The paired comparison of two decoders' bool (shots,) failure vectors on the same shots."""
    fails_a, fails_b = np.asarray(fails_a, dtype=bool), np.asarray(fails_b, dtype=bool)
    if fails_a.shape != fails_b.shape:
        raise QecError(f"{a} and {b} did not decode the same shots ({fails_a.shape[0]} and {fails_b.shape[0]})")
    return PairedComparison(a, b, int(fails_a.shape[0]), int(fails_a.sum()), int(fails_b.sum()),
                            int(np.count_nonzero(fails_a & ~fails_b)), int(np.count_nonzero(fails_b & ~fails_a)))
