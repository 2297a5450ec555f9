"""Shots as a network's tensors and back, for packages built on ``qec`` (the pre-decoder): the
circuit's structure, the space-time layout, the correction basis, training labels, labeled
sampling, and Stim's bit-packed shot layout.

The front door (``qec``) offers the most used of these names too; this module is their one public
home for code that encodes shots.
"""

from qec._encoding._bit_packing import check_shots, pack_bits, unpack_bits
from qec._encoding._correction_basis import CORRECTION_CHANNELS, CorrectionBasis, gf2_product
from qec._encoding._labels import ErrorLabels, LabelError, dem_error_labels
from qec._encoding._layout import EVENT_CHANNELS, LayoutError, SpaceTimeLayout
from qec._encoding._memory_circuit_structure import CircuitStructureError, MemoryCircuitStructure, read_memory_structure
from qec._encoding._sampling import SAMPLING_METHODS, LabeledSampler, dem_error_table

__all__ = [
    "CORRECTION_CHANNELS",
    "EVENT_CHANNELS",
    "SAMPLING_METHODS",
    "CircuitStructureError",
    "CorrectionBasis",
    "ErrorLabels",
    "LabelError",
    "LabeledSampler",
    "LayoutError",
    "MemoryCircuitStructure",
    "SpaceTimeLayout",
    "check_shots",
    "dem_error_labels",
    "dem_error_table",
    "gf2_product",
    "pack_bits",
    "read_memory_structure",
    "unpack_bits",
]
