"""qec._hardware._experiment_folders: Google's experiment-folder layout read and checked; any folder of that
form loads (Z basis, other distances); every missing or short file is one line naming it."""

import pathlib
import shutil

import numpy as np
import pytest
import stim

from qec import MemoryExperiment
from qec._hardware._experiment_folders import (
    ExperimentFolderError,
    half_indices,
    other_half,
    pij_file,
    read_experiment_folder,
    read_properties,
)

DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "google_qec3v5"
R03 = DATA / "surface_code_bX_d3_r03_center_3_5"


def test_reads_a_google_folder():
    f = read_experiment_folder(R03)
    assert (f.name, f.distance, f.rounds, f.basis, f.shots, f.center) == (R03.name, 3, 3, "x", 2000, (3, 5))
    assert (f.num_detectors, f.num_observables) == (24, 1)
    assert f.patch == (3, (3, 5), "x")
    assert f.properties["circuit_qubits"] == 17
    events = f.events()
    assert events.dtype == np.uint8 and events.shape == (2000, 3)
    # The same bits Stim reads.
    ref = stim.read_shot_data_file(path=str(R03 / "detection_events.b8"), format="b8", num_detectors=24,
                                   bit_packed=True)
    assert np.array_equal(events, ref)
    assert np.array_equal(f.events(max_shots=7), ref[:7])
    assert f.events(max_shots=10**9).shape[0] == 2000
    actual = f.actual_flips()
    assert actual.dtype == bool and actual.shape == (2000, 1)
    assert actual[:, 0].tolist() == [line == "1" for line in (R03 / "obs_flips_actual.01").read_text().split()]
    pm = f.predictions("pymatching", max_shots=100)
    assert pm.shape == (100, 1)
    assert f.circuit().num_detectors == 24 and f.circuit_dem().num_detectors == 24
    assert f.pij_dem("even").num_detectors == 24
    assert f.layout().basis == "x"
    with pytest.raises(ExperimentFolderError, match="circuit_noisy.stim, which is missing"):
        f.noisy_circuit()
    with pytest.raises(ExperimentFolderError, match="no predictions of magic"):
        f.predictions("magic")


def test_halves_and_pij_names():
    assert half_indices(7, "even").tolist() == [0, 2, 4, 6]
    assert half_indices(7, "odd").tolist() == [1, 3, 5]
    assert other_half("even") == "odd" and other_half("odd") == "even"
    assert pij_file("even") == "pij_from_even_for_odd.dem"
    with pytest.raises(ValueError, match="half must be"):
        half_indices(3, "first")


def test_any_folder_of_this_form_loads(make_experiment_folder):
    """A Z-basis d=5 folder made from our own circuit: read, laid out, and its shots are Stim's."""
    exp = MemoryExperiment(5, 4, 0.004, "z")
    f = read_experiment_folder(make_experiment_folder(exp, shots=300, seed=3))
    assert (f.basis, f.distance, f.rounds, f.shots) == ("z", 5, 4, 300)
    assert f.layout().basis == "z"
    events, obs = exp.circuit().compile_detector_sampler(seed=3).sample(300, separate_observables=True,
                                                                        bit_packed=True)
    assert np.array_equal(f.events(), events)
    assert np.array_equal(f.actual_flips()[:, 0], np.unpackbits(obs, axis=1, bitorder="little", count=1)[:, 0] == 1)
    assert f.noisy_circuit().num_detectors == exp.circuit().num_detectors


@pytest.fixture
def folder_copy(tmp_path):
    dst = tmp_path / R03.name
    shutil.copytree(R03, dst)
    return dst


@pytest.mark.parametrize("name", ["properties.yml", "circuit_ideal.stim", "detection_events.b8", "obs_flips_actual.01"])
def test_a_missing_file_is_named(folder_copy, name):
    (folder_copy / name).unlink()
    with pytest.raises(ExperimentFolderError, match=f"{name} is missing"):
        read_experiment_folder(folder_copy)


@pytest.mark.parametrize("name,cut,message", [
    ("detection_events.b8", 3, "detection_events.b8 is short: 5997 bytes, 2000 shots of 24 bits need 6000"),
    ("obs_flips_actual.01", 2, "obs_flips_actual.01 is short: 3998 bytes"),
    ("obs_flips_predicted_by_tensor_network_contraction.01", 1, "tensor_network_contraction.01 is short"),
])
def test_a_short_file_is_named(folder_copy, name, cut, message):
    path = folder_copy / name
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(ExperimentFolderError, match=message):
        read_experiment_folder(folder_copy)


@pytest.mark.parametrize("edit,message", [
    (lambda text: text.replace("shots: 2000", "shots: 2001"), "detection_events.b8 is short"),
    (lambda text: text.replace("circuit_detectors: 24", "circuit_detectors: 25"),
     "has 24 detectors, .*properties.yml says 25"),
    (lambda text: text.replace("distance: 3\n", ""), "lacks distance"),
    (lambda text: text.replace("basis: X", "basis: Y"), "basis must be X or Z"),
    (lambda text: text + "nested:\n  - 1\n", "line 15: expected a flat 'key: value' line"),
])
def test_properties_are_checked(folder_copy, edit, message):
    props = folder_copy / "properties.yml"
    props.write_text(edit(props.read_text()))
    with pytest.raises(ExperimentFolderError, match=message):
        read_experiment_folder(folder_copy)


def test_properties_are_flat_yaml(tmp_path):
    props = tmp_path / "properties.yml"
    props.write_text("# a comment\nshots: '7'\nratio: 0.5\n")
    assert read_properties(str(props)) == {"shots": "7", "ratio": 0.5}


def test_bad_shot_contents_and_dems_are_one_line(folder_copy, tmp_path):
    flips = folder_copy / "obs_flips_actual.01"
    flips.write_bytes(b"2\n" + flips.read_bytes()[2:])
    f = read_experiment_folder(folder_copy)
    with pytest.raises(ExperimentFolderError, match="obs_flips_actual.01 line 1 holds characters other than 0 and 1"):
        f.actual_flips()
    (folder_copy / "pij_from_odd_for_even.dem").unlink()
    with pytest.raises(ExperimentFolderError, match="p_ij DEM of the odd shots needs pij_from_odd_for_even.dem"):
        f.pij_dem("odd")
    other = DATA / "surface_code_bX_d3_r05_center_3_5" / "circuit_detector_error_model.dem"
    shutil.copy(other, folder_copy / "circuit_detector_error_model.dem")
    with pytest.raises(ExperimentFolderError, match="has 40 detectors, the circuit 24"):
        f.circuit_dem()
    with pytest.raises(ExperimentFolderError, match="does not exist"):
        read_experiment_folder(tmp_path / "nowhere")
    with pytest.raises(ExperimentFolderError, match="is not a directory"):
        read_experiment_folder(folder_copy / "properties.yml")
