"""Canonical labels: every DEM error written once as a set of correction-basis elements.

Each graphlike component of a decomposed DEM error (one or two detectors plus an observable
parity) becomes the shortest path between its detectors (or to the boundary) on the basis graph,
a graph whose edges are basis elements and whose nodes carry a parity bit for the observable.
The X-type and the Z-type part of a DEM error are each labeled by their total effect when it is
graphlike (one or two detectors), else component by component. A sample's label is the XOR of the labels of the errors
that fired. Errors with the same detectors and observable get one label.
"""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np
import stim

from qec._encoding._correction_basis import CorrectionBasis, xor_rows
from qec._errors import QecError


class LabelError(QecError):
    """A DEM error that the correction basis cannot express."""


@dataclasses.dataclass(frozen=True, eq=False)
class ErrorLabels:
    """CSR map: DEM error k (flattened DEM order) -> basis elements of its canonical label.

    Attributes:
        indptr: int64 (num_errors + 1,).
        indices: int64 (nnz,): flat basis-element indices.
        observables: bool (num_errors,): each error's observable-0 flip (for checks).
    """

    indptr: np.ndarray
    indices: np.ndarray
    observables: np.ndarray
    num_elements: int

    @property
    def num_errors(self) -> int:
        return len(self.indptr) - 1

    def labels_of(self, fired: np.ndarray) -> np.ndarray:
        """bool (batch, num_errors) fired DEM errors -> bool (batch, num_elements) labels."""
        return xor_rows(fired, self.indptr, self.indices, self.num_elements)


def _basis_graph(basis: CorrectionBasis) -> tuple[nx.Graph, int]:
    """Graph on (detector or boundary, parity) nodes; edge attribute 'element'."""
    boundary = basis.layout.num_detectors
    graph = nx.Graph()
    valid = np.flatnonzero(basis.valid.ravel())
    for e in valid.tolist():
        dets = basis.element_detectors(e).tolist()
        o = int(basis.L[e])
        if len(dets) == 0:
            if o:
                raise LabelError(f"basis element {e} flips the observable without any detector")
            continue
        u, v = (dets[0], boundary) if len(dets) == 1 else (dets[0], dets[1])
        for parity in (0, 1):
            a, b = (u, parity), (v, parity ^ o)
            if not graph.has_edge(a, b):
                graph.add_edge(a, b, element=e)
    return graph, boundary


def dem_error_labels(dem: stim.DetectorErrorModel, basis: CorrectionBasis) -> ErrorLabels:
    """Canonical label for every error of a graphlike-decomposed DEM.

    Raises :class:`LabelError` naming the DEM term when a component has more than two
    detectors or no chain of basis elements has exactly its detectors and observable parity.
    """
    if dem.num_detectors != basis.layout.num_detectors:
        raise LabelError(
            f"the DEM has {dem.num_detectors} detectors, the layout {basis.layout.num_detectors}"
        )
    graph, boundary = _basis_graph(basis)
    channel = basis.layout.detector_channel
    cache: dict[tuple[int, int, int], tuple[int, ...]] = {}

    def component_label(dets: list[int], obs: int, term: str) -> tuple[int, ...]:
        if len(dets) > 2:
            raise LabelError(f"DEM term `{term}` has a component with {len(dets)} detectors; use a decomposed DEM")
        if not dets:
            if obs:
                raise LabelError(f"DEM term `{term}` flips the observable without any detector")
            return ()
        u, v = (dets[0], boundary) if len(dets) == 1 else (min(dets), max(dets))
        key = (u, v, obs)
        if key not in cache:
            try:
                path = nx.bidirectional_shortest_path(graph, (u, 0), (v, obs))
            except (nx.NetworkXNoPath, nx.NodeNotFound):
                raise LabelError(f"no chain of basis elements explains DEM term `{term}`") from None
            cache[key] = tuple(sorted(graph.edges[a, b]["element"] for a, b in zip(path, path[1:])))
        return cache[key]

    indptr = [0]
    indices: list[int] = []
    observables: list[bool] = []
    for inst in dem.flattened():
        if inst.type != "error":
            continue
        components: list[tuple[list[int], int]] = [([], 0)]
        for t in inst.targets_copy():
            if t.is_separator():
                components.append(([], 0))
            elif t.is_relative_detector_id():
                components[-1][0].append(t.val)
            elif t.is_logical_observable_id():
                if t.val != 0:
                    raise LabelError(f"DEM term `{inst}` uses observable {t.val}; only observable 0 is supported")
                dets, o = components[-1]
                components[-1] = (dets, o ^ 1)
        total_obs = 0
        for _, o in components:
            total_obs ^= o
        label: set[int] = set()
        # Stim sometimes splits an error whose X-type (or Z-type) part is graphlike as a whole,
        # e.g. `D0 L0 ^ D12 L0`: label each type's total effect when it has at most two
        # detectors, so every error with the same effect gets the same label.
        groups: dict[int, list[tuple[list[int], int]]] = {}
        for dets, o in components:
            kinds = {int(channel[d]) for d in dets}
            groups.setdefault(kinds.pop() if len(kinds) == 1 else -1, []).append((dets, o))
        for kind, group in groups.items():
            dets_total: set[int] = set()
            obs_total = 0
            for dets, o in group:
                dets_total.symmetric_difference_update(dets)
                obs_total ^= o
            if kind >= 0 and len(dets_total) <= 2:
                label.symmetric_difference_update(component_label(sorted(dets_total), obs_total, str(inst)))
            else:
                for dets, o in group:
                    label.symmetric_difference_update(component_label(dets, o, str(inst)))
        indices.extend(sorted(label))
        indptr.append(len(indices))
        observables.append(bool(total_obs))
    return ErrorLabels(
        indptr=np.asarray(indptr, dtype=np.int64),
        indices=np.asarray(indices, dtype=np.int64),
        observables=np.asarray(observables, dtype=bool),
        num_elements=basis.num_elements,
    )
