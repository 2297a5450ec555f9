"""Noise models against hand-computed detector-error-model terms (d=3, rounds=2, Z memory).

Conventions used for the closed forms (Stim's DEM semantics):
- mechanisms from different channels with the same symptom combine by XOR:
  p ^ q = p (1 - q) + q (1 - p);
- components of one PAULI_CHANNEL_1/2 are disjoint, so same-symptom components of one channel
  add up (approximate_disjoint_errors);
- DEPOLARIZE1(p) is exactly three independent X, Y, Z channels of (1 - sqrt(1 - 4p/3)) / 2 and
  DEPOLARIZE2(p) fifteen independent channels of (1 - (1 - 16p/15)^(1/8)) / 2.

Qubit names are Stim coordinates of the d=3 rotated code: data at odd (x, y), Z ancillas at
(0,4) (2,2) (4,4) (6,2), X ancillas at (2,0) (4,2) (2,4) (4,6); the Z observable is the row y=1.
Detectors are named by (x, y, t); the final data-measurement layer is t = rounds.
"""

from __future__ import annotations

import math

import pytest
import stim

from qec import CircuitNoise, MemoryExperiment
from qec._circuits._noise import NOISE_MODELS, NOISE_VERSIONS, noise_label, noise_version
from qec._circuits._noise_insertion import fold_hadamards, insert_circuit_noise, insert_si1000_noise, scale_qubit_noise

P = 0.006
T = 2  # rounds


def xor(*ps: float) -> float:
    out = 0.0
    for p in ps:
        out = out * (1 - p) + p * (1 - out)
    return out


def dep1(p: float) -> float:
    return (1 - math.sqrt(1 - 4 * p / 3)) / 2


def dep2(p: float) -> float:
    return (1 - (1 - 16 * p / 15) ** 0.125) / 2


def terms(exp: MemoryExperiment) -> dict[frozenset, float]:
    """DEM (not decomposed) as {frozenset of (x, y, t) detectors and 'L0': probability}."""
    coords = exp.circuit().get_detector_coordinates()
    out: dict[frozenset, float] = {}
    for inst in exp.dem(decompose_errors=False).flattened():
        if inst.type != "error":
            continue
        key = []
        for t in inst.targets_copy():
            if t.is_relative_detector_id():
                key.append(tuple(int(v) for v in coords[t.val]))
            elif t.is_logical_observable_id():
                key.append(f"L{t.val}")
        k = frozenset(key)
        assert k not in out, "Stim merges equal symptoms into one term"
        out[k] = inst.args_copy()[0]
    return out


def S(*dets, obs: bool = False) -> frozenset:
    return frozenset(list(dets) + (["L0"] if obs else []))


# ---------------------------------------------------------------------------------------------
# The depolarizing mapping.


def test_depolarizing_mapping_values():
    p = 0.006
    n = CircuitNoise.depolarizing(p)
    assert n.prep_z == n.prep_x == n.meas_z == n.meas_x == pytest.approx(2 * p / 3)
    assert n.cnot == pytest.approx((p / 15,) * 15) and sum(n.cnot) == pytest.approx(p)
    assert n.idle_cnot == pytest.approx((p / 3,) * 3)
    # Each of X, Y, Z: the two-step channel of two DEPOLARIZE1(p) in a row (NVIDIA/Ising-Decoding
    # code/qec/noise_model.py from_single_p; conf/config_public.yaml p_idle_spam_X/Y/Z).
    assert n.idle_measure == pytest.approx((2 * p / 3 - 4 * p * p / 9,) * 3)
    one = (1 - p, p / 3, p / 3, p / 3)  # I, X, Y, Z of one DEPOLARIZE1(p)
    two_step_x = one[0] * one[1] + one[1] * one[0] + one[2] * one[3] + one[3] * one[2]
    assert n.idle_measure[0] == pytest.approx(two_step_x, rel=1e-12)
    assert CircuitNoise.from_vector(n.as_vector()) == n and len(n.as_vector()) == 25
    assert CircuitNoise.depolarizing(0.0) == CircuitNoise()


def test_noise_versions_are_recorded_and_checked():
    assert NOISE_VERSIONS == {"depolarizing": 2, "si1000": 1, "stim": 1}
    assert noise_version("depolarizing") == 2 and noise_version("si1000") == 1
    assert noise_version("depolarizing", 1) == 1
    for bad in (0, 3, "2", 2.0, True):
        with pytest.raises(ValueError, match="unknown noise version"):
            noise_version("depolarizing", bad)
    with pytest.raises(ValueError, match="unknown noise model"):
        noise_version("pauli")
    assert noise_label("depolarizing", 1) == "depolarizing v1 (superseded)"
    assert noise_label("depolarizing", 2) == "depolarizing v2"
    for noise in NOISE_MODELS:
        meta = MemoryExperiment(3, 3, 0.001, "x", noise).json_metadata()
        assert meta["noise_version"] == NOISE_VERSIONS[noise]


def test_circuit_noise_validation():
    with pytest.raises(ValueError):
        CircuitNoise.depolarizing(-0.01)
    with pytest.raises(ValueError):
        CircuitNoise(meas_z=0.6)
    with pytest.raises(ValueError, match="sum"):
        CircuitNoise(cnot=(0.1,) * 15)
    with pytest.raises(ValueError, match="15"):
        CircuitNoise(cnot=(0.0,) * 14)
    with pytest.raises(ValueError, match="3 probabilities"):
        CircuitNoise(idle_cnot=(0.1, 0.1))
    with pytest.raises(ValueError, match="25"):
        CircuitNoise.from_vector([0.0] * 24)


def test_depolarizing_circuit_has_folded_hadamards_and_the_mapping():
    c = MemoryExperiment(3, T, P, "z").circuit()
    names = {inst.name for inst in c.flattened()}
    assert "H" not in names and {"RX", "MRX", "R", "MR", "M", "CX"} <= names
    for inst in c.flattened():
        args = inst.gate_args_copy()
        if inst.name == "PAULI_CHANNEL_2":
            assert args == pytest.approx([P / 15] * 15)
        elif inst.name in ("X_ERROR", "Z_ERROR"):
            assert args == pytest.approx([2 * P / 3])
        elif inst.name == "PAULI_CHANNEL_1":
            # Idle during CNOT layers (p/3 each) or during measure/reset (2p/3 - 4p^2/9 each).
            assert args == pytest.approx([P / 3] * 3) or args == pytest.approx([2 * P / 3 - 4 * P * P / 9] * 3)


@pytest.mark.parametrize("basis", ["x", "z"])
def test_folded_noiseless_circuit_is_deterministic(basis):
    base = MemoryExperiment(5, 3, 0.0, basis).noiseless_circuit()
    folded = insert_circuit_noise(fold_hadamards(base), CircuitNoise())
    assert folded.num_detectors == base.num_detectors
    dets, obs = folded.compile_detector_sampler(seed=1).sample(64, separate_observables=True)
    assert not dets.any() and not obs.any()
    folded.detector_error_model()  # raises on non-deterministic detectors


# ---------------------------------------------------------------------------------------------
# Isolated parameters: exact closed forms for every DEM term.


def only(**kw) -> MemoryExperiment:
    return MemoryExperiment(3, T, P, "z", circuit_noise=CircuitNoise(**kw))


Z_ANCILLAS = [(0, 4), (2, 2), (4, 4), (6, 2)]
# Data-measurement flip symptoms in the last layer (t = T): the Z stabilizers holding the qubit.
DATA_FLIP_SYMPTOMS = {
    (1, 1): S((2, 2, T), obs=True), (3, 1): S((2, 2, T), obs=True), (5, 1): S((6, 2, T), obs=True),
    (1, 3): S((0, 4, T), (2, 2, T)), (3, 3): S((2, 2, T), (4, 4, T)), (5, 3): S((4, 4, T), (6, 2, T)),
    (1, 5): S((0, 4, T)), (3, 5): S((4, 4, T)), (5, 5): S((4, 4, T)),
}


def test_measurement_flips_only():
    q = 0.01
    t = terms(only(meas_z=q))
    expected: dict[frozenset, float] = {}
    # An ancilla misread in round r flips its detectors at t = r and r + 1.
    for x, y in Z_ANCILLAS:
        for r in range(T):
            expected[S((x, y, r), (x, y, r + 1))] = q
    # A data misread flips the last-layer detectors of its Z stabilizers (and L0 on row y=1);
    # two qubits with the same symptom XOR.
    for sym in DATA_FLIP_SYMPTOMS.values():
        expected[sym] = xor(expected.get(sym, 0.0), q)
    assert set(t) == set(expected)
    for k in expected:
        assert t[k] == pytest.approx(expected[k], rel=1e-12), k
    assert expected[S((2, 2, T), obs=True)] == pytest.approx(2 * q * (1 - q))


def test_ancilla_pair_total_measurement_error():
    """Reset flip and misread of a Z ancilla both flip the same detector pair: they XOR."""
    q, s = 0.01, 0.003
    t = terms(only(meas_z=q, prep_z=s))
    for x, y in Z_ANCILLAS:
        # Pair (r, r+1): the reset before round r (initial R or the MR of round r-1) and the
        # misread of round r; the reset after the last round is never read.
        for r in range(T):
            assert t[S((x, y, r), (x, y, r + 1))] == pytest.approx(xor(q, s), rel=1e-12)
    # Data prepared flipped (X after R) is seen from round 0 on: first-layer detectors + L0.
    assert t[S((2, 2, 0), obs=True)] == pytest.approx(xor(s, s), rel=1e-12)  # qubits (1,1), (3,1)
    assert t[S((0, 4, 0))] == pytest.approx(s, rel=1e-12)  # qubit (1,5)


def test_x_basis_measurement_flips_only():
    q = 0.02
    exp = MemoryExperiment(3, T, P, "x", circuit_noise=CircuitNoise(meas_x=q))
    t = terms(exp)
    for x, y in [(2, 0), (4, 2), (2, 4), (4, 6)]:
        for r in range(T):
            assert t[S((x, y, r), (x, y, r + 1))] == pytest.approx(q, rel=1e-12)
    # Z ancillas in X memory have no first- or last-layer detectors: a misread in round 0 or 1
    # flips only the bulk detector at t = 1, so the two misreads XOR into one term.
    tz = terms(MemoryExperiment(3, T, P, "x", circuit_noise=CircuitNoise(meas_z=q)))
    assert tz == pytest.approx({S((x, y, 1)): xor(q, q) for x, y in Z_ANCILLAS}, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Full models: one data-qubit measurement flip and one ancilla pair, by hand.


def data_flip_15_depolarizing(p: float, f: float = 1.0) -> float:
    """Symptom {(0,4,T)}: an X on data qubit (1,5) after its last CX with Z ancilla (0,4) of the
    last round. Schedule of (1,5) in a round: CX 1 control->(0,4); CX 2 target of X ancilla
    (2,4); idle in CX layers 3 and 4; idle while ancillas are measured; then its own readout.

    - CX 1 channel: XI, and YZ (the Z halves reach (2,4) twice and cancel): 2p/15;
    - CX 2 channel: IX, IY on (2,4)->(1,5) (Z on data after its last X-check is invisible): 2p/15;
    - idle CX 3 and CX 4: X and Y, 2p/3 each; idle during measure/reset: X and Y, 2/3 of
      2p/3 - 4p^2/9 each (noise version 2); data misread 2p/3.
    ``f`` scales the single-qubit channels of (1,5) only (two-qubit channels take the larger
    factor of their pair, so f <= 1 leaves them alone).
    """
    idle_mr = 2 * p / 3 - 4 * p * p / 9
    g = max(f, 1.0)
    return xor(g * 2 * p / 15, g * 2 * p / 15, f * 2 * p / 3, f * 2 * p / 3, f * 2 * idle_mr, f * 2 * p / 3)


def test_depolarizing_data_measurement_flip():
    for p in (0.001, 0.006):
        t = terms(MemoryExperiment(3, T, p, "z", "depolarizing"))
        assert t[S((0, 4, T))] == pytest.approx(data_flip_15_depolarizing(p), rel=1e-12)


def test_si1000_data_measurement_flip():
    """Same mechanisms on Stim's H/CX circuit under SI1000: CX -> DEPOLARIZE2(p), idle in CX and
    H layers -> DEPOLARIZE1(p/10) (CX 3, CX 4, the closing H layer: X and Y each), idle during
    measure/reset -> DEPOLARIZE1(2p) (X and Y), misread 5p."""
    for p in (0.001, 0.006):
        t = terms(MemoryExperiment(3, T, p, "z", "si1000"))
        expected = xor(*[dep2(p)] * 4, *[dep1(p / 10)] * 6, dep1(2 * p), dep1(2 * p), 5 * p)
        assert t[S((0, 4, T))] == pytest.approx(expected, rel=1e-12)


def test_stim_data_measurement_flip():
    """Stim's generator: DEPOLARIZE2(p) after each CX (same four components), no idle noise,
    misread p."""
    for p in (0.001, 0.006):
        t = terms(MemoryExperiment(3, T, p, "z", "stim"))
        assert t[S((0, 4, T))] == pytest.approx(xor(*[dep2(p)] * 4, p), rel=1e-12)


def test_depolarizing_ancilla_pair_last_round():
    """Pair {(2,2,1), (2,2,2)} of the interior Z ancilla (2,2): its reset after round 0, its
    misread in round 1, and the CX components that flip it and leave no other trace. The ancilla
    is the CX target of data (3,3), (3,1), (1,3), (1,1) in layers 1..4. An X on it after any
    layer flips only its readout; a Y also spreads Z to the data of the later layers, which is
    invisible only where no later X check reads that data; a Z on the data of the same CX can
    be invisible too (Z on data after its last X check of the last round):
    layer 1: IX, ZY (2p/15); layer 2: IX (p/15); layer 3: IX, IY (2p/15);
    layer 4: IX, IY, ZX, ZY (4p/15); plus reset 2p/3 and misread 2p/3.
    """
    p = P
    t = terms(MemoryExperiment(3, T, p, "z", "depolarizing"))
    expected = xor(2 * p / 3, 2 * p / 3, 2 * p / 15, p / 15, 2 * p / 15, 4 * p / 15)
    assert t[S((2, 2, 1), (2, 2, 2))] == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Per-qubit scaling.


def test_scaling_a_data_qubit_multiplies_exactly_its_terms():
    base = terms(MemoryExperiment(3, T, P, "z"))
    for f in (2.0, 0.5, 0.0):
        scaled = terms(MemoryExperiment(3, T, P, "z", scale_qubits=((1, 5, f),)))
        assert scaled[S((0, 4, T))] == pytest.approx(data_flip_15_depolarizing(P, f), rel=1e-12)
        # Terms whose mechanisms never touch (1,5) are unchanged.
        assert scaled[S((2, 2, 1), (2, 2, 2))] == base[S((2, 2, 1), (2, 2, 2))]
        assert scaled[S((6, 2, T), obs=True)] == base[S((6, 2, T), obs=True)]


def test_scaling_an_ancilla_multiplies_its_measurement_terms():
    q = 0.01
    exp = MemoryExperiment(3, T, P, "z", circuit_noise=CircuitNoise(meas_z=q), scale_qubits=((2, 2, 3.0),))
    t = terms(exp)
    for r in range(T):
        assert t[S((2, 2, r), (2, 2, r + 1))] == pytest.approx(3 * q, rel=1e-12)
        assert t[S((4, 4, r), (4, 4, r + 1))] == pytest.approx(q, rel=1e-12)
    # Factors for the same qubit multiply.
    twice = MemoryExperiment(3, T, P, "z", circuit_noise=CircuitNoise(meas_z=q),
                             scale_qubits=((2, 2, 1.5), (2, 2, 2.0)))
    assert terms(twice) == pytest.approx(t, rel=1e-12)


def test_scaling_errors():
    with pytest.raises(ValueError, match="no qubit at coordinates"):
        MemoryExperiment(3, T, P, "z", scale_qubits=((7, 7, 2),)).circuit()
    with pytest.raises(ValueError, match="exceeds probability"):
        MemoryExperiment(3, T, 0.3, "z", scale_qubits=((1, 1, 10),)).circuit()
    with pytest.raises(ValueError, match=">= 0"):
        scale_qubit_noise(stim.Circuit("X_ERROR(0.1) 0"), {0: -1.0})
    with pytest.raises(ValueError, match=r"\(x, y, factor\)"):
        MemoryExperiment(3, T, P, "z", scale_qubits=((1, 1),))


def test_si1000_needs_5p_at_most_1():
    with pytest.raises(ValueError, match="5p <= 1"):
        MemoryExperiment(3, T, 0.3, "z", "si1000").circuit()
    with pytest.raises(ValueError, match="single-qubit gates"):
        insert_circuit_noise(MemoryExperiment(3, T, 0.0).noiseless_circuit(), CircuitNoise.depolarizing(0.001))
    assert insert_si1000_noise(stim.Circuit("H 0\nTICK\nM 0"), 0.0) == stim.Circuit("H 0\nTICK\nM 0")
