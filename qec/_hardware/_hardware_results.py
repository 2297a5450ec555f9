"""Hardware results: each column's counts on a folder (:class:`ColumnCounts`, :class:`FolderScore`),
each patch's error per round (:class:`PatchScore`), and both together (:class:`HardwareScores`,
``qec hardware --json``'s document)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

from qec._data._statistics import DecayFit
from qec._hardware._experiment_folders import ExperimentFolder


@dataclasses.dataclass(frozen=True)
class ColumnCounts:
    """One column's result on one folder.

    Attributes:
        errors, shots: shots whose prediction differs from the measured flip, of ``shots``.
        only_fails: other column -> shots where this one failed and that one did not.
        seconds: decoding time of the shots (a pre-decoder's network included, also when one
            network pass served several of its compositions; 0 for recorded predictions); the
            CSV's ``seconds``.
        setup_seconds: estimating the column's DEMs (learned ones), not in ``seconds``; 0 when
            read back from a CSV.
        metadata: what tells this column's results apart (DEM label, model hash, ...).
    """

    errors: int
    shots: int
    only_fails: Mapping[str, int]
    seconds: float = 0.0
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    setup_seconds: float = 0.0


@dataclasses.dataclass(frozen=True)
class FolderScore:
    """Every column on one folder's shots (the first ``shots`` of them; of those only the
    ``half`` ones, even or odd by index, when ``half`` is set).

    Attributes:
        folder: the folder scored (its name, path, distance, rounds, center and basis).
        shots: shots scored.
        decoders: each column's counts, by column name.
        from_csv: the counts were read from a CSV of an earlier run, not decoded.
        half: ``"even"``, ``"odd"`` or None (all shots).
    """

    folder: ExperimentFolder
    shots: int
    decoders: Mapping[str, ColumnCounts]
    from_csv: bool = False
    half: str | None = None

    @property
    def patch(self) -> tuple[int, tuple[int, int] | None, str]:
        return (self.folder.distance, self.folder.center, self.folder.basis)

    def to_json(self) -> dict[str, Any]:
        """The folder's counts as a JSON-ready dict."""
        return {
            "name": self.folder.name, "d": self.folder.distance, "rounds": self.folder.rounds,
            "center": None if self.folder.center is None else list(self.folder.center), "basis": self.folder.basis,
            "shots": self.shots,
            "half": self.half,
            "decoders": {n: {"errors": c.errors, "shots": c.shots, "only_fails": dict(c.only_fails),
                             "seconds": round(c.seconds, 4)}
                         for n, c in self.decoders.items()},
        }


@dataclasses.dataclass(frozen=True)
class PatchScore:
    """One patch's error per round for every column (:class:`qec._data._statistics.DecayFit`), and
    each column's decoding seconds per shot over the fitted folders (0 for recorded predictions)."""

    distance: int
    center: tuple[int, int] | None
    basis: str
    rounds: tuple[int, ...]
    decoders: Mapping[str, DecayFit]
    seconds_per_shot: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The patch's error per round per decoder as a JSON-ready dict."""
        return {
            "d": self.distance, "center": None if self.center is None else list(self.center), "basis": self.basis,
            "rounds": list(self.rounds),
            "decoders": {n: {"eps_per_round": _num(f.eps), "low": _num(f.low), "high": _num(f.high),
                             "seconds_per_shot": _num(self.seconds_per_shot.get(n, math.nan))}
                         for n, f in self.decoders.items()},
        }


@dataclasses.dataclass(frozen=True)
class HardwareScores:
    """Folders and patches; :meth:`to_json` is ``qec hardware --json``'s document."""

    folders: tuple[FolderScore, ...]
    patches: tuple[PatchScore, ...]

    def to_json(self) -> dict[str, Any]:
        """Folders and patches as one JSON-ready dict."""
        return {"folders": [f.to_json() for f in self.folders], "patches": [p.to_json() for p in self.patches]}


def _num(x: float) -> float | None:
    return None if x is None or math.isnan(x) else float(x)
