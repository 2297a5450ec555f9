"""Circuit-level noise models, inserted layer by layer into a noiseless Stim circuit.

Three named models:

- ``depolarizing``: the 25-parameter Pauli model of Chamberland et al. (arXiv:2604.12841), see
  :class:`CircuitNoise`. X-type ancillas are reset and measured in the X basis (no Hadamards).
- ``si1000``: the superconducting-inspired model of Gidney, Newman, Jones, McEwen
  (arXiv:2108.10457), on Stim's CX circuit with Hadamards.
- ``stim``: Stim's own generator with all four noise arguments set to ``p``.

Per-qubit scaling (:func:`scale_qubit_noise`) multiplies every noise channel acting on a qubit by
a factor; a two-qubit channel takes the larger factor of its pair.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping, Sequence

import stim

NOISE_MODELS = ("depolarizing", "si1000", "stim")

# The version of each named noise model's definition. A change that alters a model's circuits
# bumps its version; models and results record it (:func:`noise_version`), so that results made
# with two definitions never merge and a model trained on an old one says so.
#   depolarizing 1: idle during measure/reset 2p/3 - 4p^2/9 in *total* (a third of the paper's).
#   depolarizing 2: 2p/3 - 4p^2/9 on each of X, Y and Z, as the paper's public code.
NOISE_VERSIONS: dict[str, int] = {"depolarizing": 2, "si1000": 1, "stim": 1}
# What a model file or a CSV row written before versions were recorded was made with.
UNRECORDED_NOISE_VERSION = 1

# Stim's PAULI_CHANNEL_2 argument order.
TWO_QUBIT_PAULIS = (
    "IX", "IY", "IZ", "XI", "XX", "XY", "XZ", "YI", "YX", "YY", "YZ", "ZI", "ZX", "ZY", "ZZ",
)


@dataclasses.dataclass(frozen=True)
class CircuitNoise:
    """The paper's 25-parameter circuit-level Pauli noise model.

    Attributes:
        prep_z: probability of an X flip after a Z-basis reset (|0> prepared as |1>).
        prep_x: probability of a Z flip after an X-basis reset (|+> prepared as |->).
        meas_z: flip probability of a Z-basis measurement result.
        meas_x: flip probability of an X-basis measurement result.
        idle_cnot: (pX, pY, pZ) on every qubit idle during a CNOT layer.
        idle_measure: (pX, pY, pZ) on every data qubit idle while ancillas are measured and reset.
        cnot: the 15 two-qubit Pauli probabilities after each CNOT, in Stim's PAULI_CHANNEL_2
            order (IX, IY, IZ, XI, XX, ..., ZZ), control first.

    Example:
        >>> noise = CircuitNoise.depolarizing(0.006)
        >>> round(noise.meas_z, 6), round(sum(noise.cnot), 6)
        (0.004, 0.006)
    """

    prep_z: float = 0.0
    prep_x: float = 0.0
    meas_z: float = 0.0
    meas_x: float = 0.0
    idle_cnot: tuple[float, float, float] = (0.0, 0.0, 0.0)
    idle_measure: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cnot: tuple[float, ...] = (0.0,) * 15

    def __post_init__(self) -> None:
        object.__setattr__(self, "idle_cnot", tuple(float(v) for v in self.idle_cnot))
        object.__setattr__(self, "idle_measure", tuple(float(v) for v in self.idle_measure))
        object.__setattr__(self, "cnot", tuple(float(v) for v in self.cnot))
        if len(self.idle_cnot) != 3 or len(self.idle_measure) != 3:
            raise ValueError("idle_cnot and idle_measure take 3 probabilities (X, Y, Z)")
        if len(self.cnot) != 15:
            raise ValueError("cnot takes 15 two-qubit Pauli probabilities")
        for name in ("prep_z", "prep_x", "meas_z", "meas_x"):
            _check_probability(name, getattr(self, name), 0.5)
        for name, values, bound in (
            ("idle_cnot", self.idle_cnot, 1.0),
            ("idle_measure", self.idle_measure, 1.0),
            ("cnot", self.cnot, 1.0),
        ):
            for v in values:
                _check_probability(name, v, 1.0)
            if sum(values) > bound + 1e-12:
                raise ValueError(f"{name} probabilities sum to {sum(values)} > 1")

    @staticmethod
    def depolarizing(p: float) -> "CircuitNoise":
        """The paper's depolarizing mapping at strength ``p`` (REFERENCES.md).

        prep and measurement 2p/3, CNOT p/15 per Pauli, idle during CNOT p/3 per Pauli, idle
        during measure/reset 2p/3 - 4p^2/9 on *each* of X, Y and Z (two DEPOLARIZE1(p) steps in a
        row, about 2p in total), as NVIDIA/Ising-Decoding's ``NoiseModel.from_single_p`` and its
        public config (p_idle_spam_X = p_idle_spam_Y = p_idle_spam_Z). This is noise version 2 of
        ``depolarizing`` (:data:`NOISE_VERSIONS`); version 1 put 2p/3 - 4p^2/9 in total.
        """
        _check_probability("p", p, 0.5)
        idle_mr = 2 * p / 3 - 4 * p * p / 9
        return CircuitNoise(
            prep_z=2 * p / 3,
            prep_x=2 * p / 3,
            meas_z=2 * p / 3,
            meas_x=2 * p / 3,
            idle_cnot=(p / 3, p / 3, p / 3),
            idle_measure=(idle_mr, idle_mr, idle_mr),
            cnot=(p / 15,) * 15,
        )

    def as_vector(self) -> tuple[float, ...]:
        """The 25 parameters as a flat tuple (prep z, prep x, meas z, meas x, idle_cnot xyz,
        idle_measure xyz, 15 cnot)."""
        return (
            self.prep_z, self.prep_x, self.meas_z, self.meas_x,
            *self.idle_cnot, *self.idle_measure, *self.cnot,
        )

    @staticmethod
    def from_vector(values: Sequence[float]) -> "CircuitNoise":
        """Inverse of :meth:`as_vector`."""
        v = [float(x) for x in values]
        if len(v) != 25:
            raise ValueError(f"expected 25 noise parameters, got {len(v)}")
        return CircuitNoise(v[0], v[1], v[2], v[3], tuple(v[4:7]), tuple(v[7:10]), tuple(v[10:25]))


def noise_version(noise: str, recorded: object = None) -> int:
    """The version of noise model ``noise``: the current one when ``recorded`` is None, else
    ``recorded`` checked (a model file's or CSV row's value; absent = version 1).

    Raises ``ValueError`` with one line for an unknown model or a version this package does not
    know.

    Example:
        >>> noise_version("depolarizing"), noise_version("depolarizing", 1)
        (2, 1)
    """
    if noise not in NOISE_VERSIONS:
        raise ValueError(f"unknown noise model {noise!r}; choose from {', '.join(NOISE_MODELS)}")
    if recorded is None:
        return NOISE_VERSIONS[noise]
    if isinstance(recorded, bool) or not isinstance(recorded, int) or not 1 <= recorded <= NOISE_VERSIONS[noise]:
        raise ValueError(
            f"unknown noise version {recorded!r} of {noise!r} (this qec knows versions 1 to "
            f"{NOISE_VERSIONS[noise]}; a newer qec-predecoder may have written it)"
        )
    return recorded


def noise_label(noise: str, version: int) -> str:
    """``"depolarizing v2"``, with ``" (superseded)"`` when ``version`` is not the current one."""
    current = NOISE_VERSIONS.get(noise)
    return f"{noise} v{version}" + ("" if current is None or version == current else " (superseded)")


def _check_probability(name: str, value: float, upper: float) -> None:
    if not (0.0 <= value <= upper):
        raise ValueError(f"{name}={value} is not a probability in [0, {upper}]")


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
            raise ValueError(f"noise insertion does not know the gate {name}")
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
        raise ValueError("the depolarizing model expects circuits without single-qubit gates")

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
        raise ValueError(f"si1000 needs 5p <= 1, got p={p}")
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
            raise ValueError(f"noise factor {f} for qubit {q} must be >= 0")
    if not factors:
        return circuit.copy()

    def scaled_args(name: str, args: list[float], f: float) -> list[float]:
        new = [a * f for a in args]
        bound = _NOISE_CHANNELS.get(name, 0.5)
        total = sum(new) if name.startswith("PAULI_CHANNEL") else max(new, default=0.0)
        if total > bound + 1e-12:
            raise ValueError(
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
            raise ValueError(f"no qubit at coordinates ({x:g}, {y:g})")
        q = by_coord[key]
        out[q] = out.get(q, 1.0) * float(f)
    return out
