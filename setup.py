"""Build of the one compiled module, ``qec._decoding._weighted_matching`` (everything else is in pyproject.toml).

It is PyMatching's sparse-blossom core with per-shot edge weights (qec/_decoding/_weighted_matching.cc). The
core's C++ sources come from the PyMatching sdist on PyPI, pinned by version and sha256 and
downloaded at build time (PyMatching's wheels carry no headers). The module is optional: without a
network, a C++20 compiler or the sdist, the install still succeeds and
``qec._decoding._weighted_matcher`` falls back to an exact per-shot graph rebuild (about 50x slower).
To build offline, put the sdist next to this file (``pymatching-2.4.0.tar.gz``).
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import sys
import tarfile
import urllib.request

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

PYMATCHING_VERSION = "2.4.0"
PYMATCHING_SDIST_URL = (
    "https://files.pythonhosted.org/packages/7d/19/39472c89d532e576890320eff5e9738e4b4d7828d027315f7e198ba0be8c/"
    "pymatching-2.4.0.tar.gz"
)
PYMATCHING_SDIST_SHA256 = "0c30dafa506b086f50d15530debd7b7b39228597d22c52d5ccd114bcbb0a2326"
# The sparse-blossom core: everything the flooder and matcher need, nothing that includes Stim.
PYMATCHING_CORE = [
    "flooder/graph.cc",
    "flooder/detector_node.cc",
    "flooder/graph_fill_region.cc",
    "flooder/match.cc",
    "flooder/graph_flooder.cc",
    "flooder_matcher_interop/compressed_edge.cc",
    "flooder_matcher_interop/region_edge.cc",
    "flooder_matcher_interop/mwpm_event.cc",
    "matcher/alternating_tree.cc",
    "matcher/mwpm.cc",
    "search/search_graph.cc",
    "search/search_detector_node.cc",
    "search/search_flooder.cc",
    "tracker/flood_check_event.cc",
]
HERE = pathlib.Path(__file__).resolve().parent


def _sdist(cache: pathlib.Path) -> pathlib.Path:
    """The verified PyMatching sdist: next to setup.py, else downloaded into ``cache``."""
    name = f"pymatching-{PYMATCHING_VERSION}.tar.gz"
    for path in (HERE / name, cache / name):
        if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == PYMATCHING_SDIST_SHA256:
            return path
    cache.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(PYMATCHING_SDIST_URL, timeout=60) as response:
        data = response.read()
    if hashlib.sha256(data).hexdigest() != PYMATCHING_SDIST_SHA256:
        raise RuntimeError(f"{name} from PyPI does not have the pinned sha256")
    path = cache / name
    path.write_bytes(data)
    return path


def _pymatching_source(cache: pathlib.Path) -> pathlib.Path:
    """PyMatching's ``src`` folder, unpacked from the sdist into ``cache``."""
    root = cache / f"pymatching-{PYMATCHING_VERSION}"
    src = root / "src"
    if not (src / "pymatching" / "sparse_blossom" / PYMATCHING_CORE[-1]).exists():
        with tarfile.open(_sdist(cache)) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(f"pymatching-{PYMATCHING_VERSION}/src/")]
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(cache, members=members, **safe)
    return src


class BuildWeightedMatching(build_ext):
    """Adds PyMatching's core to the extension; skips the extension (with a warning) when it cannot."""

    def build_extensions(self):
        ext = self.extensions[0]
        try:
            import pybind11

            src = _pymatching_source(pathlib.Path(self.build_temp).resolve() / "pymatching-sdist")
        except Exception as e:  # no network, no pybind11: install without the fast path
            print(f"warning: qec._decoding._weighted_matching not built ({e}); per-shot weighted matching will use the "
                  "slow exact fallback", file=sys.stderr)
            self.extensions = []
            return
        ext.sources = ext.sources + [str(src / "pymatching" / "sparse_blossom" / f) for f in PYMATCHING_CORE]
        ext.include_dirs = ext.include_dirs + [str(src), pybind11.get_include()]
        if self.compiler.compiler_type == "msvc":
            ext.extra_compile_args = ["/std:c++20", "/O2", "/EHsc"]
        else:
            ext.extra_compile_args = ["-std=c++20", "-O3", "-fvisibility=hidden", "-w"]
        self.parallel = self.parallel or os.cpu_count() or 1
        super().build_extensions()


setup(
    ext_modules=[Extension("qec._decoding._weighted_matching", sources=["qec/_decoding/_weighted_matching.cc"], language="c++", optional=True)],
    cmdclass={"build_ext": BuildWeightedMatching},
)
