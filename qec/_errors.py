"""The one base class of every user mistake the packages report: :class:`QecError`.

A bad argument, an unreadable or mismatched file, a model that does not fit its circuit: each
raises a :class:`QecError` (a ``ValueError``, so ``except ValueError`` still catches it) whose
message is one line naming the input and the cause. The ``qec`` command prints exactly these as
one line with exit status 2; any other exception is a bug and keeps its traceback.

Example:
    >>> from qec import MemoryExperiment, QecError
    >>> try:
    ...     MemoryExperiment(distance=4, rounds=3, p=0.001)
    ... except QecError as e:
    ...     print(type(e).__name__, isinstance(e, ValueError))
    QecError True
"""

from __future__ import annotations


class QecError(ValueError):
    """A mistake in the caller's input, described in one line."""
