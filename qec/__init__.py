"""Rotated surface-code memory experiments: circuits, noise models, layout, correction basis,
labeled sampling, matching and statistics; hardware experiment folders."""

from qec._circuits._memory_experiment import BASES, MemoryExperiment, memory_circuit
from qec._decoding._decoders import DECODERS, Decoder, get_decoder
from qec._errors import QecError
from qec._decoding._file_decoding import DecodedFile, decode_file
from qec._data._statistics import fit_ler, paired_z
from qec._data._stats_csv import read_csv_stats
from qec._collection._ler import LerResult, LerTask, collect_ler
from qec._encoding._correction_basis import CORRECTION_CHANNELS, CorrectionBasis, gf2_product
from qec._encoding._labels import ErrorLabels, LabelError, dem_error_labels
from qec._hardware._experiment_folders import ExperimentFolder, ExperimentFolderError, read_experiment_folder
from qec._hardware._hardware_columns import GOOGLE_DECODERS, hardware_columns
from qec._hardware._hardware_results import HardwareScores
from qec._hardware._hardware_scores import score_hardware
from qec._encoding._layout import EVENT_CHANNELS, LayoutError, SpaceTimeLayout
from qec._encoding._memory_circuit_structure import CircuitStructureError, MemoryCircuitStructure, read_memory_structure
from qec._circuits._noise import NOISE_MODELS, CircuitNoise
from qec._decoding._pymatching_decoder import PyMatchingDecoder
from qec._circuits._noise_insertion import scale_qubit_noise
from qec._encoding._sampling import SAMPLING_METHODS, LabeledSampler
from qec._decoding._window_decoder import WindowDecoder, WindowStream
from qec._decoding._window_plan import SlidingWindow

__all__ = [
    "BASES",
    "CORRECTION_CHANNELS",
    "DECODERS",
    "EVENT_CHANNELS",
    "GOOGLE_DECODERS",
    "NOISE_MODELS",
    "SAMPLING_METHODS",
    "CircuitNoise",
    "CircuitStructureError",
    "collect_ler",
    "CorrectionBasis",
    "decode_file",
    "DecodedFile",
    "Decoder",
    "dem_error_labels",
    "ErrorLabels",
    "ExperimentFolder",
    "ExperimentFolderError",
    "fit_ler",
    "get_decoder",
    "gf2_product",
    "hardware_columns",
    "HardwareScores",
    "LabeledSampler",
    "LabelError",
    "LayoutError",
    "LerResult",
    "LerTask",
    "memory_circuit",
    "MemoryCircuitStructure",
    "MemoryExperiment",
    "paired_z",
    "PyMatchingDecoder",
    "QecError",
    "read_csv_stats",
    "read_experiment_folder",
    "read_memory_structure",
    "scale_qubit_noise",
    "score_hardware",
    "SlidingWindow",
    "SpaceTimeLayout",
    "WindowDecoder",
    "WindowStream",
]
