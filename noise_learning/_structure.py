"""The structure of a detector error model: which errors exist, never how likely they are.

A *structure* is a decomposed DEM with its probabilities discarded. Each error term is a list of
graphlike components (one or two detectors plus observables, separated by ``^`` in Stim's
syntax); its *support* is the set of detectors the whole error flips (the symmetric difference of
its components). The estimators in this package learn one probability per *mechanism* (a support
set) and write them back into the structure's terms.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable

import numpy as np
import stim

from qec import QecError

__all__ = ["Term", "DemStructure", "structure_from_circuit", "graph_edge_probabilities"]


@dataclasses.dataclass(frozen=True)
class Term:
    """One error instruction of the structure DEM.

    Attributes:
        components: ``((detectors, observables), ...)``, one entry per ``^``-separated part;
            detectors and observables are sorted tuples of absolute indices.
        support: sorted detectors flipped by the whole error (XOR of the components).
        observables: sorted observables flipped by the whole error.
    """

    components: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]
    support: tuple[int, ...]
    observables: tuple[int, ...]

    @property
    def is_graphlike(self) -> bool:
        return len(self.components) == 1 and len(self.support) <= 2


def _xor(sets: Iterable[Iterable[int]]) -> tuple[int, ...]:
    out: set[int] = set()
    for s in sets:
        out ^= set(s)
    return tuple(sorted(out))


@dataclasses.dataclass
class DemStructure:
    """The error terms of a (flattened, decomposed) DEM, in the DEM's own order.

    ``template`` is the DEM itself (flattened only if it has ``repeat`` blocks, whose errors
    could not take different probabilities per iteration); :meth:`with_probabilities` returns it
    with each error's probability replaced, so an estimated DEM has exactly the instructions,
    ordering, ``shift_detectors``, detector coordinates and decomposition of the DEM it was built
    from (``MemoryExperiment.dem()``): only the probabilities differ.

    Example:
        >>> from qec import MemoryExperiment
        >>> s = DemStructure.from_dem(MemoryExperiment(3, 3, 0.001).dem())
        >>> s.num_detectors, len(s.terms) > 0
        (24, True)
    """

    num_detectors: int
    num_observables: int
    terms: list[Term]
    template: stim.DetectorErrorModel

    @staticmethod
    def from_dem(dem: stim.DetectorErrorModel) -> "DemStructure":
        """The structure of ``dem``: its mechanisms (detector sets and observable masks),
        probabilities dropped."""
        flat = dem.flattened()
        terms: list[Term] = []
        for inst in flat:
            if inst.type != "error":
                continue
            comps: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
            dets: list[int] = []
            obs: list[int] = []
            for t in inst.targets_copy() + [stim.DemTarget.separator()]:
                if t.is_separator():
                    comps.append((tuple(sorted(dets)), tuple(sorted(obs))))
                    dets, obs = [], []
                elif t.is_relative_detector_id():
                    dets.append(t.val)
                elif t.is_logical_observable_id():
                    obs.append(t.val)
            terms.append(Term(tuple(comps), _xor(c[0] for c in comps), _xor(c[1] for c in comps)))
        has_repeat = any(inst.type == "repeat" for inst in dem)
        return DemStructure(flat.num_detectors, flat.num_observables, terms, flat if has_repeat else dem.copy())

    def edges(self) -> list[tuple[int, ...]]:
        """The matching graph's edges: every distinct detector set of a graphlike component
        (``(i,)`` is a boundary edge, ``(i, j)`` with i < j a bulk edge), in first-seen order."""
        seen: dict[tuple[int, ...], None] = {}
        for term in self.terms:
            for dets, _ in term.components:
                if 1 <= len(dets) <= 2:
                    seen.setdefault(dets, None)
        return list(seen)

    def hyperedges(self, max_order: int = 4) -> list[tuple[int, ...]]:
        """Distinct supports of multi-component terms with 3..max_order detectors."""
        seen: dict[tuple[int, ...], None] = {}
        for term in self.terms:
            if len(term.components) > 1 and 3 <= len(term.support) <= max_order:
                seen.setdefault(term.support, None)
        return list(seen)

    def with_probabilities(
        self, probabilities: np.ndarray, extra: Iterable[tuple[float, tuple[int, ...], tuple[int, ...]]] = ()
    ) -> stim.DetectorErrorModel:
        """The template DEM with the i-th error's probability set to ``probabilities[i]``;
        ``extra`` = ``(p, detectors, observables)`` terms appended at the end."""
        probabilities = np.asarray(probabilities, dtype=np.float64)
        if probabilities.shape != (len(self.terms),):
            raise QecError(f"expected {len(self.terms)} probabilities, got {probabilities.shape}")
        out = stim.DetectorErrorModel()
        k = 0
        for inst in self.template:
            if inst.type == "error":
                out.append("error", float(np.clip(probabilities[k], 0.0, 0.5)), inst.targets_copy())
                k += 1
            else:
                out.append(inst)
        shift = sum(inst.targets_copy()[0] for inst in self.template if inst.type == "shift_detectors")
        for p, dets, obs in extra:
            targets = [stim.target_relative_detector_id(d - shift) for d in dets]
            targets += [stim.target_logical_observable_id(o) for o in obs]
            out.append("error", float(np.clip(p, 0.0, 0.5)), targets)
        return out

    def probabilities_of(self, dem: stim.DetectorErrorModel) -> np.ndarray:
        """The error probabilities of a DEM with this structure, in term order."""
        flat = dem.flattened()
        ps = [inst.args_copy()[0] for inst in flat if inst.type == "error"]
        if len(ps) < len(self.terms):
            raise QecError("DEM has fewer error terms than the structure")
        return np.asarray(ps[: len(self.terms)], dtype=np.float64)


def structure_from_circuit(circuit: stim.Circuit) -> DemStructure:
    """The decomposed DEM structure of a circuit.

    A noisy circuit gives its own DEM's structure. A noiseless rotated-memory circuit gets the
    project's 25-parameter depolarizing noise inserted first (only to learn which errors exist).
    """
    if circuit.num_detectors == 0:
        raise QecError("circuit has no detectors")
    dem = circuit.detector_error_model(decompose_errors=True, approximate_disjoint_errors=True)
    if dem.num_errors == 0:
        from qec import CircuitNoise
        from qec.noise import fold_hadamards, insert_circuit_noise

        try:
            noisy = insert_circuit_noise(fold_hadamards(circuit), CircuitNoise.depolarizing(1e-3))
            dem = noisy.detector_error_model(decompose_errors=True, approximate_disjoint_errors=True)
        except Exception as e:  # pragma: no cover - depends on the user's circuit
            raise QecError(f"circuit is noiseless and noise could not be inserted ({e}); "
                             "pass a circuit with noise channels (any strength)") from e
        if dem.num_errors == 0:
            raise QecError("circuit is noiseless; pass a circuit with noise channels (any strength)")
    return DemStructure.from_dem(dem)


def graph_edge_probabilities(dem: stim.DetectorErrorModel) -> dict[tuple[int, ...], float]:
    """Edge probabilities of the matching graph PyMatching builds from ``dem`` (components of
    decomposed errors merged by XOR-combination): ``{(i,): p_boundary, (i, j): p}``."""
    import pymatching

    m = pymatching.Matching.from_detector_error_model(dem)
    out: dict[tuple[int, ...], float] = {}
    for u, v, data in m.edges():
        key = (u,) if v is None else (min(u, v), max(u, v))
        out[key] = float(data["error_probability"])
    return out
