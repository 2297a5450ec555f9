"""qec._circuits._memory_experiment: MemoryExperiment validation, shapes, caching, metadata."""

from __future__ import annotations

import pytest
import stim

from qec import LerTask, collect_ler, MemoryExperiment, memory_circuit


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(distance=2), "distance must be odd and >= 3"),
        (dict(distance=4), "distance must be odd and >= 3"),
        (dict(distance=1), "distance must be odd and >= 3"),
        (dict(distance=-3), "distance must be odd and >= 3"),
        (dict(distance=3.5), "distance must be an integer"),
        (dict(distance=True), "distance must be an integer"),
        (dict(rounds=0), "rounds must be an integer >= 1"),
        (dict(rounds=-2), "rounds must be an integer >= 1"),
        (dict(rounds=1.5), "rounds must be an integer >= 1"),
        (dict(p=-0.001), r"p must be in \[0, 0.5\)"),
        (dict(p=0.5), r"p must be in \[0, 0.5\)"),
        (dict(p=0.7), r"p must be in \[0, 0.5\)"),
        (dict(p=float("nan")), r"p must be in \[0, 0.5\)"),
        (dict(basis="y"), "basis must be one of x, z"),
        (dict(basis="Z"), "basis must be one of x, z"),
        (dict(noise="pink"), "unknown noise model 'pink'"),
        # Issue 30 items 6 and 12: a bool is no round count, None or text no noise strength.
        (dict(rounds=True), "rounds must be an integer >= 1, got True"),
        (dict(distance="3"), "distance must be an integer, got '3'"),
        (dict(p=None), r"p must be in \[0, 0.5\), got None"),
        (dict(p="0.01"), r"p must be in \[0, 0.5\), got '0.01'"),
        (dict(p=True), r"p must be in \[0, 0.5\), got True"),
        (dict(scale_qubits=((1, "a", 2),)), "scale_qubits must be"),
    ],
)
def test_validation(kwargs, message):
    args = dict(distance=3, rounds=3, p=0.001, basis="z", noise="depolarizing")
    args.update(kwargs)
    from qec import QecError

    with pytest.raises(QecError, match=message):
        MemoryExperiment(**args)


def test_circuit_noise_only_with_depolarizing():
    from qec import CircuitNoise

    with pytest.raises(ValueError, match="depolarizing model only"):
        MemoryExperiment(3, 3, 0.001, noise="si1000", circuit_noise=CircuitNoise())


@pytest.mark.parametrize("noise", ["depolarizing", "si1000", "stim"])
@pytest.mark.parametrize("basis", ["x", "z"])
@pytest.mark.parametrize("d, rounds", [(3, 1), (3, 2), (5, 5)])
def test_shapes_and_graphlike_dem(noise, basis, d, rounds):
    exp = MemoryExperiment(d, rounds, 0.003, basis, noise)
    c = exp.circuit()
    half = (d * d - 1) // 2
    # First and last layers hold one stabilizer type, the rounds-1 bulk layers both.
    assert c.num_detectors == half * 2 + (d * d - 1) * (rounds - 1)
    assert c.num_observables == 1
    assert len(c.get_final_qubit_coordinates()) == 2 * d * d - 1
    dem = exp.dem()
    assert dem.num_detectors == c.num_detectors
    for inst in dem.flattened():
        if inst.type == "error":
            # Decomposed: every component has at most two detectors.
            comp = []
            for t in inst.targets_copy() + [stim.target_separator()]:
                if t.is_separator():
                    assert len(comp) <= 2
                    comp = []
                elif t.is_relative_detector_id():
                    comp.append(t)
    coords = c.get_detector_coordinates()
    assert {int(v[2]) for v in coords.values()} == set(range(rounds + 1))


def test_zero_noise_has_empty_dem():
    for noise in ("depolarizing", "si1000", "stim"):
        assert MemoryExperiment(3, 3, 0.0, "x", noise).dem().num_errors == 0


def test_cached_circuit_is_a_copy():
    exp = MemoryExperiment(3, 3, 0.002)
    c = exp.circuit()
    c.append("X", [0])
    assert exp.circuit() != c
    assert exp.circuit() == MemoryExperiment(3, 3, 0.002).circuit()


def test_memory_circuit_defaults():
    c = memory_circuit(5, p=0.006, basis="x", noise="si1000")
    assert c == MemoryExperiment(5, 5, 0.006, "x", "si1000").circuit()
    assert memory_circuit(3, 2) == MemoryExperiment(3, 2, 0.0, "z").circuit()


def test_json_metadata():
    exp = MemoryExperiment(3, 2, 0.004, "x", "stim", scale_qubits=((1, 1, 2),))
    assert exp.json_metadata() == {"d": 3, "r": 2, "p": 0.004, "b": "x", "noise": "stim",
                                  "noise_version": 1, "scale": [[1.0, 1.0, 2.0]]}
    assert exp.scale_qubits == ((1.0, 1.0, 2.0),)
    assert MemoryExperiment(3, 2, 0.004) == MemoryExperiment(3, 2, 0.004, scale_qubits=())


def test_noise_grows_the_logical_error_rate():
    """Sanity: at d=3 the DEM's total error mass grows with p for every model."""
    for noise in ("depolarizing", "si1000", "stim"):
        lo = sum(i.args_copy()[0] for i in MemoryExperiment(3, 3, 0.001, "z", noise).dem().flattened() if i.type == "error")
        hi = sum(i.args_copy()[0] for i in MemoryExperiment(3, 3, 0.004, "z", noise).dem().flattened() if i.type == "error")
        assert 3 < hi / lo < 5


def paper_fit(d: int, p: float) -> float:
    """The paper's fit of uncorrelated PyMatching's LER per shot on its noise model, at its
    n_rounds = d (Stim's rounds = d - 1): 0.01938 d (116.95 p)^((d+1)/2)."""
    return 0.01938 * d * (116.95 * p) ** ((d + 1) / 2)


def test_plain_pymatching_matches_the_papers_fit_at_its_round_convention():
    """d=5, rounds 4, p=0.006, X basis: the 95% interval of plain PyMatching's LER overlaps the
    paper's fit +-10% (3.35e-2; noise version 1 gave about 2.4e-2 at rounds 5). 60k shots, fixed
    seed: about 2,100 errors, a relative half-width near 4%."""
    exp = MemoryExperiment(5, 4, 0.006, "x")
    result = collect_ler([LerTask(exp, ("pymatching",))], max_shots=60_000, seed=2026)[0]
    fit, target = result.fit(), paper_fit(5, 0.006)
    assert fit.low <= 1.1 * target and fit.high >= 0.9 * target, (fit, target)


def test_numpy_numbers_are_numbers_and_whole_floats_whole():
    """NumPy's integers and floats are accepted (and the metadata stays JSON); 3.0 rounds are 3."""
    import json

    import numpy as np

    exp = MemoryExperiment(np.int64(3), np.int32(3), np.float64(0.001))
    assert json.loads(json.dumps(exp.json_metadata()))["d"] == 3
    assert MemoryExperiment(3, 3.0, 0.001).rounds == 3 and isinstance(MemoryExperiment(3, 3.0, 0.001).rounds, int)
