"""Detector error models from files: reading them with one-line errors, and checking that a DEM
fits the circuit it is used with (a learned DEM for ``qec train --dem`` or ``qec ler --dem``).

A DEM fits a circuit when it has the circuit's detectors (count and coordinates) and
observables; otherwise decoding would silently mis-decode, so :func:`check_dem_fits` raises
:class:`DemMismatchError` naming the first mismatch.

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

import stim

from qec._errors import QecError


class DemMismatchError(QecError):
    """A DEM that does not fit the circuit it is used with."""


def read_dem(path: str | os.PathLike, what: str = "DEM") -> stim.DetectorErrorModel:
    """A Stim DEM file; ``ValueError`` with one line for a missing or unreadable file."""
    path = os.fspath(path)
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
