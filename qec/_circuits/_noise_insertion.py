"""Noise insertion: a noiseless Stim circuit -> a noisy one, layer by layer, under the
:mod:`qec._circuits._noise` models; Hadamard folding; per-qubit scaling of every channel.

Example:
    >>> from qec import MemoryExperiment
    >>> from qec._circuits._noise import CircuitNoise
    >>> noisy = insert_circuit_noise(fold_hadamards(MemoryExperiment(3, 3, 0.0).noiseless_circuit()),
    ...                              CircuitNoise.depolarizing(0.001))
    >>> noisy.detector_error_model(approximate_disjoint_errors=True).num_errors > 0
    True
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping, Sequence

import stim

from qec._errors import QecError
from qec._circuits._noise import CircuitNoise, _check_probability

# ---------------------------------------------------------------------------------------------
# Layer-by-layer insertion.

_RESETS = {"R": "Z", "RX": "X"}
_ANNOTATIONS = {"DETECTOR", "OBSERVABLE_INCLUDE", "SHIFT_COORDS", "QUBIT_COORDS"}
_MEASURES = {"M": "Z", "MX": "X", "MR": "Z", "MRX": "X"}


@dataclasses.dataclass
class _Layer:
    ops: list  # stim.CircuitInstruction, in order (annotations included)

    def touched(self) -> set[int]:
        out: set[int] = set()
        for op in self.ops:
            if op.name in _RESETS or op.name in _MEASURES or op.name in ("H", "CX"):
                out.update(t.value for t in op.targets_copy())
        return out


def _noise_for_layer(layer: _Layer, all_qubits: Sequence[int], rules) -> tuple[stim.Circuit, stim.Circuit]:
    """Return (noise before the layer's operations, noise after them)."""
    before = stim.Circuit()
    after = stim.Circuit()
    touched = layer.touched()
    idle = [q for q in all_qubits if q not in touched]
    kinds = set()
    for op in layer.ops:
        name = op.name
        qs = [t.value for t in op.targets_copy()]
        if name in _MEASURES:
            kinds.add("measure")
            rules.before_measure(before, qs, _MEASURES[name])
            if name in ("MR", "MRX"):
                rules.after_reset(after, qs, _MEASURES[name])
        elif name in _RESETS:
            kinds.add("reset")
            rules.after_reset(after, qs, _RESETS[name])
        elif name == "CX":
            kinds.add("cx")
            rules.after_cx(after, qs)
        elif name == "H":
            kinds.add("gate1")
            rules.after_gate1(after, qs)
        elif name in ("DETECTOR", "OBSERVABLE_INCLUDE", "SHIFT_COORDS", "QUBIT_COORDS", "TICK"):
            pass
        else:
            raise QecError(f"noise insertion does not know the gate {name}")
    if idle and kinds:
        if "cx" in kinds:
            rules.idle_cx(after, idle)
        elif "measure" in kinds or "reset" in kinds:
            if "measure" in kinds:
                rules.idle_measure(after, idle)
        elif "gate1" in kinds:
            rules.idle_gate1(after, idle)
    return before, after


def _insert(circuit: stim.Circuit, all_qubits: Sequence[int], rules) -> stim.Circuit:
    out = stim.Circuit()
    layer = _Layer([])

    def flush() -> None:
        if not layer.ops:
            return
        before, after = _noise_for_layer(layer, all_qubits, rules)
        out.__iadd__(before)
        for op in layer.ops:
            out.append(op)
        out.__iadd__(after)
        layer.ops.clear()

    for inst in circuit:
        if isinstance(inst, stim.CircuitRepeatBlock):
            flush()
            body = _insert(inst.body_copy(), all_qubits, rules)
            out.append(stim.CircuitRepeatBlock(inst.repeat_count, body))
        elif inst.name == "TICK":
            flush()
            out.append(inst)
        else:
            # Stim's generated circuits measure the data right after the last round's
            # detectors, without a TICK: that measurement is a layer of its own.
            if inst.name not in _ANNOTATIONS and any(op.name in _ANNOTATIONS for op in layer.ops):
                flush()
            layer.ops.append(inst)
    flush()
    return out


class _PaperRules:
    def __init__(self, noise: CircuitNoise):
        self.n = noise

    def before_measure(self, c: stim.Circuit, qs, basis: str) -> None:
        p = self.n.meas_z if basis == "Z" else self.n.meas_x
        if p > 0:
            c.append("X_ERROR" if basis == "Z" else "Z_ERROR", qs, p)

    def after_reset(self, c: stim.Circuit, qs, basis: str) -> None:
        p = self.n.prep_z if basis == "Z" else self.n.prep_x
        if p > 0:
            c.append("X_ERROR" if basis == "Z" else "Z_ERROR", qs, p)

    def after_cx(self, c: stim.Circuit, qs) -> None:
        if any(self.n.cnot):
            c.append("PAULI_CHANNEL_2", qs, self.n.cnot)

    def after_gate1(self, c: stim.Circuit, qs) -> None:
        raise QecError("the depolarizing model expects circuits without single-qubit gates")

    def idle_cx(self, c: stim.Circuit, qs) -> None:
        if any(self.n.idle_cnot):
            c.append("PAULI_CHANNEL_1", qs, self.n.idle_cnot)

    def idle_measure(self, c: stim.Circuit, qs) -> None:
        if any(self.n.idle_measure):
            c.append("PAULI_CHANNEL_1", qs, self.n.idle_measure)

    def idle_gate1(self, c: stim.Circuit, qs) -> None:
        pass


class _SI1000Rules:
    """SI1000(p): CX -> DEPOLARIZE2(p); 1q gates and idles in gate layers -> DEPOLARIZE1(p/10);
    reset -> flip 2p; measurement -> flip 5p; idles during measure/reset -> DEPOLARIZE1(2p)."""

    def __init__(self, p: float):
        self.p = p

    def before_measure(self, c, qs, basis):
        if self.p > 0:
            c.append("X_ERROR" if basis == "Z" else "Z_ERROR", qs, 5 * self.p)

    def after_reset(self, c, qs, basis):
        if self.p > 0:
            c.append("X_ERROR" if basis == "Z" else "Z_ERROR", qs, 2 * self.p)

    def after_cx(self, c, qs):
        if self.p > 0:
            c.append("DEPOLARIZE2", qs, self.p)

    def after_gate1(self, c, qs):
        if self.p > 0:
            c.append("DEPOLARIZE1", qs, self.p / 10)

    def idle_cx(self, c, qs):
        if self.p > 0:
            c.append("DEPOLARIZE1", qs, self.p / 10)

    def idle_gate1(self, c, qs):
        if self.p > 0:
            c.append("DEPOLARIZE1", qs, self.p / 10)

    def idle_measure(self, c, qs):
        if self.p > 0:
            c.append("DEPOLARIZE1", qs, 2 * self.p)


def _qubits(circuit: stim.Circuit) -> list[int]:
    return sorted(circuit.get_final_qubit_coordinates().keys())


def _map_instructions(circuit: stim.Circuit, emit) -> stim.Circuit:
    """Rebuild ``circuit`` (REPEAT blocks kept, recursively), passing every other instruction
    to ``emit(instruction, out_circuit)``."""
    out = stim.Circuit()
    for inst in circuit:
        if isinstance(inst, stim.CircuitRepeatBlock):
            out.append(stim.CircuitRepeatBlock(inst.repeat_count, _map_instructions(inst.body_copy(), emit)))
        else:
            emit(inst, out)
    return out


def fold_hadamards(circuit: stim.Circuit) -> stim.Circuit:
    """Rewrite X-type ancillas of a Stim memory circuit to reset and measure in the X basis.

    Every qubit that receives ``H`` must only meet it right after a Z reset (R/MR) and right
    before a Z measurement (MR/M); the Hadamards are removed and those resets and measurements
    become RX / MRX / MX. Detectors and observables are unchanged.
    """
    h_qubits: set[int] = set()
    for inst in circuit.flattened():
        if inst.name == "H":
            h_qubits.update(t.value for t in inst.targets_copy())

    def emit(inst: stim.CircuitInstruction, out: stim.Circuit) -> None:
        if inst.name == "H":
            return
        if inst.name not in ("R", "MR", "M"):
            out.append(inst)
            return
        args = inst.gate_args_copy()
        # Preserve measurement-record order: emit maximal runs of the same basis.
        runs: list[tuple[str, list[int]]] = []
        for q in (t.value for t in inst.targets_copy()):
            name = inst.name + "X" if q in h_qubits else inst.name
            if runs and runs[-1][0] == name:
                runs[-1][1].append(q)
            else:
                runs.append((name, [q]))
        for name, qs in runs:
            out.append(name, qs, args)

    return _map_instructions(circuit, emit)


def insert_circuit_noise(circuit: stim.Circuit, noise: CircuitNoise) -> stim.Circuit:
    """Insert the 25-parameter model into a noiseless circuit made of resets, CX layers and
    measurements separated by TICKs (see :func:`fold_hadamards`)."""
    return _insert(circuit, _qubits(circuit), _PaperRules(noise))


def insert_si1000_noise(circuit: stim.Circuit, p: float) -> stim.Circuit:
    """Insert SI1000(p) noise into a noiseless circuit with H and CX layers separated by TICKs."""
    _check_probability("p", p, 0.5)
    if 5 * p > 1:
        raise QecError(f"si1000 needs 5p <= 1, got p={p}")
    return _insert(circuit, _qubits(circuit), _SI1000Rules(p))


# ---------------------------------------------------------------------------------------------
# Per-qubit scaling.

_NOISE_CHANNELS = {
    "X_ERROR": 1.0, "Y_ERROR": 1.0, "Z_ERROR": 1.0,
    "DEPOLARIZE1": 0.75, "DEPOLARIZE2": 15 / 16,
    "PAULI_CHANNEL_1": 1.0, "PAULI_CHANNEL_2": 1.0,
}
_TWO_QUBIT = {"DEPOLARIZE2", "PAULI_CHANNEL_2"}
_NOISY_MEASUREMENTS = {"M", "MX", "MY", "MR", "MRX", "MRY"}


def scale_qubit_noise(circuit: stim.Circuit, factors: Mapping[int, float]) -> stim.Circuit:
    """Multiply every noise channel on the qubits in ``factors`` (qubit index -> factor).

    A single-qubit channel or noisy measurement on qubit q is scaled by ``factors[q]``; a
    two-qubit channel on (a, b) by the larger of the two factors. Raises ``ValueError`` when a
    scaled channel is no longer a probability distribution.
    """
    for q, f in factors.items():
        if not f >= 0:
            raise QecError(f"noise factor {f} for qubit {q} must be >= 0")
    if not factors:
        return circuit.copy()

    def scaled_args(name: str, args: list[float], f: float) -> list[float]:
        new = [a * f for a in args]
        bound = _NOISE_CHANNELS.get(name, 0.5)
        total = sum(new) if name.startswith("PAULI_CHANNEL") else max(new, default=0.0)
        if total > bound + 1e-12:
            raise QecError(
                f"scaling {name}({', '.join(f'{a:g}' for a in args)}) by {f:g} exceeds probability {bound:g}"
            )
        return new

    def emit(inst: stim.CircuitInstruction, out: stim.Circuit) -> None:
        name = inst.name
        args = inst.gate_args_copy()
        noisy = name in _NOISE_CHANNELS or (name in _NOISY_MEASUREMENTS and args and args[0] > 0)
        if not noisy:
            out.append(inst)
            return
        targets = inst.targets_copy()
        arity = 2 if name in _TWO_QUBIT else 1
        groups = [targets[i:i + arity] for i in range(0, len(targets), arity)]
        runs: list[tuple[float, list]] = []
        for g in groups:
            f = max(factors.get(t.value, 1.0) for t in g)
            if runs and runs[-1][0] == f:
                runs[-1][1].extend(g)
            else:
                runs.append((f, list(g)))
        for f, ts in runs:
            out.append(name, ts, args if f == 1.0 else scaled_args(name, args, f))

    return _map_instructions(circuit, emit)


def qubit_factors_from_coords(
    circuit: stim.Circuit, scales: Iterable[tuple[float, float, float]]
) -> dict[int, float]:
    """Translate ``(x, y, factor)`` triples (Stim qubit coordinates) to qubit index -> factor.

    Factors for the same qubit multiply. Raises ``ValueError`` naming a coordinate that holds no
    qubit.
    """
    by_coord = {tuple(round(v, 6) for v in c[:2]): q for q, c in circuit.get_final_qubit_coordinates().items()}
    out: dict[int, float] = {}
    for x, y, f in scales:
        key = (round(float(x), 6), round(float(y), 6))
        if key not in by_coord:
            raise QecError(f"no qubit at coordinates ({x:g}, {y:g})")
        q = by_coord[key]
        out[q] = out.get(q, 1.0) * float(f)
    return out
