"""What a long run needs, for packages built on ``qec``: checks of the numbers and paths a user
gives (a bad one is a :class:`qec.QecError`), Ctrl-C deferred over a critical section, progress
bars on stderr, worker-process pools that die with their parent, and memory estimates checked
before anything large is built.
"""

from qec._runtime._arguments import path_text, real_number, whole_number
from qec._runtime._interrupts import deferred_interrupts
from qec._runtime._memory_estimate import check_fits, detectors, point_bytes
from qec._runtime._progress import progress_bar
from qec._runtime._worker_processes import worker_pool

__all__ = [
    "check_fits",
    "deferred_interrupts",
    "detectors",
    "path_text",
    "point_bytes",
    "progress_bar",
    "real_number",
    "whole_number",
    "worker_pool",
]
