"""Space-time layout: detector <-> grid mapping, exact round trips, clear errors."""

import numpy as np
import pytest
import stim

from qec.circuits import MemoryExperiment
from qec.layout import LayoutError, SpaceTimeLayout


@pytest.mark.parametrize("distance", [3, 5, 7, 9])
@pytest.mark.parametrize("rounds", [1, 2, 5])
@pytest.mark.parametrize("basis", ["x", "z"])
def test_round_trip_is_exact(distance, rounds, basis):
    exp = MemoryExperiment(distance, rounds, 0.01, basis)
    circuit = exp.circuit()
    layout = SpaceTimeLayout.from_circuit(circuit)
    assert layout.distance == distance
    assert layout.rounds == rounds
    assert layout.basis == basis
    assert layout.shape == (rounds + 1, distance + 1, distance + 1)
    events = np.random.default_rng(distance * 10 + rounds).random((50, circuit.num_detectors)) < 0.3
    grid = layout.to_grid(events)
    assert grid.shape == (50, 4, rounds + 1, distance + 1, distance + 1)
    assert np.array_equal(layout.from_grid(grid), events)
    # Events sit only where detectors exist; masks are the detector-existence masks.
    assert not np.any(grid[:, :2] * (1 - grid[:, 2:]))
    assert grid[:, 2:].sum() == 50 * circuit.num_detectors
    packed = np.packbits(events, axis=1, bitorder="little")
    assert np.array_equal(layout.to_grid(packed, bit_packed=True), grid)


@pytest.mark.parametrize("basis", ["x", "z"])
@pytest.mark.parametrize("noise", ["depolarizing", "si1000", "stim"])
def test_layout_matches_geometry(basis, noise):
    d, r = 5, 3
    layout = SpaceTimeLayout.from_circuit(MemoryExperiment(d, r, 0.001, basis, noise).circuit())
    mask = layout.detector_mask()
    kind = {"x": 0, "z": 1}[basis]
    # First and last layers hold only the memory basis's stabilizers: (d^2 - 1) / 2 of them.
    for t in (0, r):
        assert mask[kind, t].sum() == (d * d - 1) // 2
        assert mask[1 - kind, t].sum() == 0
    for t in range(1, r):
        assert mask[:, t].sum() == d * d - 1
    # X and Z stabilizers form a checkerboard: no site holds both.
    assert not np.any(mask[0] & mask[1])
    assert len(layout.observable_qubits) == d


def test_stabilizer_types_follow_stim_coordinates():
    circuit = stim.Circuit.generated("surface_code:rotated_memory_z", distance=3, rounds=2)
    layout = SpaceTimeLayout.from_circuit(circuit)
    coords = circuit.get_detector_coordinates()
    for k in range(circuit.num_detectors):
        x, y, t = coords[k]
        assert layout.detector_row[k] == y // 2 and layout.detector_col[k] == x // 2
        assert layout.detector_t[k] == t
    assert set(layout.detector_channel[layout.detector_t == 0]) == {1}


def test_rejects_circuits_it_cannot_map():
    with pytest.raises(LayoutError, match="observable"):
        SpaceTimeLayout.from_circuit(stim.Circuit.generated("repetition_code:memory", distance=3, rounds=2).without_noise()[:0] + stim.Circuit("M 0\nDETECTOR(0,0,0) rec[-1]"))
    with pytest.raises(LayoutError):
        SpaceTimeLayout.from_circuit(stim.Circuit.generated("repetition_code:memory", distance=3, rounds=2))
    with pytest.raises(LayoutError):
        SpaceTimeLayout.from_circuit(stim.Circuit.generated("color_code:memory_xyz", distance=3, rounds=2))


def test_wrong_event_shape_is_an_error():
    layout = SpaceTimeLayout.from_circuit(MemoryExperiment(3, 2, 0.01).circuit())
    with pytest.raises(ValueError, match="shape"):
        layout.to_grid(np.zeros((2, layout.num_detectors + 1), dtype=bool))
    with pytest.raises(ValueError, match="bit-packed"):
        layout.to_grid(np.zeros((2, 1), dtype=np.uint8), bit_packed=True)
