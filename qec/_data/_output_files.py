"""Writing output files without ever destroying an input or leaving half a file behind.

:func:`atomic_output` is the one way this project writes a result file (predictions, models,
optimizer state, DEMs, exports):

- an output that is one of the run's inputs (the same path, a hard link to it, or a symlink
  pointing at it) is refused with one line, before anything is written; so is an output in a
  folder of files shipped with the package (:data:`SHIPPED_DATA`: the shipped models of an
  editable install are its source files);
- a symlink given as the output is written *through* (its target is replaced, the link stays);
- a regular file is written to a temporary file in the same directory and renamed over the
  target at the end, so a failed or interrupted run leaves the old file (or none) in place; the
  writer holds a lock on its temporary file, and the temporaries of killed writers (kill -9
  cannot clean up) are removed the next time the same output is written
  (:func:`remove_stale_temporaries`);
- a FIFO, a character device (``/dev/stdout``, ``/dev/null``) or anything else that is not a
  regular file is opened and written directly: it is never replaced by a regular file;
- every failure (unwritable directory, disk full) is :class:`OutputFileError`, one line naming
  the file the user gave, never the temporary file.

Example:
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with atomic_output(os.path.join(d, "out.txt")) as f:
    ...     _ = f.write(b"hello")
    >>> open(os.path.join(d, "out.txt"), "rb").read()
    b'hello'
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import stat
import tempfile
from typing import BinaryIO, Iterator, Sequence

from qec._errors import QecError
from qec._data._locks import try_lock

# (package, folder) of data files shipped with the project: never an output.
SHIPPED_DATA = (("predecoder", "models"), ("noise_learning", "models"))


class OutputFileError(QecError):
    """An output that cannot be written, or that would replace an input."""


@functools.lru_cache(maxsize=1)
def shipped_data_dirs() -> tuple[str, ...]:
    """The real paths of the :data:`SHIPPED_DATA` folders (found without importing the packages)."""
    out = []
    for package, folder in SHIPPED_DATA:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        for location in (spec.submodule_search_locations or []) if spec else []:
            out.append(os.path.realpath(os.path.join(location, folder)))
    return tuple(out)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output_path(
    path: str | os.PathLike, inputs: Sequence[str | os.PathLike | None] = (), what: str = "output"
) -> str:
    """The real path to write for ``path`` (symlinks followed); raises :class:`OutputFileError`
    when it is one of ``inputs`` (same file, hard link or symlink; ``None`` entries are skipped), a
    directory, in a folder of shipped files, or its directory does not exist."""
    path = os.fspath(path)
    real = os.path.realpath(path)
    for inp in inputs:
        if inp is None:
            continue
        inp = os.fspath(inp)
        if os.path.realpath(inp) == real or _same_file(inp, path):
            raise OutputFileError(f"{what} {path} is the input {inp}: refusing to overwrite an input")
    if os.path.isdir(real):
        raise OutputFileError(f"{what} {path} is a directory")
    parent = os.path.dirname(real) or "."
    if parent in shipped_data_dirs():
        raise OutputFileError(f"{what} {path} is in {parent}, the files shipped with the package: give another path")
    if not os.path.isdir(parent):
        raise OutputFileError(f"{what} {path}: directory {parent} does not exist")
    return real


def _cannot_write(what: str, shown: str, e: OSError) -> OutputFileError:
    """The one message of every I/O failure: it names the user's output, never a temporary file."""
    return OutputFileError(f"cannot write {what} {shown}: {e.strerror or e}")


class _Writer:
    """A binary file whose write errors (disk full, ...) name the user's output."""

    def __init__(self, f: BinaryIO, shown: str, what: str):
        self._f, self._shown, self._what = f, shown, what

    def write(self, data) -> int:
        try:
            return self._f.write(data)
        except OSError as e:
            raise _cannot_write(self._what, self._shown, e) from None

    def finish(self, sync: bool) -> None:
        try:
            self._f.flush()
            if sync:
                os.fsync(self._f.fileno())
        except OSError as e:
            raise _cannot_write(self._what, self._shown, e) from None

    def __getattr__(self, name):
        return getattr(self._f, name)


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike, inputs: Sequence[str | os.PathLike] = (), what: str = "output"
) -> Iterator[BinaryIO]:
    """Open ``path`` for binary writing, safely (see the module docstring).

    Args:
        path: the output the user named.
        inputs: files this run reads; ``path`` may be none of them.
        what: how the error messages name the output (e.g. ``"--out"``).

    Yields a binary file object; the file appears at ``path`` only when the block ends without an
    exception (for regular files).
    """
    shown = os.fspath(path)
    real = check_output_path(path, inputs, what)
    try:
        # The path as given, links followed by the kernel: /dev/stdout into a pipe resolves to
        # /proc/self/fd/1 -> "pipe:[N]", which is no path, but opens and stats as the pipe.
        mode = os.stat(shown).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise _cannot_write(what, shown, e) from None
    if mode is not None and not stat.S_ISREG(mode):
        # FIFO, device, socket: write into it, never replace it.
        try:
            f = open(shown, "wb", buffering=0)  # unbuffered: a failed write fails in write(), not at close
        except OSError as e:
            raise _cannot_write(what, shown, e) from None
        with f:
            w = _Writer(f, shown, what)
            yield w
            w.finish(sync=False)
        return
    parent = os.path.dirname(real) or "."
    remove_stale_temporaries(parent, [os.path.basename(real)])
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=_temporary_prefix(real), suffix=".tmp")
    except OSError as e:
        raise _cannot_write(what, shown, e) from None
    try_lock(fd)  # held while writing: the temporary of a live writer is never stale
    try:
        with os.fdopen(fd, "wb") as f:
            w = _Writer(f, shown, what)
            yield w
            w.finish(sync=True)
        umask = os.umask(0)
        os.umask(umask)
        with contextlib.suppress(OSError):
            os.chmod(tmp, stat.S_IMODE(mode) if mode is not None else 0o666 & ~umask)
        try:
            os.replace(tmp, real)
        except OSError as e:
            raise _cannot_write(what, shown, e) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _temporary_prefix(real: str) -> str:
    return "." + os.path.basename(real) + "."


def make_folder(path: str | os.PathLike, what: str = "--out") -> None:
    """Create the output folder ``path`` (and its parents) unless it exists; :class:`OutputFileError`
    with one line when it is a file or cannot be made."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise OutputFileError(f"{what} {path} is a file, not a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise OutputFileError(f"cannot make {what} {path}: {e.strerror or e}") from None


def remove_stale_temporaries(folder: str | os.PathLike, names: Sequence[str]) -> list[str]:
    """Delete the temporary files :func:`atomic_output` left in ``folder`` for the outputs
    ``names`` when a writer was killed before it could clean up (kill -9, a power cut); returns
    their names. A temporary whose writer is alive is locked by it and kept."""
    folder = os.fspath(folder)
    removed = []
    try:
        entries = os.listdir(folder)
    except OSError:
        return removed
    prefixes = tuple(_temporary_prefix(name) for name in names)
    for entry in entries:
        if not (entry.endswith(".tmp") and entry.startswith(prefixes)):
            continue
        path = os.path.join(folder, entry)
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_RDONLY)
            try:
                if try_lock(fd):
                    os.unlink(path)
                    removed.append(entry)
            finally:
                os.close(fd)
    return removed


def write_bytes(path: str | os.PathLike, data: bytes, inputs: Sequence[str | os.PathLike] = (), what: str = "output") -> None:
    """Write ``data`` to ``path`` with :func:`atomic_output`."""
    with atomic_output(path, inputs, what) as f:
        f.write(data)
