"""One writer at a time: exclusive, non-blocking ``flock`` locks on the files and folders a run
writes (a sinter CSV, a training run's folder, a closed-loop folder). A second process finds
the lock held and stops at once with :class:`LockedError`; the lock goes away with the process
that held it, even when it is killed, so no stale lock is ever left behind.

Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with folder_lock(folder, "a run"):
    ...     try:
    ...         with folder_lock(folder, "a run"):
    ...             pass
    ...     except LockedError as e:
    ...         print(str(e).split(": ")[1])
    another process is writing it (it holds the folder's lock); wait for it to finish or give another folder
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

from qec._errors import QecError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux/macOS: no lock
    fcntl = None


class LockedError(QecError):
    """Another process holds the lock."""


def lock_exclusively(fd: int, message: str) -> None:
    """Take an exclusive lock on the open file ``fd`` or raise :class:`LockedError(message)`."""
    if not try_lock(fd):
        raise LockedError(message)


def try_lock(fd: int) -> bool:
    """Take an exclusive lock on the open file ``fd`` if no process holds one; whether it did
    (True where locks do not exist)."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def folder_lock(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Hold an exclusive lock on the folder ``path`` (it must exist) for the block; ``what`` names
    the folder in the error (e.g. ``"training run runs/d5"``)."""
    fd = os.open(os.fspath(path), os.O_RDONLY)
    try:
        lock_exclusively(fd, f"{what}: another process is writing it (it holds the folder's lock); "
                             f"wait for it to finish or give another folder")
        yield
    finally:
        os.close(fd)
