"""The README's Python example runs as written (the packages' docstring examples run through
pytest's --doctest-modules, configured in pyproject.toml)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    blocks = python_blocks(README.read_text())
    assert blocks, "the README has no Python example"
    monkeypatch.chdir(tmp_path)  # it writes stats.csv
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "LER" in out and (tmp_path / "stats.csv").exists()
