"""Rotated surface-code memory experiments: circuits, noise models, layout, correction basis,
labeled sampling, matching and statistics."""

from qec.circuits import BASES, MemoryExperiment, memory_circuit
from qec.noise import NOISE_MODELS, CircuitNoise, scale_qubit_noise
from qec.decoders import DECODERS, get_decoder
from qec.ler import LerResult, LerTask, collect_ler

__all__ = [
    "BASES",
    "DECODERS",
    "LerResult",
    "LerTask",
    "collect_ler",
    "get_decoder",
    "NOISE_MODELS",
    "CircuitNoise",
    "MemoryExperiment",
    "memory_circuit",
    "scale_qubit_noise",
]
