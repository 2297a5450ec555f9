"""Space-time layout: detector index <-> (channel, t, row, col) on one grid.

The grid is indexed by Stim's qubit coordinates of a rotated surface-code memory circuit:
measure qubits at even (x, y) sit at site (row, col) = (y / 2, x / 2) and data qubits at odd
(x, y) at site ((y - 1) / 2, (x - 1) / 2), so a data qubit shares its site with the measure qubit
above-left of it. X and Z plaquettes form a checkerboard: one (d + 1) x (d + 1) grid holds both.
Time t = 0 .. rounds is Stim's third detector coordinate.

Channels of the event tensor: 0 = X-type events, 1 = Z-type events, 2 = X-detector mask,
3 = Z-detector mask (1 where a detector of that type exists at (t, row, col)).
"""

from __future__ import annotations

import dataclasses
from typing import Iterable

import numpy as np
import stim

EVENT_CHANNELS = ("x_events", "z_events", "x_mask", "z_mask")


class LayoutError(ValueError):
    """The circuit cannot be mapped onto the rotated surface-code grid."""


@dataclasses.dataclass(frozen=True)
class Stabilizer:
    """A measure qubit: its Stim qubit index, coordinates, grid site and type ('X' or 'Z')."""

    qubit: int
    x: int
    y: int
    row: int
    col: int
    kind: str


@dataclasses.dataclass(frozen=True)
class DataQubit:
    """A data qubit: its Stim qubit index, coordinates and grid site."""

    qubit: int
    x: int
    y: int
    row: int
    col: int


def _integer_coords(values: Iterable[float], what: str) -> tuple[int, ...]:
    out = []
    for v in values:
        if abs(v - round(v)) > 1e-9:
            raise LayoutError(f"{what} has non-integer coordinate {v}")
        out.append(int(round(v)))
    return tuple(out)


def _cx_roles(circuit: stim.Circuit) -> tuple[set[int], set[int]]:
    controls: set[int] = set()
    targets: set[int] = set()
    for inst in circuit.flattened():
        if inst.name in ("CX", "CNOT", "ZCX"):
            ts = [t.value for t in inst.targets_copy()]
            controls.update(ts[0::2])
            targets.update(ts[1::2])
        elif inst.name in ("CZ", "XCX", "XCZ", "YCX", "CY", "ZCY", "ZCZ"):
            raise LayoutError(
                f"the layout reads stabilizer types from CX gates; the circuit uses {inst.name}"
            )
    return controls, targets


@dataclasses.dataclass(frozen=True, eq=False)
class SpaceTimeLayout:
    """Where each detector of a rotated surface-code memory circuit lives on the grid.

    Attributes:
        distance: code distance d.
        rounds: stabilizer rounds; the grid has T = rounds + 1 time layers.
        basis: memory basis, "x" or "z" (the type of the first and last detector layers).
        height, width: grid size H, W (d + 1 for Stim's generated circuits).
        stabilizers: measure qubits with their grid sites and types.
        data_qubits: data qubits with their grid sites.
        detector_channel, detector_t, detector_row, detector_col: int64 arrays of shape
            (num_detectors,): each detector's place (channel 0 = X type, 1 = Z type).
        observable_qubits: data qubits whose final measurement is in observable 0.

    Example:
        >>> from qec.circuits import memory_circuit
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
    def from_circuit(circuit: stim.Circuit) -> "SpaceTimeLayout":
        """Derive the layout from detector and qubit coordinates and the CX gates' directions.

        Raises :class:`LayoutError` (one line saying why) when the circuit is not a rotated
        surface-code memory experiment this layout can hold.
        """
        if circuit.num_observables != 1:
            raise LayoutError(f"expected exactly 1 observable, the circuit has {circuit.num_observables}")
        if circuit.num_detectors == 0:
            raise LayoutError("the circuit has no detectors")
        qcoords = circuit.get_final_qubit_coordinates()
        if not qcoords:
            raise LayoutError("the circuit has no QUBIT_COORDS")
        coords = {q: _integer_coords(c[:2], f"qubit {q}") for q, c in qcoords.items() if len(c) >= 2}
        if len(coords) != len(qcoords):
            raise LayoutError("every qubit needs (x, y) coordinates")
        min_x = min(c[0] for c in coords.values())
        min_y = min(c[1] for c in coords.values())
        # Measure qubits sit at even offsets: align the origin to an even coordinate.
        min_x -= min_x % 2
        min_y -= min_y % 2
        controls, targets = _cx_roles(circuit)

        stabilizers: dict[tuple[int, int], Stabilizer] = {}
        data: dict[tuple[int, int], DataQubit] = {}
        for q, (x, y) in sorted(coords.items()):
            dx, dy = x - min_x, y - min_y
            if dx % 2 == 0 and dy % 2 == 0:
                if q in controls and q not in targets:
                    kind = "X"
                elif q in targets and q not in controls:
                    kind = "Z"
                else:
                    raise LayoutError(f"cannot tell the type of the measure qubit at ({x}, {y}) from its CX gates")
                stabilizers[(x, y)] = Stabilizer(q, x, y, dy // 2, dx // 2, kind)
            elif dx % 2 == 1 and dy % 2 == 1:
                data[(x, y)] = DataQubit(q, x, y, (dy - 1) // 2, (dx - 1) // 2)
            else:
                raise LayoutError(f"qubit {q} at ({x}, {y}) is neither a data nor a measure position")
        if not data or not stabilizers:
            raise LayoutError("no data or no measure qubits found")
        height = max(s.row for s in stabilizers.values()) + 1
        width = max(s.col for s in stabilizers.values()) + 1
        distance = int(round(len(data) ** 0.5))
        if distance * distance != len(data) or len(stabilizers) != len(data) - 1:
            raise LayoutError(
                f"{len(data)} data and {len(stabilizers)} measure qubits do not form a rotated surface code"
            )
        det_coords = circuit.get_detector_coordinates()
        n = circuit.num_detectors
        channel = np.empty(n, dtype=np.int64)
        t_arr = np.empty(n, dtype=np.int64)
        row = np.empty(n, dtype=np.int64)
        col = np.empty(n, dtype=np.int64)
        for k in range(n):
            c = det_coords.get(k)
            if c is None or len(c) < 3:
                raise LayoutError(f"detector {k} has no (x, y, t) coordinates")
            x, y, t = _integer_coords(c[:3], f"detector {k}")
            s = stabilizers.get((x, y))
            if s is None:
                raise LayoutError(f"detector {k} at ({x}, {y}, {t}) is not at a measure qubit")
            channel[k] = 0 if s.kind == "X" else 1
            t_arr[k], row[k], col[k] = t, s.row, s.col
        if t_arr.min() != 0:
            raise LayoutError(f"detector times start at {t_arr.min()}, expected 0")
        rounds = int(t_arr.max())
        if rounds < 1:
            raise LayoutError("detectors span a single time layer; need at least one round")
        flat = ((channel * (rounds + 1) + t_arr) * height + row) * width + col
        if len(np.unique(flat)) != n:
            raise LayoutError("two detectors share one (type, t, row, col) place")
        first = set(channel[t_arr == 0].tolist())
        if len(first) != 1:
            raise LayoutError("the first detector layer mixes X and Z types; not a memory experiment")
        basis = "x" if first == {0} else "z"

        observable_qubits = _observable_data_qubits(circuit)
        data_qubit_ids = {d.qubit for d in data.values()}
        if not observable_qubits <= data_qubit_ids:
            raise LayoutError("the observable includes measurements of non-data qubits")

        return SpaceTimeLayout(
            distance=distance,
            rounds=rounds,
            basis=basis,
            height=height,
            width=width,
            stabilizers=tuple(sorted(stabilizers.values(), key=lambda s: (s.row, s.col))),
            data_qubits=tuple(sorted(data.values(), key=lambda d: (d.row, d.col))),
            detector_channel=channel,
            detector_t=t_arr,
            detector_row=row,
            detector_col=col,
            observable_qubits=frozenset(observable_qubits),
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
        events = np.asarray(events)
        n = self.num_detectors
        if events.dtype != np.uint8 or events.ndim != 2 or events.shape[1] != (n + 7) // 8:
            raise ValueError(f"bit-packed events must be uint8 of shape (shots, {(n + 7) // 8})")
        return np.unpackbits(events, axis=1, count=n, bitorder="little").astype(bool)

    def to_grid(self, events: np.ndarray, bit_packed: bool = False, with_masks: bool = True) -> np.ndarray:
        """Detection events -> float32 tensor (shots, 4, T, H, W) (or (shots, 2, ...) without masks).

        Args:
            events: bool (shots, num_detectors), or uint8 bit-packed when ``bit_packed``.
        """
        if bit_packed:
            events = self.unpack(events)
        events = np.asarray(events)
        if events.ndim != 2 or events.shape[1] != self.num_detectors:
            raise ValueError(
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
            raise ValueError(f"grid must have shape (shots, >=2, {T}, {H}, {W}), got {tuple(grid.shape)}")
        flat = grid[:, :2].reshape(grid.shape[0], -1)
        return flat[:, self.detector_flat_index] != 0


def _observable_data_qubits(circuit: stim.Circuit) -> set[int]:
    """Qubits whose measurement results observable 0 includes (by measurement record)."""
    measured: list[int] = []
    included: dict[int, int] = {}
    for inst in circuit.flattened():
        name = inst.name
        if name in ("M", "MX", "MY", "MR", "MRX", "MRY", "MZ", "MRZ"):
            measured.extend(t.value for t in inst.targets_copy())
        elif name in ("MPP", "MXX", "MYY", "MZZ", "MPAD", "HERALDED_ERASE", "HERALDED_PAULI_CHANNEL_1"):
            raise LayoutError(f"the layout does not support {name}")
        elif name == "OBSERVABLE_INCLUDE":
            for t in inst.targets_copy():
                if t.is_measurement_record_target:
                    m = len(measured) + t.value
                    included[m] = included.get(m, 0) ^ 1
    return {measured[m] for m, bit in included.items() if bit}
