"""Stim circuits from files, with one-line errors (the circuit twin of :mod:`qec._data._dem_files`).

Example:
    >>> import os, tempfile
    >>> from qec import MemoryExperiment
    >>> path = os.path.join(tempfile.mkdtemp(), "c.stim")
    >>> _ = open(path, "w").write(str(MemoryExperiment(3, 3, 0.001, "x").circuit()))
    >>> read_circuit(path).num_detectors
    24
    >>> try:
    ...     read_circuit(os.path.dirname(path))
    ... except ValueError as e:
    ...     print(str(e).split(" is ")[1])
    a directory, not a Stim circuit file
"""

from __future__ import annotations

import os

import stim

from qec._errors import QecError


def read_circuit(path: str | os.PathLike, what: str = "--circuit", need_detectors: bool = True) -> stim.Circuit:
    """A Stim circuit file; ``ValueError`` with one line for a missing file, a directory, text that
    is not a circuit, and (with ``need_detectors``) a circuit without detectors."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise QecError(f"{what} {path} is a directory, not a Stim circuit file")
    try:
        circuit = stim.Circuit.from_file(path)
    except FileNotFoundError:
        raise QecError(f"{what} {path} does not exist") from None
    except PermissionError:
        raise
    except Exception as e:  # Stim raises ValueError with a multi-line parse message; bytes: UnicodeDecodeError
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise QecError(f"cannot read circuit {path} ({what}): {first}") from None
    if need_detectors and circuit.num_detectors == 0:
        raise QecError(f"{what} {path} has no detectors (an empty file or not a memory experiment)")
    return circuit
