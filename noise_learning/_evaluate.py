"""Decoding comparisons for learned DEMs: paired logical error rates and per-edge statistics.

Intervals are :func:`qec.fit_ler`'s; decoding is :class:`qec.PyMatchingDecoder` through qec's
engine for decoders on the same shots (:func:`qec.decoding.failure_vectors`, paired comparisons
with McNemar's z).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import numpy as np
import stim

from noise_learning._structure import graph_edge_probabilities
from qec import PyMatchingDecoder, fit_ler
from qec.decoding import compare_failures, failure_vectors

__all__ = ["DecodedShots", "unmatchable_shots", "paired_ler", "paired_difference", "edge_error_stats", "uniform_dem", "hot_edges"]


@dataclasses.dataclass
class DecodedShots:
    """One DEM's decoding of a set of test shots: errors, 95% interval and the per-shot
    mistakes (kept for paired comparisons). Not the aggregate :class:`qec.LerResult`."""

    errors: int
    shots: int
    low: float
    high: float
    mistakes: np.ndarray  # per-shot bool, for paired comparisons

    @property
    def ler(self) -> float:
        return self.errors / self.shots if self.shots else float("nan")


def unmatchable_shots(dem: stim.DetectorErrorModel, events: np.ndarray) -> np.ndarray:
    r"""Which shots no matching on ``dem``'s graph can explain: bool of shape (shots,).

    The graph's edges are the DEM's errors of positive probability (each decomposed component,
    ``^``-separated, one edge or boundary edge); a shot is unmatchable when a connected component
    without a boundary edge holds an odd number of its detection events. ``events``: bool of shape
    (shots, num_detectors).

    Example:
        >>> dem = stim.DetectorErrorModel("error(0.1) D0 D1\nerror(0) D2\nerror(0.1) D2 D3")
        >>> unmatchable_shots(dem, np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]], dtype=bool)).tolist()
        [False, True, True]
    """
    n = dem.num_detectors
    parent = list(range(n + 1))  # node n: the boundary

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for inst in dem.flattened():
        if inst.type != "error" or inst.args_copy()[0] <= 0:
            continue
        component: list[int] = []
        for t in [*inst.targets_copy(), stim.target_separator()]:
            if t.is_separator():
                nodes = component if len(component) != 1 else [component[0], n]
                for a, b in zip(nodes, nodes[1:]):
                    parent[find(a)] = find(b)
                component = []
            elif t.is_relative_detector_id():
                component.append(t.val)
    roots = np.array([find(i) for i in range(n)], dtype=np.int64)
    events = np.asarray(events, dtype=bool)
    # Events per component, mod 2, per shot; a component holding the boundary absorbs any parity.
    free = roots != find(n)
    _, component = np.unique(roots[free], return_inverse=True)
    member = np.zeros((int(free.sum()), int(component.max(initial=-1)) + 1), dtype=np.int64)
    member[np.arange(len(component)), component] = 1
    return np.any((events[:, free].astype(np.int64) @ member) % 2 == 1, axis=1)


def paired_ler(
    events: np.ndarray,
    obs: np.ndarray,
    dems: Mapping[str, stim.DetectorErrorModel],
    correlated: bool = False,
) -> dict[str, DecodedShots]:
    """Decode the same shots with each DEM's PyMatching; per-DEM errors and 95% intervals."""
    decoders = {name: PyMatchingDecoder(dem, correlated=correlated) for name, dem in dems.items()}
    fails, _ = failure_vectors(decoders, events, np.asarray(obs, dtype=bool), bit_packed=False)
    out: dict[str, DecodedShots] = {}
    for name, mistakes in fails.items():
        k = int(mistakes.sum())
        fit = fit_ler(k, len(mistakes))
        out[name] = DecodedShots(k, len(mistakes), float(fit.low), float(fit.high), mistakes)
    return out


def paired_difference(a: DecodedShots, b: DecodedShots) -> dict[str, float]:
    """Shots where only ``a`` fails vs only ``b`` fails, and a normal-approximation z score of
    the difference (McNemar, :func:`qec.paired_z`); negative z means ``a`` is better."""
    c = compare_failures("a", a.mistakes, "b", b.mistakes)
    return {"only_a": c.only_a, "only_b": c.only_b, "z": c.z}


def edge_error_stats(
    learned: stim.DetectorErrorModel, truth: stim.DetectorErrorModel
) -> dict[str, float]:
    """Per-edge error of the learned matching graph's probabilities against the true DEM's
    (components merged as PyMatching merges them)."""
    t = graph_edge_probabilities(truth)
    l = graph_edge_probabilities(learned)
    keys = sorted(set(t) | set(l))
    a = np.asarray([t.get(k, 0.0) for k in keys])
    b = np.asarray([l.get(k, 0.0) for k in keys])
    sel = a > 0
    rel = (b[sel] - a[sel]) / a[sel]
    wt = np.log((1 - a[sel]) / a[sel])
    wl = np.log((1 - np.clip(b[sel], 1e-12, 0.5)) / np.clip(b[sel], 1e-12, 0.5))
    return {
        "edges": int(len(keys)),
        "edges_missing": int(np.sum(b[sel] == 0)),
        "edges_extra": int(np.sum((a == 0) & (b > 0))),
        "rel_error_mean": float(np.mean(rel)),
        "rel_error_median_abs": float(np.median(np.abs(rel))),
        "rel_error_rms": float(np.sqrt(np.mean(rel**2))),
        "weight_error_rms": float(np.sqrt(np.mean((wl - wt) ** 2))),
        "correlation": float(np.corrcoef(a, b)[0, 1]) if len(keys) > 1 else float("nan"),
    }


def uniform_dem(dem: stim.DetectorErrorModel, p: float = 0.01) -> stim.DetectorErrorModel:
    """The same DEM with every error probability set to ``p`` (uniform matching weights)."""
    out = stim.DetectorErrorModel()
    for inst in dem.flattened():
        if inst.type == "error":
            out.append("error", p, inst.targets_copy())
        else:
            out.append(inst)
    return out


def hot_edges(edge_probs: Mapping[tuple[int, ...], float], k: int) -> list[tuple[int, ...]]:
    """The k edges with the highest probability."""
    return [e for e, _ in sorted(edge_probs.items(), key=lambda kv: -kv[1])[:k]]
