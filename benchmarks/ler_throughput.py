"""Throughput of ``qec ler``'s engine against ``sinter collect``, side by side in one run.

Both use one worker, PyMatching (uncorrelated) and the same circuit and DEM; each runs the same
number of shots and the figure is shots per wall-clock second of the whole collection (sinter's
includes starting its one worker process; ours includes building the matching graph).

    python benchmarks/ler_throughput.py                    # d=5,9 x p=0.006,0.003
    python benchmarks/ler_throughput.py --distance 5 --p 0.006 --shots 200000 --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import sinter

from qec import LerTask, MemoryExperiment, collect_ler

# Shots per run chosen so that each side takes a few seconds on one core.
DEFAULT_SHOTS = {5: 1_000_000, 7: 400_000, 9: 200_000, 11: 100_000, 13: 50_000}


def bench_ours(exp: MemoryExperiment, shots: int) -> float:
    t0 = time.perf_counter()
    (r,) = collect_ler([LerTask(exp, ("pymatching",))], max_shots=shots, seed=1)
    dt = time.perf_counter() - t0
    assert r.shots == shots
    return dt


def bench_sinter(exp: MemoryExperiment, shots: int) -> float:
    task = sinter.Task(circuit=exp.circuit(), detector_error_model=exp.dem(), json_metadata=exp.json_metadata())
    t0 = time.perf_counter()
    stats = sinter.collect(
        num_workers=1, tasks=[task], decoders=["pymatching"], max_shots=shots, max_errors=shots + 1,
    )
    dt = time.perf_counter() - t0
    assert sum(s.shots for s in stats) >= shots
    return dt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distance", type=int, nargs="+", default=[5, 9])
    parser.add_argument("--p", type=float, nargs="+", default=[0.006, 0.003])
    parser.add_argument("--basis", default="x")
    parser.add_argument("--noise", default="depolarizing")
    parser.add_argument("--shots", type=int, default=None, help="shots per run (default: by distance)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per side; the best is kept")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    rows = []
    for d in args.distance:
        for p in args.p:
            exp = MemoryExperiment(distance=d, rounds=d, p=p, basis=args.basis, noise=args.noise)
            exp.circuit(), exp.dem()  # warm the caches for both sides
            shots = args.shots or DEFAULT_SHOTS.get(d, 20_000)
            ours = min(bench_ours(exp, shots) for _ in range(args.repeat))
            theirs = min(bench_sinter(exp, shots) for _ in range(args.repeat))
            rows.append({
                "distance": d, "rounds": d, "p": p, "basis": args.basis, "noise": args.noise, "shots": shots,
                "ours_shots_per_s": shots / ours, "sinter_shots_per_s": shots / theirs,
                "ratio": theirs / ours,
            })
            if not args.json:
                r = rows[-1]
                print(
                    f"d={d:<3} p={p:<7g} shots={shots:<9} qec ler {r['ours_shots_per_s']:>11,.0f}/s   "
                    f"sinter {r['sinter_shots_per_s']:>11,.0f}/s   ours/sinter {r['ratio']:.3f}",
                    flush=True,
                )
    if args.json:
        json.dump({"results": rows}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
