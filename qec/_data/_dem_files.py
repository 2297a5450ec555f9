"""Detector error models from files: reading them with one-line errors, and checking that a DEM
fits the circuit it is used with (a learned DEM for ``qec train --dem`` or ``qec ler --dem``).

A DEM fits a circuit when it has the circuit's detectors (count and coordinates) and
observables; otherwise decoding would silently mis-decode, so :func:`check_dem_fits` raises
:class:`DemMismatchError` naming the first mismatch. A DEM matching can decode with has an error
of positive probability, none that is certain, and a path through errors of positive probability
from every detector to a boundary (:func:`check_dem_decodable`; PyMatching fails on a syndrome
with odd parity where there is none).

Example:
    >>> from qec import MemoryExperiment
    >>> circuit = MemoryExperiment(3, 3, 0.001, "x").circuit()
    >>> check_dem_fits(MemoryExperiment(3, 3, 0.002, "x").dem(), circuit)
    >>> try:
    ...     check_dem_fits(MemoryExperiment(3, 2, 0.002, "x").dem(), circuit)
    ... except DemMismatchError as e:
    ...     print(e)
    the DEM has 16 detectors, the circuit 24
"""

from __future__ import annotations

import os

import numpy as np
import stim

from qec._errors import QecError


class DemMismatchError(QecError):
    """A DEM that does not fit the circuit it is used with."""


class DegenerateDemError(QecError):
    """A DEM matching cannot decode with (no noise, a certain error, detectors cut off)."""


def read_dem(path: str | os.PathLike, what: str = "DEM") -> stim.DetectorErrorModel:
    """A Stim DEM file; ``ValueError`` with one line for a missing or unreadable file."""
    path = os.fspath(path)
    if os.path.isdir(path):  # Stim reads a directory as an empty DEM
        raise QecError(f"{what} {path} is a directory")
    if not os.path.exists(path):  # Stim says "Failed to open ... for reading"
        raise QecError(f"{what} {path} does not exist")
    try:
        return stim.DetectorErrorModel.from_file(path)
    except FileNotFoundError:
        raise QecError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise QecError(f"{what} {path} is a directory") from None
    except PermissionError:
        raise
    except Exception as e:  # Stim raises ValueError or IndexError; undecodable bytes raise UnicodeDecodeError
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise QecError(f"{what} {path} is not a Stim detector error model: {first}") from None


def as_dem(value: stim.DetectorErrorModel | str | os.PathLike, name: str = "dem") -> stim.DetectorErrorModel:
    """A DEM given as itself or as the path of a DEM file (:func:`read_dem`); anything else is a
    :class:`qec.QecError` naming ``name``."""
    if isinstance(value, stim.DetectorErrorModel):
        return value
    if isinstance(value, (str, os.PathLike)):
        return read_dem(value, what=name)
    raise QecError(f"{name} must be a stim.DetectorErrorModel or the path of a DEM file, got {type(value).__name__}")


def check_dem_fits(dem: stim.DetectorErrorModel, circuit: stim.Circuit, name: str = "the DEM") -> None:
    """Raise :class:`DemMismatchError` unless ``dem`` has ``circuit``'s detectors (count and
    coordinates) and observables."""
    if dem.num_detectors != circuit.num_detectors:
        raise DemMismatchError(f"{name} has {dem.num_detectors} detectors, the circuit {circuit.num_detectors}")
    if dem.num_observables != circuit.num_observables:
        raise DemMismatchError(f"{name} has {dem.num_observables} observables, the circuit {circuit.num_observables}")
    ours, theirs = circuit.get_detector_coordinates(), dem.get_detector_coordinates()
    for k in range(circuit.num_detectors):
        a, b = list(ours.get(k, [])), list(theirs.get(k, []))
        if len(a) != len(b) or any(abs(x - y) > 1e-9 for x, y in zip(a, b)):
            raise DemMismatchError(
                f"{name}'s detector {k} sits at {tuple(b)}, the circuit's at {tuple(a)}: it was made for another circuit"
            )


def unreachable_detectors(dem: stim.DetectorErrorModel) -> np.ndarray:
    """The detectors with no path to a boundary in PyMatching's graph of ``dem`` (its errors of
    positive probability, decomposed): bool (detectors,). A syndrome with an odd number of events
    among them cannot be matched."""
    return _cut_off(dem.num_detectors, _matching_edges(dem))


def _matching_edges(dem: stim.DetectorErrorModel) -> list:
    import pymatching

    return pymatching.Matching.from_detector_error_model(dem).edges()


def _cut_off(n: int, edges: list) -> np.ndarray:
    a = [u for u, _, _ in edges]
    b = [n if v is None else v for _, v, _ in edges]  # node n: the boundary
    import scipy.sparse  # here, not at import: csgraph loads scipy.linalg (~0.1 s for every `import qec`)
    import scipy.sparse.csgraph

    graph = scipy.sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(n + 1, n + 1))
    _, label = scipy.sparse.csgraph.connected_components(graph, directed=False)
    return label[:n] != label[n]


def check_dem_decodable(dem: stim.DetectorErrorModel, name: str = "the DEM", hint: str = "") -> None:
    """Raise :class:`DegenerateDemError` unless matching can decode every syndrome with ``dem``:
    it has an error of positive probability, none of probability 1, and every detector reaches a
    boundary through errors of positive probability (:func:`unreachable_detectors`). ``hint``
    follows the message (e.g. how to get a better DEM)."""
    edges = _matching_edges(dem)  # PyMatching's graph: errors of probability 0 are left out
    tail = f"; {hint}" if hint else ""
    if not edges:
        raise DegenerateDemError(f"{name} has no error of positive probability: matching has nothing to decode "
                                 f"with{tail}")
    certain = sum(attributes["error_probability"] >= 1 for _, _, attributes in edges)
    if certain:
        raise DegenerateDemError(f"{name} has {certain} error(s) of probability 1: matching cannot weigh a certain "
                                 f"error{tail}")
    cut = np.flatnonzero(_cut_off(dem.num_detectors, edges))
    if len(cut):
        shown = ", ".join(f"D{k}" for k in cut[:5]) + (", ..." if len(cut) > 5 else "")
        raise DegenerateDemError(
            f"{name} leaves {len(cut)} of its {dem.num_detectors} detectors ({shown}) without a path to a boundary "
            f"through errors of positive probability: syndromes there cannot be matched{tail}")
