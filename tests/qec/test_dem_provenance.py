"""DEM provenance: the comment lines a learned DEM carries, read back; Stim ignores them."""

from __future__ import annotations

import pytest
import stim

from qec._hardware._dem_provenance import FittedOn, overlapping, parse_provenance, provenance_header, read_provenance


def test_round_trip_and_stim_ignores_the_header(tmp_path):
    records = [FittedOn("surface_code_bX_d5_r05_center_5_5", "even", 25000), FittedOn("other", "odd")]
    path = tmp_path / "learned.dem"
    path.write_text(provenance_header(records) + "error(0.1) D0 D1\nerror(0.2) D1\n")
    assert read_provenance(path) == records
    assert stim.DetectorErrorModel.from_file(path) == stim.DetectorErrorModel("error(0.1) D0 D1\nerror(0.2) D1")
    plain = tmp_path / "plain.dem"
    plain.write_text("error(0.1) D0\n")
    assert read_provenance(plain) == []


def test_overlap_by_folder_and_half():
    r = [FittedOn("a", "even", 10), FittedOn("b", "odd", 10)]
    assert overlapping(r, "a", "even") == [r[0]]
    assert overlapping(r, "a", "odd") == []
    assert overlapping(r, "a", None) == [r[0]]  # both halves scored
    assert overlapping(r, "c", None) == []
    assert r[0].describe() == "the 10 even shots of a"


def test_malformed_records_are_one_line(tmp_path):
    with pytest.raises(ValueError, match="line 2: malformed provenance record"):
        parse_provenance('error(0.1) D0\n# fitted_on: {"folder": "a"}\n')
    with pytest.raises(ValueError, match="half must be one of even, odd"):
        FittedOn("a", "left")
    path = tmp_path / "bad.dem"
    path.write_text("# fitted_on: not json\n")
    with pytest.raises(ValueError, match=r"bad\.dem line 1: malformed"):
        read_provenance(path)
