"""Noise learning: matching-graph edge probabilities from detection events alone.

- :mod:`noise_learning._structure`: the structure of a DEM (which errors exist, no probabilities).
- :mod:`noise_learning._correlations`: the two-point (and 3-/4-point hyperedge) correlation
  estimator, its DEM output and a sliding-window form for drifting noise.
- :mod:`noise_learning._likelihood`: maximum (composite or exact) likelihood estimates, started
  from the correlation estimate (:mod:`noise_learning._window_likelihood`,
  :mod:`noise_learning._exact_likelihood`).
- :mod:`noise_learning._evaluate`: paired decodings (:class:`~noise_learning._evaluate.DecodedShots`)
  and per-edge error statistics.
- :mod:`noise_learning._experiment_dems`: DEMs learned from half of an experiment folder's shots
  (``LearnedDem``, the ``--dem learned`` of ``qec hardware``).
- :mod:`noise_learning._comparison`: the simulated experiment "true / learned / nominal / uniform
  DEM on the same test shots" (``qec learn-noise --distance ...`` and the benchmarks).
- :mod:`noise_learning._network`: the paper's learned 25-parameter estimator (comparison).
"""

from noise_learning._comparison import DEM_KINDS, LearnedDemComparison, compare_learned_dem
from noise_learning._correlations import (
    CorrelationEstimator,
    EstimatedModel,
    SlidingWindowEstimator,
    estimate_dem,
)
from noise_learning._evaluate import DecodedShots
from noise_learning._experiment_dems import LearnedDem, folder_structure, learn_folder_dem
from noise_learning._learn import ESTIMATORS, learn_dem
from noise_learning._likelihood import LikelihoodEstimator, LikelihoodFit, dem_log_likelihood
from noise_learning._structure import DemStructure, graph_edge_probabilities, structure_from_circuit

__all__ = [
    "DEM_KINDS",
    "CorrelationEstimator",
    "DecodedShots",
    "DemStructure",
    "EstimatedModel",
    "ESTIMATORS",
    "LearnedDem",
    "LearnedDemComparison",
    "LikelihoodEstimator",
    "LikelihoodFit",
    "SlidingWindowEstimator",
    "compare_learned_dem",
    "dem_log_likelihood",
    "estimate_dem",
    "folder_structure",
    "graph_edge_probabilities",
    "learn_dem",
    "learn_folder_dem",
    "structure_from_circuit",
]
