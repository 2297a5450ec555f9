"""Which measured shots a DEM file was estimated from: its *provenance*, carried in the file.

A DEM learned from hardware shots (``qec learn-noise --experiment FOLDER --half even``) must never
score those shots, nor may anything trained on it (a pre-decoder trained on the learned DEM). The
DEM file says where it came from in comment lines that Stim ignores::

    # fitted_on: {"folder": "surface_code_bX_d5_r11_center_5_5", "half": "even", "shots": 25000}

one line per (folder, half) of shots the DEM was estimated from. :func:`read_provenance` reads
them back; :func:`overlapping` says which records cover the shots about to be scored.

Example:
    >>> rec = FittedOn(folder="surface_code_bX_d5_r11_center_5_5", half="even", shots=25000)
    >>> text = provenance_header([rec]) + "error(0.1) D0\\n"
    >>> parse_provenance(text) == [rec]
    True
    >>> [r.half for r in overlapping([rec], "surface_code_bX_d5_r11_center_5_5", "odd")]
    []
    >>> [r.half for r in overlapping([rec], "surface_code_bX_d5_r11_center_5_5", None)]
    ['even']
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Iterable, Sequence

from qec._errors import QecError

PREFIX = "# fitted_on: "
HALVES = ("even", "odd")


@dataclasses.dataclass(frozen=True)
class FittedOn:
    """One half of one experiment folder's shots that something was estimated from.

    Attributes:
        folder: the experiment folder's name (its directory's base name).
        half: ``"even"`` or ``"odd"`` (shot index parity).
        shots: how many shots of that half were used (of the first ``max_shots`` of the folder).
    """

    folder: str
    half: str
    shots: int | None = None

    def __post_init__(self) -> None:
        if self.half not in HALVES:
            raise QecError(f"fitted_on half must be one of {', '.join(HALVES)}, got {self.half!r}")
        if not self.folder:
            raise QecError("fitted_on needs a folder name")

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON-ready dict."""
        return dataclasses.asdict(self)

    @staticmethod
    def from_json(d: dict[str, Any]) -> "FittedOn":
        """The record from :meth:`to_json`'s dict; a :class:`qec.QecError` for a malformed one."""
        try:
            return FittedOn(folder=str(d["folder"]), half=str(d["half"]),
                            shots=None if d.get("shots") is None else int(d["shots"]))
        except (KeyError, TypeError) as e:
            raise QecError(f"not a fitted_on record: {d!r}") from e

    def describe(self) -> str:
        """In words: which shots of which folder."""
        n = "" if self.shots is None else f"{self.shots} "
        return f"the {n}{self.half} shots of {self.folder}"


def provenance_header(records: Iterable[FittedOn]) -> str:
    """The comment lines recording ``records`` (each ends with a newline)."""
    return "".join(f"{PREFIX}{json.dumps(r.to_json(), sort_keys=True)}\n" for r in records)


def parse_provenance(text: str) -> list[FittedOn]:
    """The records of a DEM's text (its ``# fitted_on:`` lines; a malformed one raises
    :class:`qec._errors.QecError` naming it)."""
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith(PREFIX):
            continue
        try:
            out.append(FittedOn.from_json(json.loads(line[len(PREFIX):])))
        except (json.JSONDecodeError, ValueError) as e:
            raise QecError(f"line {number}: malformed provenance record ({e})") from None
    return out


def read_provenance(path: str | os.PathLike) -> list[FittedOn]:
    """The records of a DEM file (empty for a DEM that carries none, e.g. a device model's)."""
    path = os.fspath(path)
    with open(path, encoding="utf-8", errors="replace") as f:
        try:
            return parse_provenance(f.read())
        except ValueError as e:
            raise QecError(f"{path} {e}") from None


def records_from_json(items: Sequence[dict[str, Any]] | None) -> list[FittedOn]:
    """Records from their JSON form (a model file's ``fitted_on`` metadata)."""
    return [FittedOn.from_json(d) for d in (items or [])]


def overlapping(records: Iterable[FittedOn], folder: str, half: str | None) -> list[FittedOn]:
    """The records that cover shots of ``folder`` in ``half`` (``None``: both halves)."""
    return [r for r in records if r.folder == folder and (half is None or r.half == half)]
