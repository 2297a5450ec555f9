"""Maximum-likelihood DEM probabilities from detection events and the DEM's structure.

The model is the correlation estimator's (:mod:`noise_learning._correlations`): independent
mechanisms, one per detector set of the structure (edges, boundaries, and the 3-/4-detector
supports of decomposed hyperedges), optionally one weight for all translates of a mechanism in
time. Instead of solving one moment equation per mechanism, the weights maximize the likelihood of
the events, started from the moment estimate, by L-BFGS on log-weights (torch autograd gives the
gradient):

- ``objective="windows"`` (default, any size): the composite likelihood of local space-time
  windows, each detector with the ``window_size - 1`` detectors it shares the most weight with,
  every window's marginal exact (:mod:`noise_learning._window_likelihood`). Every moment of every
  window enters, weighted by how much it says, so where the data are over-determined (a bulk
  detector's event rate against the mechanisms at it, the moments of pairs no mechanism joins)
  the fit compromises where the moment equations ignore them.
- ``objective="exact"``: the likelihood of whole shots, exact, by a transfer matrix over time
  (:mod:`noise_learning._exact_likelihood`); only for layers of at most 10 detectors (d = 3).

Each iteration's log-likelihood is recorded (:class:`LikelihoodFit`); a step that would lower it
is not taken (the fit stops there), so the record never decreases.

Example:
    >>> from qec import MemoryExperiment
    >>> exp = MemoryExperiment(3, 3, 0.005)
    >>> est = LikelihoodEstimator(DemStructure.from_dem(exp.dem()), max_iterations=5)
    >>> model = est.fit(exp.circuit().compile_detector_sampler(seed=1).sample(20000))
    >>> model.method, model.likelihood_fit.objective, model.dem().num_detectors
    ('likelihood', 'windows', 24)
    >>> ll = model.likelihood_fit.log_likelihood
    >>> all(b >= a for a, b in zip(ll, ll[1:]))
    True
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Sequence

import numpy as np
import stim

from noise_learning._correlations import CorrelationEstimator, EstimatedModel, iter_event_chunks
from noise_learning._structure import DemStructure
from qec import QecError

__all__ = ["LikelihoodEstimator", "LikelihoodFit", "OBJECTIVES", "dem_log_likelihood", "dem_mechanisms"]

OBJECTIVES = ("windows", "exact")
_FLOOR = 1e-5  # starting probability of mechanisms the moment estimate put at zero
_ROUND_ITERATIONS = 10  # L-BFGS iterations between two records of the log-likelihood


@dataclasses.dataclass(frozen=True)
class LikelihoodFit:
    """How a likelihood fit went.

    Attributes:
        objective: ``"windows"`` or ``"exact"``.
        log_likelihood: per shot, at the moment estimate and after each round of up to 10 L-BFGS
            iterations (never decreasing).
        converged: two rounds in a row gained less than the tolerance, the second after a restart
            of the optimizer's memory (else the iteration limit or a round that would have lowered
            the likelihood ended it).
        parameters: free weights (after pooling over rounds).
        windows: distinct windows of the composite likelihood (0 for the exact one).
        seconds: time of the fit (counting the windows' patterns included).
        start: the moment estimate the fit started from (an :class:`EstimatedModel`).
    """

    objective: str
    log_likelihood: tuple[float, ...]
    converged: bool
    parameters: int
    windows: int
    seconds: float
    start: EstimatedModel = dataclasses.field(repr=False, compare=False, default=None)

    @property
    def rounds(self) -> int:
        """Rounds of L-BFGS iterations taken."""
        return len(self.log_likelihood) - 1

    def to_json(self) -> dict:
        """JSON-ready: the fields, with the first and last log-likelihood only."""
        return {"objective": self.objective, "rounds": self.rounds, "converged": self.converged,
                "log_likelihood_start": self.log_likelihood[0], "log_likelihood": self.log_likelihood[-1],
                "parameters": self.parameters, "windows": self.windows, "seconds": round(self.seconds, 3)}


class LikelihoodEstimator:
    """Estimates a DEM's probabilities by maximum (composite) likelihood; see the module docstring.

    Args:
        structure: the DEM structure.
        objective: ``"windows"`` (composite likelihood, any circuit) or ``"exact"`` (layers of at
            most 10 detectors).
        window_size: detectors per window of the composite likelihood (2..16).
        pool_rounds, end_layers: one weight per mechanism and its translates in time, the first
            and last ``end_layers`` layers apart (as :class:`CorrelationEstimator`).
        max_iterations: L-BFGS iterations at most (default 200).
        tolerance: stop when two rounds of iterations in a row gain less log-likelihood per shot
            than this, the second after a restart of the optimizer's memory (the
            default, 1e-4, is far below the statistical noise of the estimate: about the number
            of parameters over twice the shots).
        progress: a progress bar on stderr.
    """

    def __init__(self, structure: DemStructure, *, objective: str = "windows", window_size: int = 12,
                 pool_rounds: bool = True, end_layers: int = 2, max_iterations: int = 200,
                 tolerance: float = 1e-4, progress: bool = False):
        if objective not in OBJECTIVES:
            raise QecError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
        if max_iterations < 0:
            raise QecError(f"max_iterations must be >= 0, got {max_iterations}")
        if not tolerance >= 0:
            raise QecError(f"tolerance must be >= 0, got {tolerance}")
        self.structure = structure
        self.objective = objective
        self.window_size = int(window_size)
        self.max_iterations = int(max_iterations)
        self.tolerance = float(tolerance)
        self.progress = bool(progress)
        self.start = CorrelationEstimator(structure, method="hyperedge", pool_rounds=pool_rounds,
                                          end_layers=end_layers)
        self.mechanisms = self.start.mechanisms
        parameter = np.arange(len(self.mechanisms))
        for group in self.start.translate_groups:
            parameter[group] = group.min()
        _, self.parameter = np.unique(parameter, return_inverse=True)
        self.num_parameters = int(self.parameter.max()) + 1 if len(self.parameter) else 0

    def fit(self, events: np.ndarray, *, bit_packed: bool = False) -> EstimatedModel:
        """The model from a (shots, detectors) bool array or Stim's bit-packed layout."""
        t0 = time.perf_counter()
        start = self.start.fit(events, bit_packed=bit_packed)
        w0 = -np.log(1.0 - 2.0 * np.clip(start.probabilities, _FLOOR, 0.45))
        theta0 = np.bincount(self.parameter, weights=w0) / np.bincount(self.parameter)
        D = self.structure.num_detectors
        chunks = iter_event_chunks(events, D, bit_packed)
        if self.objective == "exact":
            from noise_learning._exact_likelihood import ExactLikelihood

            coords = self.structure.template.get_detector_coordinates()
            if any(len(coords.get(d, ())) < 1 for d in range(D)):
                raise QecError("the exact likelihood needs detector coordinates with time last")
            times = np.asarray([coords[d][-1] for d in range(D)])
            objective = ExactLikelihood(self.mechanisms, self.parameter, times, np.concatenate(list(chunks)))
            windows = 0
        else:
            from noise_learning._window_likelihood import WindowLikelihood, local_windows

            wins = local_windows(self.mechanisms, w0, D, self.window_size)
            objective = WindowLikelihood(self.mechanisms, self.parameter, wins, chunks)
            windows = objective.distinct_windows
        theta, trace, converged = _maximize(objective, theta0, self.max_iterations, self.tolerance, self.progress)
        model = self.start.model_from_weights(theta[self.parameter], clamped=start.clamped,
                                              detector_rates=start.detector_rates, shots=start.shots, method="likelihood")
        model.likelihood_fit = LikelihoodFit(self.objective, tuple(trace), converged, self.num_parameters, windows,
                                             time.perf_counter() - t0, start)
        return model


def _maximize(objective, theta0: np.ndarray, max_iterations: int, tolerance: float,
              progress: bool) -> tuple[np.ndarray, list[float], bool]:
    """L-BFGS (strong Wolfe line search) on phi = ln(theta), in rounds of up to
    :data:`_ROUND_ITERATIONS` iterations; returns theta, the log-likelihood at the start and after
    each round (never decreasing), and whether it converged.

    A round that gains less than ``tolerance`` is either convergence or a stalled line search
    (its curvature memory gone stale: the step found no progress where there is some); the
    optimizer is restarted with fresh memory once, and the fit stops after two such rounds in a
    row. A round that would lower the likelihood (or give NaN) is not taken, and the fit stops."""
    import torch
    from tqdm import tqdm

    phi = torch.tensor(np.log(theta0), dtype=torch.float64, requires_grad=True)

    def fresh_optimizer():
        return torch.optim.LBFGS([phi], lr=1, max_iter=_ROUND_ITERATIONS, history_size=20,
                                 line_search_fn="strong_wolfe", tolerance_grad=0.0, tolerance_change=0.0)

    def closure():
        theta = torch.exp(phi.detach())
        value, grad = objective.value_and_grad(theta)
        phi.grad = -(grad * theta)
        return torch.tensor(-value, dtype=torch.float64)

    trace = [-float(closure())]
    accepted = phi.detach().clone()
    optimizer, iterations, stalls, converged = fresh_optimizer(), 0, 0, max_iterations == 0
    bar = tqdm(total=max_iterations, desc="likelihood fit", unit="it", file=sys.stderr, disable=not progress,
               leave=False, mininterval=1.0)
    with bar:
        while iterations < max_iterations:
            optimizer.param_groups[0]["max_iter"] = min(_ROUND_ITERATIONS, max_iterations - iterations)
            before = optimizer.state[phi].get("n_iter", 0)
            optimizer.step(closure)
            done = optimizer.state[phi].get("n_iter", 0) - before
            iterations += max(done, 1)
            value = -float(closure())
            if not value >= trace[-1]:  # a round that lowers the likelihood (or NaN) is not taken
                with torch.no_grad():
                    phi.copy_(accepted)
                break
            gain = value - trace[-1]
            trace.append(value)
            accepted = phi.detach().clone()
            bar.update(max(done, 1))
            bar.set_postfix(ll=f"{value:.6f}")
            if gain < tolerance:
                stalls += 1
                if stalls == 2:
                    converged = True
                    break
                optimizer = fresh_optimizer()
            else:
                stalls = 0
    return np.exp(accepted.numpy()), trace, converged


def dem_mechanisms(dem: stim.DetectorErrorModel) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """A DEM as independent mechanisms: each distinct detector support (components XORed) with the
    XOR-combined probability of the errors that flip exactly it; float64 weights -ln(1 - 2p)."""
    weight: dict[tuple[int, ...], float] = {}
    structure = DemStructure.from_dem(dem)
    for term, p in zip(structure.terms, structure.probabilities_of(dem)):
        if term.support and p > 0:
            weight[term.support] = weight.get(term.support, 0.0) - np.log(1.0 - 2.0 * min(p, 0.5 - 1e-12))
    mechanisms = sorted(weight, key=lambda s: (len(s), s))
    return mechanisms, np.asarray([weight[m] for m in mechanisms], dtype=np.float64)


def dem_log_likelihood(dem: stim.DetectorErrorModel, events: np.ndarray, *, bit_packed: bool = False,
                       objective: str = "exact", windows: Sequence[tuple[int, ...]] | None = None,
                       window_size: int = 12) -> float:
    """The log-likelihood per shot of ``events`` under ``dem`` (any DEM: its errors as independent
    mechanisms), exact or over ``windows`` (default: :func:`local_windows` of the DEM itself; give
    the same windows to compare DEMs of different structures)."""
    import torch

    mechanisms, weights = dem_mechanisms(dem)
    D = dem.num_detectors
    chunks = iter_event_chunks(events, D, bit_packed)
    parameter = np.arange(len(mechanisms))
    if objective == "exact":
        from noise_learning._exact_likelihood import ExactLikelihood

        coords = dem.get_detector_coordinates()
        times = np.asarray([coords[d][-1] for d in range(D)])
        lik = ExactLikelihood(mechanisms, parameter, times, np.concatenate(list(chunks)))
    elif objective == "windows":
        from noise_learning._window_likelihood import WindowLikelihood, local_windows

        if windows is None:
            windows = local_windows(mechanisms, weights, D, window_size)
        lik = WindowLikelihood(mechanisms, parameter, windows, chunks)
    else:
        raise QecError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    return lik.value_and_grad(torch.as_tensor(weights))[0]
