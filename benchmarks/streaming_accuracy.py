"""The windowed decoders' accuracy from ``qec ler --window`` CSVs: each windowed row against its
global decoder on the same shots (errors, only-fails both ways, McNemar's z), as the markdown tables
of docs/streaming.md, or JSON.

    python benchmarks/streaming_accuracy.py docs/results/streaming_ler_pymatching.csv \
        docs/results/streaming_ler_weighted.csv [--json]

A row ``NAME/wW:C`` is compared with row ``NAME`` of the same point (``qec._collection._pairing.compare``: only
where the two decoded all their shots together). z > 0: the windowed decoder made more errors.
"""

from __future__ import annotations

import argparse
import json

from qec import read_csv_stats
from qec._collection._pairing import compare


def comparisons(paths: list[str]) -> list[dict]:
    """One dict per windowed row: the point, the window, both decoders' errors, only-fails, z."""
    rows = [s for path in paths for s in read_csv_stats(path).values()]
    by_point: dict[tuple, dict[str, object]] = {}
    for s in rows:
        m = s.json_metadata
        by_point.setdefault((m["d"], m["r"], m["p"], m["b"], m["noise"]), {})[s.decoder] = s
    out = []
    for (d, r, p, b, noise), decoders in sorted(by_point.items()):
        for name, s in decoders.items():
            base, _, window = name.rpartition("/w")
            if not base or base not in decoders:
                continue
            c = compare(s, decoders[base])
            w, commit = (int(v) for v in window.split(":"))
            out.append({"decoder": base, "distance": d, "rounds": r, "p": p, "basis": b, "noise": noise,
                        "window": window, "window_rounds": w, "commit": commit, "shots": c.shots,
                        "errors_global": c.errors_b, "errors_windowed": c.errors_a,
                        "only_windowed": c.only_a, "only_global": c.only_b, "z": round(c.z, 2),
                        "ler_global": c.errors_b / c.shots, "ler_windowed": c.errors_a / c.shots})
    return sorted(out, key=lambda x: (x["decoder"], x["distance"], x["window_rounds"]))


def print_tables(found: list[dict]) -> None:
    """W = 2d, C = d per decoder and distance, then the curve against W."""
    print("| decoder | d | rounds | p | window | shots | errors global | errors windowed | only windowed | only global | z |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for x in found:
        if x["window_rounds"] == 2 * x["distance"] and x["commit"] == x["distance"]:
            print(f"| {x['decoder']} | {x['distance']} | {x['rounds']} | {x['p']:g} | {x['window']} | {x['shots']} | "
                  f"{x['errors_global']} | {x['errors_windowed']} | {x['only_windowed']} | {x['only_global']} | "
                  f"{x['z']:+.2f} |")
    print()
    print("| decoder | d | W/d | window | shots | LER global | LER windowed | ratio | only windowed / global | z |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for x in found:
        ratio = x["errors_windowed"] / x["errors_global"] if x["errors_global"] else float("nan")
        print(f"| {x['decoder']} | {x['distance']} | {x['window_rounds'] / x['distance']:.2f} | {x['window']} | "
              f"{x['shots']} | {x['ler_global']:.4f} | {x['ler_windowed']:.4f} | {ratio:.3f} | "
              f"{x['only_windowed']} / {x['only_global']} | {x['z']:+.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="+", help="sinter CSVs written by qec ler --window")
    parser.add_argument("--json", action="store_true", help="one JSON document instead of the tables")
    args = parser.parse_args()
    found = comparisons(args.csv)
    if args.json:
        print(json.dumps({"comparisons": found}, indent=1))
    else:
        print_tables(found)


if __name__ == "__main__":
    main()
