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


# Issue 30 item 17: documented commands that failed as written.

DOCS = README.parent / "docs"


def _commands(text: str, script: str) -> list[str]:
    """Every command of ``text`` that runs ``script`` with flags: code blocks' lines (continuation
    lines joined) and inline code (which the docs wrap over lines)."""
    text = text.replace("\\\n", " ")
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
    prose = re.sub(r"```[a-z]*\n.*?```", "", text, flags=re.S)
    lines = [line for b in blocks for line in b.splitlines()] + [c.replace("\n", " ") for c in re.findall(r"`([^`]+)`", prose)]
    return [" ".join(line.split()) for line in lines if script in line and " --" in line]


def test_documented_threshold_sweeps_give_their_required_flags(benchmark_script, monkeypatch):
    """docs/training.md's `benchmarks/threshold_sweep.py ...` lacked its required --models."""
    import argparse
    import shlex
    import sys

    class Parsed(Exception):
        pass

    parse = argparse.ArgumentParser.parse_args

    def parse_only(self, args=None, namespace=None):
        parse(self, args, namespace)
        raise Parsed

    module = benchmark_script("threshold_sweep")
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_only)
    commands = _commands((DOCS / "training.md").read_text(), "benchmarks/threshold_sweep.py")
    assert commands
    for command in commands:
        words = shlex.split(re.sub(r"<[^>]*>", "m.safetensors", command))
        words = words[words.index(next(w for w in words if w.endswith("threshold_sweep.py"))) + 1:]
        monkeypatch.setattr(sys, "argv", ["threshold_sweep.py", *words])
        with pytest.raises(Parsed):  # a missing required flag exits (SystemExit) instead
            module.main()


@pytest.mark.slow
def test_documented_learn_noise_loop_runs_in_a_fresh_clone(tmp_path):
    """docs/hardware.md's `qec learn-noise ... --out runs/device/..._even.dem` failed in a fresh
    clone (no runs/device folder): its block, run on the test folders (two d=3 folders)."""
    import os
    import subprocess
    import sys

    text = (DOCS / "hardware.md").read_text()
    block = next(b for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S) if "for c in 3_5 5_7" in b)
    loop = block[:block.index("done; done") + len("done; done")]
    data = README.parent / "tests" / "data" / "google_qec3v5"
    loop = loop.replace("../shared/google-qec3v5", str(data)).replace("for c in 3_5 5_7", "for c in 3_5")
    loop = re.sub(r"for r in [0-9 ]+;", "for r in 03 05;", loop)
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    r = subprocess.run(["bash", "-e", "-c", loop], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path / "runs" / "device")) == ["d3_3_5_r03_even.dem", "d3_3_5_r05_even.dem"]


def test_the_readmes_resume_example_trains():
    """The README's --resume example with the first command's --minutes trained nothing after a
    finished run (the budgets are totals): the resumed command gives a larger one."""
    lines = [" ".join(line.split("#")[0].split()) for line in README.read_text().splitlines()
             if line.startswith("qec train ")]
    first = next(line for line in lines if "--out runs/d5" in line and "--resume" not in line)
    resumed = next(line for line in lines if "--out runs/d5" in line and "--resume" in line)

    def minutes(line):
        return float(line.split("--minutes ")[1].split()[0])

    assert minutes(resumed) > minutes(first)
    assert first.replace(f"--minutes {minutes(first):g}", "") == \
        resumed.replace(" --resume", "").replace(f"--minutes {minutes(resumed):g}", "")


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_relative_link_in_the_readme_and_docs_resolves():
    """Issue 31: every relative link of README.md and docs/ names a file of the repository, and an
    anchor a heading of it."""
    root = README.parent
    broken = []
    for doc in [README, *sorted(DOCS.rglob("*.md"))]:
        text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto: not ours to check
            path, _, anchor = target.partition("#")
            file = (doc.parent / path).resolve() if path else doc
            if not file.exists() or root not in file.parents:
                broken.append(f"{doc.relative_to(root)}: {target}")
            elif anchor and file.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", file.read_text(), flags=re.S), flags=re.M)
                if anchor not in {_anchor(h) for h in headings}:
                    broken.append(f"{doc.relative_to(root)}: {target} (no such heading)")
    assert broken == []
