"""Correction basis: H and L agree with Stim on every element; residuals are vectorized XORs."""

import pathlib

import numpy as np
import pytest
import stim

from qec._circuits._memory_experiment import MemoryExperiment
from qec._encoding._correction_basis import CorrectionBasis, xor_rows
from qec._encoding._layout import SpaceTimeLayout
from qec._circuits._noise_insertion import fold_hadamards

def _inject(circuit: stim.Circuit, layout: SpaceTimeLayout, channel: int, t: int, row: int, col: int) -> stim.Circuit:
    """The noiseless circuit with the basis element's Pauli inserted with probability 1.

    Data Paulis of round t go right before round t's first CX layer (round ``rounds``: right
    before the final data measurement); measurement flips right before the stabilizer's
    round-t measurement.
    """
    data = {(q.row, q.col): q.qubit for q in layout.data_qubits}
    stabs = {(s.row, s.col): s.qubit for s in layout.stabilizers}
    data_qubits = set(data.values())
    out = stim.Circuit()
    measure_layers = 0  # ancilla measurement layers completed
    cx_layers_this_round = 0
    layer_has_measure = False
    done = False
    for op in circuit.flattened():
        name = op.name
        targets = [tt.value for tt in op.targets_copy()]
        is_final = name in ("M", "MX") and set(targets) <= data_qubits
        if name == "TICK":
            if layer_has_measure:
                measure_layers += 1
                cx_layers_this_round = 0
            layer_has_measure = False
        if not done and channel < 2:
            pauli = "Z_ERROR" if channel == 0 else "X_ERROR"
            first_cx = name == "CX" and cx_layers_this_round == 0 and measure_layers == t
            if first_cx or (is_final and t == layout.rounds):
                out.append(pauli, [data[(row, col)]], 1.0)
                done = True
        if not done and channel >= 2 and name in ("MR", "MRX") and measure_layers == t:
            q = stabs[(row, col)]
            if q in targets:
                out.append("X_ERROR" if name == "MR" else "Z_ERROR", [q], 1.0)
                done = True
        if name in ("MR", "MRX"):
            layer_has_measure = True
        if name == "CX":
            cx_layers_this_round += 1
        out.append(op)
    assert done, (channel, t, row, col)
    return out


@pytest.mark.parametrize("distance,rounds", [(3, 1), (3, 3), (5, 2)])
@pytest.mark.parametrize("basis", ["x", "z"])
@pytest.mark.parametrize("folded", [False, True])
def test_every_element_matches_an_injected_pauli(distance, rounds, basis, folded):
    circuit = stim.Circuit.generated(f"surface_code:rotated_memory_{basis}", distance=distance, rounds=rounds)
    if folded:
        circuit = fold_hadamards(circuit)
    layout = SpaceTimeLayout.from_circuit(circuit)
    cb = CorrectionBasis.from_layout(layout)
    checked = 0
    for flat in np.flatnonzero(cb.valid.ravel()):
        ch, t, r, c = np.unravel_index(flat, cb.shape)
        probe = _inject(circuit, layout, int(ch), int(t), int(r), int(c))
        dets, obs = probe.compile_detector_sampler().sample(1, separate_observables=True)
        assert set(np.flatnonzero(dets[0])) == set(cb.element_detectors(flat)), (ch, t, r, c)
        assert bool(obs[0, 0]) == bool(cb.L[flat]), (ch, t, r, c)
        checked += 1
    T, H, W = layout.shape
    assert checked == 2 * T * distance**2 + (T - 1) * (distance**2 - 1)


# ---------------------------------------------------------------------------------------------
# Circuits in any frame (Google's CZ circuits rotate half of the data qubits): every element is a
# physical error. Stim's detecting regions give, at a TICK, which detectors and observables a
# Pauli there flips: exactly what injecting it with probability 1 and sampling gives.

DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "google_qec3v5"
SHARED = pathlib.Path("/work/shared/google-qec3v5")
_MEASURED_PAULI = {"M": "Z", "MZ": "Z", "MR": "Z", "MRZ": "Z", "MX": "X", "MRX": "X", "MY": "Y", "MRY": "Y"}


def _injection_points(circuit: stim.Circuit, layout: SpaceTimeLayout):
    """(circuit with TICKs inserted, {("data", t): tick}, {("meas", qubit, t): (tick, measured Pauli)}).

    Data errors of round t sit right before round t's first two-qubit gate (round ``rounds``:
    right before the final readout); a misread of a measure qubit in round t right before that
    measurement.
    """
    flat = circuit.flattened()
    measure = {s.qubit for s in layout.stabilizers}
    data = {q.qubit for q in layout.data_qubits}
    before: dict[int, list] = {}
    count = {q: 0 for q in measure}
    t = 0
    seen_gate_this_round = False
    for k, inst in enumerate(flat):
        gate = stim.gate_data(inst.name) if inst.name not in ("DETECTOR", "OBSERVABLE_INCLUDE", "TICK",
                                                              "QUBIT_COORDS", "SHIFT_COORDS") else None
        targets = inst.targets_copy()
        if gate is not None and gate.is_two_qubit_gate and gate.is_unitary and all(x.is_qubit_target for x in targets):
            if not seen_gate_this_round:
                before.setdefault(k, []).append(("data", t))
                seen_gate_this_round = True
        if inst.name in _MEASURED_PAULI:
            qs = [x.value for x in targets]
            for q in qs:
                if q in measure:
                    before.setdefault(k, []).append(("meas", q, count[q], _MEASURED_PAULI[inst.name]))
                    count[q] += 1
            if any(q in data for q in qs) and ("data", layout.rounds) not in [e for v in before.values() for e in v]:
                before.setdefault(k, []).append(("data", layout.rounds))
            if qs and all(q in measure for q in qs) and min(count[q] for q in measure) > t:
                t += 1
                seen_gate_this_round = False
    out = stim.Circuit()
    ticks = 0
    data_tick, meas_tick = {}, {}
    for k, inst in enumerate(flat):
        if k in before:
            out.append("TICK")
            for e in before[k]:
                if e[0] == "data":
                    data_tick[e[1]] = ticks
                else:
                    meas_tick[(e[1], e[2])] = (ticks, e[3])
            ticks += 1
        if inst.name == "TICK":
            ticks += 1
        out.append(inst)
    return out, data_tick, meas_tick


def _flips(region: dict, tick: int, qubit: int, pauli: str) -> tuple[set, bool]:
    """(detectors, observable flipped) by ``pauli`` on ``qubit`` at ``tick``."""
    error = stim.PauliString(pauli)
    dets, obs = set(), False
    for target, by_tick in region.items():
        s = by_tick.get(tick)
        if s is None or len(s) <= qubit or s[qubit] == 0:
            continue
        if not error.commutes(stim.PauliString("_XYZ"[s[qubit]])):
            if target.is_relative_detector_id():
                dets.add(target.val)
            else:
                obs = True
    return dets, obs


def check_every_element_is_a_physical_error(circuit: stim.Circuit, basis: str | None = None) -> int:
    """Every valid element: a single-qubit Pauli at its place flips exactly H's detectors and L's
    observable (a data element: one of X, Y, Z on its data qubit; a misread: the Pauli that flips
    the measurement). Returns the number checked."""
    layout = SpaceTimeLayout.from_circuit(circuit, basis=basis)
    cb = CorrectionBasis.from_layout(layout)
    probe, data_tick, meas_tick = _injection_points(circuit, layout)
    assert sorted(data_tick) == list(range(layout.rounds + 1))
    ticks = sorted(set(data_tick.values()) | {v[0] for v in meas_tick.values()})
    region = probe.detecting_regions(ticks=ticks)
    data = {(q.row, q.col): q.qubit for q in layout.data_qubits}
    stabs = {(s.row, s.col): s.qubit for s in layout.stabilizers}
    checked = 0
    for flat_index in np.flatnonzero(cb.valid.ravel()):
        ch, t, r, c = (int(v) for v in np.unravel_index(flat_index, cb.shape))
        want = (set(cb.element_detectors(flat_index).tolist()), bool(cb.L[flat_index]))
        if ch < 2:
            assert any(_flips(region, data_tick[t], data[(r, c)], p) == want for p in "XYZ"), (ch, t, r, c)
        else:
            tick, measured = meas_tick[(stabs[(r, c)], t)]
            flip = next(p for p in "XYZ" if p != measured)
            assert _flips(region, tick, stabs[(r, c)], flip) == want, (ch, t, r, c)
        checked += 1
    T = layout.rounds + 1
    d = layout.distance
    assert checked == 2 * T * d**2 + (T - 1) * (d**2 - 1)
    return checked


@pytest.mark.parametrize("basis", ["x", "z"])
def test_our_circuits_elements_are_physical_errors(basis):
    for d, rounds in ((3, 1), (3, 3), (5, 2)):
        circuit = stim.Circuit.generated(f"surface_code:rotated_memory_{basis}", distance=d, rounds=rounds)
        check_every_element_is_a_physical_error(circuit)
        check_every_element_is_a_physical_error(fold_hadamards(circuit))
        check_every_element_is_a_physical_error(MemoryExperiment(d, rounds, 0.001, basis, "si1000").circuit())


def test_google_circuit_elements_are_injected_errors():
    """The detecting-region check agrees with injecting each element's Pauli and sampling."""
    circuit = stim.Circuit.from_file(DATA / "surface_code_bX_d3_r03_center_3_5" / "circuit_ideal.stim")
    layout = SpaceTimeLayout.from_circuit(circuit, basis="x")
    cb = CorrectionBasis.from_layout(layout)
    probe, data_tick, meas_tick = _injection_points(circuit, layout)
    region = probe.detecting_regions()
    data = {(q.row, q.col): q.qubit for q in layout.data_qubits}
    stabs = {(s.row, s.col): s.qubit for s in layout.stabilizers}
    for flat_index in np.flatnonzero(cb.valid.ravel()):
        ch, t, r, c = (int(v) for v in np.unravel_index(flat_index, cb.shape))
        if ch < 2:
            qubit, tick = data[(r, c)], data_tick[t]
            want = (set(cb.element_detectors(flat_index).tolist()), bool(cb.L[flat_index]))
            pauli = next(p for p in "XYZ" if _flips(region, tick, qubit, p) == want)
        else:
            qubit = stabs[(r, c)]
            tick, measured = meas_tick[(qubit, t)]
            pauli = "X" if measured == "Z" else "Z"
        injected = _insert_at_tick(probe, tick, f"{pauli}_ERROR", qubit)
        dets, obs = injected.compile_detector_sampler().sample(1, separate_observables=True)
        assert set(np.flatnonzero(dets[0])) == set(cb.element_detectors(flat_index)), (ch, t, r, c)
        assert bool(obs[0, 0]) == bool(cb.L[flat_index]), (ch, t, r, c)


def _insert_at_tick(circuit: stim.Circuit, tick: int, error: str, qubit: int) -> stim.Circuit:
    out = stim.Circuit()
    ticks = 0
    for inst in circuit:
        out.append(inst)
        if inst.name == "TICK":
            if ticks == tick:
                out.append(error, [qubit], 1.0)
            ticks += 1
    return out


@pytest.mark.slow
def test_every_google_circuit_elements_are_physical_errors():
    """Every circuit of the test slices, and of every shared folder when it is here."""
    paths = sorted(DATA.glob("*/circuit_ideal.stim"))
    if SHARED.is_dir():
        paths += sorted(SHARED.glob("*/circuit_ideal.stim"))
    for path in paths:
        check_every_element_is_a_physical_error(stim.Circuit.from_file(path), basis="x")


def test_each_element_flips_at_most_two_detectors_and_valid_mask():
    layout = SpaceTimeLayout.from_circuit(MemoryExperiment(5, 4, 0.01, "x").circuit())
    cb = CorrectionBasis.from_layout(layout)
    counts = np.asarray(cb.H.sum(axis=0)).ravel()
    assert counts.max() <= 2
    assert np.all(counts[~cb.valid.ravel()] == 0)
    assert not np.any(cb.L[~cb.valid.ravel()])


def test_residual_and_observable_flip_are_batched_xors():
    layout = SpaceTimeLayout.from_circuit(MemoryExperiment(5, 5, 0.01, "z").circuit())
    cb = CorrectionBasis.from_layout(layout)
    rng = np.random.default_rng(3)
    c = (rng.random((64, cb.num_elements)) < 0.05) & cb.valid.ravel()
    dense = (cb.H.toarray().astype(np.int64) @ c.T.astype(np.int64)).T % 2 == 1
    assert np.array_equal(cb.syndrome(c), dense)
    assert np.array_equal(cb.syndrome(c.reshape(64, *cb.shape)), dense)
    events = rng.random((64, layout.num_detectors)) < 0.1
    assert np.array_equal(cb.residual_syndrome(events, c), events ^ dense)
    expected_obs = (c.astype(int) @ cb.L.astype(int)) % 2 == 1
    assert np.array_equal(cb.observable_flip(c)[:, 0], expected_obs)
    with pytest.raises(ValueError):
        cb.syndrome(np.zeros((2, 7), dtype=bool))


def test_xor_rows_against_dense():
    rng = np.random.default_rng(0)
    n_items, n_cols = 40, 30
    dense_map = rng.random((n_items, n_cols)) < 0.1
    indptr = np.concatenate([[0], np.cumsum(dense_map.sum(1))])
    indices = np.concatenate([np.flatnonzero(row) for row in dense_map])
    active = rng.random((17, n_items)) < 0.3
    expected = (active.astype(int) @ dense_map.astype(int)) % 2 == 1
    assert np.array_equal(xor_rows(active, indptr, indices, n_cols), expected)
