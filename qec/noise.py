"""Noise, for packages built on ``qec``: the noise models and their versions (recorded with every
result), noise inserted into a noiseless circuit, Hadamard folding and per-qubit scaling.
"""

from qec._circuits._noise import NOISE_MODELS, UNRECORDED_NOISE_VERSION, CircuitNoise, noise_label, noise_version
from qec._circuits._noise_insertion import fold_hadamards, insert_circuit_noise, scale_qubit_noise

__all__ = [
    "NOISE_MODELS",
    "UNRECORDED_NOISE_VERSION",
    "CircuitNoise",
    "fold_hadamards",
    "insert_circuit_noise",
    "noise_label",
    "noise_version",
    "scale_qubit_noise",
]
