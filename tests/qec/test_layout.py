"""Space-time layout: detector <-> grid mapping, exact round trips, clear errors; read from the
circuit's structure, so Google's CZ circuits get a layout too."""

import pathlib

import numpy as np
import pytest
import stim

from qec._circuits._memory_experiment import MemoryExperiment
from qec._encoding._layout import LayoutError, SpaceTimeLayout
from qec._circuits._noise_insertion import fold_hadamards

DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "google_qec3v5"


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


# ---------------------------------------------------------------------------------------------
# The layout before it was read from the circuit's structure (commit 3358ec7): stabilizer types
# from CX gates, grid sites from Stim's coordinates. Our own circuits must get exactly this.


def _layout_from_coordinates(circuit: stim.Circuit) -> dict:
    """Detector places, sites and types as the coordinate-based layout computed them."""
    coords = {q: tuple(int(round(v)) for v in c[:2]) for q, c in circuit.get_final_qubit_coordinates().items()}
    controls, targets = set(), set()
    for inst in circuit.flattened():
        if inst.name == "CX":
            ts = [t.value for t in inst.targets_copy()]
            controls.update(ts[0::2])
            targets.update(ts[1::2])
    min_x = min(x for x, _ in coords.values())
    min_y = min(y for _, y in coords.values())
    min_x -= min_x % 2
    min_y -= min_y % 2
    sites, kinds, data = {}, {}, {}
    for q, (x, y) in coords.items():
        dx, dy = x - min_x, y - min_y
        if dx % 2 == 0 and dy % 2 == 0:
            sites[(x, y)] = (q, dy // 2, dx // 2)
            kinds[q] = "X" if q in controls else "Z"
        else:
            data[q] = ((dy - 1) // 2, (dx - 1) // 2)
    channel, t, row, col = [], [], [], []
    for k, c in sorted(circuit.get_detector_coordinates().items()):
        q, r, cc = sites[(int(c[0]), int(c[1]))]
        channel.append(0 if kinds[q] == "X" else 1)
        t.append(int(c[2]))
        row.append(r)
        col.append(cc)
    return {
        "channel": channel, "t": t, "row": row, "col": col,
        "stabilizers": sorted((q, r, c, kinds[q]) for q, r, c in sites.values()),
        "data": sorted((q, r, c) for q, (r, c) in data.items()),
    }


def _our_circuits():
    for d in (3, 5, 7):
        for rounds in (1, 2, 5):
            for basis in ("x", "z"):
                for noise in ("depolarizing", "si1000", "stim"):
                    yield MemoryExperiment(d, rounds, 0.001, basis, noise).circuit()
                generated = stim.Circuit.generated(f"surface_code:rotated_memory_{basis}", distance=d, rounds=rounds)
                yield generated
                yield fold_hadamards(generated)


@pytest.mark.slow
def test_our_circuits_get_exactly_the_coordinate_layout():
    n = 0
    for circuit in _our_circuits():
        layout = SpaceTimeLayout.from_circuit(circuit)
        ref = _layout_from_coordinates(circuit)
        assert layout.detector_channel.tolist() == ref["channel"]
        assert layout.detector_t.tolist() == ref["t"]
        assert layout.detector_row.tolist() == ref["row"]
        assert layout.detector_col.tolist() == ref["col"]
        assert sorted((s.qubit, s.row, s.col, s.kind) for s in layout.stabilizers) == ref["stabilizers"]
        assert sorted((q.qubit, q.row, q.col) for q in layout.data_qubits) == ref["data"]
        n += 1
    assert n == 3 * 3 * 2 * 5


def _google_circuits():
    yield from sorted(DATA.glob("*/circuit_ideal.stim"))
    shared = pathlib.Path("/work/shared/google-qec3v5")
    if shared.is_dir():
        yield from sorted(shared.glob("*/circuit_*.stim"))


def test_google_circuits_get_the_stim_grid():
    """CZ gates, Hadamard-rotated data qubits and diagonal coordinates: the same grid as ours."""
    circuit = stim.Circuit.from_file(DATA / "surface_code_bX_d5_r03_center_5_5" / "circuit_ideal.stim")
    layout = SpaceTimeLayout.from_circuit(circuit, basis="x")
    ours = SpaceTimeLayout.from_circuit(MemoryExperiment(5, 3, 0.001, "x").circuit())
    assert (layout.distance, layout.rounds, layout.basis, layout.shape) == (5, 3, "x", (4, 6, 6))
    assert np.array_equal(layout.detector_mask(), ours.detector_mask())
    assert sorted((s.row, s.col, s.kind) for s in layout.stabilizers) == sorted(
        (s.row, s.col, s.kind) for s in ours.stabilizers)
    # Every stabilizer acts on the data qubits of its site's 2 x 2 block.
    cell = {q.qubit: (q.row, q.col) for q in layout.data_qubits}
    for s in layout.stabilizers:
        block = {(s.row + dr, s.col + dc) for dr in (-1, 0) for dc in (-1, 0)}
        assert {cell[q] for q in s.support} == {c for c in block if 0 <= c[0] < 5 and 0 <= c[1] < 5}
    # The observable is a straight line of d data qubits across the patch.
    rows = {cell[q][0] for q in layout.observable_qubits}
    cols = {cell[q][1] for q in layout.observable_qubits}
    assert len(layout.observable_qubits) == 5 and (len(rows) == 1 or len(cols) == 1)


@pytest.mark.slow
def test_every_google_circuit_gets_a_layout():
    paths = list(_google_circuits())
    for path in paths:
        circuit = stim.Circuit.from_file(path)
        layout = SpaceTimeLayout.from_circuit(circuit, basis="x")
        assert layout.num_detectors == circuit.num_detectors
        assert len(np.unique(layout.detector_flat_index)) == circuit.num_detectors
        # Google's detector coordinates are (row, col, t) of the measure qubit: t agrees.
        coords = circuit.get_detector_coordinates()
        assert layout.detector_t.tolist() == [int(coords[k][2]) for k in range(circuit.num_detectors)]


def test_the_basis_of_mixed_frames_is_named_by_most_data_qubits():
    """Google's X-basis circuit: five data qubits in the X frame, four Hadamard-rotated."""
    from qec._encoding._memory_circuit_structure import read_memory_structure

    circuit = stim.Circuit.from_file(DATA / "surface_code_bX_d3_r03_center_3_5" / "circuit_ideal.stim")
    structure = read_memory_structure(circuit)
    assert (structure.memory_basis, structure.uniform_frame) == ("x", False)
    assert SpaceTimeLayout.from_circuit(circuit).basis == "x"
    # For mixed frames X and Z are names: the caller may name it the other way.
    other = SpaceTimeLayout.from_circuit(circuit, basis="z")
    assert other.basis == "z" and set(other.detector_channel[other.detector_t == 0]) == {1}
    assert read_memory_structure(MemoryExperiment(3, 3, 0.001, "z").circuit()).uniform_frame
    ours = MemoryExperiment(3, 3, 0.001, "x").circuit()
    assert SpaceTimeLayout.from_circuit(ours, basis="x").basis == "x"
    with pytest.raises(LayoutError, match="X-basis memory; basis 'z' was given"):
        SpaceTimeLayout.from_circuit(ours, basis="z")
    with pytest.raises(LayoutError, match="basis must be"):
        SpaceTimeLayout.from_circuit(ours, basis="y")
