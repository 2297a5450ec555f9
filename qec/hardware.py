"""Hardware data, for packages built on ``qec``: experiment folders in Google's layout, their halves
of shots, which shots a DEM or model was fitted on (provenance), and decoders scored on hardware
shots; a folder written from a simulated experiment.
"""

from qec._hardware._dem_provenance import FittedOn, provenance_header, read_provenance, records_from_json
from qec._hardware._experiment_folders import (
    CIRCUIT_DEM,
    HALVES,
    NOISY_CIRCUIT,
    ExperimentFolder,
    ExperimentFolderError,
    half_indices,
    other_half,
    read_experiment_folder,
)
from qec._hardware._dem_folders import LearnedDemFiles, dem_folder
from qec._hardware._simulated_folders import write_experiment_folder
from qec._hardware._hardware_columns import GOOGLE_DECODERS, hardware_columns
from qec._hardware._hardware_results import HardwareScores
from qec._hardware._hardware_scores import score_hardware

__all__ = [
    "CIRCUIT_DEM",
    "GOOGLE_DECODERS",
    "HALVES",
    "NOISY_CIRCUIT",
    "ExperimentFolder",
    "ExperimentFolderError",
    "FittedOn",
    "HardwareScores",
    "LearnedDemFiles",
    "dem_folder",
    "half_indices",
    "hardware_columns",
    "other_half",
    "provenance_header",
    "read_experiment_folder",
    "read_provenance",
    "records_from_json",
    "score_hardware",
    "write_experiment_folder",
]
