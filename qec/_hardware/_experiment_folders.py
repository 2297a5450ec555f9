"""Experiment folders: one memory experiment's circuits, DEMs, measured shots and other decoders'
predictions, in the layout of Google's published surface-code data.

A folder holds (Google Quantum AI's ``google_qec3v5_experiment_data`` release; other releases
converted to it load the same way):

==========================================  ==========================================================
``properties.yml``                          flat ``key: value`` lines: ``basis``, ``rounds``,
                                            ``distance``, ``shots``, ``circuit_detectors``,
                                            ``circuit_observables`` (required); the patch's
                                            ``center_data_qubit_row`` / ``_col`` (optional)
``circuit_ideal.stim``                      the noiseless circuit as run (required)
``detection_events.b8``                     measured detection events, Stim's b8 (required)
``obs_flips_actual.01``                     measured logical observable flips, Stim's 01 (required)
``circuit_noisy.stim``                      the circuit with a noise model (optional)
``circuit_detector_error_model.dem``        the DEM of that noise model (optional)
``pij_from_even_for_odd.dem``, ``..._odd_for_even.dem``  DEMs estimated from half of the shots
``obs_flips_predicted_by_<decoder>.01``     a decoder's predictions on the same shots (any number)
==========================================  ==========================================================

:func:`read_experiment_folder` checks what it can before anything is decoded (every required
file present, sizes of the shot files against ``properties.yml``, the circuit's detector and
observable counts) and raises :class:`ExperimentFolderError` with one line naming the folder
and the file.

Halves: shots are split by index, even and odd, as the ``pij_*`` files are; anything estimated
from one half is scored on the other.

Example (a folder simulated with :func:`qec.hardware.write_experiment_folder`):
    >>> import tempfile
    >>> from qec import MemoryExperiment
    >>> from qec.hardware import write_experiment_folder
    >>> tmp = tempfile.TemporaryDirectory()
    >>> f = read_experiment_folder(write_experiment_folder(tmp.name, MemoryExperiment(3, 3, 0.005), 2000, seed=1))
    >>> f.distance, f.rounds, f.basis, f.shots, f.center
    (3, 3, 'x', 2000, (0, 0))
    >>> f.events(max_shots=10).shape, f.actual_flips(max_shots=10).shape
    ((10, 3), (10, 1))
    >>> f.prediction_names
    ('pymatching',)
    >>> tmp.cleanup()
"""

from __future__ import annotations

import dataclasses
import os
from typing import Mapping

import numpy as np
import stim

from qec._data._dem_files import DemMismatchError, check_dem_fits, read_dem
from qec._errors import QecError
from qec._data._shot_files import ShotFileError, read_01_file, read_b8_file

PROPERTIES = "properties.yml"
CIRCUIT = "circuit_ideal.stim"
NOISY_CIRCUIT = "circuit_noisy.stim"
CIRCUIT_DEM = "circuit_detector_error_model.dem"
EVENTS = "detection_events.b8"
ACTUAL_FLIPS = "obs_flips_actual.01"
PREDICTION_PREFIX = "obs_flips_predicted_by_"
HALVES = ("even", "odd")
REQUIRED_FILES = (PROPERTIES, CIRCUIT, EVENTS, ACTUAL_FLIPS)
REQUIRED_PROPERTIES = ("basis", "rounds", "distance", "shots", "circuit_detectors", "circuit_observables")


class ExperimentFolderError(QecError):
    """A folder that is not a readable experiment folder (one line naming the folder and file)."""


def pij_file(fitted_on: str) -> str:
    """The file name of the p_ij DEM estimated from half ``fitted_on`` (for decoding the other)."""
    if fitted_on not in HALVES:
        raise QecError(f"half must be one of {', '.join(HALVES)}, got {fitted_on!r}")
    other = HALVES[1 - HALVES.index(fitted_on)]
    return f"pij_from_{fitted_on}_for_{other}.dem"


def other_half(half: str) -> str:
    """"even" <-> "odd"."""
    if half not in HALVES:
        raise QecError(f"half must be one of {', '.join(HALVES)}, got {half!r}")
    return HALVES[1 - HALVES.index(half)]


def half_indices(shots: int, half: str) -> np.ndarray:
    """int64 indices of the shots of ``half`` ("even" or "odd") among ``shots`` shots."""
    if half not in HALVES:
        raise QecError(f"half must be one of {', '.join(HALVES)}, got {half!r}")
    return np.arange(HALVES.index(half), shots, 2, dtype=np.int64)


def folder_files(path: str | os.PathLike) -> list[str]:
    """The paths of the files in the experiment folder ``path`` that the layout above names (what a
    run may read, so no output may replace one); other files, such as a previous run's output
    written into the folder, are not among them."""
    path = os.fspath(path)
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return []
    known = (PROPERTIES, CIRCUIT, NOISY_CIRCUIT, CIRCUIT_DEM, EVENTS, ACTUAL_FLIPS, *(pij_file(h) for h in HALVES))
    return [os.path.join(path, n) for n in names
            if n in known or (n.startswith(PREDICTION_PREFIX) and n.endswith(".01"))]


def read_properties(path: str) -> dict[str, object]:
    """A flat YAML mapping of ``key: value`` lines (ints, floats, strings); anything nested or
    malformed raises :class:`ExperimentFolderError` naming the line."""
    out: dict[str, object] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            text = line.split("#", 1)[0].rstrip()
            if not text.strip():
                continue
            key, sep, value = text.partition(":")
            if not sep or line[:1].isspace() or not key.strip() or not value.strip():
                raise ExperimentFolderError(f"{path} line {number}: expected a flat 'key: value' line")
            out[key.strip()] = _scalar(value.strip())
    return out


def _scalar(text: str) -> object:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


@dataclasses.dataclass(frozen=True, eq=False)
class ExperimentFolder:
    """One experiment folder, checked (see the module docstring). Files are read on demand.

    Attributes:
        path: the folder.
        name: its base name.
        basis: memory basis, ``"x"`` or ``"z"``.
        distance, rounds, shots: from ``properties.yml``.
        center: (row, col) of the patch's center data qubit, or None when not given.
        num_detectors, num_observables: the circuit's.
        properties: everything ``properties.yml`` holds.
        prediction_names: decoders with an ``obs_flips_predicted_by_<name>.01`` file, sorted.
    """

    path: str
    name: str
    basis: str
    distance: int
    rounds: int
    shots: int
    center: tuple[int, int] | None
    num_detectors: int
    num_observables: int
    properties: Mapping[str, object]
    prediction_names: tuple[str, ...]

    def file(self, name: str) -> str:
        """Path of the folder's file ``name``."""
        return os.path.join(self.path, name)

    def has(self, name: str) -> bool:
        """Whether the folder holds a file ``name``."""
        return os.path.isfile(self.file(name))

    def _need(self, name: str, what: str) -> str:
        path = self.file(name)
        if not os.path.isfile(path):
            raise ExperimentFolderError(f"{self.path}: {what} needs {name}, which is missing")
        return path

    def circuit(self) -> stim.Circuit:
        """The noiseless circuit as run (``circuit_ideal.stim``)."""
        return stim.Circuit.from_file(self.file(CIRCUIT))

    def noisy_circuit(self) -> stim.Circuit:
        """``circuit_noisy.stim``; :class:`ExperimentFolderError` when the folder has none."""
        return stim.Circuit.from_file(self._need(NOISY_CIRCUIT, "the noisy circuit"))

    def dem(self, name: str, what: str = "this DEM") -> stim.DetectorErrorModel:
        """A DEM file of the folder, checked against its circuit (detectors, coordinates,
        observables); one-line errors for a missing, unreadable or mismatched file."""
        path = self._need(name, what)
        dem = read_dem(path, what=name)
        try:
            check_dem_fits(dem, self.circuit(), name=f"{self.path}/{name}")
        except DemMismatchError as e:
            raise ExperimentFolderError(str(e)) from None
        return dem

    def circuit_dem(self) -> stim.DetectorErrorModel:
        """``circuit_detector_error_model.dem``: the DEM of the folder's noise model."""
        return self.dem(CIRCUIT_DEM, what="the circuit DEM")

    def pij_dem(self, fitted_on: str) -> stim.DetectorErrorModel:
        """The p_ij DEM estimated from half ``fitted_on`` (to decode the other half)."""
        return self.dem(pij_file(fitted_on), what=f"the p_ij DEM of the {fitted_on} shots")

    def events(self, max_shots: int | None = None) -> np.ndarray:
        """Detection events of the first ``max_shots`` shots (all when None), bit-packed: uint8
        (shots, ceil(num_detectors / 8)), Stim's little-endian layout."""
        try:
            return read_b8_file(self.file(EVENTS), self.num_detectors, self._take(max_shots),
                                name=self.file(EVENTS))
        except ShotFileError as e:
            raise ExperimentFolderError(str(e)) from None

    def actual_flips(self, max_shots: int | None = None) -> np.ndarray:
        """Measured observable flips: bool (shots, num_observables)."""
        return self._flips(ACTUAL_FLIPS, max_shots)

    def predictions(self, decoder: str, max_shots: int | None = None) -> np.ndarray:
        """``obs_flips_predicted_by_<decoder>.01``: bool (shots, num_observables)."""
        if decoder not in self.prediction_names:
            raise ExperimentFolderError(
                f"{self.path}: no predictions of {decoder} ({PREDICTION_PREFIX}{decoder}.01 is missing)"
            )
        return self._flips(f"{PREDICTION_PREFIX}{decoder}.01", max_shots)

    def _flips(self, name: str, max_shots: int | None) -> np.ndarray:
        try:
            return read_01_file(self.file(name), self.num_observables, self._take(max_shots), name=self.file(name))
        except ShotFileError as e:
            raise ExperimentFolderError(str(e)) from None

    def _take(self, max_shots: int | None) -> int:
        return self.shots if max_shots is None else min(int(max_shots), self.shots)

    @property
    def patch(self) -> tuple[int, tuple[int, int] | None, str]:
        """(distance, center, basis): experiments of one patch differ only in their rounds."""
        return (self.distance, self.center, self.basis)

    def layout(self):
        """The circuit's :class:`qec._encoding._layout.SpaceTimeLayout`, its basis named by the folder."""
        from qec._encoding._layout import SpaceTimeLayout

        return SpaceTimeLayout.from_circuit(self.circuit(), basis=self.basis)


def read_experiment_folder(path: str | os.PathLike) -> ExperimentFolder:
    """Open and check one experiment folder (see the module docstring)."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise ExperimentFolderError(f"{path} is not a directory" if os.path.exists(path) else f"{path} does not exist")
    for name in REQUIRED_FILES:
        if not os.path.isfile(os.path.join(path, name)):
            raise ExperimentFolderError(f"{path}: {name} is missing")
    props_path = os.path.join(path, PROPERTIES)
    props = read_properties(props_path)
    missing = [k for k in REQUIRED_PROPERTIES if k not in props]
    if missing:
        raise ExperimentFolderError(f"{props_path} lacks {', '.join(missing)}")
    ints = {}
    for key in ("rounds", "distance", "shots", "circuit_detectors", "circuit_observables"):
        v = props[key]
        if not isinstance(v, int) or v < (0 if key == "circuit_observables" else 1):
            raise ExperimentFolderError(f"{props_path}: {key} must be a positive integer, got {v!r}")
        ints[key] = v
    basis = str(props["basis"]).lower()
    if basis not in ("x", "z"):
        raise ExperimentFolderError(f"{props_path}: basis must be X or Z, got {props['basis']!r}")
    center = None
    if "center_data_qubit_row" in props and "center_data_qubit_col" in props:
        center = (props["center_data_qubit_row"], props["center_data_qubit_col"])
        if not all(isinstance(v, int) for v in center):
            raise ExperimentFolderError(f"{props_path}: center_data_qubit_row/_col must be integers")

    circuit_path = os.path.join(path, CIRCUIT)
    try:
        circuit = stim.Circuit.from_file(circuit_path)
    except Exception as e:  # Stim raises ValueError on bad text; undecodable bytes raise UnicodeDecodeError
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ExperimentFolderError(f"{circuit_path} is not a Stim circuit: {first}") from None
    for key, have in (("circuit_detectors", circuit.num_detectors), ("circuit_observables", circuit.num_observables)):
        if have != ints[key]:
            raise ExperimentFolderError(f"{circuit_path} has {have} {key.split('_')[1]}, {props_path} says {ints[key]}")

    shots, n_det, n_obs = ints["shots"], ints["circuit_detectors"], ints["circuit_observables"]
    sizes = {EVENTS: shots * ((n_det + 7) // 8), ACTUAL_FLIPS: shots * (n_obs + 1)}
    predictions = sorted(
        f[len(PREDICTION_PREFIX):-3] for f in os.listdir(path) if f.startswith(PREDICTION_PREFIX) and f.endswith(".01")
    )
    for name in predictions:
        sizes[f"{PREDICTION_PREFIX}{name}.01"] = shots * (n_obs + 1)
    for name, want in sizes.items():
        have = os.path.getsize(os.path.join(path, name))
        if have != want:
            kind = "short" if have < want else "too long"
            raise ExperimentFolderError(
                f"{os.path.join(path, name)} is {kind}: {have} bytes, {shots} shots of "
                f"{n_det if name == EVENTS else n_obs} bits need {want}"
            )
    return ExperimentFolder(
        path=path,
        name=os.path.basename(os.path.normpath(path)),
        basis=basis,
        distance=ints["distance"],
        rounds=ints["rounds"],
        shots=shots,
        center=center,
        num_detectors=n_det,
        num_observables=n_obs,
        properties=dict(props),
        prediction_names=tuple(predictions),
    )
