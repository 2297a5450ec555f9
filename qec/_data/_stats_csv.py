"""Sinter CSV files of LER statistics: reading (totals per strong id, versions checked), the
strong id, and the locked appender a collection writes through.

One collection writes a CSV at a time: :class:`CsvSink` holds an exclusive ``flock`` on the file
while it is open, so two collections into one file never both count the shots it held.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
from typing import Any, Iterable, Mapping

import sinter

from qec._errors import QecError
from qec._data._locks import LockedError, lock_exclusively
from qec._circuits._noise import NOISE_VERSIONS, noise_version


def strong_id(circuit_text: str, dem_text: str, decoder: str, json_metadata: Mapping[str, Any]) -> str:
    """sha256 over circuit text, DEM text, decoder name and canonical JSON metadata."""
    h = hashlib.sha256()
    for part in (circuit_text, dem_text, decoder, json.dumps(json_metadata, sort_keys=True, separators=(",", ":"))):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def read_csv_stats(path: str | os.PathLike) -> dict[str, sinter.TaskStats]:
    """Totals per strong id of a sinter CSV; {} for a missing or empty file.

    Raises ``ValueError`` with one line when the file is not a sinter CSV.
    """
    path = os.fspath(path)
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return {}
    if os.path.isdir(path):
        raise QecError(f"{path} is a directory, not a CSV file")
    try:
        with open(path, encoding="utf-8") as f:
            first = f.readline()
        if [c.strip() for c in first.split(",")][:7] != [c.strip() for c in sinter.CSV_HEADER.split(",")][:7]:
            raise QecError("the first line is not sinter's CSV header")
        stats = sinter.read_stats_from_csv_files(path)
    except UnicodeDecodeError:
        raise QecError(f"malformed CSV {path}: not a text file") from None
    except Exception as e:  # sinter raises assorted errors on bad rows
        raise QecError(_malformed_csv_message(path, e)) from None
    for s in stats:
        meta = s.json_metadata
        if isinstance(meta, dict) and meta.get("noise") in NOISE_VERSIONS and "noise_version" in meta:
            try:
                noise_version(meta["noise"], meta["noise_version"])
            except ValueError as e:
                raise QecError(f"CSV {path}: a row of decoder {s.decoder!r} has an {e}") from None
    return {s.strong_id: s for s in stats}


def _malformed_csv_message(path: str, error: Exception) -> str:
    """One line naming the file's first unreadable line (sinter's own message counts lines of a
    row's JSON, not of the file), with how to repair it."""
    msg = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    with open(path, encoding="utf-8") as f:
        header, *rows = f.read().splitlines()
    for number, row in enumerate(rows, start=2):
        if not row.strip():
            continue
        try:
            sinter.read_stats_from_csv_files(io.StringIO(header + "\n" + row + "\n"))
        except Exception as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            return (f"malformed CSV {path}: line {number} is not a sinter row ({first}); if a run was cut off "
                    f"while writing it, delete that line and re-run to resume")
    return f"malformed CSV {path}: {msg}"


# Why an existing file may be readable but not writable: a read-only file system, or permissions.
READ_ONLY_ERRORS = (errno.EROFS, errno.EACCES, errno.EPERM)


def check_writable(path: str | os.PathLike) -> None:
    """Raise ``ValueError`` unless ``path`` can be appended to (creates it if missing), or is an
    existing CSV that can only be read (a read-only file system, no write permission): a complete
    one is re-reported without writing, and :class:`CsvSink` refuses the first row it would add."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise QecError(f"cannot write {path}: it is a directory")
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as e:
        if not (e.errno in READ_ONLY_ERRORS and os.access(path, os.R_OK)):
            raise QecError(f"cannot write {path}: {e.strerror or e}") from None


class CsvLockedError(LockedError):
    """Another process is collecting into the same CSV."""


class CsvSink:
    """Appends rows to a sinter CSV while holding an exclusive lock on it (``flock``), so two
    collections into one file never both count the shots it held.

    Rows are appended whole or not at all: when a write fails part-way (a full disk, a file-size
    limit) or is interrupted, the file is cut back to its length before the write, so the next
    run resumes from it and ``sinter combine`` reads it.

    An existing CSV that can only be read (a read-only file system, no permission) is opened for
    reading, still locked: ``read_only`` says why it cannot be written, and :meth:`write` of a row
    raises; a collection that has nothing to add re-reports it.
    """

    def __init__(self, path: str | None):
        self.fd: int | None = None
        self.path = path
        self.read_only: str | None = None  # why the file cannot be written, when it cannot
        if path is None:
            return
        check_writable(path)
        try:
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except OSError as e:
            if e.errno not in READ_ONLY_ERRORS or not os.path.exists(path):
                raise QecError(f"cannot write {path}: {e.strerror or e}") from None
            self.read_only = e.strerror or str(e)
            self.fd = os.open(path, os.O_RDONLY)
        try:
            lock_exclusively(self.fd, f"{path} is being written by another collection (it holds the file's lock); "
                                      f"wait for it to finish or give another --out")
            if self.read_only is None and os.fstat(self.fd).st_size == 0:
                self._append(sinter.CSV_HEADER)
        except BaseException as e:  # a locked file, a full disk: nothing stays open or locked
            self.close()
            if isinstance(e, LockedError):
                raise CsvLockedError(str(e)) from None
            raise

    def _append(self, text: str) -> None:
        """Append ``text`` and a newline, all of it or nothing."""
        data = memoryview((text + "\n").encode())
        start = os.fstat(self.fd).st_size
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except BaseException as e:
            try:
                os.ftruncate(self.fd, start)
            except OSError:
                pass
            if isinstance(e, OSError):
                raise QecError(f"cannot write {self.path}: {e.strerror or e}") from None
            raise

    def write(self, rows: Iterable[sinter.TaskStats]) -> None:
        """Append whole rows (one write; nothing without a path). :class:`qec.QecError` when the
        file can only be read (:attr:`read_only`)."""
        lines = [row.to_csv_line() for row in rows]
        if self.fd is None or not lines:
            return
        self.check_can_add()
        self._append("\n".join(lines))

    def check_can_add(self) -> None:
        """:class:`qec.QecError` when rows cannot be added (the file can only be read)."""
        if self.read_only is not None:
            raise QecError(f"cannot write {self.path}: {self.read_only}; it lacks shots this run would add (a "
                           f"complete CSV is re-reported without writing): give another --out")

    def close(self) -> None:
        """Close the file, releasing its lock."""
        if self.fd is not None:
            try:
                os.close(self.fd)  # releases the lock
            except OSError:
                pass
            self.fd = None
