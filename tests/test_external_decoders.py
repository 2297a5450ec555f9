"""The field's stronger decoders on the very same shots, through --custom-decoders (optional
extras: skipped where not installed)."""

from __future__ import annotations

import json

import pytest

from experiments.cli import main

BASE = ["ler", "-d", "5", "--rounds", "d-1", "--p", "0.006", "--max-shots", "1500", "--seed", "7", "--json"]


def _errors(capsys, decoders, module_function):
    assert main(BASE + ["--decoders", "pymatching", *decoders, "--custom-decoders", module_function]) == 0
    return {r["decoder"]: r for r in json.loads(capsys.readouterr().out)["results"]}


def test_tesseract_decodes_the_same_shots_better_than_pymatching(capsys):
    pytest.importorskip("tesseract_decoder")
    rows = _errors(capsys, ["tesseract"], "tesseract_decoder:make_tesseract_sinter_decoders_dict")
    pm, ts = rows["pymatching"], rows["tesseract"]
    assert pm["shots"] == ts["shots"] == 1500
    # Paired: tesseract (near-optimal search) fails alone far less often than PyMatching does.
    assert ts["only_fails"]["pymatching"] < pm["only_fails"]["tesseract"]


def test_beliefmatching_decodes_the_same_shots(capsys):
    pytest.importorskip("beliefmatching")
    rows = _errors(capsys, ["beliefmatching"], "experiments.extra_decoders:beliefmatching")
    pm, bm = rows["pymatching"], rows["beliefmatching"]
    assert pm["shots"] == bm["shots"] == 1500
    assert bm["only_fails"]["pymatching"] < pm["only_fails"]["beliefmatching"]


def test_unknown_custom_decoders_are_one_line(capsys):
    assert main(BASE + ["--custom-decoders", "no_such_pkg_qec:decoders"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot import no_such_pkg_qec" in err
