"""Correction basis: H and L agree with Stim on every element; residuals are vectorized XORs."""

import numpy as np
import pytest
import stim

from qec.circuits import MemoryExperiment
from qec.correction_basis import CorrectionBasis, xor_rows
from qec.layout import SpaceTimeLayout
from qec.noise_insertion import fold_hadamards

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
