"""Benchmarks of the correlation estimator (the tables of docs/noise_learning.md).

Run one part at a time, on one core, niced:

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/noise_learning_bench.py uniform
    ... hotspot | efficiency | timing | drift | likelihood

Each part prints a markdown table (and appends JSON lines to ``--jsonl PATH`` when given).
All DEMs of one row are decoded on the same test shots (paired); intervals are 95% (sinter
fit_binomial, via qec.fit_ler); z is the paired (McNemar) z-score of learned vs the
reference (negative = learned better). The hot-spot part is noise_learning._comparison's
compare_learned_dem, the experiment behind ``qec learn-noise --distance ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import time

import numpy as np

from noise_learning import (
    CorrelationEstimator,
    DemStructure,
    SlidingWindowEstimator,
    compare_learned_dem,
    graph_edge_probabilities,
)
from noise_learning._evaluate import edge_error_stats, paired_difference, paired_ler
from qec import MemoryExperiment

RESULTS: pathlib.Path | None = None


def _save(row: dict) -> None:
    if RESULTS is None:
        return
    with RESULTS.open("a") as f:
        f.write(json.dumps(row) + "\n")


def _fmt(r) -> str:
    return f"{r.ler:.3e} [{r.low:.2e}, {r.high:.2e}]"


def _sample(exp: MemoryExperiment, train: int, test: int, seed: int):
    c = exp.circuit()
    tr = c.compile_detector_sampler(seed=seed).sample(train, bit_packed=True)
    dets, obs = c.compile_detector_sampler(seed=seed + 1).sample(test, separate_observables=True)
    return tr, dets, obs


def uniform(args) -> None:
    print("| d | p | decoder | true DEM | pairwise (learned) | z vs true | hyperedge (learned) | z vs true |")
    print("|---|---|---|---|---|---|---|---|")
    for d in args.distances:
        for p in args.ps:
            exp = MemoryExperiment(d, d, p)
            structure = DemStructure.from_dem(exp.dem())
            test = args.test_shots if p == 0.003 else args.test_shots // 2
            tr, dets, obs = _sample(exp, args.train_shots, test, seed=100 * d + int(p * 1e4))
            dems = {"true": exp.dem()}
            for method in ("pairwise", "hyperedge"):
                dems[method] = CorrelationEstimator(structure, method=method).fit(tr, bit_packed=True).dem()
            for corr in (False, True):
                res = paired_ler(dets, obs, dems, correlated=corr)
                zp = paired_difference(res["pairwise"], res["true"])["z"]
                zh = paired_difference(res["hyperedge"], res["true"])["z"]
                name = "correlated" if corr else "plain"
                print(f"| {d} | {p} | {name} | {_fmt(res['true'])} | {_fmt(res['pairwise'])} | {zp:+.1f} "
                      f"| {_fmt(res['hyperedge'])} | {zh:+.1f} |", flush=True)
                _save({"part": "uniform", "d": d, "p": p, "decoder": name, "train": args.train_shots,
                       "test": test, **{f"ler_{k}": v.ler for k, v in res.items()},
                       **{f"errors_{k}": v.errors for k, v in res.items()}, "z_pairwise": zp, "z_hyperedge": zh})


HOT = {
    5: ((3.0, 3.0, 5.0), (5.0, 7.0, 5.0), (7.0, 5.0, 5.0)),
    7: ((3.0, 5.0, 5.0), (7.0, 7.0, 5.0), (11.0, 9.0, 5.0), (9.0, 3.0, 5.0)),
}


def hotspot(args) -> None:
    print("| d | p | hot data qubits (x5) | decoder | true DEM | learned | nominal | uniform | z learned vs nominal |")
    print("|---|---|---|---|---|---|---|---|---|")
    for d in (5, 7):
        p = 0.003
        exp = MemoryExperiment(d, d, p, scale_qubits=HOT[d])
        nominal = MemoryExperiment(d, d, p)
        seed = 7000 + d
        for corr in (False, True):
            # The same training and test shots (same seeds) for both rows; each row decodes once.
            c = compare_learned_dem(exp, nominal, train_shots=args.train_shots, test_shots=args.test_shots,
                                    seed=seed, test_seed=seed + 1, estimator="correlations", order=4 if corr else 2,
                                    correlated=corr, plain=not corr)
            decoding = "correlated" if corr else "plain"
            res = c.decoded[decoding]
            z = c.paired[decoding]["learned_vs_nominal"]["z"]
            name = decoding + f" ({c.method})"
            hot = " ".join(f"({x:g},{y:g})" for x, y, _ in HOT[d])
            print(f"| {d} | {p} | {hot} | {name} | {_fmt(res['true'])} | {_fmt(res['learned'])} | "
                  f"{_fmt(res['nominal'])} | {_fmt(res['uniform'])} | {z:+.1f} |", flush=True)
            _save({"part": "hotspot", "d": d, "p": p, "decoder": name, "train": args.train_shots,
                   "test": args.test_shots, **{f"ler_{k}": v.ler for k, v in res.items()},
                   **{f"errors_{k}": v.errors for k, v in res.items()}, "z_vs_nominal": z,
                   "edge_stats": c.edge_stats})


def likelihood(args) -> None:
    """The likelihood estimator against the moment estimate it starts from and the true DEM, on
    hot-spot noise (d=5, three data qubits x5), the same test shots for every DEM."""
    d, p = 5, args.ps[0]
    exp = MemoryExperiment(d, d, p, "x", scale_qubits=HOT[d])
    nominal = MemoryExperiment(d, d, p, "x")
    print(f"d={d} p={p} x basis, hot data qubits {HOT[d]}, {args.test_shots} test shots, pool_rounds={args.pool}\n")
    print("| training shots | decoder | true DEM | likelihood | correlations (its start) | z likelihood vs correlations "
          "| z likelihood vs true | fit seconds |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.train_list:
        seed = 7100 + n % 997
        c = compare_learned_dem(exp, nominal, train_shots=n, test_shots=args.test_shots, seed=seed,
                                test_seed=8100, estimator="likelihood", correlated=True, pool_rounds=args.pool)
        for decoding, res in c.decoded.items():
            pair = c.paired[decoding]
            z_corr = pair["learned_vs_correlations"]["z"] if "learned_vs_correlations" in pair else float("nan")
            start = _fmt(res["correlations"]) if "correlations" in res else "(unmatchable)"
            print(f"| {n:.0e} | {decoding} | {_fmt(res['true'])} | {_fmt(res['learned'])} | {start} | {z_corr:+.1f} "
                  f"| {pair['learned_vs_true']['z']:+.1f} | {c.estimate_seconds:.1f} |", flush=True)
            _save({"part": "likelihood", "d": d, "p": p, "train": n, "test": args.test_shots, "pool": args.pool,
                   "decoder": decoding, **{f"errors_{k}": v.errors for k, v in res.items()},
                   "paired": pair, "fit": c.likelihood_fit.to_json(), "seconds": c.estimate_seconds})


def efficiency(args) -> None:
    d, p = 5, 0.006
    exp = MemoryExperiment(d, d, p)
    structure = DemStructure.from_dem(exp.dem())
    c = exp.circuit()
    dets, obs = c.compile_detector_sampler(seed=1).sample(args.test_shots, separate_observables=True)
    pool = c.compile_detector_sampler(seed=2).sample(10**6, bit_packed=True)
    base = paired_ler(dets, obs, {"true": exp.dem()})["true"]
    base_c = paired_ler(dets, obs, {"true": exp.dem()}, correlated=True)["true"]
    print(f"d={d}, p={p}, {args.test_shots} test shots; LER(true) plain {_fmt(base)}, correlated {_fmt(base_c)}\n")
    print("| training shots | pairwise / true (plain) | hyperedge / true (plain) | hyperedge / true (correlated) | edge weight rms error (pairwise) | clamped (hyperedge) |")
    print("|---|---|---|---|---|---|")
    for n in (10**3, 10**4, 10**5, 10**6):
        out = {}
        models = {m: CorrelationEstimator(structure, method=m).fit(pool[:n], bit_packed=True) for m in ("pairwise", "hyperedge")}
        res = paired_ler(dets, obs, {m: x.dem() for m, x in models.items()})
        res_c = paired_ler(dets, obs, {"hyperedge": models["hyperedge"].dem()}, correlated=True)
        for k, r in res.items():
            out[k] = r.ler / base.ler
        out["hyperedge_corr"] = res_c["hyperedge"].ler / base_c.ler
        stats = edge_error_stats(models["pairwise"].dem(), exp.dem())
        clamped = sum(models["hyperedge"].clamped.values())
        print(f"| {n:.0e} | {out['pairwise']:.3f} | {out['hyperedge']:.3f} | {out['hyperedge_corr']:.3f} | "
              f"{stats['weight_error_rms']:.3f} | {clamped} |", flush=True)
        _save({"part": "efficiency", "d": d, "p": p, "train": n, "test": args.test_shots, "ratios": out,
               "ler_true": base.ler, "ler_true_corr": base_c.ler, "weight_rms": stats["weight_error_rms"],
               "clamped_hyperedge": clamped})


def timing(args) -> None:
    print("| d | rounds | detectors | shots | method | mechanisms | moments | sample (s) | estimate (s) | DEM build (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for d in (9,):
        exp = MemoryExperiment(d, d, 0.003)
        structure = DemStructure.from_dem(exp.dem())
        t0 = time.perf_counter()
        tr = exp.circuit().compile_detector_sampler(seed=1).sample(args.shots, bit_packed=True)
        t_sample = time.perf_counter() - t0
        for method in ("pairwise", "hyperedge"):
            t0 = time.perf_counter()
            est = CorrelationEstimator(structure, method=method)
            model = est.fit(tr, bit_packed=True)
            t_est = time.perf_counter() - t0
            t0 = time.perf_counter()
            model.dem()
            t_dem = time.perf_counter() - t0
            print(f"| {d} | {d} | {structure.num_detectors} | {args.shots:.0e} | {method} | {len(est.mechanisms)} | "
                  f"{len(est.sets)} | {t_sample:.1f} | {t_est:.1f} | {t_dem:.2f} |", flush=True)
            _save({"part": "timing", "d": d, "shots": args.shots, "method": method, "sample_s": t_sample,
                   "estimate_s": t_est, "dem_s": t_dem, "mechanisms": len(est.mechanisms), "moments": len(est.sets)})


def drift(args) -> None:
    """Step change p: 0.003 -> 0.006 at shot 0; blocks of 1000 shots; how many shots after the
    step until the windowed estimate's mean edge probability covers 50/90/100% of the step (the
    step measured by the estimator's own stationary estimates before and after)."""
    d = 5
    lo, hi = MemoryExperiment(d, d, 0.003), MemoryExperiment(d, d, 0.006)
    structure = DemStructure.from_dem(lo.dem())
    t_lo = np.mean(list(graph_edge_probabilities(lo.dem()).values()))
    t_hi = np.mean(list(graph_edge_probabilities(hi.dem()).values()))
    block = 1000
    print(f"d={d}, p 0.003 -> 0.006 (mean edge probability {t_lo:.2e} -> {t_hi:.2e}), blocks of {block} shots\n")
    print("| window (shots) | shots to 50% of step | shots to 90% | shots to 100% | rms rel. edge difference from the stationary estimate, window full |")
    print("|---|---|---|---|---|")
    pre = lo.circuit().compile_detector_sampler(seed=5).sample(200_000, bit_packed=True)
    post = hi.circuit().compile_detector_sampler(seed=6).sample(200_000, bit_packed=True)
    truth = graph_edge_probabilities(hi.dem())
    keys = sorted(truth)
    # The step as the estimator itself sees it (its stationary estimates on 2e5 shots each).
    full = CorrelationEstimator(structure)
    mean_est = lambda e: float(np.mean([e.get(k, 0.0) for k in keys]))  # noqa: E731
    t_lo = mean_est(full.fit(pre, bit_packed=True).edge_probabilities())
    stationary = full.fit(post, bit_packed=True).edge_probabilities()
    t_hi = mean_est(stationary)
    t = np.array([max(stationary.get(k, 0.0), 1e-9) for k in keys])
    for window in (5_000, 20_000, 100_000):
        win = SlidingWindowEstimator(CorrelationEstimator(structure), window)
        for s in range(0, window, block):
            win.push(pre[s : s + block], bit_packed=True)
        reached: dict[float, int] = {}
        for i, s in enumerate(range(0, 200_000, block)):
            win.push(post[s : s + block], bit_packed=True)
            e = win.estimate().edge_probabilities()
            frac = (mean_est(e) - t_lo) / (t_hi - t_lo)
            for level in (0.5, 0.9, 1.0):
                if frac >= level and level not in reached:
                    reached[level] = (i + 1) * block
            if (i + 1) * block >= max(window, max(reached.values(), default=0)) and len(reached) == 3:
                break
        e = win.estimate().edge_probabilities()
        rms = float(np.sqrt(np.mean((np.array([e.get(k, 0.0) for k in keys]) / t - 1) ** 2)))
        print(f"| {window} | {reached.get(0.5)} | {reached.get(0.9)} | {reached.get(1.0)} | {rms:.3f} |", flush=True)
        _save({"part": "drift", "d": d, "window": window, "block": block, "reached": reached, "rms_after": rms})


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    parser = argparse.ArgumentParser()
    parser.add_argument("part", choices=("uniform", "hotspot", "efficiency", "timing", "drift", "likelihood"))
    parser.add_argument("--train-shots", type=int, default=100_000)
    parser.add_argument("--test-shots", type=int, default=1_000_000)
    parser.add_argument("--shots", type=int, default=1_000_000, help="timing: shots to estimate from")
    parser.add_argument("--distances", type=int, nargs="+", default=[5, 7], help="uniform: distances")
    parser.add_argument("--ps", type=float, nargs="+", default=[0.003, 0.006], help="uniform: noise strengths")
    parser.add_argument("--train-list", type=int, nargs="+", default=[10_000, 100_000],
                        help="likelihood: training shot counts")
    parser.add_argument("--pool", action="store_true", help="likelihood: pool each mechanism over rounds")
    parser.add_argument("--jsonl", type=pathlib.Path, help="append one JSON line per table row here")
    args = parser.parse_args()
    global RESULTS
    RESULTS = args.jsonl
    globals()[args.part](args)


if __name__ == "__main__":
    main()
