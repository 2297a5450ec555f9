"""DEMs learned from an experiment folder's measured shots (:mod:`qec._hardware._experiment_folders`).

The structure (which error mechanisms exist) comes from the folder: its
``circuit_detector_error_model.dem`` when present, else its noisy circuit's DEM, else its
noiseless circuit with this project's noise inserted; the probabilities come only from the
detection events of one half of the shots (even or odd index), through
:class:`noise_learning._correlations.CorrelationEstimator` (3- and 4-point hyperedges; by default
each mechanism's weight pooled over its translates in time, the first and last detector layers
kept per round). :class:`LearnedDem` is the DEM source
``qec hardware --dem learned`` uses: each half is decoded with the DEM learned from the other.

Example (a folder simulated with :func:`qec.hardware.write_experiment_folder`):
    >>> import tempfile
    >>> from qec import MemoryExperiment, read_experiment_folder
    >>> from qec.hardware import write_experiment_folder
    >>> tmp = tempfile.TemporaryDirectory()
    >>> folder = read_experiment_folder(write_experiment_folder(tmp.name, MemoryExperiment(3, 1, 0.005), 2000, seed=1))
    >>> model = learn_folder_dem(folder, "even")  # one round: a fit of a few ms (three rounds: 20 s)
    >>> model.shots, model.dem().num_detectors
    (1000, 8)
    >>> tmp.cleanup()
"""

from __future__ import annotations

import dataclasses

import stim

from noise_learning._correlations import EstimatedModel
from noise_learning._learn import ESTIMATORS, learn_dem
from noise_learning._structure import DemStructure, structure_from_circuit
from qec.files import check_dem_decodable
from qec import ExperimentFolder, QecError
from qec.hardware import CIRCUIT_DEM, NOISY_CIRCUIT, half_indices

__all__ = ["LearnedDem", "folder_structure", "learn_folder_dem"]


def folder_structure(folder: ExperimentFolder) -> DemStructure:
    """The folder's DEM structure: its circuit DEM, else its noisy circuit's, else its
    noiseless circuit with noise inserted (probabilities discarded in every case)."""
    if folder.has(CIRCUIT_DEM):
        return DemStructure.from_dem(folder.circuit_dem())
    if folder.has(NOISY_CIRCUIT):
        return structure_from_circuit(folder.noisy_circuit())
    return structure_from_circuit(folder.circuit())


def learn_folder_dem(
    folder: ExperimentFolder, half: str, *, max_shots: int | None = None, estimator: str = "likelihood",
    method: str = "hyperedge", pool_rounds: bool = True, progress: bool = False,
) -> EstimatedModel:
    """The DEM estimated from the detection events of ``half`` ("even" or "odd") of the first
    ``max_shots`` shots (all when None): for decoding the *other* half.

    Args:
        estimator: ``"likelihood"`` (:class:`~noise_learning._likelihood.LikelihoodEstimator`,
            started from the correlation estimate) or ``"correlations"``
            (:class:`~noise_learning._correlations.CorrelationEstimator` with ``method``).
        pool_rounds: one weight per mechanism and its translates in time.
        progress: the likelihood fit's progress bar on stderr.
    """
    if estimator not in ESTIMATORS:
        raise QecError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {estimator!r}")
    events = folder.events(max_shots)
    idx = half_indices(len(events), half)
    if len(idx) == 0:
        raise QecError(f"{folder.path}: the {half} half holds no shots")
    return learn_dem(events[idx], folder_structure(folder), estimator=estimator, method=method,
                     pool_rounds=pool_rounds, bit_packed=True, progress=progress)


@dataclasses.dataclass(frozen=True)
class LearnedDem:
    """DEM source (see :mod:`qec._hardware._hardware_scores`): learned from the other half's events.

    Attributes:
        estimator: ``"likelihood"`` (default) or ``"correlations"``.
        method: the correlation estimator's method, ``"hyperedge"`` (default) or ``"pairwise"``.
        pool_rounds: pool each mechanism's weight over its translates in time (default).
    """

    estimator: str = "likelihood"
    method: str = "hyperedge"
    pool_rounds: bool = True
    per_half: bool = True

    @property
    def label(self) -> str:
        """``learned`` (the default estimate); ``learned-correlations``, ``-pairwise`` and
        ``-per-round`` name the others."""
        if self.estimator == "likelihood":
            name = "learned"
        else:
            name = "learned-correlations" + ("" if self.method == "hyperedge" else f"-{self.method}")
        return name + ("" if self.pool_rounds else "-per-round")

    def dem(self, folder: ExperimentFolder, fitted_on: str, max_shots: int | None = None) -> stim.DetectorErrorModel:
        """The DEM learned from the ``fitted_on`` half of ``folder``'s shots. Too few shots for the
        moment estimate a likelihood fit starts from (errors at zero that matching cannot do
        without) are a :class:`qec._data._dem_files.DegenerateDemError`: the fit's own DEM would decode,
        but from nothing the data said."""
        model = learn_folder_dem(folder, fitted_on, max_shots=max_shots, estimator=self.estimator,
                                 method=self.method, pool_rounds=self.pool_rounds)
        if model.likelihood_fit is not None:
            check_dem_decodable(model.likelihood_fit.start.dem(),
                                f"{folder.path}: DEM {self.label} (fitted on the {fitted_on} half) started from a "
                                f"moment estimate that", hint="learn from more shots (10^4 or more)")
        return model.dem()
