"""The field's stronger decoders on the very same shots, through --custom-decoders (optional
extras: skipped where not installed)."""

from __future__ import annotations

import json

import pytest

from experiments.cli import main

pytestmark = pytest.mark.slow  # statistical: other decoders on thousands of shots

BASE = ["ler", "-d", "5", "--rounds", "d-1", "--p", "0.006", "--max-shots", "1500", "--seed", "7", "--json"]


@pytest.mark.parametrize("module, name, module_function", [
    ("tesseract_decoder", "tesseract", "tesseract_decoder:make_tesseract_sinter_decoders_dict"),
    ("beliefmatching", "beliefmatching", "experiments.extra_decoders:beliefmatching"),
])
def test_a_stronger_decoder_decodes_the_same_shots_better_than_pymatching(capsys, module, name, module_function):
    pytest.importorskip(module)
    assert main(BASE + ["--decoders", "pymatching", name, "--custom-decoders", module_function]) == 0
    rows = {r["decoder"]: r for r in json.loads(capsys.readouterr().out)["results"]}
    pm, other = rows["pymatching"], rows[name]
    assert pm["shots"] == other["shots"] == 1500
    # Paired: the stronger decoder fails alone far less often than PyMatching does.
    assert other["only_fails"]["pymatching"] < pm["only_fails"][name]


def test_unknown_custom_decoders_are_one_line(capsys):
    assert main(BASE + ["--custom-decoders", "no_such_pkg_qec:decoders"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot import no_such_pkg_qec" in err
