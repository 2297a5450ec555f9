"""Worker processes that never outlive their parent: a spawned process pool whose workers ask
Linux for SIGKILL when the parent dies (``PR_SET_PDEATHSIG``), even when the parent is killed
with SIGKILL. Used by LER collection (``--workers``) and parallel matching."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import sys
from typing import Any, Callable, Sequence


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to kill this process when its parent dies; elsewhere nothing."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            PR_SET_PDEATHSIG = 1
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):  # pragma: no cover - no libc
            return
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def _init(parent_pid: int, initializer: Callable[..., None] | None, initargs: Sequence[Any]) -> None:
    die_with_parent(parent_pid)
    if initializer is not None:
        initializer(*initargs)


def worker_pool(
    workers: int, initializer: Callable[..., None] | None = None, initargs: Sequence[Any] = ()
) -> concurrent.futures.ProcessPoolExecutor:
    """A spawned process pool of ``workers`` processes that die with this one; ``initializer``
    (a module-level function) runs once in each."""
    return concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init,
        initargs=(os.getpid(), initializer, tuple(initargs)),
    )
