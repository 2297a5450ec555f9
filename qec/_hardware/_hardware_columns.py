"""The columns of hardware results: a decoder of ours with a DEM source (:class:`CircuitDem`,
:class:`PijDem`, :class:`FileDem`, or any object with ``label``, ``per_half`` and
``dem(folder, fitted_on, max_shots)``), or a folder's recorded predictions
(:data:`GOOGLE_DECODERS`). :mod:`qec._hardware._hardware_scores` scores them.

Example:
    >>> [c.name for c in hardware_columns(["pymatching", "google-pymatching"], [CircuitDem(), PijDem()])]
    ['pymatching@circuit', 'pymatching@pij', 'google-pymatching']
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from typing import Any, Protocol, Sequence

import stim

from qec._data._dem_files import DemMismatchError, check_dem_fits, read_dem
from qec._errors import QecError
from qec._hardware._dem_provenance import FittedOn, read_provenance
from qec._hardware._experiment_folders import ExperimentFolder, ExperimentFolderError

# Column name -> the prediction file's decoder name (obs_flips_predicted_by_<name>.01).
GOOGLE_DECODERS = {
    "google-pymatching": "pymatching",
    "google-correlated-matching": "correlated_matching",
    "google-belief-matching": "belief_matching",
    "google-tensor-network": "tensor_network_contraction",
}


def dem_name(source: "DemSource", fitted_on: str | None) -> str:
    """How messages name a column's DEM: its label, and the half it was fitted on."""
    return source.label + (f" (fitted on the {fitted_on} half)" if fitted_on else "")


class DemSource(Protocol):
    """Where a column's DEM comes from."""

    label: str
    per_half: bool

    def dem(self, folder: ExperimentFolder, fitted_on: str | None, max_shots: int | None) -> stim.DetectorErrorModel:
        """The DEM; for ``per_half`` sources fitted on half ``fitted_on`` of the first
        ``max_shots`` shots (never used on that half)."""
        ...


@dataclasses.dataclass(frozen=True)
class CircuitDem:
    """The folder's ``circuit_detector_error_model.dem`` (the device's noise model)."""

    label: str = "circuit"
    per_half: bool = False

    def dem(self, folder, fitted_on=None, max_shots=None):
        """The folder's own circuit DEM."""
        return folder.circuit_dem()


@dataclasses.dataclass(frozen=True)
class PijDem:
    """The folder's p_ij DEM estimated from the other half of the shots."""

    label: str = "pij"
    per_half: bool = True

    def dem(self, folder, fitted_on, max_shots=None):
        """The folder's p_ij DEM estimated from the ``fitted_on`` half."""
        return folder.pij_dem(fitted_on)


@dataclasses.dataclass(frozen=True)
class FileDem:
    """A DEM file, checked against each folder's circuit. A DEM learned from measured shots
    says which (:mod:`qec._hardware._dem_provenance`): those shots are never scored with it."""

    path: str

    @property
    def fitted_on(self) -> list[FittedOn]:
        return read_provenance(self.path)

    @functools.cached_property
    def label(self) -> str:
        """The file's name and the hash of its DEM (read once: every column, key and message asks)."""
        text = str(read_dem(self.path, what="DEM file"))
        return f"{os.path.basename(self.path)}@{hashlib.sha256(text.encode()).hexdigest()[:12]}"

    per_half: bool = False

    def dem(self, folder, fitted_on=None, max_shots=None):
        """The DEM file, checked against the folder's circuit."""
        dem = read_dem(self.path, what="DEM file")
        try:
            check_dem_fits(dem, folder.circuit(), name=f"DEM file {self.path}")
        except DemMismatchError as e:
            raise ExperimentFolderError(f"{folder.path}: {e}") from None
        return dem


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of the results: a decoder of ours with a DEM source, or recorded predictions.

    Attributes:
        name: how the results name it.
        decoder: our decoder's name, or the prediction file's decoder name.
        dem: the DEM source; None for recorded predictions.
    """

    name: str
    decoder: str
    dem: Any = None

    @property
    def recorded(self) -> bool:
        return self.dem is None


def hardware_columns(decoders: Sequence[str], dems: Sequence[Any]) -> list[Column]:
    """The columns for ``decoders`` (ours and :data:`GOOGLE_DECODERS` names) and DEM sources:
    every decoder of ours once per DEM source (named ``name@label`` when there are several),
    recorded predictions once."""
    if not decoders:
        raise QecError("give at least one decoder")
    if len(set(decoders)) != len(decoders):
        raise QecError(f"decoder listed twice: {', '.join(decoders)}")
    labels = [d.label for d in dems]
    if len(set(labels)) != len(labels):
        raise QecError(f"DEM listed twice: {', '.join(labels)}")
    ours = [n for n in decoders if n not in GOOGLE_DECODERS]
    if ours and not dems:
        raise QecError("our decoders need a DEM source")
    out = []
    for name in decoders:
        if name in GOOGLE_DECODERS:
            out.append(Column(name, GOOGLE_DECODERS[name]))
        else:
            for src in dems:
                out.append(Column(name if len(dems) == 1 else f"{name}@{src.label}", name, src))
    return out
