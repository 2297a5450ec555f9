"""Edge probabilities of the matching graph from detection-event correlations.

Model: independent error mechanisms e with probability p_e, each flipping a fixed set S_e of
detectors. With y_i = 1 - 2 x_i (x_i the detection event) and w_e = -ln(1 - 2 p_e),

    f(A) := -ln E[prod_{i in A} y_i] = sum_e w_e [ |A ∩ S_e| odd ].

Its Möbius transform G(A) = sum_{B ⊆ A} (-1)^{|A|-|B|} f(B) vanishes unless A lies inside a
mechanism, and W(A) := (-1)^{|A|+1} G(A) / 2^{|A|-1} = sum_{e: S_e ⊇ A} w_e exactly. For |A| = 2
this is Google's two-point formula (arXiv:2102.06132); for |A| = 1 it is f(i), the total weight
at detector i, and the boundary edge is the remainder after all other mechanisms at i (the
"XOR-combination" formula, docs/references.md). The 3- and 4-point versions estimate the hyperedges
of circuit-level noise (Y and hook errors), after which each mechanism's own weight is W minus
the weights of the mechanisms strictly containing it (largest first).

E[prod y_i] = 1 - 2 P(odd parity of the x_i), so every moment is a popcount of the XOR of
bit-packed detector columns: the co-occurrence counts are computed as one batched bitwise
product over all the sets needed, streamed in chunks of shots (memory does not grow with N).

Finite-shot artifacts (a negative estimated weight: negative covariance, a negative boundary
remainder, a negative hyperedge cumulant; or a moment <= 0) are clamped to zero and counted.

Pooling over rounds (``pool_rounds=True``): a memory experiment repeats the same round, so a
mechanism and its translates in time (the same detectors' places, shifted by whole rounds) can
share one weight, the mean of their estimates; the ``end_layers`` first and last detector layers
keep their own (state preparation and readout differ from the bulk). Time is the last detector
coordinate. On Google's Sycamore data this is what the published p_ij DEMs do, and it lowers the
logical error of correlated matching (docs/hardware.md).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
from typing import Any, Iterator

import numpy as np
import stim

from noise_learning._structure import DemStructure, graph_edge_probabilities
from qec import QecError

__all__ = [
    "CorrelationEstimator",
    "EstimatedModel",
    "SlidingWindowEstimator",
    "estimate_dem",
    "iter_event_chunks",
]

_CHUNK_SHOTS = 1 << 16  # shots per streamed chunk (a multiple of 64)
_SET_BATCH = 1024  # sets per XOR/popcount batch


def _pack_columns(events: np.ndarray) -> np.ndarray:
    """(n, D) bool -> (D, ceil(n/64)) uint64, bit s of column i = events[s, i]."""
    n, d = events.shape
    pad = (-n) % 64
    if pad:
        events = np.concatenate([events, np.zeros((pad, d), dtype=bool)], axis=0)
    packed = np.packbits(np.ascontiguousarray(events.T), axis=1, bitorder="little")
    return packed.view(np.uint64)


def iter_event_chunks(
    events: np.ndarray, num_detectors: int, bit_packed: bool = False, chunk_shots: int = _CHUNK_SHOTS
) -> Iterator[np.ndarray]:
    """Yield (n, num_detectors) bool chunks of a bool or bit-packed (Stim's little-endian
    ``bit_packed=True`` layout) event array."""
    events = np.asarray(events)
    if events.ndim != 2:
        raise QecError(f"events must be 2-D (shots, detectors), got shape {events.shape}")
    width = (num_detectors + 7) // 8 if bit_packed else num_detectors
    if events.shape[1] != width:
        kind = "bytes (bit-packed)" if bit_packed else "detectors"
        raise QecError(f"events have {events.shape[1]} columns, expected {width} {kind}")
    for s in range(0, events.shape[0], chunk_shots):
        block = events[s : s + chunk_shots]
        if bit_packed:
            block = np.unpackbits(block.astype(np.uint8, copy=False), axis=1, bitorder="little")
            block = block[:, :num_detectors].astype(bool)
        else:
            block = block.astype(bool, copy=False)
        yield block


@dataclasses.dataclass
class EstimatedModel:
    """Estimated mechanism probabilities and the DEM built from them.

    Attributes:
        mechanisms: detector sets (sorted tuples) that got a weight.
        probabilities: estimated probability per mechanism.
        term_probabilities: probability of each structure term (0 for terms the method does not
            estimate, e.g. hyperedges in the pairwise method).
        extra_terms: ``(p, detectors, observables)`` edges with no term of their own.
        clamped: counts of finite-shot artifacts clamped to zero, by kind.
        detector_rates: mean event rate per detector.
        shots: number of shots the estimate used.
        method: ``"pairwise"``, ``"hyperedge"`` or ``"likelihood"``.
        likelihood_fit: how the likelihood fit went (a
            :class:`~noise_learning._likelihood.LikelihoodFit`; None for the moment estimates).
    """

    structure: DemStructure
    mechanisms: list[tuple[int, ...]]
    probabilities: np.ndarray
    term_probabilities: np.ndarray
    extra_terms: list[tuple[float, tuple[int, ...], tuple[int, ...]]]
    clamped: dict[str, int]
    detector_rates: np.ndarray
    shots: int
    method: str
    likelihood_fit: Any = None

    def dem(self) -> stim.DetectorErrorModel:
        """The structure DEM with estimated probabilities (same order and decomposition)."""
        return self.structure.with_probabilities(self.term_probabilities, self.extra_terms)

    def edge_probabilities(self) -> dict[tuple[int, ...], float]:
        """Matching-graph edge probabilities as PyMatching sees them (components merged)."""
        return graph_edge_probabilities(self.dem())

    def mechanism_probability(self) -> dict[tuple[int, ...], float]:
        """Mechanism (its detectors) -> estimated probability."""
        return dict(zip(self.mechanisms, self.probabilities.tolist()))

    def matching(self, correlated: bool = False):
        """The ``pymatching.Matching`` of :meth:`dem`, plain or correlated (built by
        :class:`qec.PyMatchingDecoder`, the project's one PyMatching wrapper)."""
        from qec import PyMatchingDecoder

        return PyMatchingDecoder(self.dem(), correlated=correlated).matching


class CorrelationEstimator:
    """Estimates a DEM's probabilities from detection events and its structure alone.

    Args:
        structure: the DEM structure (from a noiseless-structure DEM or a circuit).
        method: ``"pairwise"`` (two-point edges + boundary remainders; a graphlike DEM) or
            ``"hyperedge"`` (adds 3- and 4-point estimates of the decomposed hyperedges, keeping
            their decomposition so correlated matching can use them).
        max_order: largest hyperedge estimated by the hyperedge method (2..6).
        pool_rounds: give every mechanism the mean weight of its translates in time (see the
            module docstring); needs detector coordinates with time last.
        end_layers: with ``pool_rounds``, mechanisms touching the first or last ``end_layers``
            detector layers keep their own weights.

    Example:
        >>> from qec import MemoryExperiment
        >>> exp = MemoryExperiment(3, 3, 0.005)
        >>> est = CorrelationEstimator(DemStructure.from_dem(exp.dem()))
        >>> events = exp.circuit().compile_detector_sampler(seed=1).sample(20000)
        >>> model = est.fit(events)
        >>> model.dem().num_detectors
        24
    """

    METHODS = ("pairwise", "hyperedge")

    def __init__(self, structure: DemStructure, *, method: str = "pairwise", max_order: int = 4,
                 pool_rounds: bool = False, end_layers: int = 2):
        if method not in self.METHODS:
            raise QecError(f"method must be one of {', '.join(self.METHODS)}, got {method!r}")
        if not 2 <= max_order <= 6:
            raise QecError(f"max_order must be in 2..6, got {max_order}")
        self.structure = structure
        self.method = method
        self.max_order = max_order if method == "hyperedge" else 2
        D = structure.num_detectors

        # Mechanisms: every graphlike component; hyperedge method adds multi-component supports.
        edge_obs: dict[tuple[int, ...], tuple[int, ...]] = {}
        for term in structure.terms:
            for dets, obs in term.components:
                if 1 <= len(dets) <= 2:
                    edge_obs.setdefault(dets, obs)
        mech: dict[tuple[int, ...], None] = dict.fromkeys(edge_obs)
        if method == "hyperedge":
            for term in structure.terms:
                if len(term.components) > 1 and 1 <= len(term.support) <= self.max_order:
                    mech.setdefault(term.support, None)
        self.mechanisms: list[tuple[int, ...]] = sorted(mech, key=lambda s: (len(s), s))
        self._mech_index = {m: k for k, m in enumerate(self.mechanisms)}

        # Terms -> mechanism. Terms with one support flip the same detectors, so statistics
        # cannot tell them apart: the weight goes to the terms with the fewest components (a
        # graphlike edge before a decomposition of the same detectors into two boundary edges),
        # split evenly on ties.
        self._term_mech = np.full(len(structure.terms), -1, dtype=np.int64)
        fewest: dict[tuple[int, ...], int] = {}
        for term in structure.terms:
            fewest[term.support] = min(fewest.get(term.support, 99), len(term.components))
        for t, term in enumerate(structure.terms):
            if not term.support or len(term.components) != fewest[term.support]:
                continue
            if term.is_graphlike:
                self._term_mech[t] = self._mech_index[term.support]
            elif method == "hyperedge" and len(term.components) > 1 and term.support in self._mech_index:
                self._term_mech[t] = self._mech_index[term.support]
        self._share = np.bincount(self._term_mech[self._term_mech >= 0], minlength=len(self.mechanisms))
        self._extra = [m for m in edge_obs if self._share[self._mech_index[m]] == 0]
        self._extra_obs = [edge_obs[m] for m in self._extra]
        self.unestimated_terms = int(np.sum(self._term_mech < 0))

        # Every set whose moment is needed: all detectors, all subsets (size >= 2) of mechanisms.
        sets: dict[tuple[int, ...], None] = {(i,): None for i in range(D)}
        for m in self.mechanisms:
            for k in range(2, len(m) + 1):
                for sub in itertools.combinations(m, k):
                    sets.setdefault(sub, None)
        self.sets: list[tuple[int, ...]] = sorted(sets, key=lambda s: (len(s), s))
        self._set_index = {s: k for k, s in enumerate(self.sets)}
        self._groups: list[tuple[np.ndarray, np.ndarray]] = []  # (positions in self.sets, (M, k) detector idx)
        by_order: dict[int, list[int]] = collections.defaultdict(list)
        for k, s in enumerate(self.sets):
            if len(s) >= 2:
                by_order[len(s)].append(k)
        for order in sorted(by_order):
            pos = np.asarray(by_order[order], dtype=np.int64)
            self._groups.append((pos, np.asarray([self.sets[k] for k in pos], dtype=np.int64)))

        # Möbius inversion: W(S) = coeff * sum_B sign_B f(B) over nonempty subsets B of S.
        self._mobius: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]] = []
        by_mech_order: dict[int, list[int]] = collections.defaultdict(list)
        for k, m in enumerate(self.mechanisms):
            by_mech_order[len(m)].append(k)
        for order, ks in sorted(by_mech_order.items()):
            subsets = [b for r in range(1, order + 1) for b in itertools.combinations(range(order), r)]
            signs = np.asarray([(-1.0) ** (order - len(b)) for b in subsets])
            idx = np.asarray(
                [[self._set_index[tuple(self.mechanisms[k][i] for i in b)] for b in subsets] for k in ks],
                dtype=np.int64,
            )
            coeff = (-1.0) ** (order + 1) / 2 ** (order - 1)
            self._mobius.append((np.asarray(ks, dtype=np.int64), idx, signs, coeff))

        # Containment: parents[k] = mechanisms strictly containing mechanism k.
        import scipy.sparse as sp

        rows, cols = [], []
        for k, m in enumerate(self.mechanisms):
            if len(m) < 3:
                continue
            for r in range(1, len(m)):
                for sub in itertools.combinations(m, r):
                    j = self._mech_index.get(sub)
                    if j is not None:
                        rows.append(j)
                        cols.append(k)
        self._contains = sp.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(self.mechanisms),) * 2
        )
        # Detector incidence of non-singleton mechanisms (for boundary remainders at every detector).
        rows, cols = [], []
        for k, m in enumerate(self.mechanisms):
            if len(m) >= 2:
                rows.extend(m)
                cols.extend([k] * len(m))
        self._incidence = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(D, len(self.mechanisms)))
        self.pool_rounds = bool(pool_rounds)
        self._translates = self._time_translates(int(end_layers)) if pool_rounds else []

    def _time_translates(self, end_layers: int) -> list[np.ndarray]:
        """Groups (>= 2) of mechanisms that are translates of each other in time, away from the
        first and last ``end_layers`` layers."""
        if end_layers < 0:
            raise QecError(f"end_layers must be >= 0, got {end_layers}")
        coords = self.structure.template.get_detector_coordinates()
        if any(len(coords.get(d, ())) < 2 for d in range(self.structure.num_detectors)):
            raise QecError("pooling over rounds needs detector coordinates (space..., time)")
        t = np.asarray([coords[d][-1] for d in range(self.structure.num_detectors)])
        first, last = t.min() + end_layers, t.max() - end_layers
        groups: dict[tuple, list[int]] = collections.defaultdict(list)
        for k, m in enumerate(self.mechanisms):
            t0 = min(t[d] for d in m)
            if t0 < first or max(t[d] for d in m) > last:
                continue
            key = tuple(sorted((*coords[d][:-1], round(t[d] - t0, 9)) for d in m))
            groups[key].append(k)
        return [np.asarray(g, dtype=np.int64) for g in groups.values() if len(g) >= 2]

    # -- counting ---------------------------------------------------------------------------------

    def counts(
        self, events: np.ndarray, *, bit_packed: bool = False, chunk_shots: int = _CHUNK_SHOTS
    ) -> tuple[np.ndarray, int]:
        """Odd-parity counts of every needed detector set (``self.sets``) and the shot count."""
        total = np.zeros(len(self.sets), dtype=np.int64)
        shots = 0
        for block in iter_event_chunks(events, self.structure.num_detectors, bit_packed, chunk_shots):
            total += self._block_counts(block)
            shots += block.shape[0]
        return total, shots

    def _block_counts(self, block: np.ndarray) -> np.ndarray:
        D = self.structure.num_detectors
        out = np.zeros(len(self.sets), dtype=np.int64)
        out[:D] = block.sum(axis=0)  # singletons are the first D sets
        cols = _pack_columns(block)
        for pos, idx in self._groups:
            for b in range(0, len(pos), _SET_BATCH):
                sub = idx[b : b + _SET_BATCH]
                x = cols[sub[:, 0]]
                for c in range(1, sub.shape[1]):
                    x ^= cols[sub[:, c]]
                out[pos[b : b + _SET_BATCH]] = np.bitwise_count(x).sum(axis=1, dtype=np.int64)
        return out

    # -- estimation -------------------------------------------------------------------------------

    def fit(self, events: np.ndarray, bit_packed: bool = False) -> EstimatedModel:
        """Estimate from a (shots, detectors) bool array or Stim's bit-packed layout."""
        counts, shots = self.counts(events, bit_packed=bit_packed)
        return self.from_counts(counts, shots)

    def from_counts(self, counts: np.ndarray, shots: int) -> EstimatedModel:
        """The model estimated from accumulated detector co-occurrence ``counts`` over ``shots`` shots."""
        if shots <= 0:
            raise QecError("no shots to estimate from")
        D = self.structure.num_detectors
        clamped = {"nonpositive_moment": 0, "negative_edge": 0, "negative_boundary": 0, "negative_hyperedge": 0}
        moment = 1.0 - 2.0 * counts / shots
        bad = moment <= 0
        clamped["nonpositive_moment"] = int(bad.sum())
        f = -np.log(np.where(bad, 1e-12, moment))

        M = len(self.mechanisms)
        W = np.zeros(M)
        for ks, idx, signs, coeff in self._mobius:
            W[ks] = coeff * (f[idx] @ signs)
        w = np.zeros(M)
        sizes = np.asarray([len(m) for m in self.mechanisms])
        for order in sorted(set(sizes.tolist()), reverse=True):
            sel = np.flatnonzero(sizes == order)
            if order == 1:
                continue
            v = W[sel] - self._contains[sel] @ w
            neg = v < 0
            clamped["negative_edge" if order == 2 else "negative_hyperedge"] += int(neg.sum())
            w[sel] = np.where(neg, 0.0, v)
        # Boundary remainders at every detector; only structure boundaries keep theirs.
        remainder = f[:D] - self._incidence @ w
        single = np.flatnonzero(sizes == 1)
        dets = np.asarray([self.mechanisms[k][0] for k in single], dtype=np.int64)
        v = remainder[dets]
        clamped["negative_boundary"] = int((v < 0).sum())
        w[single] = np.where(v < 0, 0.0, v)
        for group in self._translates:
            w[group] = w[group].mean()
        return self.model_from_weights(w, clamped=clamped, detector_rates=counts[:D] / shots, shots=shots,
                                       method=self.method)

    @property
    def translate_groups(self) -> list[np.ndarray]:
        """int64 arrays of mechanism indices that share one weight (translates in time; empty
        unless ``pool_rounds``)."""
        return list(self._translates)

    def model_from_weights(self, weights: np.ndarray, *, clamped: dict[str, int], detector_rates: np.ndarray,
                           shots: int, method: str) -> EstimatedModel:
        """The model with mechanism weights ``weights`` (float64 (len(mechanisms),),
        w = -ln(1 - 2p)), written into the structure's terms: same-support terms share their
        mechanism's weight, mechanisms with no term of their own become extra terms."""
        w = np.asarray(weights, dtype=np.float64)
        p = 0.5 * (1.0 - np.exp(-w))
        term_p = np.zeros(len(self.structure.terms))
        ok = self._term_mech >= 0
        share = self._share[self._term_mech[ok]]
        term_p[ok] = 0.5 * (1.0 - np.exp(-w[self._term_mech[ok]] / share))
        extra = [(float(p[self._mech_index[m]]), m, o) for m, o in zip(self._extra, self._extra_obs)]
        return EstimatedModel(
            structure=self.structure,
            mechanisms=list(self.mechanisms),
            probabilities=p,
            term_probabilities=term_p,
            extra_terms=extra,
            clamped=clamped,
            detector_rates=np.asarray(detector_rates, dtype=np.float64),
            shots=int(shots),
            method=method,
        )


class SlidingWindowEstimator:
    """Estimation over the most recent ``window_shots`` shots, for drifting noise.

    Shots arrive in blocks (:meth:`push`); the counts of each block are kept, and the estimate
    uses the newest blocks covering at least ``window_shots`` shots. Cost per block is that of
    counting the block; the estimate itself is a sum of count vectors.

    Example:
        >>> from qec import MemoryExperiment
        >>> exp = MemoryExperiment(3, 3, 0.005)
        >>> win = SlidingWindowEstimator(CorrelationEstimator(DemStructure.from_dem(exp.dem())), 4000)
        >>> for seed in range(3):
        ...     win.push(exp.circuit().compile_detector_sampler(seed=seed).sample(2000))
        >>> win.estimate().shots
        4000
    """

    def __init__(self, estimator: CorrelationEstimator, window_shots: int):
        if window_shots <= 0:
            raise QecError("window_shots must be positive")
        self.estimator = estimator
        self.window_shots = int(window_shots)
        self._blocks: collections.deque[tuple[np.ndarray, int]] = collections.deque()

    def push(self, events: np.ndarray, bit_packed: bool = False) -> None:
        """Add a block of shots to the window; the oldest blocks leave once the window is full."""
        self._blocks.append(self.estimator.counts(events, bit_packed=bit_packed))
        while len(self._blocks) > 1 and sum(n for _, n in list(self._blocks)[1:]) >= self.window_shots:
            self._blocks.popleft()

    def estimate(self) -> EstimatedModel:
        """The model estimated from the shots now in the window."""
        if not self._blocks:
            raise QecError("no shots pushed yet")
        counts = sum(c for c, _ in self._blocks)
        shots = sum(n for _, n in self._blocks)
        return self.estimator.from_counts(counts, shots)


def estimate_dem(
    events: np.ndarray,
    structure: DemStructure,
    *,
    method: str = "pairwise",
    bit_packed: bool = False,
) -> EstimatedModel:
    """One-call form of :class:`CorrelationEstimator`."""
    return CorrelationEstimator(structure, method=method).fit(events, bit_packed=bit_packed)

