"""Circuit-level noise models and their versions (inserted into circuits by
:mod:`qec._circuits._noise_insertion`).

Three named models:

- ``depolarizing``: the 25-parameter Pauli model of Chamberland et al. (arXiv:2604.12841), see
  :class:`CircuitNoise`. X-type ancillas are reset and measured in the X basis (no Hadamards).
- ``si1000``: the superconducting-inspired model of Gidney, Newman, Jones, McEwen
  (arXiv:2108.10457), on Stim's CX circuit with Hadamards.
- ``stim``: Stim's own generator with all four noise arguments set to ``p``.

Per-qubit scaling (:func:`qec._circuits._noise_insertion.scale_qubit_noise`) multiplies every noise channel
acting on a qubit by a factor; a two-qubit channel takes the larger factor of its pair.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from qec._errors import QecError

NOISE_MODELS = ("depolarizing", "si1000", "stim")

# The version of each named noise model's definition. A change that alters a model's circuits
# bumps its version; models and results record it (:func:`noise_version`), so that results made
# with two definitions never merge and a model trained on an old one says so.
#   depolarizing 1: idle during measure/reset 2p/3 - 4p^2/9 in *total* (a third of the paper's).
#   depolarizing 2: 2p/3 - 4p^2/9 on each of X, Y and Z, as the paper's public code.
NOISE_VERSIONS: dict[str, int] = {"depolarizing": 2, "si1000": 1, "stim": 1}
# What a model file or a CSV row written before versions were recorded was made with.
UNRECORDED_NOISE_VERSION = 1

# Stim's PAULI_CHANNEL_2 argument order.
TWO_QUBIT_PAULIS = (
    "IX", "IY", "IZ", "XI", "XX", "XY", "XZ", "YI", "YX", "YY", "YZ", "ZI", "ZX", "ZY", "ZZ",
)


@dataclasses.dataclass(frozen=True)
class CircuitNoise:
    """The paper's 25-parameter circuit-level Pauli noise model.

    Attributes:
        prep_z: probability of an X flip after a Z-basis reset (|0> prepared as |1>).
        prep_x: probability of a Z flip after an X-basis reset (|+> prepared as |->).
        meas_z: flip probability of a Z-basis measurement result.
        meas_x: flip probability of an X-basis measurement result.
        idle_cnot: (pX, pY, pZ) on every qubit idle during a CNOT layer.
        idle_measure: (pX, pY, pZ) on every data qubit idle while ancillas are measured and reset.
        cnot: the 15 two-qubit Pauli probabilities after each CNOT, in Stim's PAULI_CHANNEL_2
            order (IX, IY, IZ, XI, XX, ..., ZZ), control first.

    Example:
        >>> noise = CircuitNoise.depolarizing(0.006)
        >>> round(noise.meas_z, 6), round(sum(noise.cnot), 6)
        (0.004, 0.006)
    """

    prep_z: float = 0.0
    prep_x: float = 0.0
    meas_z: float = 0.0
    meas_x: float = 0.0
    idle_cnot: tuple[float, float, float] = (0.0, 0.0, 0.0)
    idle_measure: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cnot: tuple[float, ...] = (0.0,) * 15

    def __post_init__(self) -> None:
        object.__setattr__(self, "idle_cnot", tuple(float(v) for v in self.idle_cnot))
        object.__setattr__(self, "idle_measure", tuple(float(v) for v in self.idle_measure))
        object.__setattr__(self, "cnot", tuple(float(v) for v in self.cnot))
        if len(self.idle_cnot) != 3 or len(self.idle_measure) != 3:
            raise QecError("idle_cnot and idle_measure take 3 probabilities (X, Y, Z)")
        if len(self.cnot) != 15:
            raise QecError("cnot takes 15 two-qubit Pauli probabilities")
        for name in ("prep_z", "prep_x", "meas_z", "meas_x"):
            _check_probability(name, getattr(self, name), 0.5)
        for name, values, bound in (
            ("idle_cnot", self.idle_cnot, 1.0),
            ("idle_measure", self.idle_measure, 1.0),
            ("cnot", self.cnot, 1.0),
        ):
            for v in values:
                _check_probability(name, v, 1.0)
            if sum(values) > bound + 1e-12:
                raise QecError(f"{name} probabilities sum to {sum(values)} > 1")

    @staticmethod
    def depolarizing(p: float) -> "CircuitNoise":
        """The paper's depolarizing mapping at strength ``p`` (docs/references.md).

        prep and measurement 2p/3, CNOT p/15 per Pauli, idle during CNOT p/3 per Pauli, idle
        during measure/reset 2p/3 - 4p^2/9 on *each* of X, Y and Z (two DEPOLARIZE1(p) steps in a
        row, about 2p in total), as NVIDIA/Ising-Decoding's ``NoiseModel.from_single_p`` and its
        public config (p_idle_spam_X = p_idle_spam_Y = p_idle_spam_Z). This is noise version 2 of
        ``depolarizing`` (:data:`NOISE_VERSIONS`); version 1 put 2p/3 - 4p^2/9 in total.
        """
        _check_probability("p", p, 0.5)
        idle_mr = 2 * p / 3 - 4 * p * p / 9
        return CircuitNoise(
            prep_z=2 * p / 3,
            prep_x=2 * p / 3,
            meas_z=2 * p / 3,
            meas_x=2 * p / 3,
            idle_cnot=(p / 3, p / 3, p / 3),
            idle_measure=(idle_mr, idle_mr, idle_mr),
            cnot=(p / 15,) * 15,
        )

    def as_vector(self) -> tuple[float, ...]:
        """The 25 parameters as a flat tuple (prep z, prep x, meas z, meas x, idle_cnot xyz,
        idle_measure xyz, 15 cnot)."""
        return (
            self.prep_z, self.prep_x, self.meas_z, self.meas_x,
            *self.idle_cnot, *self.idle_measure, *self.cnot,
        )

    @staticmethod
    def from_vector(values: Sequence[float]) -> "CircuitNoise":
        """Inverse of :meth:`as_vector`."""
        v = [float(x) for x in values]
        if len(v) != 25:
            raise QecError(f"expected 25 noise parameters, got {len(v)}")
        return CircuitNoise(v[0], v[1], v[2], v[3], tuple(v[4:7]), tuple(v[7:10]), tuple(v[10:25]))


def noise_version(noise: str, recorded: object = None) -> int:
    """The version of noise model ``noise``: the current one when ``recorded`` is None, else
    ``recorded`` checked (a model file's or CSV row's value; absent = version 1).

    Raises ``ValueError`` with one line for an unknown model or a version this package does not
    know.

    Example:
        >>> noise_version("depolarizing"), noise_version("depolarizing", 1)
        (2, 1)
    """
    if noise not in NOISE_VERSIONS:
        raise QecError(f"unknown noise model {noise!r}; choose from {', '.join(NOISE_MODELS)}")
    if recorded is None:
        return NOISE_VERSIONS[noise]
    if isinstance(recorded, bool) or not isinstance(recorded, int) or not 1 <= recorded <= NOISE_VERSIONS[noise]:
        raise QecError(
            f"unknown noise version {recorded!r} of {noise!r} (this qec knows versions 1 to "
            f"{NOISE_VERSIONS[noise]}; a newer qec-predecoder may have written it)"
        )
    return recorded


def noise_label(noise: str, version: int) -> str:
    """``"depolarizing v2"``, with ``" (superseded)"`` when ``version`` is not the current one."""
    current = NOISE_VERSIONS.get(noise)
    return f"{noise} v{version}" + ("" if current is None or version == current else " (superseded)")


def _check_probability(name: str, value: float, upper: float) -> None:
    if not (0.0 <= value <= upper):
        raise QecError(f"{name}={value} is not a probability in [0, {upper}]")
