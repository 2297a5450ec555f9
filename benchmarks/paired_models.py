"""Two models in one composition on the same fresh shots, paired (with plain and correlated
PyMatching beside them).

    python benchmarks/paired_models.py --models small runs/x/best.safetensors --decoder predecoder-weighted \
        --distance 5 --p 0.006 --shots 100000 --seed 77

``qec ler`` names a pre-decoder decoder by composition and keeps one model per run; this names
each model's decoder ``<composition>-A`` / ``-B`` so both decode every shot, and prints errors,
only-fails both ways and McNemar's z (negative: A made fewer errors).
"""

from __future__ import annotations

import argparse
import json

import torch

from predecoder import ler_decoders
from qec import LerTask, MemoryExperiment, collect_ler, paired_z


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs=2, required=True, metavar=("A", "B"))
    parser.add_argument("--decoder", default="predecoder-weighted",
                        choices=("predecoder", "predecoder-correlated", "predecoder-weighted"))
    parser.add_argument("--distance", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=None, help="noisy rounds (default d - 1)")
    parser.add_argument("--p", type=float, default=0.006)
    parser.add_argument("--basis", default="x")
    parser.add_argument("--shots", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=77)
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = {f"{args.decoder}-{tag}": ler_decoders(model=m)[args.decoder] for tag, m in zip("AB", args.models)}
    rounds = args.distance - 1 if args.rounds is None else args.rounds
    exp = MemoryExperiment(args.distance, rounds, args.p, args.basis)
    task = LerTask(exp, ("pymatching", "pymatching-correlated", *names))
    res = {r.decoder: r for r in collect_ler([task], max_shots=args.shots, seed=args.seed, custom_decoders=names)}
    a, b = (res[n] for n in names)
    only_a, only_b = a.only_fails()[b.decoder], b.only_fails()[a.decoder]
    print(json.dumps({"models": args.models, "decoder": args.decoder, "experiment": exp.json_metadata(),
                      "shots": args.shots, "seed": args.seed, "errors": {n: r.errors for n, r in res.items()},
                      "only_A": only_a, "only_B": only_b, "z_A_vs_B": paired_z(only_a, only_b)}, indent=1))


if __name__ == "__main__":
    main()
