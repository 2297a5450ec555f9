"""Per-shot weighted matching without a compiler: the compiled core against its exact fallback
(a PyMatching graph rebuilt per shot) and fusion-blossom (wheels, per-shot dynamic weights), on the
neural weights of ``predecoder-weighted``.

    python benchmarks/weighted_matching_backends.py --distance 5 --p 0.006 --shots 2000 --seed 1 \
        [--fallback-shots 200]

fusion-blossom is measured where it is installed (``pip install fusion-blossom``; not a project
dependency). Its column merges parallel edges per shot (the smallest weight, as PyMatching does),
turns negative weights into flipped defects, and scales weights to even integers; its predictions
are compared with the compiled core's (exact matchings differ only where several have the same
weight). Prints one JSON document: microseconds per shot of each backend, its agreement with the
compiled core, and the speed-up over the fallback.
"""

from __future__ import annotations

import json
import time

import numpy as np
from _experiment_flags import experiment_parser, resolve_rounds

from predecoder import PipelineDecoder
from predecoder._pipeline import MAX_WEIGHT
from qec import MemoryExperiment
from qec.decoding import WeightedMatcher



def fusion_blossom_decoder(H, L):
    """decode(events bool (N,), weights float (columns,)) -> observable flips, or None without
    fusion-blossom."""
    try:
        import fusion_blossom as fb
    except ImportError:
        return None
    H = H.tocsc()
    n = H.shape[0]
    ends = [tuple(H.indices[H.indptr[k]:H.indptr[k + 1]]) for k in range(H.shape[1])]
    used = [k for k, e in enumerate(ends) if e]
    pairs = sorted({(e[0], e[1] if len(e) == 2 else n) for e in (ends[k] for k in used)})
    edge_of = {pair: i for i, pair in enumerate(pairs)}
    col_edge = np.array([edge_of[(ends[k][0], ends[k][1] if len(ends[k]) == 2 else n)] for k in used])
    obs = (L.tocsc()[:, used].toarray() % 2).astype(bool).T  # (used columns, observables)
    order = np.argsort(col_edge, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(col_edge[order]) != 0])
    u = np.array([a for a, _ in pairs])
    v = np.array([b for _, b in pairs])
    solver = fb.SolverSerial(fb.SolverInitializer(n + 1, [(int(a), int(b), 2) for a, b in pairs], [n]))
    scale = (1 << 20) / MAX_WEIGHT

    def decode(events, weights):
        w = weights[used][order]
        best = np.minimum.reduceat(w, starts)  # parallel columns: the smallest weight per shot
        pick = order[starts + np.array([np.argmin(g) for g in np.split(w, starts[1:])])]
        edge_obs = obs[pick]
        negative = best < 0
        defects = events.astype(bool).copy()
        flip = np.zeros(obs.shape[1], dtype=bool)
        if negative.any():
            np.logical_xor.at(defects, u[negative], True)
            inner = negative & (v < n)
            np.logical_xor.at(defects, v[inner], True)
            flip ^= np.logical_xor.reduce(edge_obs[negative], axis=0)
        ints = 2 * np.maximum(1, np.rint(np.abs(best) * scale)).astype(np.int64)
        solver.solve(fb.SyndromePattern(defect_vertices=np.flatnonzero(defects[:n]).tolist(),
                                        dynamic_weights=list(zip(range(len(pairs)), ints.tolist()))))
        chosen = solver.subgraph()
        solver.clear()
        return flip ^ np.logical_xor.reduce(edge_obs[chosen], axis=0) if chosen else flip

    return decode


def main() -> None:
    parser = experiment_parser(__doc__)
    parser.add_argument("--shots", type=int, default=2000)
    parser.add_argument("--fallback-shots", type=int, default=200, help="shots the slow fallback decodes")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    exp = MemoryExperiment(args.distance, resolve_rounds(args.rounds, args.distance), args.p, args.basis)
    pipeline = PipelineDecoder(exp.circuit(), exp.dem(), model=args.model, global_decoder="pymatching-weighted")
    events, _ = exp.circuit().compile_detector_sampler(seed=args.seed).sample(args.shots, separate_observables=True)
    events, _, logits = pipeline.weighted_inputs(events)
    compiled = pipeline.weighted_matcher
    index = pipeline.weight_index
    rows = {}
    t0 = time.perf_counter()
    reference = compiled.decode_batch_from_logits(events, logits, index, clip=MAX_WEIGHT)
    rows["compiled"] = {"us_per_shot": 1e6 * (time.perf_counter() - t0) / args.shots, "agree": 1.0}
    k = min(args.fallback_shots, args.shots)
    rebuild = WeightedMatcher(compiled.H, compiled.L, backend="rebuild")
    t0 = time.perf_counter()
    out = rebuild.decode_batch_from_logits(events[:k], logits[:k], index, clip=MAX_WEIGHT)
    rows["rebuild"] = {"us_per_shot": 1e6 * (time.perf_counter() - t0) / k,
                       "agree": float(np.mean((out == reference[:k]).all(axis=1)))}
    fusion = fusion_blossom_decoder(compiled.H, compiled.L)
    if fusion is not None:
        weights = np.clip(-logits[:, index].astype(np.float64), -MAX_WEIGHT, MAX_WEIGHT)
        t0 = time.perf_counter()
        out = np.array([fusion(events[b], weights[b]) for b in range(args.shots)])
        rows["fusion-blossom"] = {"us_per_shot": 1e6 * (time.perf_counter() - t0) / args.shots,
                                  "agree": float(np.mean((out == reference).all(axis=1)))}
    for r in rows.values():
        r["speedup_over_rebuild"] = rows["rebuild"]["us_per_shot"] / r["us_per_shot"]
    print(json.dumps({"experiment": exp.json_metadata(), "model": pipeline.model.short_hash, "shots": args.shots,
                      "fallback_shots": k, "columns": int(len(index)), "backends": rows}, indent=1))


if __name__ == "__main__":
    main()
