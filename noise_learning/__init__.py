"""Noise learning: matching-graph edge probabilities from detection events alone.

- :mod:`noise_learning.structure`: the structure of a DEM (which errors exist, no probabilities).
- :mod:`noise_learning.correlations`: the two-point (and 3-/4-point hyperedge) correlation
  estimator, its DEM output and a sliding-window form for drifting noise.
- :mod:`noise_learning.evaluate`: paired LER comparisons and per-edge error statistics.
- :mod:`noise_learning.network`: the paper's learned 25-parameter estimator (comparison).
"""

from noise_learning.correlations import (
    CorrelationEstimator,
    EstimatedModel,
    SlidingWindowEstimator,
    estimate_dem,
    matching_from_dem,
)
from noise_learning.structure import DemStructure, graph_edge_probabilities, structure_from_circuit

__all__ = [
    "CorrelationEstimator",
    "DemStructure",
    "EstimatedModel",
    "SlidingWindowEstimator",
    "estimate_dem",
    "graph_edge_probabilities",
    "matching_from_dem",
    "structure_from_circuit",
]
