"""Rotated surface-code memory experiments: circuits, noise models, layout, correction basis,
labeled sampling, matching and statistics."""

from qec.circuits import BASES, MemoryExperiment, memory_circuit
from qec.noise import NOISE_MODELS, CircuitNoise, scale_qubit_noise

__all__ = [
    "BASES",
    "NOISE_MODELS",
    "CircuitNoise",
    "MemoryExperiment",
    "memory_circuit",
    "scale_qubit_noise",
]
