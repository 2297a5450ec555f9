"""Rotated surface-code memory experiments as Stim circuits and detector error models."""

from __future__ import annotations

import dataclasses
import functools
import numbers
from typing import Any

import stim

from qec._runtime._arguments import whole_number
from qec._errors import QecError
from qec._runtime._memory_estimate import check_fits, detectors, point_bytes
from qec._circuits._noise import NOISE_MODELS, CircuitNoise, noise_version
from qec._circuits._noise_insertion import (
    fold_hadamards,
    insert_circuit_noise,
    insert_si1000_noise,
    qubit_factors_from_coords,
    scale_qubit_noise,
)

BASES = ("x", "z")


@dataclasses.dataclass(frozen=True)
class MemoryExperiment:
    """A rotated surface-code memory experiment.

    Attributes:
        distance: odd code distance d >= 3.
        rounds: number of stabilizer measurement rounds (>= 1); detectors span rounds + 1 layers.
        p: noise strength in [0, 0.5).
        basis: memory basis, ``"x"`` or ``"z"``.
        noise: ``"depolarizing"`` (paper's 25-parameter model), ``"si1000"`` or ``"stim"``.
        scale_qubits: ``((x, y, factor), ...)`` multiplies the noise on the qubit at Stim
            coordinates (x, y).
        circuit_noise: overrides the depolarizing mapping with explicit 25 parameters
            (``noise="depolarizing"`` only; ``p`` is then only a label).

    Example:
        >>> exp = MemoryExperiment(distance=3, rounds=3, p=0.001, basis="z")
        >>> exp.circuit().num_detectors
        24
    """

    distance: int
    rounds: int
    p: float
    basis: str = "x"
    noise: str = "depolarizing"
    scale_qubits: tuple[tuple[float, float, float], ...] = ()
    circuit_noise: CircuitNoise | None = None

    def __post_init__(self) -> None:
        try:
            scale = tuple(tuple(float(v) for v in s) for s in self.scale_qubits)
        except (TypeError, ValueError):
            raise QecError(f"scale_qubits must be ((x, y, factor), ...), got {self.scale_qubits!r}") from None
        object.__setattr__(self, "scale_qubits", scale)
        object.__setattr__(self, "distance", whole_number("distance", self.distance))
        if self.distance < 3 or self.distance % 2 == 0:
            raise QecError(f"distance must be odd and >= 3, got {self.distance}")
        object.__setattr__(self, "rounds", whole_number("rounds", self.rounds, minimum=1))
        if isinstance(self.p, bool) or not isinstance(self.p, numbers.Real) or not (0.0 <= self.p < 0.5):
            raise QecError(f"p must be in [0, 0.5), got {self.p!r}")
        if self.basis not in BASES:
            raise QecError(f"basis must be one of {', '.join(BASES)}, got {self.basis!r}")
        if self.noise not in NOISE_MODELS:
            raise QecError(f"unknown noise model {self.noise!r}; choose from {', '.join(NOISE_MODELS)}")
        if self.circuit_noise is not None and self.noise != "depolarizing":
            raise QecError("circuit_noise applies to the depolarizing model only")
        for s in self.scale_qubits:
            if len(s) != 3:
                raise QecError(f"scale_qubits entries are (x, y, factor), got {s}")

    @property
    def noise_version(self) -> int:
        """The version of the noise model's definition (:data:`qec._circuits._noise.NOISE_VERSIONS`)."""
        return noise_version(self.noise)

    def circuit(self) -> stim.Circuit:
        """The noisy Stim circuit (cached per experiment); a size this machine cannot hold is a
        :class:`qec._runtime._memory_estimate.TooLargeError`, raised before anything is built."""
        return _circuit(self).copy()

    def noiseless_circuit(self) -> stim.Circuit:
        """Stim's generated noiseless memory circuit (with Hadamards on X ancillas)."""
        return stim.Circuit.generated(
            f"surface_code:rotated_memory_{self.basis}", distance=self.distance, rounds=self.rounds
        )

    def dem(self, decompose_errors: bool = True) -> stim.DetectorErrorModel:
        """The circuit's detector error model (graphlike-decomposed by default)."""
        return _dem(self, decompose_errors)

    def json_metadata(self) -> dict[str, Any]:
        """Metadata for sinter tasks and CSV rows."""
        out: dict[str, Any] = {
            "d": self.distance, "r": self.rounds, "p": self.p, "b": self.basis, "noise": self.noise,
            "noise_version": self.noise_version,
        }
        if self.scale_qubits:
            out["scale"] = [list(s) for s in self.scale_qubits]
        if self.circuit_noise is not None:
            out["params"] = list(self.circuit_noise.as_vector())
        return out


@functools.lru_cache(maxsize=64)
def _circuit(exp: MemoryExperiment) -> stim.Circuit:
    check_fits(point_bytes(exp.distance, exp.rounds), f"the d={exp.distance}, rounds={exp.rounds} circuit and its DEM",
               detectors(exp.distance, exp.rounds))
    base = exp.noiseless_circuit()
    if exp.noise == "stim":
        p = exp.p
        circuit = stim.Circuit.generated(
            f"surface_code:rotated_memory_{exp.basis}",
            distance=exp.distance,
            rounds=exp.rounds,
            after_clifford_depolarization=p,
            before_round_data_depolarization=p,
            before_measure_flip_probability=p,
            after_reset_flip_probability=p,
        )
    elif exp.noise == "si1000":
        circuit = insert_si1000_noise(base, exp.p)
    else:
        noise = exp.circuit_noise if exp.circuit_noise is not None else CircuitNoise.depolarizing(exp.p)
        circuit = insert_circuit_noise(fold_hadamards(base), noise)
    if exp.scale_qubits:
        circuit = scale_qubit_noise(circuit, qubit_factors_from_coords(circuit, exp.scale_qubits))
    return circuit


@functools.lru_cache(maxsize=64)
def _dem(exp: MemoryExperiment, decompose_errors: bool) -> stim.DetectorErrorModel:
    return _circuit(exp).detector_error_model(
        decompose_errors=decompose_errors, approximate_disjoint_errors=True
    )


def memory_circuit(
    distance: int,
    rounds: int | None = None,
    p: float = 0.0,
    basis: str = "z",
    noise: str = "depolarizing",
    scale_qubits: tuple[tuple[float, float, float], ...] = (),
) -> stim.Circuit:
    """Shorthand for ``MemoryExperiment(...).circuit()``; ``rounds`` defaults to ``distance``.

    Example:
        >>> c = memory_circuit(5, p=0.006, basis="x", noise="si1000")
        >>> c.num_observables
        1
    """
    return MemoryExperiment(
        distance=distance,
        rounds=distance if rounds is None else rounds,
        p=p,
        basis=basis,
        noise=noise,
        scale_qubits=scale_qubits,
    ).circuit()
