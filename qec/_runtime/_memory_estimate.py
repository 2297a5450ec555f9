"""How much memory a point needs, estimated before anything is built, so that a size the machine
cannot hold is refused in one line (a d=10001 circuit would otherwise grow until the machine
swaps or kills the process).

Measured resident memory per detector (rotated memory circuits, rounds = d, d = 17 and 25,
Stim 1.16, PyMatching 2.4): the noisy circuit and its graphlike DEM about 1.4 KB, PyMatching's
graph 1.2-1.3 KB, correlated PyMatching's 5.2-5.3 KB, the pre-decoder's pipeline about 3 KB
beside the matcher it holds. :data:`BYTES_PER_DETECTOR` rounds these up by about a quarter;
unknown (custom) decoders count as correlated matching does, windowed ones (``NAME/wW:C``) as ``NAME``
(an overestimate: they hold a few windows).

Example:
    >>> detectors(3, 3)
    24
    >>> format_bytes(point_bytes(25, 25, ("pymatching",)))
    '54.6 MB'
"""

from __future__ import annotations

import os
from typing import Iterable

from qec._errors import QecError

# Resident bytes per detector: the experiment (circuit and DEM), and each decoder by name.
BYTES_PER_DETECTOR = {
    "experiment": 1_800,
    "pymatching": 1_700,
    "pymatching-correlated": 6_700,
    "predecoder": 5_500,
    "predecoder-correlated": 10_500,
}
UNKNOWN_DECODER_BYTES_PER_DETECTOR = BYTES_PER_DETECTOR["pymatching-correlated"]
# A worker process before it builds anything (Python, numpy, Stim, sinter: about 70 MB measured).
PROCESS_BYTES = 100_000_000


class TooLargeError(QecError):
    """A point that needs more memory than the machine has available."""


def detectors(distance: int, rounds: int) -> int:
    """Detectors of a rotated surface-code memory experiment: (d^2 - 1) per round."""
    return (distance * distance - 1) * rounds


def point_bytes(distance: int, rounds: int, decoders: Iterable[str] = ()) -> int:
    """Estimated resident bytes of one point: its circuit and DEM, and one of each decoder."""
    per = BYTES_PER_DETECTOR["experiment"] + sum(
        BYTES_PER_DETECTOR.get(name.partition("/w")[0], UNKNOWN_DECODER_BYTES_PER_DETECTOR) for name in decoders)
    return detectors(distance, rounds) * per


def available_memory() -> int | None:
    """Bytes this machine can still give (Linux's MemAvailable; else physical memory; None if unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(n: float) -> str:
    """``1234567`` -> ``'1.2 MB'`` (powers of 1000)."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB", "EB"):
        if abs(n) < 1000 or unit == "EB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError  # pragma: no cover


def check_fits(need: int, what: str, num_detectors: int | None = None) -> None:
    """Raise :class:`TooLargeError` (one line, with the estimate) when ``need`` bytes exceed the
    memory available."""
    have = available_memory()
    if have is None or need <= have:
        return
    count = "" if num_detectors is None else f" ({num_detectors:,} detectors)"
    raise TooLargeError(f"{what} would need about {format_bytes(need)} of memory{count}; this machine has "
                        f"{format_bytes(have)} available")
