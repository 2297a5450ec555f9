"""Labeled shots per second versus Stim's raw DEM sampling on the same circuit.

    python benchmarks/label_throughput.py --distance 9 --p 0.006 [--json]

Prints the median over repeats of each sampler's shots/s and the cost ratio
(labeled time / raw time). Target (foundation issue): ratio <= 2 at d=9, p=0.006.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from experiments.rounds_flag import ROUNDS_HELP, resolve_rounds, rounds_spec
from qec import CorrectionBasis, LabeledSampler, MemoryExperiment, SpaceTimeLayout


def _rate(fn, shots: int, repeats: int) -> float:
    fn(shots)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(shots)
        times.append(time.perf_counter() - t0)
    return shots / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distance", type=int, default=9)
    parser.add_argument("--rounds", type=rounds_spec, default=rounds_spec("d"), help=ROUNDS_HELP.format("d"))
    parser.add_argument("--p", type=float, default=0.006)
    parser.add_argument("--noise", default="depolarizing")
    parser.add_argument("--basis", default="x")
    parser.add_argument("--shots", type=int, default=8192)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    exp = MemoryExperiment(args.distance, resolve_rounds(args.rounds, args.distance), args.p, args.basis, args.noise)
    dem = exp.dem()
    basis = CorrectionBasis.from_layout(SpaceTimeLayout.from_circuit(exp.circuit()))
    raw = dem.compile_sampler(seed=1)
    sparse = LabeledSampler(dem, basis, seed=1, method="sparse")
    stim_labeled = LabeledSampler(dem, basis, seed=1, method="stim")
    result = {
        "distance": args.distance, "rounds": exp.rounds, "p": args.p, "noise": args.noise,
        "shots_per_batch": args.shots,
        "raw_shots_per_s": _rate(lambda n: raw.sample(n), args.shots, args.repeats),
        "labeled_sparse_shots_per_s": _rate(sparse.sample, args.shots, args.repeats),
        "labeled_stim_shots_per_s": _rate(stim_labeled.sample, args.shots, max(1, args.repeats // 3)),
    }
    result["cost_ratio_sparse"] = result["raw_shots_per_s"] / result["labeled_sparse_shots_per_s"]
    result["cost_ratio_stim"] = result["raw_shots_per_s"] / result["labeled_stim_shots_per_s"]
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>28}: {v:,.3f}" if isinstance(v, float) else f"{k:>28}: {v}")


if __name__ == "__main__":
    main()
