"""Does calibrating the network's logits help neural-weighted matching? Fitted on one set of
shots, scored on fresh ones, paired.

    python benchmarks/weight_calibration.py --distance 5 --p 0.006 --model small \
        --calibration-shots 20000 --shots 100000 --seed 11 --json

Weights are w_k = -(a_c * logit_k + b_c) for the correction channel c of element k. Variants:

- ``none``: a = 1, b = 0 (the decoder as shipped).
- ``temperature``: one global a (matching is scale-invariant, so only the clip at +-30 moves).
- ``platt``: per channel (a_c, b_c) maximizing the likelihood of the calibration shots' labels
  (the sampler's canonical corrections), i.e. Platt scaling per channel.
- ``offset``: one global b (a = 1) chosen among ``--offsets`` by the calibration shots' errors.

Each variant is scored on the same fresh test shots, paired with correlated PyMatching.
"""

from __future__ import annotations

import json

import numpy as np
import torch
from _experiment_flags import experiment_parser, resolve_rounds

from predecoder import PipelineDecoder
from predecoder._pipeline import MAX_WEIGHT
from qec import LabeledSampler, MemoryExperiment, PyMatchingDecoder, fit_ler, paired_z


def logits_of(dec: PipelineDecoder, events: np.ndarray, chunk: int = 2000) -> torch.Tensor:
    return torch.cat([dec.logits(events[i:i + chunk]) for i in range(0, len(events), chunk)])


def fit_platt(logits: torch.Tensor, labels: np.ndarray, valid: np.ndarray, steps: int = 30) -> tuple[list, list]:
    """Per channel, (a, b) maximizing sum log sigmoid(+-(a * logit + b)) over valid elements (Newton)."""
    a_out, b_out = [], []
    y_all = torch.as_tensor(labels, dtype=torch.float64)
    for c in range(logits.shape[1]):
        mask = torch.as_tensor(valid[c]).expand_as(logits[:, c])
        x = logits[:, c][mask].double()
        y = y_all[:, c][mask]
        a, b = 1.0, 0.0
        for _ in range(steps):
            z = a * x + b
            p = torch.sigmoid(z)
            g = torch.stack([((p - y) * x).sum(), (p - y).sum()])
            w = p * (1 - p)
            h = torch.tensor([[(w * x * x).sum(), (w * x).sum()], [(w * x).sum(), w.sum()]], dtype=torch.float64)
            step = torch.linalg.solve(h + 1e-9 * torch.eye(2, dtype=torch.float64), g)
            a, b = a - float(step[0]), b - float(step[1])
        a_out.append(a)
        b_out.append(b)
    return a_out, b_out


def fails_with(dec, events, obs, logits, scale, offset) -> np.ndarray:
    s = torch.tensor(scale, dtype=torch.float32).view(1, -1, 1, 1, 1)
    o = torch.tensor(offset, dtype=torch.float32).view(1, -1, 1, 1, 1)
    z = (logits * s + o).reshape(len(events), -1).numpy()
    pred = dec.weighted_matcher.decode_batch_from_logits(events, z, dec.weight_index, clip=MAX_WEIGHT)
    return np.any(pred != obs, axis=1)


def main() -> None:
    parser = experiment_parser(__doc__, rounds="d-1")
    parser.add_argument("--calibration-shots", type=int, default=20_000)
    parser.add_argument("--shots", type=int, default=100_000, help="fresh test shots")
    parser.add_argument("--offsets", type=float, nargs="*", default=[-1.5, -1.0, -0.5, 0.0, 0.5])
    parser.add_argument("--temperatures", type=float, nargs="*", default=[0.5, 2.0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rounds = resolve_rounds(args.rounds, args.distance)
    exp = MemoryExperiment(args.distance, rounds, args.p, basis=args.basis)
    circuit, dem = exp.circuit(), exp.dem()
    dec = PipelineDecoder(circuit, dem, model=args.model, global_decoder="pymatching-weighted")
    basis = dec.correction_basis

    # Calibration shots: labeled, from the DEM sampler (what training sees).
    cal_events, cal_obs, cal_labels = LabeledSampler(dem, basis, seed=args.seed).sample(args.calibration_shots)
    cal_logits = logits_of(dec, cal_events)
    a, b = fit_platt(cal_logits, cal_labels, basis.valid)
    ones, zeros = [1.0] * 4, [0.0] * 4
    cal_errors = {o: int(fails_with(dec, cal_events, cal_obs, cal_logits, ones, [o] * 4).sum()) for o in args.offsets}
    best_offset = min(args.offsets, key=lambda o: (cal_errors[o], abs(o)))
    variants = {"none": (ones, zeros), "platt": (a, b), f"offset({best_offset:g})": (ones, [best_offset] * 4)}
    for t in args.temperatures:
        variants[f"temperature({t:g})"] = ([1.0 / t] * 4, zeros)

    # Fresh test shots, Stim's circuit sampler.
    events, obs = circuit.compile_detector_sampler(seed=args.seed + 1).sample(args.shots, separate_observables=True)
    logits = logits_of(dec, events)
    corr = np.any(PyMatchingDecoder(dem, correlated=True).decode_batch(events) != obs, axis=1)
    plain = np.any(PyMatchingDecoder(dem).decode_batch(events) != obs, axis=1)
    rows = [{"variant": "pymatching", "errors": int(plain.sum())},
            {"variant": "pymatching-correlated", "errors": int(corr.sum())}]
    base = None
    for name, (scale, offset) in variants.items():
        f = fails_with(dec, events, obs, logits, scale, offset)
        base = f if name == "none" else base
        fit = fit_ler(int(f.sum()), len(f))
        rows.append({
            "variant": name, "scale": scale, "offset": offset, "errors": int(f.sum()), "ler": fit.best,
            "ler_low": fit.low, "ler_high": fit.high,
            "only_fails_vs_none": int(np.sum(f & ~base)), "none_only_fails": int(np.sum(base & ~f)),
            "z_vs_none": paired_z(int(np.sum(f & ~base)), int(np.sum(base & ~f))),
            "z_vs_correlated": paired_z(int(np.sum(f & ~corr)), int(np.sum(corr & ~f))),
        })
    doc = {"distance": args.distance, "rounds": rounds, "p": args.p, "basis": args.basis, "model": args.model,
           "model_sha256": dec.model.sha256, "calibration_shots": args.calibration_shots, "shots": args.shots,
           "seed": args.seed, "platt": {"scale": a, "offset": b}, "calibration_errors_by_offset": cal_errors,
           "rows": rows}
    if args.json:
        print(json.dumps(doc, indent=1))
        return
    print(f"d={args.distance} rounds={rounds} p={args.p} {args.basis}; platt a={np.round(a, 3).tolist()} "
          f"b={np.round(b, 3).tolist()}; calibration errors by offset {cal_errors}")
    for r in rows:
        extra = "" if "z_vs_none" not in r else (f"  vs none: {r['only_fails_vs_none']} vs {r['none_only_fails']} "
                                               f"(z {r['z_vs_none']:+.1f}); z vs correlated {r['z_vs_correlated']:+.1f}")
        print(f"{r['variant']:<22}{r['errors']:>7}{extra}")


if __name__ == "__main__":
    main()
