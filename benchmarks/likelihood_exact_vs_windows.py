"""What the window (composite) likelihood costs against the exact likelihood, where both run.

For each d=3 experiment folder given (Google's Sycamore layout), on the even half of its shots:
the correlation estimate, the window-likelihood fit (the default estimator) and the exact-likelihood
fit (a transfer matrix over time; d=3 only), each started from the same correlation estimate; then,
on the odd half: each DEM's (and Google's p_ij DEM's) exact log-likelihood per shot, and the errors
of plain and correlated PyMatching. One JSON line per folder on stdout (and a markdown row on
stderr).

    python benchmarks/likelihood_exact_vs_windows.py ../shared/google-qec3v5/surface_code_bX_d3_r05_center_3_5 ...
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from noise_learning import LikelihoodEstimator, dem_log_likelihood, folder_structure
from qec import PyMatchingDecoder, read_experiment_folder
from qec.encoding import unpack_bits
from qec.hardware import half_indices


def errors(dem, events, actual, correlated: bool) -> int:
    pred = unpack_bits(PyMatchingDecoder(dem, correlated=correlated).decode_batch(events, bit_packed=True),
                       actual.shape[1])
    return int(np.count_nonzero(np.any(pred != actual, axis=1)))


def folder_row(path: str, max_iterations: int, tolerance: float) -> dict:
    folder = read_experiment_folder(path)
    structure = folder_structure(folder)
    events = folder.events()
    even, odd = events[half_indices(len(events), "even")], events[half_indices(len(events), "odd")]
    actual = folder.actual_flips()[half_indices(len(events), "odd")]
    fits, dems = {}, {}
    for objective in ("windows", "exact"):
        t0 = time.perf_counter()
        model = LikelihoodEstimator(structure, objective=objective, max_iterations=max_iterations,
                                    tolerance=tolerance).fit(even, bit_packed=True)
        fits[objective] = {**model.likelihood_fit.to_json(), "wall_seconds": round(time.perf_counter() - t0, 1)}
        dems[objective] = model.dem()
        dems["correlations"] = model.likelihood_fit.start.dem()
    dems["pij"] = folder.pij_dem("even")
    row = {"folder": folder.name, "rounds": folder.rounds, "fits": fits, "held_out": {}}
    for name, dem in dems.items():
        row["held_out"][name] = {
            "exact_log_likelihood": dem_log_likelihood(dem, odd, bit_packed=True),
            "errors_plain": errors(dem, odd, actual, False),
            "errors_correlated": errors(dem, odd, actual, True),
            "shots": len(odd),
        }
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--max-iterations", type=int, default=40)
    parser.add_argument("--tolerance", type=float, default=1e-6)
    args = parser.parse_args()
    print("| folder | fit | seconds | held-out exact log-likelihood per shot | plain errors | correlated errors |",
          file=sys.stderr)
    print("|---|---|---|---|---|---|", file=sys.stderr)
    for path in args.folders:
        row = folder_row(path, args.max_iterations, args.tolerance)
        print(json.dumps(row), flush=True)
        for name, h in row["held_out"].items():
            secs = row["fits"].get(name, {}).get("wall_seconds", "")
            print(f"| {row['folder']} | {name} | {secs} | {h['exact_log_likelihood']:.5f} | {h['errors_plain']} | "
                  f"{h['errors_correlated']} |", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
