"""Pipeline errors per logit threshold on fresh shots, paired with plain PyMatching.

    python benchmarks/threshold_sweep.py --distance 5 --p 0.006 --shots 100000 --seed 4242 \
        --models small runs/x/best.safetensors [--json]

For each model: both memory bases (``--shots`` each), the network's logits computed once per
chunk, then every threshold's corrections -> residual -> plain PyMatching. Prints errors, the
ratio PyMatching errors / pipeline errors, and the residual density (residual events / raw
events). Used to choose a model's threshold on shots that training never saw.
"""

from __future__ import annotations

import json

import numpy as np
import torch
from _experiment_flags import experiment_parser, resolve_rounds

from predecoder import PipelineDecoder, load_model
from qec import MemoryExperiment

THRESHOLDS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)


def sweep(model_path: str, data, thresholds=THRESHOLDS, chunk: int = 8192) -> dict:
    model = load_model(model_path)
    errors = {t: 0 for t in thresholds}
    residual_events = {t: 0 for t in thresholds}
    plain_errors, raw_events = 0, 0
    for circuit, dem, events, obs in data:
        dec = PipelineDecoder(circuit, dem, model=model)
        plain_errors += int(np.any(dec.global_decoder.decode_batch(events) != obs, axis=1).sum())
        raw_events += int(events.sum())
        for i in range(0, len(events), chunk):
            ev, ob = events[i:i + chunk], obs[i:i + chunk]
            logits = dec.logits(ev)
            for t in thresholds:
                pred, residual = dec.decode_corrections(ev, (logits >= t).cpu().numpy())
                errors[t] += int(np.any(pred != ob, axis=1).sum())
                residual_events[t] += int(residual.sum())
    return {
        "model": model_path,
        "sha256": model.sha256,
        "stored_threshold": model.threshold,
        "pymatching_errors": plain_errors,
        "errors": {str(t): errors[t] for t in thresholds},
        "ratio": {str(t): plain_errors / max(1, errors[t]) for t in thresholds},
        "density_ratio": {str(t): residual_events[t] / max(1, raw_events) for t in thresholds},
    }


def main() -> None:
    parser = experiment_parser(__doc__, decoder_flags=False)
    parser.add_argument("--noise", default="depolarizing")
    parser.add_argument("--shots", type=int, default=100_000, help="shots per basis")
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = []
    for basis in ("x", "z"):
        exp = MemoryExperiment(args.distance, resolve_rounds(args.rounds, args.distance), args.p, basis, args.noise)
        circuit = exp.circuit()
        events, obs = circuit.compile_detector_sampler(seed=args.seed).sample(args.shots, separate_observables=True)
        data.append((circuit, exp.dem(), events, obs))
    rows = []
    for m in args.models:
        r = sweep(m, data)
        rows.append(r)
        if not args.json:
            print(f"{m} (sha256 {r['sha256'][:12]}, stored threshold {r['stored_threshold']}): "
                  f"PyMatching {r['pymatching_errors']} errors")
            for t in r["errors"]:
                print(f"  threshold {t}: {r['errors'][t]} errors ({r['ratio'][t]:.3f}x), "
                      f"density x{r['density_ratio'][t]:.3f}")
    if args.json:
        print(json.dumps({"distance": args.distance, "rounds": resolve_rounds(args.rounds, args.distance), "p": args.p, "noise": args.noise, "shots_per_basis": args.shots,
                          "seed": args.seed, "models": rows}, indent=1))


if __name__ == "__main__":
    main()
