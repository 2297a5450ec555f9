"""Checks of the numbers and paths the front doors take (``MemoryExperiment``, ``TrainConfig``,
``collect_ler``, ``decode_file``, ...): a value of the wrong kind is a :class:`qec.QecError`
naming the argument, never a ``TypeError`` from deep inside, nor a silent conversion (``True``
taken as 1 round, ``1.5`` steps run as 2, ``nan`` minutes training nothing).

NumPy's integers and floats are numbers like Python's; ``bool`` is no number.

Example:
    >>> whole_number("rounds", 3, minimum=1), real_number("p", 0.001)
    (3, 0.001)
    >>> whole_number("rounds", True, minimum=1)
    Traceback (most recent call last):
    ...
    qec._errors.QecError: rounds must be an integer >= 1, got True
    >>> real_number("minutes", float("nan"))
    Traceback (most recent call last):
    ...
    qec._errors.QecError: minutes must be a finite number, got nan
"""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

from qec._errors import QecError


def whole_number(name: str, value: Any, minimum: int | None = None) -> int:
    """``value`` as an ``int``: an integer (or an integral float such as ``3.0``), never a bool,
    a string or a fraction; at least ``minimum`` when given."""
    wrong = QecError(f"{name} must be an integer{'' if minimum is None else f' >= {minimum}'}, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise wrong
    if not isinstance(value, numbers.Integral) and not (math.isfinite(value) and float(value).is_integer()):
        raise wrong
    if minimum is not None and value < minimum:
        raise wrong
    return int(value)


def real_number(name: str, value: Any, *, above: float | None = None) -> float:
    """``value`` as a finite ``float`` (never a bool or a string); greater than ``above`` when given."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise QecError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise QecError(f"{name} must be a finite number, got {value}")
    if above is not None and value <= above:
        raise QecError(f"{name} must be > {above:g}, got {value:g}")
    return value


def path_text(name: str, value: Any) -> str:
    """``value`` as a non-empty path string (a ``str`` or ``os.PathLike``)."""
    if not isinstance(value, (str, os.PathLike)):
        raise QecError(f"{name} must be a path (a str or os.PathLike), got {value!r}")
    text = os.fspath(value)
    if not isinstance(text, str) or not text:
        raise QecError(f"{name} must be a non-empty path, got {value!r}")
    return text
