"""Files, for packages built on ``qec``: DEM files (read, checked against a circuit, checked to be
decodable), result files written whole (never half a file after a crash or a full disk), output
folders and their stale temporaries, and one writer per run folder.
"""

from qec._data._dem_files import DemMismatchError, as_dem, check_dem_decodable, check_dem_fits, read_dem
from qec._data._locks import folder_lock
from qec._data._output_files import check_output_path, make_folder, remove_stale_temporaries, write_bytes

__all__ = [
    "DemMismatchError",
    "as_dem",
    "check_dem_decodable",
    "check_dem_fits",
    "check_output_path",
    "folder_lock",
    "make_folder",
    "read_dem",
    "remove_stale_temporaries",
    "write_bytes",
]
