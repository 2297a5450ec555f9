"""What a surface-code memory circuit measures, read from its instructions alone.

No qubit coordinates and no gate convention (CX or CZ, which qubit is the control, which
single-qubit rotations frame the data qubits) enter: everything comes from the measurement
records, the two-qubit gates and the detector definitions.

- The two-qubit gates pair data qubits with measure qubits: the qubits they connect split into
  two sides, and the side holding the observable's qubits is the data. Each data qubit is
  measured once (the final readout), each measure qubit once per round; ``rounds`` is how many
  times each measure qubit is measured.
- A stabilizer's *support* is the set of data qubits its measure qubit shares two-qubit gates
  with.
- Each detector compares results of one measure qubit: its first result alone (time t = 0), two
  consecutive results (t = the later round), or its last result with the final readout of data
  qubits (t = rounds; the data qubits must be exactly its support).
- The *memory basis* is the physical Pauli the first-layer stabilizers apply to the data qubits
  just before the first two-qubit gate (Stim's detecting regions): X for an X-basis memory whose
  data qubits are all in one frame. Circuits that rotate some data qubits' frames mix X and Z
  there (Google's CZ circuits hold a checkerboard of them Hadamard-rotated: at d = 3, five data
  qubits see X and four see Z in an X-basis memory); the basis is then, by convention, the Pauli
  on most data qubits, which names Google's X-basis folders X (``uniform_frame`` is False, and
  :meth:`qec._encoding._layout.SpaceTimeLayout.from_circuit` accepts either name for such a circuit).

Example:
    >>> import stim
    >>> s = read_memory_structure(stim.Circuit.generated("surface_code:rotated_memory_x", distance=3, rounds=2))
    >>> len(s.data_qubits), len(s.measure_qubits), s.rounds, s.memory_basis
    (9, 8, 2, 'x')
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import numpy as np
import stim

from qec._errors import QecError

# Single-qubit measurements (with or without reset); one record per target.
_MEASUREMENTS = frozenset({"M", "MZ", "MX", "MY", "MR", "MRZ", "MRX", "MRY"})


class CircuitStructureError(QecError):
    """The circuit is not a surface-code memory experiment whose structure can be read."""


@dataclasses.dataclass(frozen=True, eq=False)
class MemoryCircuitStructure:
    """The measurement structure of a memory circuit.

    Attributes:
        data_qubits: sorted Stim qubit indices of the data qubits.
        measure_qubits: sorted Stim qubit indices of the measure qubits.
        supports: measure qubit -> the data qubits its stabilizer acts on.
        rounds: stabilizer measurement rounds (results per measure qubit).
        detector_qubit: int64 (num_detectors,): the measure qubit each detector belongs to.
        detector_t: int64 (num_detectors,): each detector's time, 0 .. rounds.
        observable_qubits: data qubits whose final results observable 0 includes.
        memory_basis: ``"x"`` or ``"z"``: the physical Pauli the first-layer stabilizers apply to
            most data qubits; ``None`` when as many see X as Z.
        uniform_frame: whether they apply that Pauli to every data qubit.
    """

    data_qubits: tuple[int, ...]
    measure_qubits: tuple[int, ...]
    supports: Mapping[int, frozenset[int]]
    rounds: int
    detector_qubit: np.ndarray
    detector_t: np.ndarray
    observable_qubits: frozenset[int]
    memory_basis: str | None
    uniform_frame: bool

    @property
    def num_detectors(self) -> int:
        return len(self.detector_t)

    @property
    def memory_qubits(self) -> frozenset[int]:
        """Measure qubits with a first-layer (t = 0) detector: the memory basis's stabilizers."""
        return frozenset(self.detector_qubit[self.detector_t == 0].tolist())


def read_memory_structure(circuit: stim.Circuit) -> MemoryCircuitStructure:
    """Read the structure of a surface-code memory circuit (see the module docstring).

    Raises :class:`CircuitStructureError` (one line saying why) for anything else.
    """
    if circuit.num_observables != 1:
        raise CircuitStructureError(f"expected exactly 1 observable, the circuit has {circuit.num_observables}")
    if circuit.num_detectors == 0:
        raise CircuitStructureError("the circuit has no detectors")
    flat = circuit.flattened()
    measured: list[int] = []  # record index -> qubit
    pairs: list[tuple[int, int]] = []
    detectors: list[list[int]] = []  # detector -> absolute record indices
    observable: dict[int, int] = {}
    first_two_qubit = None
    for k, inst in enumerate(flat):
        name = inst.name
        gate = stim.gate_data(name) if name not in ("DETECTOR", "OBSERVABLE_INCLUDE", "TICK", "QUBIT_COORDS",
                                                    "SHIFT_COORDS") else None
        targets = inst.targets_copy()
        if name in _MEASUREMENTS:
            for t in targets:
                measured.append(t.value)
        elif gate is not None and gate.produces_measurements:
            raise CircuitStructureError(f"the layout does not support {name}")
        elif gate is not None and gate.is_two_qubit_gate and gate.is_unitary:
            for a, b in zip(targets[0::2], targets[1::2]):
                if a.is_qubit_target and b.is_qubit_target:  # sweep- and record-controlled gates are classical
                    pairs.append((a.value, b.value))
                    if first_two_qubit is None:
                        first_two_qubit = k
        elif name == "DETECTOR":
            detectors.append([len(measured) + t.value for t in targets])
        elif name == "OBSERVABLE_INCLUDE":
            for t in targets:
                if t.is_measurement_record_target:
                    m = len(measured) + t.value
                    observable[m] = observable.get(m, 0) ^ 1
    if first_two_qubit is None:
        raise CircuitStructureError("the circuit has no two-qubit gates")

    data_set, measure_set = _split_qubits(measured, pairs, observable_qubits={
        measured[m] for m, bit in observable.items() if bit})
    data, measure = sorted(data_set), sorted(measure_set)
    round_of: list[int] = []  # record index -> round of that qubit's result (data: -1)
    count: dict[int, int] = {}
    for q in measured:
        if q in measure_set:
            round_of.append(count.get(q, 0))
            count[q] = count.get(q, 0) + 1
        else:
            if count.get(q, 0):
                raise CircuitStructureError(f"data qubit {q} is measured more than once")
            count[q] = 1
            round_of.append(-1)
    rounds = count[measure[0]]
    uneven = [q for q in measure if count[q] != rounds]
    if uneven:
        raise CircuitStructureError(
            f"measure qubit {uneven[0]} is measured {count[uneven[0]]} times, measure qubit {measure[0]} {rounds} times"
        )

    supports: dict[int, set[int]] = {q: set() for q in measure}
    for a, b in pairs:
        if a in measure_set and b in measure_set:
            raise CircuitStructureError(f"a two-qubit gate acts on two measure qubits ({a} and {b})")
        if a in data_set and b in data_set:
            raise CircuitStructureError(f"a two-qubit gate acts on two data qubits ({a} and {b})")
        if a in measure_set and b in data_set:
            supports[a].add(b)
        elif b in measure_set and a in data_set:
            supports[b].add(a)
        # else a qubit that is never measured: not part of the code

    n = len(detectors)
    det_qubit = np.empty(n, dtype=np.int64)
    det_t = np.empty(n, dtype=np.int64)
    for k, recs in enumerate(detectors):
        anc = [(measured[m], round_of[m]) for m in recs if measured[m] in measure_set]
        dat = {measured[m] for m in recs if measured[m] in data_set}
        owners = {q for q, _ in anc}
        if len(owners) != 1:
            raise CircuitStructureError(
                f"detector {k} compares results of {len(owners)} measure qubits; a memory detector compares one"
            )
        q = owners.pop()
        ks = sorted(r for _, r in anc)
        if dat:
            if ks != [rounds - 1] or dat != supports[q]:
                raise CircuitStructureError(
                    f"detector {k} compares measure qubit {q}'s last result with data qubits "
                    f"{sorted(dat)}, not with its stabilizer's data qubits {sorted(supports[q])}"
                )
            t = rounds
        elif ks == [0]:
            t = 0
        elif len(ks) == 2 and ks[1] == ks[0] + 1:
            t = ks[1]
        else:
            raise CircuitStructureError(f"detector {k} compares rounds {ks} of measure qubit {q}; expected "
                                        f"one result, or two consecutive ones")
        det_qubit[k], det_t[k] = q, t
    places = det_qubit * (rounds + 1) + det_t
    if len(np.unique(places)) != n:
        raise CircuitStructureError("two detectors compare the same results of one measure qubit")
    if not np.any(det_t == 0):
        raise CircuitStructureError("the circuit has no first-layer detectors (t = 0): not a memory experiment")

    obs_qubits = {measured[m] for m, bit in observable.items() if bit}
    if not obs_qubits <= data_set:
        raise CircuitStructureError("the observable includes measurements of non-data qubits")

    structure = MemoryCircuitStructure(
        data_qubits=tuple(data),
        measure_qubits=tuple(measure),
        supports={q: frozenset(s) for q, s in supports.items()},
        rounds=rounds,
        detector_qubit=det_qubit,
        detector_t=det_t,
        observable_qubits=frozenset(obs_qubits),
        memory_basis=None,
        uniform_frame=False,
    )
    basis, uniform = _memory_basis(flat, first_two_qubit, structure)
    return dataclasses.replace(structure, memory_basis=basis, uniform_frame=uniform)


def _split_qubits(
    measured: list[int], pairs: list[tuple[int, int]], observable_qubits: set[int]
) -> tuple[set[int], set[int]]:
    """(data qubits, measure qubits): the two sides of the two-qubit gates' graph, data being
    the side of the observable's qubits; only measured qubits count."""
    neighbours: dict[int, set[int]] = {}
    for a, b in pairs:
        if a == b:
            continue
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    side: dict[int, int] = {}
    component: dict[int, int] = {}
    for start in sorted(neighbours):
        if start in side:
            continue
        side[start] = 0
        component[start] = start
        stack = [start]
        while stack:
            q = stack.pop()
            for r in neighbours[q]:
                if r not in side:
                    side[r] = 1 - side[q]
                    component[r] = component[q]
                    stack.append(r)
                elif side[r] == side[q]:
                    raise CircuitStructureError(
                        f"the two-qubit gates do not pair data qubits with measure qubits (qubits {q} and {r})"
                    )
    if not observable_qubits:
        raise CircuitStructureError("the observable includes no measurement")
    loose = sorted(q for q in set(measured) | observable_qubits if q not in side)
    if loose:
        raise CircuitStructureError(f"qubit {loose[0]} is measured but takes part in no two-qubit gate")
    if len({component[q] for q in set(measured) | observable_qubits}) != 1:
        raise CircuitStructureError("the measured qubits form more than one code: their two-qubit gates are disconnected")
    data_side = {side[q] for q in observable_qubits}
    if len(data_side) != 1:
        raise CircuitStructureError("the observable includes measurements of measure qubits")
    (d,) = data_side
    measured_set = set(measured)
    return ({q for q in measured_set if side[q] == d}, {q for q in measured_set if side[q] != d})


def _memory_basis(
    flat: stim.Circuit, first_two_qubit: int, structure: MemoryCircuitStructure
) -> tuple[str | None, bool]:
    """(basis, uniform): the Pauli ("x" / "z") the first-layer detectors are sensitive to on most
    data qubits right before the first two-qubit gate (None on a tie), and whether on all."""
    first = np.flatnonzero(structure.detector_t == 0)
    # The circuit up to its last first-layer detector, with a TICK right before the first
    # two-qubit gate (the detecting region there is what the first-layer stabilizers measure).
    last_needed = -1
    seen = 0
    for k, inst in enumerate(flat):
        if inst.name == "DETECTOR":
            if seen == first.max():
                last_needed = k
                break
            seen += 1
    prefix = stim.Circuit()
    ticks_before = 0
    for k, inst in enumerate(flat):
        if k > last_needed:
            break
        if k == first_two_qubit:
            prefix.append("TICK")
        elif k < first_two_qubit and inst.name == "TICK":
            ticks_before += 1
        prefix.append(inst)
    regions = prefix.detecting_regions(
        targets=[stim.target_relative_detector_id(int(k)) for k in first], ticks=[ticks_before]
    )
    data = set(structure.data_qubits)
    pauli_of: dict[int, set[str]] = {}
    for by_tick in regions.values():
        p = by_tick.get(ticks_before)
        if p is None:
            continue
        for q in p.pauli_indices():
            if q in data:
                pauli_of.setdefault(q, set()).add("_XYZ"[p[q]])
    x = sum(1 for ps in pauli_of.values() if ps == {"X"})
    z = sum(1 for ps in pauli_of.values() if ps == {"Z"})
    basis = "x" if x > z else "z" if z > x else None
    return basis, (x == len(data) or z == len(data))
