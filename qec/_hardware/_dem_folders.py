"""DEMs learned per experiment folder and half, kept as files: a DEM source for
:func:`qec.score_hardware` (``qec hardware --dem DIR``).

A *DEM folder* holds ``<experiment folder name>.<half>.dem`` files, each learned from that half of
that folder's shots (``qec closed-loop --experiment`` writes its ``DIR/dems`` this way; so does
``qec learn-noise --experiment F --half even --out DIR/<name of F>.even.dem``). Scoring a half
uses the file of the *other* half, and every file's provenance (``# fitted_on:`` lines) is
checked against the shots scored, as for any DEM file.

Example:
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "surface_code_bX_d3_r03_center_3_5.even.dem").write_text("error(0.1) D0\\n")
    >>> src = dem_folder(d)
    >>> src.label, src.files[0][:2]
    ('learned-files', ('surface_code_bX_d3_r03_center_3_5', 'even'))
"""

from __future__ import annotations

import dataclasses
import os

from qec._data._dem_files import read_dem
from qec._hardware._dem_provenance import FittedOn, read_provenance
from qec._errors import QecError
from qec._hardware._experiment_folders import HALVES, ExperimentFolder

__all__ = ["LearnedDemFiles", "dem_folder"]


@dataclasses.dataclass(frozen=True)
class LearnedDemFiles:
    """DEM source: each experiment folder's DEM file learned from one half of its shots.

    Attributes:
        files: ``((folder name, half fitted on, path), ...)``.
        label: the columns' DEM label.
    """

    files: tuple[tuple[str, str, str], ...]
    label: str = "learned"
    per_half: bool = True

    @property
    def fitted_on(self) -> list[FittedOn]:
        """Every file's provenance records."""
        return [rec for _, _, path in self.files for rec in read_provenance(path)]

    def dem(self, folder: ExperimentFolder, fitted_on: str, max_shots: int | None = None):
        """The DEM file learned from half ``fitted_on`` of ``folder``."""
        for name, half, path in self.files:
            if name == folder.name and half == fitted_on:
                return read_dem(path, what="learned DEM")
        raise QecError(f"{folder.path}: no DEM learned from its {fitted_on} half among the DEM files given")


def dem_folder(path: str | os.PathLike, label: str = "learned-files") -> LearnedDemFiles:
    """The ``<folder>.<half>.dem`` files of directory ``path`` as a DEM source; a directory with
    none is a :class:`QecError`."""
    path = os.fspath(path)
    files = []
    for entry in sorted(os.listdir(path)):
        stem, _, ext = entry.rpartition(".")
        name, _, half = stem.rpartition(".")
        if ext == "dem" and half in HALVES and name:
            files.append((name, half, os.path.join(path, entry)))
    if not files:
        raise QecError(f"{path} holds no <experiment folder>.<even|odd>.dem files")
    return LearnedDemFiles(tuple(files), label=label)
