"""``qec closed-loop``: learn the DEM of hot-spot noise from syndromes, train pre-decoders on the
true, learned and nominal DEMs with one budget, and decode the same fresh shots with each
(:mod:`predecoder._closed_loop`).

    qec closed-loop --distance 5 --p 0.003 --hot 3 3 5 --hot 5 7 5 --hot 7 5 5 --out runs/cl_d5 [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

from experiments.cli import UsageError
from predecoder import ClosedLoopConfig, run_closed_loop
from predecoder._closed_loop import KINDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``qec closed-loop`` flags."""
    parser.add_argument("--distance", "-d", type=int, required=True, help="code distance (odd, >= 3)")
    parser.add_argument("--p", type=float, required=True, help="noise strength")
    parser.add_argument("--hot", nargs=3, type=float, action="append", metavar=("X", "Y", "FACTOR"), required=True,
                        help="a hot qubit at Stim coordinates (X, Y), its noise times FACTOR (repeatable)")
    parser.add_argument("--out", required=True, help="folder for DEMs, training runs and results.json (a rerun with the same "
                             "arguments resumes; with others it is refused)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default: the distance)")
    parser.add_argument("--learn-shots", type=int, default=100_000, help="shots the DEM is learned from")
    parser.add_argument("--samples", type=int, default=500_000, help="training samples per pre-decoder")
    parser.add_argument("--test-shots", type=int, default=100_000, help="fresh shots decoded by every decoder")
    parser.add_argument("--preset", default="small", help="model preset (default small)")
    parser.add_argument("--init", default="small", help="warm start: shipped name or file ('none': from scratch)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for training")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def run(args: argparse.Namespace) -> int:
    """Run one closed-loop point (:func:`predecoder.run_closed_loop`) and print its summary;
    returns the exit status."""
    for name in ("learn_shots", "samples", "test_shots", "threads"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1")
    cfg = ClosedLoopConfig(
        distance=args.distance, p=args.p, hot=tuple(tuple(h) for h in args.hot), out=args.out, rounds=args.rounds,
        learn_shots=args.learn_shots, samples=args.samples, test_shots=args.test_shots, preset=args.preset,
        init=None if args.init == "none" else args.init, lr=args.lr, seed=args.seed, threads=args.threads,
    )
    cfg.experiment.circuit()  # bad distance, p or coordinates fail before any work
    result = run_closed_loop(cfg, log=lambda m: print(m, file=sys.stderr, flush=True))
    summary = result.to_json()
    if args.json:
        json.dump(summary, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print(f"{'decoder':<20}{'errors':>8}{'shots':>9}  LER/shot [95%]")
    for name in (f"{d}-{k}" for d in ("pymatching", "pipeline") for k in KINDS):
        r = summary["results"][name]
        print(f"{name:<20}{r['errors']:>8}{r['shots']:>9}  {r['ler']:.3e} [{r['ler_low']:.3e}, {r['ler_high']:.3e}]")
    print_gap(summary["gap_closed"])
    return 0


def print_gap(gap: dict) -> None:
    """How much of the nominal-to-true gap learning closed; "-" where there was no gap."""
    fmt = lambda x: "-" if x is None else f"{100 * x:.0f}%"  # noqa: E731
    print(f"nominal-to-true gap closed by learning: matcher {fmt(gap['matcher'])}, pipeline {fmt(gap['pipeline'])}")
    if None in gap.values():
        print("(-: the true DEM made no fewer errors than the nominal one on these shots: no gap to close)")
