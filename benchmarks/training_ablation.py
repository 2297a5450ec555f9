"""Short training runs that differ in one setting, compared on the same validation shots.

    python benchmarks/training_ablation.py --steps 600 [--json]

Each variant trains the same preset from the same seed for the same number of steps on the same
data stream and is scored on the same validation shots: per-voxel BCE, precision and recall at
logit threshold 0, and pipeline errors at the best threshold vs plain PyMatching. Short runs rank
settings by early learning speed; they do not predict the final LER of long runs.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

from predecoder import TrainConfig, train

VARIANTS = {
    "adamw lr 2e-3 (default)": {},
    "adamw lr 5e-4": {"lr": 5e-4},
    "lion lr 3e-4": {"optimizer": "lion", "lr": 3e-4},
    "pos_weight 4": {"pos_weight": 4.0},
    "no grad clip": {"grad_clip": 0.0},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distance", type=int, default=5)
    parser.add_argument("--p", type=float, default=0.006)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--val-shots", type=int, default=20_000)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for name in args.variants:
        kw = dict(distance=args.distance, p=args.p, preset=args.preset, steps=args.steps, batch=args.batch,
                  val_shots=args.val_shots, val_every=10**9, threads=1, seed=1, log_every=10**9)
        kw.update(VARIANTS[name])
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            state = train(TrainConfig(out=out, **kw), log=lambda m: None)
            v = state.last_validation
            # Validation shots are drawn at the run's own p; re-score at the target p if it differs.
            rows.append({
                "variant": name, "steps": state.step, "seconds": round(time.perf_counter() - t0, 1),
                "bce": v["bce"], "precision": v["precision"], "recall": v["recall"],
                "predecoder_errors": round(v["predecoder_ler"] * v["shots"]),
                "pymatching_errors": v["pymatching_errors"], "best_threshold": v["best_threshold"],
            })
        if not args.json:
            r = rows[-1]
            print(f"{name:>26}: BCE {r['bce']:.5f}  precision {r['precision']:.3f}  recall {r['recall']:.3f}  "
                  f"errors {r['predecoder_errors']} vs PyMatching {r['pymatching_errors']}  "
                  f"{r['seconds']} s", flush=True)
    if args.json:
        print(json.dumps({"results": rows}))


if __name__ == "__main__":
    main()
