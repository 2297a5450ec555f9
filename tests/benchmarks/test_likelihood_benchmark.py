"""benchmarks/likelihood_exact_vs_windows.py: both fits on a folder's even half, every DEM scored
on the odd half, and the exact fit at least as likely as the window fit under the exact likelihood
on the shots both were fitted on."""

from __future__ import annotations

import pathlib

import pytest

from noise_learning import LikelihoodEstimator, dem_log_likelihood, folder_structure
from qec import read_experiment_folder

R03 = pathlib.Path(__file__).resolve().parents[1] / "data" / "google_qec3v5" / "surface_code_bX_d3_r03_center_3_5"


def test_a_folder_row(benchmark_script):
    mod = benchmark_script("likelihood_exact_vs_windows")
    row = mod.folder_row(str(R03), max_iterations=4, tolerance=1e-6)
    assert set(row["fits"]) == {"windows", "exact"}
    assert set(row["held_out"]) == {"windows", "exact", "correlations", "pij"}
    for h in row["held_out"].values():
        assert h["shots"] == 1000 and 0 < h["errors_correlated"] < 1000 and h["exact_log_likelihood"] < 0


@pytest.mark.slow
def test_the_exact_fit_is_the_more_likely_on_its_own_shots():
    folder = read_experiment_folder(R03)
    structure = folder_structure(folder)
    events = folder.events()[::2]
    lls = {}
    for objective in ("windows", "exact"):
        model = LikelihoodEstimator(structure, objective=objective, max_iterations=25, tolerance=0).fit(
            events, bit_packed=True)
        lls[objective] = dem_log_likelihood(model.dem(), events, bit_packed=True)
    assert lls["exact"] >= lls["windows"] - 1e-9
