"""The README's Python example runs as written (the packages' docstring examples run through
pytest's --doctest-modules, configured in pyproject.toml)."""

from __future__ import annotations

import pytest

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    blocks = python_blocks(README.read_text())
    assert blocks, "the README has no Python example"
    monkeypatch.chdir(tmp_path)  # it writes stats.csv
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "LER" in out and (tmp_path / "stats.csv").exists()
    # The notebook path with `import qec, predecoder` only: a trained model, a decoded file, a paired LER.
    assert "import qec, predecoder\n" in blocks[0] and "\nimport stim" not in blocks[0]
    assert (tmp_path / "run" / "best.safetensors").exists()
    assert "decoded 1000 shots" in out and (tmp_path / "predictions.01").stat().st_size == 2000
    assert "predecoder-weighted" in out  # the paired LER's rows name it


def test_readme_sinter_command_names_the_shipped_default():
    """The README's sinter command pins the shipped default by hash; it must be today's hash."""
    from predecoder import load_model

    text = README.read_text()
    tag = load_model().short_hash
    assert f"predecoder@{tag}" in text and f"predecoder-correlated@{tag}" in text
    docs = (README.parent / "docs" / "pipeline.md").read_text()
    assert f"predecoder@{tag}" in docs


def test_the_test_extra_keeps_a_plain_installs_numpy():
    """Issue 19 item 12: beliefmatching in [test] pinned numpy<=2.2.6, so the tests ran on an older
    numpy than a plain install gets. No package of the [test] extra may cap numpy."""
    import importlib.metadata as metadata
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((README.parent / "pyproject.toml").read_text())["project"]
    for spec in project["optional-dependencies"]["test"]:
        name = Requirement(spec).name
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for req in map(Requirement, requires):
            if req.name == "numpy" and not req.marker:
                assert not any(s.operator in ("<", "<=", "==", "~=") for s in req.specifier), (name, str(req))
