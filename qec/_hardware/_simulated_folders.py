"""An experiment folder in Google's layout written from a simulated experiment: the data the
hardware tools read, made on any machine (tests, examples, a pipeline tried before real data).

Example:
    >>> import tempfile
    >>> from qec import MemoryExperiment, read_experiment_folder
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = write_experiment_folder(tmp.name, MemoryExperiment(3, 3, 0.005), shots=100, seed=1)
    >>> f = read_experiment_folder(path)
    >>> f.distance, f.rounds, f.shots, f.prediction_names
    (3, 3, 100, ('pymatching',))
    >>> tmp.cleanup()
"""

from __future__ import annotations

import os

import numpy as np

from qec._circuits._memory_experiment import MemoryExperiment
from qec._decoding._pymatching_decoder import PyMatchingDecoder


def _bits_01(flips: np.ndarray) -> bytes:
    return b"".join(b"1\n" if f else b"0\n" for f in flips)


def write_experiment_folder(parent: str | os.PathLike, experiment: MemoryExperiment, shots: int, seed: int,
                            name: str | None = None) -> str:
    """Write ``parent/name`` (default: Google's name for the experiment, center (0, 0)) and return
    its path: the circuit (noiseless and noisy) and its DEM, ``shots`` shots sampled with Stim's
    detector sampler under ``seed`` (``detection_events.b8``, ``obs_flips_actual.01``), PyMatching's
    predictions (``obs_flips_predicted_by_pymatching.01``) and ``properties.yml``."""
    name = name or (f"surface_code_b{experiment.basis.upper()}_d{experiment.distance}_"
                    f"r{experiment.rounds:02d}_center_0_0")
    path = os.path.join(os.fspath(parent), name)
    os.mkdir(path)
    circuit = experiment.circuit()
    circuit.without_noise().to_file(os.path.join(path, "circuit_ideal.stim"))
    circuit.to_file(os.path.join(path, "circuit_noisy.stim"))
    experiment.dem().to_file(os.path.join(path, "circuit_detector_error_model.dem"))
    events, obs = circuit.compile_detector_sampler(seed=seed).sample(shots, separate_observables=True, bit_packed=True)
    with open(os.path.join(path, "detection_events.b8"), "wb") as f:
        f.write(events.tobytes())
    flips = np.unpackbits(obs, axis=1, bitorder="little", count=1)
    with open(os.path.join(path, "obs_flips_actual.01"), "wb") as f:
        f.write(_bits_01(flips[:, 0]))
    pred = PyMatchingDecoder(experiment.dem()).decode_batch(events, bit_packed=True)
    pred = np.unpackbits(pred, axis=1, bitorder="little", count=1)
    with open(os.path.join(path, "obs_flips_predicted_by_pymatching.01"), "wb") as f:
        f.write(_bits_01(pred[:, 0]))
    with open(os.path.join(path, "properties.yml"), "w") as f:
        f.write(f"type: surface_code_memory_experiment\nbasis: {experiment.basis.upper()}\nrounds: {experiment.rounds}\n"
                f"distance: {experiment.distance}\nshots: {shots}\ncenter_data_qubit_row: 0\ncenter_data_qubit_col: 0\n"
                f"circuit_detectors: {circuit.num_detectors}\ncircuit_observables: {circuit.num_observables}\n")
    return path
