"""Paired counts between decoder variants, and the paired comparison of two rows.

Two decoders compared on the *same* shots differ by their discordant shots only: for decoders A
and B that decoded the same n shots,

    errors(A) - errors(B) = only_fails(A vs B) - only_fails(B vs A),

where only_fails(A vs B) counts the shots A failed and B did not (McNemar's discordant pairs).
The counts live in each row's sinter ``custom_counts`` and are summed like shots and errors:

- ``only_vs:<variant>``: shots this row's decoder failed and ``<variant>`` did not;
- ``paired_vs:<variant>``: shots this row's decoder decoded together with ``<variant>``;
- ``stream:<seed>@<sampler>``: shots of the point's shot stream of that base seed, sampled by that
  Stim build (see :mod:`qec.ler`).

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
from typing import Any

from qec.errors import QecError

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
