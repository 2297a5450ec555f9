"""Rotated surface-code memory experiments: circuits, noise models, layout, correction basis,
labeled sampling, matching and statistics; hardware experiment folders."""

from qec.circuits import BASES, MemoryExperiment, memory_circuit
from qec.decoders import DECODERS, get_decoder
from qec.errors import QecError
from qec.ler import LerResult, LerTask, collect_ler
from qec.correction_basis import CORRECTION_CHANNELS, CorrectionBasis, gf2_product
from qec.labels import ErrorLabels, LabelError, dem_error_labels
from qec.experiment_folders import ExperimentFolder, ExperimentFolderError, read_experiment_folder
from qec.hardware_scores import GOOGLE_DECODERS, HardwareScores, hardware_columns, score_hardware
from qec.layout import EVENT_CHANNELS, LayoutError, SpaceTimeLayout
from qec.memory_circuit_structure import CircuitStructureError, MemoryCircuitStructure, read_memory_structure
from qec.noise import NOISE_MODELS, CircuitNoise
from qec.noise_insertion import scale_qubit_noise
from qec.sampling import SAMPLING_METHODS, LabeledSampler

__all__ = [
    "BASES",
    "CORRECTION_CHANNELS",
    "DECODERS",
    "LerResult",
    "LerTask",
    "collect_ler",
    "get_decoder",
    "EVENT_CHANNELS",
    "NOISE_MODELS",
    "SAMPLING_METHODS",
    "CircuitNoise",
    "CircuitStructureError",
    "CorrectionBasis",
    "ErrorLabels",
    "ExperimentFolder",
    "ExperimentFolderError",
    "QecError",
    "GOOGLE_DECODERS",
    "HardwareScores",
    "LabelError",
    "LabeledSampler",
    "LayoutError",
    "MemoryCircuitStructure",
    "MemoryExperiment",
    "SpaceTimeLayout",
    "dem_error_labels",
    "gf2_product",
    "hardware_columns",
    "memory_circuit",
    "read_experiment_folder",
    "read_memory_structure",
    "scale_qubit_noise",
    "score_hardware",
]
