"""Worker processes that never outlive their parent: a spawned process pool whose workers ask
Linux for SIGKILL when the parent dies (``PR_SET_PDEATHSIG``), even when the parent is killed
with SIGKILL. Used by LER collection (``--workers``) and parallel matching.

Ctrl-C is the parent's alone: a terminal sends SIGINT to the whole process group, and workers
ignore it (a worker interrupted inside the pool's pipe read left the parent waiting for ever); the
parent stops its workers at once with :func:`stop_workers` (SIGKILL, no batch finished first)."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import sys
import threading
from typing import Any, Callable, Sequence


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to kill this process when its parent dies; elsewhere nothing."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            PR_SET_PDEATHSIG = 1
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):  # pragma: no cover - no libc
            return
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def _init(parent_pid: int, initializer: Callable[..., None] | None, initargs: Sequence[Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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


def stop_workers(pool: concurrent.futures.ProcessPoolExecutor, timeout: float = 5.0) -> None:
    """Kill ``pool``'s workers now (their batches are dropped) and shut the pool down without
    waiting for work; a second Ctrl-C meanwhile is ignored, so it cannot leave the pool half
    stopped (the interpreter would then wait for the workers at exit)."""
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main else None
    try:
        processes = list((getattr(pool, "_processes", None) or {}).values())
        for process in processes:
            try:
                process.kill()
            except (OSError, ValueError, AttributeError):  # already gone
                pass
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            try:
                process.join(timeout)
            except (OSError, ValueError, AssertionError):
                pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
