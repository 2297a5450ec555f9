"""The shipped models as a listing (``qec models``): each name of the catalog
(:mod:`predecoder._model_catalog`, data only) with its file's summary.

Example:
    >>> [m.name for m in shipped_models()][0]
    'small'
"""

from __future__ import annotations

import dataclasses
from typing import Any

from predecoder._model_catalog import DEFAULT_MODEL, SHIPPED_MODELS, catalog_entries
from predecoder._model_file import load_model


@dataclasses.dataclass(frozen=True)
class ShippedModel:
    """A shipped model: its name, file summary (:meth:`LoadedModel.summary`), what it is for,
    what was measured of it (paired LER ratios on fresh simulated shots: dicts with d, rounds, p,
    ratio, shots, ...; on a device's shots: ``kind="hardware"`` with patch, half, decoder,
    eps_per_round, low, high, compared), and for a device model its provenance (``summary``: which
    measured shots its training DEMs were estimated from)."""

    name: str
    default: bool
    purpose: str
    summary: dict[str, Any]
    measured: list[dict[str, Any]]
    provenance: dict[str, Any] | None = None


def shipped_models() -> list[ShippedModel]:
    """Every shipped model, the default first."""
    catalog = catalog_entries()
    out = []
    for name in sorted(SHIPPED_MODELS, key=lambda n: (n != DEFAULT_MODEL, n)):
        entry = catalog.get(name, {})
        out.append(ShippedModel(
            name=name, default=name == DEFAULT_MODEL, purpose=entry.get("purpose", ""),
            summary=load_model(name).summary(), measured=entry.get("measured", []),
            provenance=entry.get("provenance"),
        ))
    return out
