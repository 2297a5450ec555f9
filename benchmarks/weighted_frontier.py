"""The speed/accuracy frontier of the compositions of one network with matching, on the same shots.

    python benchmarks/weighted_frontier.py --distance 5 7 --p 0.006 --shots 100000 --model small \
        --seed 7 --out docs/results/frontier.json

Per point (distance, rounds = d - 1 by default, p, basis) the shots are sampled in chunks and the
network runs once per chunk; every composition then decodes the same shots from those logits:

- ``pymatching``, ``pymatching-correlated``: on the raw events (no network);
- ``predecoder``, ``predecoder-correlated``: corrections at the model's threshold, then plain or
  correlated PyMatching on the residual;
- ``predecoder-weighted``: neural-weighted matching (per-shot weights -logit on the raw events);
- ``hybrid@T``: corrections at logit >= T applied first (their edges frozen), neural-weighted
  matching of the rest.

For each: errors, LER per shot with its 95% interval, only-fails against correlated PyMatching
both ways (McNemar's z: negative = fewer errors than correlated matching) and the time per round
of everything after the network (residual, weights, matching: medians over chunks, one thread),
next to the network's own time per round. Prints a markdown table; ``--out`` writes JSON.
"""

from __future__ import annotations

import json
import statistics
import time

import numpy as np
import torch
from _experiment_flags import experiment_parser, resolve_rounds

from predecoder import PipelineDecoder, load_model
from qec import MemoryExperiment, PyMatchingDecoder, fit_ler, paired_z

REFERENCE = "pymatching-correlated"


def compositions(circuit, dem, model, hybrids) -> dict:
    """name -> function(events bool (k, N), logits (k, 4, T, H, W)) -> bool (k, 1) predictions."""
    plain = PyMatchingDecoder(dem)
    corr = PyMatchingDecoder(dem, correlated=True)
    out = {
        "pymatching": lambda ev, lg: plain.decode_batch(ev, bit_packed=False),
        "pymatching-correlated": lambda ev, lg: corr.decode_batch(ev, bit_packed=False),
    }
    for name, global_decoder, threshold in [("predecoder", "pymatching", None),
                                            ("predecoder-correlated", "pymatching-correlated", None),
                                            ("predecoder-weighted", "pymatching-weighted", None)] + [
            (f"hybrid@{t:g}", "pymatching-weighted", t) for t in hybrids]:
        dec = PipelineDecoder(circuit, dem, model=model, global_decoder=global_decoder, threshold=threshold)
        out[name] = dec.decode_from_logits
    return out


def run_point(distance: int, rounds: int, p: float, basis: str, model_path: str, shots: int, seed: int,
              chunk: int, hybrids: tuple[float, ...]) -> dict:
    exp = MemoryExperiment(distance, rounds, p, basis=basis)
    circuit, dem = exp.circuit(), exp.dem()
    model = load_model(model_path)
    net = PipelineDecoder(circuit, dem, model=model)
    comps = compositions(circuit, dem, model, hybrids)
    sampler = circuit.compile_detector_sampler(seed=seed)
    fails = {name: [] for name in comps}
    seconds = {name: [] for name in comps}
    net_seconds = []
    done = 0
    while done < shots:
        k = min(chunk, shots - done)
        events, obs = sampler.sample(k, separate_observables=True)
        t0 = time.perf_counter()
        logits = net.logits(events)
        net_seconds.append((time.perf_counter() - t0) / k)
        for name, fn in comps.items():
            t0 = time.perf_counter()
            pred = fn(events, logits)
            seconds[name].append((time.perf_counter() - t0) / k)
            fails[name].append(np.any(pred != obs, axis=1))
        done += k
    per_round = 1e6 / rounds
    ref = np.concatenate(fails[REFERENCE])
    rows = []
    for name in comps:
        f = np.concatenate(fails[name])
        fit = fit_ler(int(f.sum()), len(f))
        only, only_ref = int(np.sum(f & ~ref)), int(np.sum(ref & ~f))
        rows.append({
            "decoder": name, "errors": int(f.sum()), "shots": len(f), "ler": fit.best, "ler_low": fit.low,
            "ler_high": fit.high, "only_fails_vs_correlated": only, "correlated_only_fails": only_ref,
            "z_vs_correlated": paired_z(only, only_ref),
            "matching_us_per_round": statistics.median(seconds[name]) * per_round,
        })
    return {"distance": distance, "rounds": rounds, "p": p, "basis": basis, "model": model_path,
            "model_sha256": model.sha256, "shots": shots, "seed": seed,
            "network_us_per_round": statistics.median(net_seconds) * per_round,
            "weighted_backend": comps["predecoder-weighted"].__self__.weighted_matcher.backend, "rows": rows}


def table(point: dict) -> str:
    plain = next(r for r in point["rows"] if r["decoder"] == "pymatching")
    lines = [f"d={point['distance']}, rounds {point['rounds']}, p={point['p']}, {point['basis']} basis, "
             f"{point['shots']} shots, model {point['model']} ({point['model_sha256'][:12]}); network "
             f"{point['network_us_per_round']:.1f} us/round",
             "| decoder | errors | LER [95%] | vs PM | only-fails vs correlated PM | z | us/round after the network |",
             "|---|---|---|---|---|---|---|"]
    for r in point["rows"]:
        vs = plain["errors"] / max(r["errors"], 1)
        lines.append(f"| {r['decoder']} | {r['errors']} | {r['ler']:.3e} [{r['ler_low']:.3e}, {r['ler_high']:.3e}] | "
                     f"{vs:.3f}x | {r['only_fails_vs_correlated']} vs {r['correlated_only_fails']} | "
                     f"{r['z_vs_correlated']:+.1f} | {r['matching_us_per_round']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = experiment_parser(__doc__, rounds="d-1", many=True)
    parser.add_argument("--shots", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chunk", type=int, default=2000)
    parser.add_argument("--hybrids", type=float, nargs="*", default=[8.0, 4.0, 2.0],
                        help="hybrid thresholds (corrections applied first at logit >= T)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="JSON file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    points = []
    for d in args.distance:
        rounds = resolve_rounds(args.rounds, d)
        for p in args.p:
            point = run_point(d, rounds, p, args.basis, args.model, args.shots, args.seed + 1000 * d, args.chunk,
                              tuple(args.hybrids))
            points.append(point)
            print(table(point), "\n", flush=True)
            if args.out:
                with open(args.out, "w") as f:
                    json.dump({"command": "python benchmarks/weighted_frontier.py " + " ".join(
                        f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
                        for k, v in vars(args).items() if v is not None), "points": points}, f, indent=1)


if __name__ == "__main__":
    main()
