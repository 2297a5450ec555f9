"""The closed-loop table of docs/noise_learning.md: for each point, the pipeline trained on the
true, learned and nominal DEMs and plain PyMatching with each, on the same fresh shots.

    python benchmarks/closed_loop.py --points 5:0.003 7:0.003 --out runs/closed_loop [--samples 500000] [--json]

Each point is one ``qec closed-loop`` (:func:`predecoder._closed_loop.run_closed_loop`) in
``OUT/d{d}_p{p}`` (a rerun resumes). Hot data qubits, x5: three at d=5, four at d=7 (HOT below).
"""

from __future__ import annotations

import argparse
import json
import sys

from predecoder import ClosedLoopConfig, run_closed_loop
from predecoder._closed_loop import KINDS

HOT = {
    5: ((3.0, 3.0, 5.0), (5.0, 7.0, 5.0), (7.0, 5.0, 5.0)),
    7: ((3.0, 3.0, 5.0), (7.0, 7.0, 5.0), (9.0, 11.0, 5.0), (11.0, 5.0, 5.0)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", nargs="+", default=["5:0.003", "7:0.003"], help="DISTANCE:P")
    parser.add_argument("--out", required=True)
    parser.add_argument("--samples", type=int, default=500_000)
    parser.add_argument("--learn-shots", type=int, default=100_000)
    parser.add_argument("--test-shots", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for point in args.points:
        d, p = int(point.split(":")[0]), float(point.split(":")[1])
        if d not in HOT:
            parser.error(f"no hot qubits chosen for d={d} (have {sorted(HOT)})")
        cfg = ClosedLoopConfig(distance=d, p=p, hot=HOT[d], out=f"{args.out}/d{d}_p{p}", samples=args.samples,
                               learn_shots=args.learn_shots, test_shots=args.test_shots, threads=args.threads)
        rows.append(run_closed_loop(cfg, log=lambda m: print(m, file=sys.stderr, flush=True)).to_json())
    if args.json:
        json.dump({"points": rows}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    print("| d | p | decoder | true DEM | learned DEM | nominal DEM | gap closed | learned vs nominal (z) |")
    print("|---|---|---|---|---|---|---|---|")
    for s in rows:
        e = s["experiment"]
        for dec in ("pymatching", "pipeline"):
            cells = []
            for k in KINDS:
                r = s["results"][f"{dec}-{k}"]
                cells.append(f"{r['ler']:.3e} [{r['ler_low']:.2e}, {r['ler_high']:.2e}]")
            gap = s["gap_closed"]["matcher" if dec == "pymatching" else "pipeline"]
            z = s["paired"][f"{dec}_learned_vs_nominal"]["z"]
            print(f"| {e['d']} | {e['p']} | {dec} | {' | '.join(cells)} | "
                  f"{'-' if gap is None else f'{100 * gap:.0f}%'} | {z:+.1f} |")


if __name__ == "__main__":
    main()
