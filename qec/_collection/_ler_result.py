"""One LER point and its totals: :class:`LerTask` (an experiment and the decoders compared on its
shots) and :class:`LerResult` (shots, errors, paired counts, intervals, JSON)."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from typing import Any

import sinter

from qec._circuits._memory_experiment import MemoryExperiment
from qec._errors import QecError
from qec._collection._pairing import ONLY_KEY, NotPaired, PairedComparison, compare, shared_key, variant_id
from qec._data._statistics import fit_ler, per_round

# custom_counts key prefix of the paired counts: only_vs:<other decoder's variant> (qec._collection._pairing).
PAIR_KEY = ONLY_KEY


@dataclasses.dataclass(frozen=True)
class LerTask:
    """One point of a sweep: an experiment and the decoders compared on its shots.

    Attributes:
        experiment: the memory experiment (circuit and DEM).
        decoders: decoder names: :data:`qec._decoding._decoders.DECODERS` or those of the
            ``custom_decoders`` given to :func:`collect_ler`.
    """

    experiment: MemoryExperiment
    decoders: tuple[str, ...] = ("pymatching",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "decoders", tuple(self.decoders))
        if not self.decoders:
            raise QecError("a task needs at least one decoder")
        if len(set(self.decoders)) != len(self.decoders):
            raise QecError(f"decoder listed twice: {', '.join(self.decoders)}")


@dataclasses.dataclass
class LerResult:
    """Totals for one (point, decoder), existing CSV rows included.

    ``peers`` are the results of the other decoders of the same task (set by
    :func:`qec._collection._ler.collect_ler`): what :meth:`only_fails` and :meth:`paired_shots` are keyed by.
    """

    experiment: MemoryExperiment
    decoder: str
    strong_id: str
    json_metadata: dict[str, Any]
    shots: int = 0
    errors: int = 0
    seconds: float = 0.0
    custom_counts: Counter = dataclasses.field(default_factory=Counter)
    peers: list["LerResult"] = dataclasses.field(default_factory=list, repr=False, compare=False)

    @property
    def variant(self) -> str:
        """``<decoder>@<strong id prefix>``: what paired counts name this row by (:mod:`qec._collection._pairing`)."""
        return variant_id(self)

    def fit(self) -> sinter.Fit:
        """LER per shot: best estimate and 95% likelihood interval (:func:`qec._data._statistics.fit_ler`)."""
        return fit_ler(self.errors, self.shots)

    def fit_per_round(self) -> sinter.Fit:
        """LER per round (sinter.shot_error_rate_to_piece_error_rate over ``rounds`` pieces)."""
        f = self.fit()
        if self.shots == 0:
            return f
        return per_round(f, self.experiment.rounds)

    def only_fails(self) -> dict[str, int]:
        """Peer decoder -> shots where this decoder failed and that one did not, for every peer
        that decoded all of this row's shots with it (a paired comparison, :func:`qec._collection._pairing.compare`)."""
        out = {}
        for peer in self.peers:
            try:
                out[peer.decoder] = compare(self, peer).only_a
            except NotPaired:
                pass
        return out

    def versus(self, other: "LerResult") -> PairedComparison:
        """The paired comparison with ``other`` (the same point's decoder that decoded all the same
        shots): errors and discordant shots, ``ratio`` and McNemar's ``z``; :class:`qec._collection._pairing.NotPaired` otherwise."""
        return compare(self, other)

    def paired_shots(self) -> dict[str, int]:
        """Peer decoder -> shots this decoder decoded together with it."""
        return {peer.decoder: int(self.custom_counts.get(shared_key(peer), 0)) for peer in self.peers}

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-ready dict: counts, LER and per-round LER with 95% intervals, the point."""
        f, r = self.fit(), self.fit_per_round()
        e = self.experiment
        out: dict[str, Any] = {
            "decoder": self.decoder,
            "distance": e.distance,
            "rounds": e.rounds,
            "p": e.p,
            "basis": e.basis,
            "noise": e.noise,
            "noise_version": e.noise_version,
            "shots": self.shots,
            "errors": self.errors,
            "ler": _num(f.best),
            "ler_low": _num(f.low),
            "ler_high": _num(f.high),
            "ler_per_round": _num(r.best),
            "ler_per_round_low": _num(r.low),
            "ler_per_round_high": _num(r.high),
            "seconds": round(self.seconds, 6),
            "only_fails": self.only_fails(),
            "paired_shots": self.paired_shots(),
            "strong_id": self.strong_id,
        }
        if e.scale_qubits:
            out["scale_qubits"] = [list(s) for s in e.scale_qubits]
        extra = {k: v for k, v in self.json_metadata.items() if k not in e.json_metadata()}
        if extra:
            out["metadata"] = extra
        return out


def _num(x: float) -> float | None:
    return None if x is None or math.isnan(x) else float(x)
