"""Stopping a long run cleanly: SIGTERM (what a batch scheduler sends at the end of a job's time,
and ``kill``'s default) handled like Ctrl-C, and saves that no signal cuts in half.

- :func:`sigterm_as_interrupt`: while active, SIGTERM raises :class:`Terminated`, a
  ``KeyboardInterrupt``, so every ``except KeyboardInterrupt`` / ``finally`` that saves or cleans
  up on Ctrl-C does the same on SIGTERM (``qec`` runs every command inside it).
- :func:`deferred_interrupts`: a block (writing a checkpoint's files) that SIGINT and SIGTERM do
  not interrupt; a signal that arrives meanwhile is raised when the block ends.

Both act only in the main thread (Python delivers signals there); elsewhere they do nothing.

Example:
    >>> import os, signal
    >>> with sigterm_as_interrupt():
    ...     try:
    ...         os.kill(os.getpid(), signal.SIGTERM)
    ...         for _ in range(10**6):
    ...             pass
    ...     except Terminated:
    ...         print("saved and stopped")
    saved and stopped
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM (inside :func:`sigterm_as_interrupt`)."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` inside the block."""
    if not _in_main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block ends (then raise as they would have)."""
    if not _in_main_thread():
        yield
        return
    received: list[tuple[int, object]] = []

    def record(signum, frame) -> None:
        received.append((signum, frame))

    previous = {sig: signal.signal(sig, record) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        signum, frame = received[0]
        handler = previous[signum]
        if callable(handler):
            handler(signum, frame)
        elif handler == signal.SIG_DFL:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt()
            signal.raise_signal(signum)
