"""The packages' shape: qec's subpackages in layers (each imports only those below it), the sibling
packages on qec's public names only, and no module over 450 lines."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# qec's private subpackages, lowest first: a module of one imports only from its own subpackage,
# those before it, and qec._errors (the root of every user mistake).
QEC_LAYERS = ("_runtime", "_circuits", "_encoding", "_data", "_decoding", "_collection", "_hardware")
MAX_LINES = 450


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in ``path``, function-level ones included; ``from a import b``
    gives ``a`` and ``a.b`` (b may be a module)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            out.extend((node.lineno, f"{node.module}.{a.name}") for a in node.names)
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names)
    return out


def test_qec_is_subpackages_in_layers():
    assert sorted(p.name for p in (ROOT / "qec").iterdir() if p.is_dir() and p.name.startswith("_")
                  and p.name != "__pycache__") == sorted(QEC_LAYERS)
    assert sorted(p.name for p in (ROOT / "qec").glob("_*.py")) == ["__init__.py", "_errors.py"]
    upward = []
    for layer, name in enumerate(QEC_LAYERS):
        for path in sorted((ROOT / "qec" / name).rglob("*.py")):
            for line, module in _imported_modules(path):
                parts = module.split(".")
                if parts[0] != "qec":
                    continue
                if len(parts) == 1 or not parts[1].startswith("_"):
                    upward.append(f"{path.relative_to(ROOT)}:{line} {module} (a public door)")
                elif parts[1] in QEC_LAYERS and QEC_LAYERS.index(parts[1]) > layer:
                    upward.append(f"{path.relative_to(ROOT)}:{line} {module}")
    assert upward == []


def test_predecoder_and_noise_learning_use_only_qecs_public_names():
    """What they need from qec comes from its front door or its public modules (qec.encoding,
    qec.decoding, qec.files, qec.hardware, qec.noise, qec.runtime), never a private module."""
    private = []
    for package in ("predecoder", "noise_learning"):
        for path in sorted((ROOT / package).rglob("*.py")):
            private += [f"{path.relative_to(ROOT)}:{line} {module}" for line, module in _imported_modules(path)
                        if module.startswith("qec._")]
    assert private == []


def test_no_module_is_over_450_lines():
    long = [f"{p.relative_to(ROOT)}: {n}" for package in ("qec", "predecoder", "noise_learning", "experiments")
            for p in sorted((ROOT / package).rglob("*.py")) if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert long == []


def test_the_root_conftest_loads_no_torch():
    """``pytest tests/qec`` pays for no torch at collection: the shared fixtures import it only when
    a test uses them."""
    import subprocess
    import sys

    code = f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r}); import conftest; assert 'torch' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
