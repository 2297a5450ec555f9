"""Space-time layout: detector index <-> (channel, t, row, col) on one grid.

The layout is read from the circuit's own structure (:mod:`qec._encoding._memory_circuit_structure`: which
data qubits each stabilizer measures, which results each detector compares), never from qubit
coordinates or gate conventions, so it holds for Stim's CX circuits and for hardware circuits
alike (Google's Sycamore circuits: CZ gates, single-qubit rotations, diagonal coordinates).

The grid: the weight-4 stabilizers overlap their edge neighbours in two data qubits, so they form
a (d - 1) x (d - 1) grid graph; placing it (from two of its corners) places every data qubit on a
d x d grid and every stabilizer on a (d + 1) x (d + 1) grid of sites, a weight-4 stabilizer at
site (r, c) acting on the data qubits at (r - 1, c - 1), (r - 1, c), (r, c - 1), (r, c) and a
weight-2 one on the two of those inside the patch. Of the eight ways to place the grid (rotations
and reflections), the layout takes one where X-type stabilizers sit on sites with odd r + c and
the weight-2 X-type stabilizers on the top and bottom rows, as in Stim's generated circuits; of
the two such (a half turn apart), the one whose data qubit (0, 0) has the smallest coordinates
(y first), else the smallest qubit index. Stim's generated circuits so get measure qubits at
even (x, y) on site (y / 2, x / 2) and data qubits at odd (x, y) on ((y - 1) / 2, (x - 1) / 2).
Time t = 0 .. rounds: a detector's round (the first layer compares one result, the last the
final readout).

Stabilizer *types*: the two classes of the checkerboard; the class with first-layer detectors is
the memory basis's type. Which of X and Z that is comes from the circuit (the Pauli its
first-layer stabilizers apply to the data qubits, see
:class:`~qec._encoding._memory_circuit_structure.MemoryCircuitStructure`); a circuit whose data qubits sit in
mixed frames (Google's) names it by convention, and a caller who knows better says so
(``basis=``; an experiment folder's ``properties.yml`` does).

Channels of the event tensor: 0 = X-type events, 1 = Z-type events, 2 = X-detector mask,
3 = Z-detector mask (1 where a detector of that type exists at (t, row, col)).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import stim

from qec._encoding._bit_packing import check_shots, unpack_bits
from qec._errors import QecError
from qec._encoding._memory_circuit_structure import CircuitStructureError, MemoryCircuitStructure, read_memory_structure

EVENT_CHANNELS = ("x_events", "z_events", "x_mask", "z_mask")


class LayoutError(QecError):
    """The circuit cannot be mapped onto the rotated surface-code grid."""


@dataclasses.dataclass(frozen=True)
class Stabilizer:
    """A measure qubit: its Stim qubit index, coordinates (as the circuit gives them, possibly
    none), grid site, type ('X' or 'Z') and the data qubits it acts on."""

    qubit: int
    coords: tuple[float, ...]
    row: int
    col: int
    kind: str
    support: frozenset[int] = frozenset()


@dataclasses.dataclass(frozen=True)
class DataQubit:
    """A data qubit: its Stim qubit index, coordinates (possibly none) and grid site."""

    qubit: int
    coords: tuple[float, ...]
    row: int
    col: int


@dataclasses.dataclass(frozen=True, eq=False)
class SpaceTimeLayout:
    """Where each detector of a rotated surface-code memory circuit lives on the grid.

    Attributes:
        distance: code distance d.
        rounds: stabilizer rounds; the grid has T = rounds + 1 time layers.
        basis: memory basis, "x" or "z" (the type of the first and last detector layers).
        height, width: grid size H, W (d + 1).
        stabilizers: measure qubits with their grid sites and types.
        data_qubits: data qubits with their grid sites.
        detector_channel, detector_t, detector_row, detector_col: int64 arrays of shape
            (num_detectors,): each detector's place (channel 0 = X type, 1 = Z type).
        observable_qubits: data qubits whose final measurement is in observable 0.

    Example:
        >>> from qec._circuits._memory_experiment import memory_circuit
        >>> layout = SpaceTimeLayout.from_circuit(memory_circuit(3, rounds=2, p=0.001))
        >>> layout.shape
        (3, 4, 4)
    """

    distance: int
    rounds: int
    basis: str
    height: int
    width: int
    stabilizers: tuple[Stabilizer, ...]
    data_qubits: tuple[DataQubit, ...]
    detector_channel: np.ndarray
    detector_t: np.ndarray
    detector_row: np.ndarray
    detector_col: np.ndarray
    observable_qubits: frozenset[int]

    @property
    def num_detectors(self) -> int:
        return len(self.detector_t)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(T, H, W)."""
        return (self.rounds + 1, self.height, self.width)

    @staticmethod
    def from_dem(dem: stim.DetectorErrorModel) -> "SpaceTimeLayout":
        """The space-time layout of a rotated surface-code memory DEM, from detector coordinates.

        The detector coordinates (x, y, t) are matched, up to a translation in (x, y) and in any
        order, against Stim's generated noiseless memory circuit of the implied distance, rounds and
        basis; that circuit supplies qubit positions, stabilizer types and the observable.

        Raises :class:`LayoutError` saying why when the DEM does not fit.
        """
        n = dem.num_detectors
        if n == 0:
            raise LayoutError("the DEM has no detectors")
        if dem.num_observables != 1:
            raise LayoutError(f"expected exactly 1 observable, the DEM has {dem.num_observables}")
        coords = dem.get_detector_coordinates()
        pts = np.zeros((n, 3), dtype=np.int64)
        for k in range(n):
            c = coords.get(k)
            if c is None or len(c) < 3:
                raise LayoutError(f"detector {k} has no (x, y, t) coordinates")
            if any(abs(v - round(v)) > 1e-9 for v in c[:3]):
                raise LayoutError(f"detector {k} has non-integer coordinates {tuple(c[:3])}")
            pts[k] = [round(v) for v in c[:3]]
        sites = {tuple(p) for p in pts[:, :2].tolist()}
        distance = int(round((len(sites) + 1) ** 0.5))
        if distance < 2 or distance * distance - 1 != len(sites):
            raise LayoutError(
                f"detectors sit at {len(sites)} distinct (x, y) sites; a distance-d rotated surface code has d*d - 1"
            )
        t0 = int(pts[:, 2].min())
        rounds = int(pts[:, 2].max()) - t0
        if rounds < 1:
            raise LayoutError("detectors span a single time layer; need at least one round")
        for basis in ("x", "z"):
            gen = stim.Circuit.generated(f"surface_code:rotated_memory_{basis}", distance=distance, rounds=rounds)
            if gen.num_detectors != n:
                continue
            gc = gen.get_detector_coordinates()
            gpts = np.array([[round(v) for v in gc[k][:3]] for k in range(n)], dtype=np.int64)
            shift = gpts.min(axis=0) - pts.min(axis=0)
            moved = pts + shift
            lookup = {tuple(p): k for k, p in enumerate(gpts.tolist())}
            perm = [lookup.get(tuple(p)) for p in moved.tolist()]
            if any(k is None for k in perm):
                continue
            perm = np.asarray(perm, dtype=np.int64)
            if len(np.unique(perm)) != n:
                continue
            layout = SpaceTimeLayout.from_circuit(gen)
            return dataclasses.replace(
                layout,
                detector_channel=layout.detector_channel[perm],
                detector_t=layout.detector_t[perm],
                detector_row=layout.detector_row[perm],
                detector_col=layout.detector_col[perm],
            )
        raise LayoutError(
            f"the DEM's detector coordinates do not match a rotated surface-code memory experiment "
            f"(distance {distance}, {rounds} rounds, as laid out by Stim's generated circuits)"
        )

    @staticmethod
    def from_circuit(circuit: stim.Circuit, basis: str | None = None) -> "SpaceTimeLayout":
        """Derive the layout from the circuit's structure (see the module docstring).

        Args:
            circuit: a rotated surface-code memory circuit, noisy or not.
            basis: the memory basis, ``"x"`` or ``"z"``; None reads it from the circuit. Checked
                against the circuit when its data qubits share one frame; for mixed frames
                (where X and Z are names by convention) it names the memory stabilizers' type.

        Raises :class:`LayoutError` (one line saying why) when the circuit is not a rotated
        surface-code memory experiment this layout can hold.
        """
        if basis is not None and basis not in ("x", "z"):
            raise LayoutError(f"basis must be 'x' or 'z', got {basis!r}")
        try:
            structure = read_memory_structure(circuit)
        except CircuitStructureError as e:
            raise LayoutError(str(e)) from None
        if structure.uniform_frame and basis is not None and basis != structure.memory_basis:
            raise LayoutError(
                f"the circuit is a {structure.memory_basis.upper()}-basis memory; basis {basis!r} was given"
            )
        basis = basis or structure.memory_basis
        if basis is None:
            raise LayoutError(
                "the circuit's first-layer stabilizers act with X on as many data qubits as with Z, so the "
                "circuit alone does not say whether it is an X- or Z-basis memory: give the basis"
            )
        distance, sites, data_cells = _place_on_grid(structure, basis, circuit.get_final_qubit_coordinates())
        coords = circuit.get_final_qubit_coordinates()
        memory = structure.memory_qubits
        kind_of = {q: (basis.upper() if q in memory else _other(basis).upper()) for q in structure.measure_qubits}
        stabilizers = tuple(sorted(
            (Stabilizer(q, tuple(coords.get(q, ())), r, c, kind_of[q], structure.supports[q])
             for q, (r, c) in sites.items()),
            key=lambda s: (s.row, s.col),
        ))
        data_qubits = tuple(sorted(
            (DataQubit(q, tuple(coords.get(q, ())), r, c) for q, (r, c) in data_cells.items()),
            key=lambda d: (d.row, d.col),
        ))
        det_q = structure.detector_qubit
        channel = np.asarray([0 if kind_of[q] == "X" else 1 for q in det_q.tolist()], dtype=np.int64)
        row = np.asarray([sites[q][0] for q in det_q.tolist()], dtype=np.int64)
        col = np.asarray([sites[q][1] for q in det_q.tolist()], dtype=np.int64)
        return SpaceTimeLayout(
            distance=distance,
            rounds=structure.rounds,
            basis=basis,
            height=distance + 1,
            width=distance + 1,
            stabilizers=stabilizers,
            data_qubits=data_qubits,
            detector_channel=channel,
            detector_t=structure.detector_t.copy(),
            detector_row=row,
            detector_col=col,
            observable_qubits=structure.observable_qubits,
        )

    # -----------------------------------------------------------------------------------------
    # Events <-> grid.

    @property
    def detector_flat_index(self) -> np.ndarray:
        """int64 (num_detectors,): each detector's flat index into a (2, T, H, W) grid."""
        T, H, W = self.shape
        return ((self.detector_channel * T + self.detector_t) * H + self.detector_row) * W + self.detector_col

    def detector_mask(self) -> np.ndarray:
        """bool (2, T, H, W): True where an X-type (channel 0) / Z-type (1) detector exists."""
        T, H, W = self.shape
        mask = np.zeros(2 * T * H * W, dtype=bool)
        mask[self.detector_flat_index] = True
        return mask.reshape(2, T, H, W)

    def unpack(self, events: np.ndarray) -> np.ndarray:
        """Bit-packed uint8 (shots, ceil(N / 8)) (Stim's little-endian order) -> bool (shots, N)."""
        return unpack_bits(check_shots(events, self.num_detectors, bit_packed=True), self.num_detectors)

    def to_grid(self, events: np.ndarray, *, bit_packed: bool = False, with_masks: bool = True) -> np.ndarray:
        """Detection events -> float32 tensor (shots, 4, T, H, W) (or (shots, 2, ...) without masks).

        Args:
            events: bool (shots, num_detectors), or uint8 bit-packed when ``bit_packed``.
        """
        if bit_packed:
            events = self.unpack(events)
        events = np.asarray(events)
        if events.ndim != 2 or events.shape[1] != self.num_detectors:
            raise QecError(
                f"events must have shape (shots, {self.num_detectors}), got {tuple(events.shape)}"
            )
        T, H, W = self.shape
        shots = events.shape[0]
        channels = 4 if with_masks else 2
        out = np.zeros((shots, channels * T * H * W), dtype=np.float32)
        out[:, self.detector_flat_index] = events
        out = out.reshape(shots, channels, T, H, W)
        if with_masks:
            out[:, 2:4] = self.detector_mask()
        return out

    def from_grid(self, grid: np.ndarray) -> np.ndarray:
        """Tensor (shots, >=2, T, H, W) (any dtype; nonzero = event) -> bool (shots, num_detectors)."""
        grid = np.asarray(grid)
        T, H, W = self.shape
        if grid.ndim != 5 or grid.shape[2:] != (T, H, W) or grid.shape[1] < 2:
            raise QecError(f"grid must have shape (shots, >=2, {T}, {H}, {W}), got {tuple(grid.shape)}")
        flat = grid[:, :2].reshape(grid.shape[0], -1)
        return flat[:, self.detector_flat_index] != 0


def _other(basis: str) -> str:
    return "z" if basis == "x" else "x"


def _place_on_grid(
    structure: MemoryCircuitStructure, basis: str, coords: dict[int, list[float]]
) -> tuple[int, dict[int, tuple[int, int]], dict[int, tuple[int, int]]]:
    """(d, measure qubit -> site (row, col), data qubit -> cell (row, col)); see the module docstring."""
    n_data = len(structure.data_qubits)
    d = int(round(n_data ** 0.5))
    supports = structure.supports
    plaquettes = sorted(q for q in structure.measure_qubits if len(supports[q]) == 4)
    pairs = sorted(q for q in structure.measure_qubits if len(supports[q]) == 2)
    if (d < 3 or d * d != n_data or len(structure.measure_qubits) != n_data - 1
            or len(plaquettes) != (d - 1) ** 2 or len(pairs) != 2 * (d - 1)):
        raise LayoutError(
            f"{n_data} data qubits and {len(structure.measure_qubits)} stabilizers of weights "
            f"{sorted({len(s) for s in supports.values()})} do not form a rotated surface code of distance >= 3"
        )
    if not structure.memory_qubits <= set(plaquettes) | set(pairs):
        raise LayoutError("a first-layer detector belongs to a stabilizer of weight other than 2 or 4")

    # The plaquettes' grid graph: edge neighbours share two data qubits.
    nbrs = {p: [o for o in plaquettes if o != p and len(supports[p] & supports[o]) == 2] for p in plaquettes}
    corners = [p for p in plaquettes if len(nbrs[p]) == 2]
    side = d - 1  # plaquettes per side
    candidates = []
    for c0 in corners:
        dist0 = _bfs(nbrs, c0)
        for c1 in corners:
            if dist0.get(c1) != side - 1:
                continue
            placed = _placement(structure, nbrs, dist0, _bfs(nbrs, c1), d)
            if placed is not None and _has_stim_pattern(placed[0], supports, structure.memory_qubits, basis, d):
                candidates.append(placed)
    if not candidates:
        raise LayoutError("the stabilizers do not form the grid of a rotated surface code")

    def key(placed):
        origin = next(q for q, cell in placed[1].items() if cell == (0, 0))
        c = coords.get(origin, [])
        return (0, tuple(c[1::-1]) + tuple(c[2:]), origin) if len(c) >= 2 else (1, (), origin)

    sites, cells = min(candidates, key=key)
    return d, sites, cells


def _bfs(nbrs: dict[int, list[int]], start: int) -> dict[int, int]:
    dist = {start: 0}
    frontier = [start]
    while frontier:
        nxt = []
        for p in frontier:
            for o in nbrs[p]:
                if o not in dist:
                    dist[o] = dist[p] + 1
                    nxt.append(o)
        frontier = nxt
    return dist


def _placement(structure, nbrs, dist0, dist1, d):
    """(measure qubit -> site, data qubit -> cell) with plaquette corner c0 at plaquette (0, 0)
    and c1 at (0, d - 2); None when the plaquettes are not a (d - 1) x (d - 1) grid graph."""
    side = d - 1
    supports = structure.supports
    pos: dict[int, tuple[int, int]] = {}
    for p in nbrs:
        a, b = dist0.get(p), dist1.get(p)
        if a is None or b is None or (a + b - (side - 1)) % 2:
            return None
        i, j = (a + b - (side - 1)) // 2, (a - b + (side - 1)) // 2
        if not (0 <= i < side and 0 <= j < side):
            return None
        pos[p] = (i, j)
    if len(set(pos.values())) != len(pos):
        return None
    for p, (i, j) in pos.items():
        if {pos[o] for o in nbrs[p]} != {(i + di, j + dj) for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1))
                                          if 0 <= i + di < side and 0 <= j + dj < side}:
            return None
    # A data qubit's cell is the one whose covering plaquettes are exactly those holding it.
    holders: dict[int, set[tuple[int, int]]] = {q: set() for q in structure.data_qubits}
    for p, ij in pos.items():
        for q in supports[p]:
            holders[q].add(ij)

    def covering(i, j):
        return {(a, b) for a in (i - 1, i) for b in (j - 1, j) if 0 <= a < side and 0 <= b < side}

    cells: dict[int, tuple[int, int]] = {}
    for q, held in holders.items():
        options = {(a + da, b + db) for a, b in held for da in (0, 1) for db in (0, 1)}
        match = [c for c in options if covering(*c) == held]
        if len(match) != 1:
            return None
        cells[q] = match[0]
    if len(set(cells.values())) != len(cells):
        return None
    sites = {p: (i + 1, j + 1) for p, (i, j) in pos.items()}
    for q in structure.measure_qubits:
        if q in sites:
            continue
        got = {cells[x] for x in supports[q]}
        (r0, c0), (r1, c1) = sorted(got)
        if r0 == r1 and c1 == c0 + 1 and r0 in (0, d - 1):
            site = (0 if r0 == 0 else d, c1)
        elif c0 == c1 and r1 == r0 + 1 and c0 in (0, d - 1):
            site = (r1, 0 if c0 == 0 else d)
        else:
            return None
        sites[q] = site
    if len(set(sites.values())) != len(sites):
        return None
    return sites, cells


def _has_stim_pattern(sites, supports, memory_qubits, basis, d) -> bool:
    """X-type stabilizers on odd r + c, Z-type on even; weight-2 X-type on rows 0 and d, weight-2
    Z-type on columns 0 and d; the memory qubits are one type."""
    for q, (r, c) in sites.items():
        is_x = (q in memory_qubits) == (basis == "x")
        if ((r + c) % 2 == 1) != is_x:
            return False
        if len(supports[q]) == 2 and ((r in (0, d)) != is_x or (c in (0, d)) == is_x):
            return False
    return True
