"""One entry for every estimator of a DEM's probabilities from detection events.

Example:
    >>> from qec import MemoryExperiment
    >>> from noise_learning import DemStructure
    >>> exp = MemoryExperiment(3, 3, 0.005)
    >>> events = exp.circuit().compile_detector_sampler(seed=1).sample(20000)
    >>> structure = DemStructure.from_dem(exp.dem())
    >>> [learn_dem(events, structure, estimator=e, max_iterations=3).method for e in ESTIMATORS]
    ['likelihood', 'hyperedge']
"""

from __future__ import annotations

import numpy as np

from noise_learning._correlations import CorrelationEstimator, EstimatedModel
from noise_learning._structure import DemStructure
from qec import QecError

__all__ = ["ESTIMATORS", "learn_dem"]

# The estimators from events, the default first.
ESTIMATORS = ("likelihood", "correlations")


def learn_dem(events: np.ndarray, structure: DemStructure, *, estimator: str = "likelihood",
              method: str = "hyperedge", pool_rounds: bool = False, bit_packed: bool = False,
              progress: bool = False, max_iterations: int = 100) -> EstimatedModel:
    """The model of ``events`` (bool (shots, detectors), or Stim's bit-packed layout) on
    ``structure`` by ``estimator``: ``"likelihood"``
    (:class:`~noise_learning._likelihood.LikelihoodEstimator`, always with the hyperedges) or
    ``"correlations"`` (:class:`CorrelationEstimator` with ``method``). ``pool_rounds``: one
    weight per mechanism and its translates in time; ``progress``, ``max_iterations``: the
    likelihood fit's."""
    if estimator not in ESTIMATORS:
        raise QecError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {estimator!r}")
    if estimator == "likelihood":
        from noise_learning._likelihood import LikelihoodEstimator

        return LikelihoodEstimator(structure, pool_rounds=pool_rounds, progress=progress,
                                   max_iterations=max_iterations).fit(events, bit_packed=bit_packed)
    return CorrelationEstimator(structure, method=method, pool_rounds=pool_rounds).fit(events, bit_packed=bit_packed)
