"""The arguments a run folder's files were made with, recorded in ``config.json`` and checked on
every rerun, and the warm start pinned in the folder (the closed loops': :mod:`predecoder._closed_loop`,
:mod:`predecoder._hardware_loop`).

A rerun with the same arguments resumes; one with others is refused in one line naming them, never
answered with the first run's files. A folder whose run stopped before making anything but its
``config.json`` starts afresh with the new arguments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from predecoder._model_catalog import model_path
from qec import QecError
from qec.files import write_bytes

__all__ = ["check_recorded_config", "pin_init"]


def pin_init(init: str | None, out: Path) -> str | None:
    """The warm start ``init`` (a shipped model's name or a file) as ``out/init.safetensors``,
    copied once, so every training of the run starts from the same bytes; None without one."""
    if init is None:
        return None
    pinned = out / "init.safetensors"
    if not pinned.exists():
        given = model_path(init)
        write_bytes(pinned, Path(given).read_bytes(), inputs=(given,), what="warm start")
    return str(pinned)


def check_recorded_config(out: Path, want: dict[str, Any], outputs: Sequence[str]) -> None:
    """Refuse a rerun into ``out`` whose arguments ``want`` differ from those its files (the
    entries ``outputs`` names, besides ``config.json``) were made with; record them on a first run."""
    path = out / "config.json"
    made = [name for name in outputs if name != "config.json" and (out / name).exists()]
    if path.exists():
        try:
            have = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise QecError(f"--out {out}: {path.name} is unreadable ({e}); give another --out") from None
        differ = [k for k in sorted(set(want) | set(have)) if want.get(k) != have.get(k)]
        if not differ:
            return
        if made:
            shown = "; ".join(f"{k} {have.get(k)!r} there, {want.get(k)!r} now" for k in differ)
            raise QecError(f"--out {out} holds a closed loop made with other arguments ({shown}): its DEMs and "
                           f"models would not be this run's; give another --out, or the same arguments to resume it")
    elif made:
        raise QecError(f"--out {out} holds files of a closed loop whose arguments were not recorded "
                       f"({', '.join(made)}); give another --out")
    write_bytes(path, (json.dumps(want, indent=1) + "\n").encode(), what="closed-loop config")
