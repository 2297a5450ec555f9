"""qec._hardware._hardware_scores: every decoder on the same hardware shots, paired; Google's predictions as
decoders; DEMs fitted on one half only ever decode the other; the error per round of each patch."""

import json
import pathlib

import numpy as np
import pytest
import sinter
import stim

from qec import MemoryExperiment
from qec import PyMatchingDecoder
from qec._hardware._experiment_folders import ExperimentFolderError, half_indices, read_experiment_folder
from qec._hardware._hardware_columns import GOOGLE_DECODERS, CircuitDem, FileDem, PijDem, hardware_columns
from qec._hardware._hardware_scores import fit_patches, score_folder, score_hardware
from qec._data._statistics import fit_decay_interval

DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "google_qec3v5"
FOLDERS = sorted(str(p) for p in DATA.glob("surface_code_bX_d3_r0*_center_3_5"))
R05 = DATA / "surface_code_bX_d3_r05_center_3_5"


def _check_paired(score):
    names = list(score.decoders)
    for a in names:
        for b in names:
            if a != b:
                ca, cb = score.decoders[a], score.decoders[b]
                assert ca.errors - cb.errors == ca.only_fails[b] - cb.only_fails[a], (a, b)


def test_our_pymatching_with_googles_circuit_dem_is_googles_pymatching():
    cols = hardware_columns(["pymatching", *GOOGLE_DECODERS], [CircuitDem()])
    for path in FOLDERS:
        s = score_folder(path, cols)
        assert s.shots == 2000
        ours, google = s.decoders["pymatching"], s.decoders["google-pymatching"]
        assert ours.errors == google.errors > 0
        assert ours.only_fails["google-pymatching"] == google.only_fails["pymatching"] == 0
        _check_paired(s)
    # Google's better decoders make fewer errors than matching on these shots (r05: 2000 shots).
    d = score_folder(R05, cols).decoders
    assert d["google-tensor-network"].errors < d["google-correlated-matching"].errors < d["pymatching"].errors


def test_pij_decodes_each_half_with_the_other_halfs_dem():
    folder = read_experiment_folder(R05)
    s = score_folder(folder, hardware_columns(["pymatching"], [PijDem()]), max_shots=1500)
    events, actual = folder.events(1500), folder.actual_flips(1500)
    fails = np.zeros(1500, dtype=bool)
    for half, dem_file in (("even", "pij_from_odd_for_even.dem"), ("odd", "pij_from_even_for_odd.dem")):
        idx = half_indices(1500, half)
        dec = PyMatchingDecoder(stim.DetectorErrorModel.from_file(R05 / dem_file))
        fails[idx] = dec.decode_batch(np.unpackbits(events[idx], axis=1, bitorder="little", count=40).astype(bool))[:, 0] != actual[idx, 0]
    assert s.decoders["pymatching"].errors == int(fails.sum())
    assert s.decoders["pymatching"].shots == 1500


class _SpySource:
    """A per-half DEM source that records what it was fitted on."""

    label = "spy"
    per_half = True

    def __init__(self):
        self.made = {}

    def dem(self, folder, fitted_on, max_shots):
        dem = folder.circuit_dem()
        self.made[id(dem)] = (fitted_on, max_shots)
        return dem


class _SpyFactory:
    def __init__(self):
        self.calls = []

    def __call__(self, circuit, dem):
        spy = self

        class Dec:
            metadata = {}

            def decode_batch(self, events, bit_packed=None):
                spy.calls.append((id(dem), events.copy()))
                return PyMatchingDecoder(dem).decode_batch(events, bit_packed=bit_packed)

        return Dec()


def test_a_dem_fitted_on_a_half_never_decodes_that_half():
    source, factory = _SpySource(), _SpyFactory()
    folder = read_experiment_folder(R05)
    score_folder(folder, hardware_columns(["spy"], [source]), max_shots=999, custom_decoders={"spy": factory})
    events = folder.events(999)
    assert len(factory.calls) == 2
    seen = set()
    for dem_id, decoded in factory.calls:
        fitted_on, max_shots = source.made[dem_id]
        assert max_shots == 999
        decoded_half = "odd" if fitted_on == "even" else "even"
        assert np.array_equal(decoded, events[half_indices(999, decoded_half)])
        seen.add(decoded_half)
    assert seen == {"even", "odd"}


def test_several_dem_sources_name_their_columns():
    cols = hardware_columns(["pymatching", "google-pymatching", "pymatching-correlated"], [CircuitDem(), PijDem()])
    assert [c.name for c in cols] == ["pymatching@circuit", "pymatching@pij", "google-pymatching",
                                      "pymatching-correlated@circuit", "pymatching-correlated@pij"]
    s = score_folder(R05, cols, max_shots=600)
    _check_paired(s)
    assert s.decoders["pymatching@circuit"].errors == s.decoders["google-pymatching"].errors
    with pytest.raises(ValueError, match="listed twice"):
        hardware_columns(["pymatching", "pymatching"], [CircuitDem()])
    with pytest.raises(ValueError, match="DEM listed twice"):
        hardware_columns(["pymatching"], [CircuitDem(), CircuitDem()])


def test_patches_fit_rounds_from_three_and_the_json_contract():
    cols = hardware_columns(["pymatching", "google-tensor-network"], [CircuitDem()])
    scores = score_hardware(FOLDERS, cols, bootstrap=200)
    assert [f.folder.rounds for f in scores.folders] == [1, 3, 5]
    (patch,) = scores.patches
    assert (patch.distance, patch.center, patch.basis, patch.rounds) == (3, (3, 5), "x", (3, 5))
    used = [f for f in scores.folders if f.folder.rounds >= 3]
    ref = fit_decay_interval([3, 5], [f.decoders["pymatching"].errors for f in used], [2000, 2000],
                             bootstrap=200, seed=0)
    assert patch.decoders["pymatching"] == ref
    fit = patch.decoders["google-tensor-network"]
    assert 0.01 < fit.low < fit.eps < fit.high < 0.1
    doc = json.loads(json.dumps(scores.to_json()))
    assert set(doc) == {"folders", "patches"}
    f0 = doc["folders"][0]
    assert set(f0) == {"name", "d", "rounds", "center", "basis", "shots", "half", "decoders"}
    assert (f0["name"], f0["d"], f0["rounds"], f0["center"], f0["basis"], f0["shots"], f0["half"]) == (
        "surface_code_bX_d3_r01_center_3_5", 3, 1, [3, 5], "x", 2000, None)
    assert set(f0["decoders"]["pymatching"]) >= {"errors", "shots"}
    p0 = doc["patches"][0]
    assert set(p0) == {"d", "center", "basis", "rounds", "decoders"}
    assert p0["rounds"] == [3, 5]
    assert set(p0["decoders"]["pymatching"]) == {"eps_per_round", "low", "high", "seconds_per_shot"}


def test_csv_rows_are_written_per_folder_and_a_rerun_reads_them(tmp_path):
    out = tmp_path / "hw.csv"
    cols = hardware_columns(["pymatching", "google-pymatching"], [CircuitDem()])
    first = score_hardware(FOLDERS[:2], cols, max_shots=500, out=out, bootstrap=0).folders
    stats = sinter.read_stats_from_csv_files(out)
    assert len(stats) == 4 and {s.shots for s in stats} == {500}
    assert {s.json_metadata["folder"] for s in stats} == {pathlib.Path(p).name for p in FOLDERS[:2]}
    again = score_hardware(FOLDERS, cols, max_shots=500, out=out, bootstrap=0).folders
    assert [f.from_csv for f in again] == [True, True, False]
    for a, b in zip(first, again):
        assert {n: (c.errors, dict(c.only_fails)) for n, c in a.decoders.items()} == {
            n: (c.errors, dict(c.only_fails)) for n, c in b.decoders.items()}
    assert len(sinter.read_stats_from_csv_files(out)) == 6  # nothing counted twice
    # Other shots are another result.
    score_hardware(FOLDERS[:1], cols, max_shots=400, out=out, bootstrap=0)
    assert len(sinter.read_stats_from_csv_files(out)) == 8


@pytest.mark.slow
def test_workers_give_the_same_results():
    cols = hardware_columns(["pymatching-correlated", "google-correlated-matching"], [CircuitDem()])
    one = score_hardware(FOLDERS, cols, max_shots=800, bootstrap=0).folders
    two = score_hardware(FOLDERS, cols, max_shots=800, workers=2, bootstrap=0).folders
    assert [{n: c.errors for n, c in f.decoders.items()} for f in one] == [
        {n: c.errors for n, c in f.decoders.items()} for f in two]


def test_a_z_basis_folder_of_our_own(make_experiment_folder):
    exp = MemoryExperiment(5, 3, 0.005, "z")
    path = make_experiment_folder(exp, shots=1000, seed=9)
    s = score_folder(path, hardware_columns(["pymatching", "google-pymatching"], [CircuitDem()]))
    assert s.folder.basis == "z" and s.decoders["pymatching"].errors == s.decoders["google-pymatching"].errors > 0
    assert s.decoders["pymatching"].only_fails["google-pymatching"] == 0


def test_bad_input_fails_before_decoding(tmp_path):
    cols = hardware_columns(["no-such-decoder"], [CircuitDem()])
    with pytest.raises(ValueError, match="unknown decoder 'no-such-decoder'"):
        score_hardware(FOLDERS, cols)
    with pytest.raises(ValueError, match="listed twice"):
        score_hardware([FOLDERS[0], FOLDERS[0]], hardware_columns(["pymatching"], [CircuitDem()]))
    other = tmp_path / "other.dem"
    MemoryExperiment(3, 3, 0.001, "x").dem().to_file(other)
    with pytest.raises(ExperimentFolderError, match="DEM file .*other.dem's detector 0 sits at"):
        score_folder(DATA / "surface_code_bX_d3_r03_center_3_5", hardware_columns(["pymatching"], [FileDem(str(other))]))
    with pytest.raises(ValueError, match="our decoders need a DEM source"):
        hardware_columns(["pymatching"], [])
