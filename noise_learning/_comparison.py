"""A learned DEM against the true, nominal and uniform ones, on the same simulated test shots.

:func:`compare_learned_dem` is the experiment behind ``qec learn-noise --distance D --p P`` and
the hot-spot table of ``benchmarks/noise_learning_bench.py``: sample training shots from a
(possibly hot-spotted) :class:`qec.MemoryExperiment`, learn a DEM from their detection events
alone (the structure comes from the *nominal* experiment, its probabilities discarded), then
decode the same fresh test shots with PyMatching using

- ``true``: the experiment's own DEM;
- ``learned``: the DEM estimated from the training shots;
- ``correlations`` (with the likelihood estimator only): the moment estimate its fit started from;
- ``nominal``: the same noise model without the per-qubit scaling (what one global model can do);
- ``uniform``: the true DEM with every probability set to 0.01 (uniform matching weights);

and compare them paired (learned vs true, learned vs nominal: McNemar on the same shots).

Example:
    >>> from qec import MemoryExperiment
    >>> exp = MemoryExperiment(3, 3, 0.004, "x", scale_qubits=((3.0, 3.0, 5.0),))
    >>> nominal = MemoryExperiment(3, 3, 0.004, "x")
    >>> c = compare_learned_dem(exp, nominal, train_shots=20_000, test_shots=2_000, seed=1)
    >>> c.method, list(c.decoded), list(c.decoded["plain"])
    ('likelihood', ['plain'], ['true', 'learned', 'nominal', 'uniform', 'correlations'])
    >>> sorted(c.paired["plain"])
    ['learned_vs_correlations', 'learned_vs_nominal', 'learned_vs_true']
"""

from __future__ import annotations

import dataclasses
import time

import stim

from noise_learning._learn import ESTIMATORS as LEARN_ESTIMATORS, learn_dem
from noise_learning._evaluate import (
    DecodedShots,
    edge_error_stats,
    paired_difference,
    paired_ler,
    uniform_dem,
    unmatchable_shots,
)
from noise_learning._structure import DemStructure
from qec import MemoryExperiment, QecError

__all__ = [
    "DEM_KINDS",
    "DECODINGS",
    "LearnedDemComparison",
    "LearnedDemUndecodable",
    "TEST_SEED_OFFSET",
    "compare_learned_dem",
]

# The kinds of DEM compared on the same test shots, in this order (the closed loop trains on the first three).
DEM_KINDS = ("true", "learned", "nominal", "uniform")
# Decodings, and the prefix of their keys in :meth:`LearnedDemComparison.summary`.
DECODINGS = {"plain": "", "correlated": "corr_"}
# The test shots' sampler seed is the training seed plus this, unless given.
TEST_SEED_OFFSET = 1_000_003
ESTIMATORS = (*LEARN_ESTIMATORS, "network")


class LearnedDemUndecodable(QecError):
    """The learned DEM (or the moment estimate a likelihood fit started from) leaves some test
    syndromes unmatchable: mechanisms estimated at zero from too few training shots. Holds the learned DEM (``learned``), ``train_shots`` and the number
    of clamped mechanisms (``zeroed``)."""

    def __init__(self, learned: stim.DetectorErrorModel, train_shots: int, zeroed: int):
        self.learned = learned
        self.train_shots = train_shots
        self.zeroed = zeroed
        super().__init__(
            f"the DEM learned from {train_shots} shots cannot decode the test shots ({zeroed} mechanisms "
            f"estimated at zero leave syndromes unmatchable); give more training shots (10^4 or more)"
        )


@dataclasses.dataclass
class LearnedDemComparison:
    """What :func:`compare_learned_dem` measured.

    Attributes:
        learned: the learned DEM.
        method: how it was learned: ``"likelihood"``, ``"pairwise"``, ``"hyperedge"`` or ``"network"``.
        clamped: finite-shot artifacts clamped to zero, by kind (empty for the network).
        estimate_seconds: wall time of the estimate alone (not sampling, not decoding).
        decoded: decoding (``"plain"``, ``"correlated"``) -> DEM name (:data:`DEM_KINDS`) ->
            its :class:`DecodedShots` on the test shots.
        paired: decoding -> ``"learned_vs_true"`` / ``"learned_vs_nominal"`` (and
            ``"learned_vs_correlations"`` for the likelihood estimator) -> the
            :func:`paired_difference` (``only_a`` = only learned failed; negative z = learned better).
        likelihood_fit: the likelihood fit's record (None for the other estimators).
        edge_stats: :func:`edge_error_stats` of the learned DEM against the true one.
        train_shots, test_shots: the shot counts.
    """

    learned: stim.DetectorErrorModel
    method: str
    clamped: dict[str, int]
    estimate_seconds: float
    decoded: dict[str, dict[str, DecodedShots]]
    paired: dict[str, dict[str, dict[str, float]]]
    edge_stats: dict[str, float]
    train_shots: int
    test_shots: int
    likelihood_fit: object = None

    def summary(self) -> dict:
        """A JSON-ready dict: ``method``, ``estimate_seconds`` (ms precision), ``clamped``, per
        decoding ``{prefix}ler_{name}`` with ``_low``/``_high`` and
        ``{prefix}paired_learned_vs_true`` / ``..._vs_nominal`` (prefix ``""`` plain, ``"corr_"``
        correlated), then ``edge_stats``."""
        out: dict = {
            "method": self.method, "estimate_seconds": round(self.estimate_seconds, 3), "clamped": self.clamped,
        }
        for decoding, prefix in DECODINGS.items():
            if decoding not in self.decoded:
                continue
            for name, r in self.decoded[decoding].items():
                out[f"{prefix}ler_{name}"] = r.ler
                out[f"{prefix}ler_{name}_low"] = r.low
                out[f"{prefix}ler_{name}_high"] = r.high
            for pair, diff in self.paired[decoding].items():
                out[f"{prefix}paired_{pair}"] = diff
        out["edge_stats"] = self.edge_stats
        if self.likelihood_fit is not None:
            out["likelihood_fit"] = self.likelihood_fit.to_json()
        return out


def compare_learned_dem(
    experiment: MemoryExperiment,
    nominal: MemoryExperiment,
    *,
    train_shots: int,
    test_shots: int,
    seed: int = 0,
    test_seed: int | None = None,
    estimator: str = "likelihood",
    order: int | None = None,
    correlated: bool = False,
    plain: bool = True,
    pool_rounds: bool = False,
    progress: bool = False,
) -> LearnedDemComparison:
    """Learn a DEM from ``train_shots`` shots of ``experiment`` and decode ``test_shots`` fresh
    shots with the true, learned, nominal and uniform DEMs (see the module docstring).

    Args:
        experiment: the experiment that produces the shots (its DEM is the "true" one).
        nominal: the same experiment without the per-qubit scaling; its DEM gives the structure
            the estimator fills in, and is the "nominal" DEM.
        train_shots, test_shots: shot counts (>= 1).
        seed: seed of the training shots' sampler.
        test_seed: seed of the test shots' sampler (default ``seed + TEST_SEED_OFFSET``).
        estimator: ``"likelihood"`` (:class:`~noise_learning._likelihood.LikelihoodEstimator`; its
            starting moment estimate is decoded too, as ``"correlations"``), ``"correlations"``
            (:class:`CorrelationEstimator`) or ``"network"`` (the learned 25-parameter estimator;
            needs a depolarizing ``experiment``).
        order: correlations only: 2 = pairwise edges, 4 = plus 3-/4-point hyperedges. Default 4
            with ``correlated`` (correlated matching needs the hyperedges), else 2 (with plain
            matching the hyperedge correction neither helps nor hurts; docs/noise_learning.md).
            The likelihood estimator always fits the hyperedges.
        correlated: also decode with correlated PyMatching.
        plain: decode with plain PyMatching (``plain=False, correlated=True``: correlated only).
        pool_rounds: likelihood and correlations: one weight per mechanism and its translates in
            time (a stationary circuit's rounds are alike).
        progress: the likelihood fit's progress bar on stderr.

    Raises:
        LearnedDemUndecodable: the learned DEM leaves test syndromes unmatchable (too few
            training shots).
        ValueError: bad arguments; ``ModuleNotFoundError`` for ``estimator="network"`` without torch.
    """
    if train_shots < 1 or test_shots < 1:
        raise QecError("train_shots and test_shots must be positive")
    if estimator not in ESTIMATORS:
        raise QecError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {estimator!r}")
    if estimator == "likelihood" and order not in (None, 4):
        raise QecError("the likelihood estimator fits the hyperedges: order must be 4 (or left out)")
    if order is None:
        order = 4 if correlated or estimator == "likelihood" else 2
    if order not in (2, 4):
        raise QecError(f"order must be 2 or 4, got {order}")
    decodings = [d for d, on in (("plain", plain), ("correlated", correlated)) if on]
    if not decodings:
        raise QecError("nothing to decode: give plain or correlated")
    if test_seed is None:
        test_seed = seed + TEST_SEED_OFFSET

    circuit = experiment.circuit()
    true_dem = experiment.dem()
    nominal_dem = nominal.dem()
    train = circuit.compile_detector_sampler(seed=seed).sample(train_shots, bit_packed=True)
    events, obs = circuit.compile_detector_sampler(seed=test_seed).sample(
        test_shots, separate_observables=True, bit_packed=False
    )

    t0 = time.perf_counter()
    fit = None
    if estimator == "network":
        from noise_learning._network import learn_dem_with_network

        learned = learn_dem_with_network(experiment, train, bit_packed=True)
        clamped: dict[str, int] = {}
        learned_by = "network"
    else:
        # Structure only: the nominal model's DEM, probabilities discarded.
        structure = DemStructure.from_dem(nominal_dem)
        model = learn_dem(train, structure, estimator=estimator, method="pairwise" if order == 2 else "hyperedge",
                          pool_rounds=pool_rounds, bit_packed=True, progress=progress)
        fit = model.likelihood_fit
        learned = model.dem()
        clamped = model.clamped
        learned_by = model.method
    estimate_seconds = time.perf_counter() - t0

    # Too few training shots: mechanisms never seen are estimated at zero and leave syndromes no
    # matching explains. The likelihood fit starts them above zero, so its own DEM always decodes;
    # what its start says about the data still holds.
    dems = {"true": true_dem, "learned": learned, "nominal": nominal_dem, "uniform": uniform_dem(true_dem)}
    if fit is not None:
        dems["correlations"] = fit.start.dem()
    if any(unmatchable_shots(dems[k], events).any() for k in ("learned", "correlations") if k in dems):
        raise LearnedDemUndecodable(learned, train_shots, sum(clamped.values()))
    decoded: dict[str, dict[str, DecodedShots]] = {}
    paired: dict[str, dict[str, dict[str, float]]] = {}
    for decoding in decodings:
        res = paired_ler(events, obs, dems, correlated=decoding == "correlated")
        decoded[decoding] = res
        paired[decoding] = {
            "learned_vs_true": paired_difference(res["learned"], res["true"]),
            "learned_vs_nominal": paired_difference(res["learned"], res["nominal"]),
        }
        if "correlations" in res:
            paired[decoding]["learned_vs_correlations"] = paired_difference(res["learned"], res["correlations"])
    return LearnedDemComparison(
        learned=learned,
        method=learned_by,
        clamped=clamped,
        estimate_seconds=estimate_seconds,
        decoded=decoded,
        paired=paired,
        edge_stats=edge_error_stats(learned, true_dem),
        train_shots=train_shots,
        test_shots=test_shots,
        likelihood_fit=fit,
    )
