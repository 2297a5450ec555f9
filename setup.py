"""Build of the one compiled module, ``qec._decoding._weighted_matching`` (everything else is in
pyproject.toml).

It is PyMatching's sparse-blossom core with per-shot edge weights
(qec/_decoding/_weighted_matching.cc), compiled with PyMatching's own C++ sources, which only its
sdist carries (its wheels hold no headers):

- the release is the one pyproject.toml pins as the runtime dependency, so the compiled core and
  the runtime's PyMatching are the same code;
- the sdist comes through ``pip download`` (pip is a build requirement), so pip's configuration
  (``pip.conf``, ``PIP_INDEX_URL``, ``PIP_NO_INDEX``, ``PIP_FIND_LINKS``, proxies, certificates)
  applies, and pip checks it against the sha256 pinned below;
- it is kept in a cache across installs (``$QEC_BUILD_CACHE``, else ``$XDG_CACHE_HOME`` or
  ``~/.cache``, in ``qec-predecoder/``), and so are the core's compiled objects (per compiler and
  flags): a second install downloads nothing and compiles only qec's own file.

A build that cannot make the module fails with one line saying why. ``QEC_COMPILED_MATCHER=optional``
installs without it instead (per-shot weighted matching then runs an exact rebuild fallback, about
50x slower, and says so the first time it decodes); ``=off`` does not try.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = pathlib.Path(__file__).resolve().parent
# sha256 of each PyMatching release's sdist this build accepts (pyproject.toml pins one).
PYMATCHING_SDIST_SHA256 = {"2.4.0": "0c30dafa506b086f50d15530debd7b7b39228597d22c52d5ccd114bcbb0a2326"}
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
MODES = ("required", "optional", "off")


class BuildError(Exception):
    """Why the compiled module cannot be built (one line)."""


def pinned_pymatching() -> str:
    """The PyMatching release pyproject.toml pins (``pymatching==X``)."""
    found = re.search(r'"pymatching==([0-9][^"]*)"', (HERE / "pyproject.toml").read_text())
    if not found:
        raise BuildError("pyproject.toml must pin pymatching==X (the compiled matcher is built from that release)")
    return found.group(1)


def cache_dir() -> pathlib.Path:
    """Where the sdist and its unpacked sources are kept across installs."""
    root = os.environ.get("QEC_BUILD_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "qec-predecoder")
    return pathlib.Path(root)


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pymatching_sdist(version: str, cache: pathlib.Path) -> pathlib.Path:
    """The verified sdist of PyMatching ``version``: from the cache, else through ``pip download``."""
    sha256 = PYMATCHING_SDIST_SHA256.get(version)
    if sha256 is None:
        raise BuildError(f"no sha256 for the pymatching {version} sdist in setup.py's PYMATCHING_SDIST_SHA256")
    path = cache / f"pymatching-{version}.tar.gz"
    if path.exists() and _sha256(path) == sha256:
        print(f"qec build: the pymatching {version} sdist from the cache ({path})", file=sys.stderr)
        return path
    print(f"qec build: downloading the pymatching {version} sdist with pip into {cache}", file=sys.stderr)
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        requirement = pathlib.Path(tmp) / "requirement.txt"
        requirement.write_text(f"pymatching=={version} --hash=sha256:{sha256}\n")
        # --no-build-isolation: pip prepares the sdist's metadata with this build's setuptools
        # instead of installing PyMatching's own build tools (cmake, ninja).
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", "pymatching",
             "--no-build-isolation", "--require-hashes", "-r", str(requirement), "--dest", tmp],
            capture_output=True, text=True)
        got = pathlib.Path(tmp) / path.name
        if done.returncode != 0 or not got.exists():
            why = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
            raise BuildError(f"pip could not download the pymatching {version} sdist"
                             + (f" ({why[-1]})" if why else ""))
        os.replace(got, path)
    return path


def pymatching_sources(version: str, cache: pathlib.Path) -> pathlib.Path:
    """PyMatching's ``src`` folder, unpacked from its sdist into the cache (once)."""
    src = cache / f"pymatching-{version}" / "src"
    if not (src / "pymatching" / "sparse_blossom" / PYMATCHING_CORE[-1]).exists():
        prefix = f"pymatching-{version}/src/"
        with tarfile.open(pymatching_sdist(version, cache)) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(cache, members=members, **safe)
    return src


class BuildWeightedMatching(build_ext):
    """Adds PyMatching's core to the extension; fails in one line when it cannot (see the module
    docstring for QEC_COMPILED_MATCHER)."""

    def build_extensions(self):
        mode = os.environ.get("QEC_COMPILED_MATCHER", "required")
        if mode not in MODES:
            raise SystemExit(f"error: QEC_COMPILED_MATCHER={mode!r}: give one of {', '.join(MODES)}")
        if mode == "off":
            self.extensions = []
            return
        try:
            import pybind11

            version = pinned_pymatching()
            src = pymatching_sources(version, cache_dir())
        except (BuildError, ImportError, OSError, tarfile.TarError) as e:
            self._cannot(mode, str(e))
            return
        ext = self.extensions[0]
        if self.compiler.compiler_type == "msvc":
            flags = ["/std:c++20", "/O2", "/EHsc"]
        else:
            flags = ["-std=c++20", "-O3", "-fvisibility=hidden", "-w"]
        ext.include_dirs = ext.include_dirs + [str(src), pybind11.get_include()]
        ext.define_macros = [("QEC_PYMATCHING_VERSION", f'"{version}"')]
        ext.extra_compile_args = flags
        try:
            ext.extra_objects = list(ext.extra_objects or []) + self._core_objects(src, version, flags)
            super().build_extensions()
        except Exception as e:  # a compiler error (its output is above)
            self._cannot(mode, f"compiling it failed ({type(e).__name__}: {e}); it needs a C++20 compiler")

    def _core_objects(self, src: pathlib.Path, version: str, flags: list[str]) -> list[str]:
        """PyMatching's core compiled once per compiler and flags, kept in the cache (its sources
        include no Python header, so one build serves every Python)."""
        compiler = getattr(self.compiler, "compiler_so", None) or [self.compiler.compiler_type]
        key = hashlib.sha256(repr((version, compiler, flags, sysconfig.get_platform())).encode()).hexdigest()[:16]
        folder = src.parent / f"objects-{key}"
        sources = [str(src / "pymatching" / "sparse_blossom" / f) for f in PYMATCHING_CORE]
        objects = self.compiler.object_filenames(sources, output_dir=str(folder))
        if all(os.path.exists(o) for o in objects):
            return objects
        partial = pathlib.Path(f"{folder}.partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        self.compiler.compile(sources, output_dir=str(partial), include_dirs=[str(src)], extra_postargs=flags)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(partial, folder)  # whole or not at all: a half-built cache is never used
        return objects

    def _cannot(self, mode: str, why: str) -> None:
        message = f"qec._decoding._weighted_matching cannot be built: {why}"
        if mode == "required":
            raise SystemExit(f"error: {message}. Set QEC_COMPILED_MATCHER=optional to install without it "
                             "(per-shot weighted matching then runs an exact fallback, about 50x slower)")
        print(f"warning: {message}; installing without it (QEC_COMPILED_MATCHER=optional)", file=sys.stderr)
        self.extensions = []


setup(
    ext_modules=[Extension("qec._decoding._weighted_matching", sources=["qec/_decoding/_weighted_matching.cc"],
                           language="c++")],
    cmdclass={"build_ext": BuildWeightedMatching},
)
