"""``qec closed-loop``: learn the noise from syndromes, train a pre-decoder on it, score it.

Two modes:

- simulated (:mod:`predecoder._closed_loop`): learn the DEM of hot-spot noise, train pre-decoders
  on the true, learned and nominal DEMs with one budget, decode the same fresh shots with each::

    qec closed-loop --distance 5 --p 0.003 --hot 3 3 5 --hot 5 7 5 --hot 7 5 5 --out runs/cl_d5 [--json]

- a device's shots (:mod:`predecoder._hardware_loop`): learn each experiment folder's DEM from one
  half of its shots, fine-tune a model on them, score it on the other half beside correlated
  PyMatching and the folders' recorded predictions::

    qec closed-loop --experiment FOLDER... --half even --minutes 20 --init sycamore-d5 --out DIR [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

from experiments.cli import UsageError
from predecoder import ClosedLoopConfig, HardwareLoopConfig, run_closed_loop, run_hardware_loop
from predecoder._closed_loop import KINDS

_SIMULATED_ONLY = ("distance", "p", "hot", "rounds", "learn_shots", "test_shots")
_DEVICE_ONLY = ("half", "minutes", "estimator", "max_shots", "workers", "bootstrap")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``qec closed-loop`` flags."""
    parser.add_argument("--out", required=True, help="folder for DEMs, training runs and results.json (a rerun with the same "
                             "arguments resumes; with others it is refused)")
    e = parser.add_argument_group("a device's shots (experiment folders)")
    e.add_argument("--experiment", nargs="+", metavar="FOLDER", default=None,
                   help="experiment folders of one distance (or folders holding them): learn, train, score")
    e.add_argument("--half", choices=("even", "odd"), default=None,
                   help="learn the DEMs and train on this half of each folder's shots; the other half is scored")
    e.add_argument("--minutes", type=float, default=None,
                   help="training wall time (default 20; with --samples alone, no time limit)")
    e.add_argument("--estimator", choices=("likelihood", "correlations"), default=None,
                   help="how each folder's DEM is learned (default likelihood)")
    e.add_argument("--max-shots", type=int, default=None, help="the first N shots of every folder")
    e.add_argument("--workers", type=int, default=None, help="scoring processes (default 1)")
    e.add_argument("--bootstrap", type=int, default=None, help="bootstrap replicates of the error per round (1000)")
    s = parser.add_argument_group("simulated hot-spot noise")
    s.add_argument("--distance", "-d", type=int, default=None, help="code distance (odd, >= 3)")
    s.add_argument("--p", type=float, default=None, help="noise strength")
    s.add_argument("--hot", nargs=3, type=float, action="append", metavar=("X", "Y", "FACTOR"), default=None,
                   help="a hot qubit at Stim coordinates (X, Y), its noise times FACTOR (repeatable)")
    s.add_argument("--rounds", type=int, default=None, help="rounds (default: the distance)")
    s.add_argument("--learn-shots", type=int, default=None, help="shots the DEM is learned from (100000)")
    parser.add_argument("--samples", type=int, default=None,
                        help="training samples per pre-decoder (simulated: 500000; a device's: no limit unless given)")
    s.add_argument("--test-shots", type=int, default=None, help="fresh shots decoded by every decoder (100000)")
    parser.add_argument("--preset", default="small", help="model preset (default small)")
    parser.add_argument("--init", default="small", help="warm start: shipped name or file ('none': from scratch)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for training")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def check_mode(args: argparse.Namespace) -> None:
    """The flags of one mode only: --experiment (a device's shots) or --distance/--p/--hot."""
    device = args.experiment is not None
    stray = [n for n in (_SIMULATED_ONLY if device else _DEVICE_ONLY) if getattr(args, n) is not None]
    if stray:
        flags = ", ".join("--" + n.replace("_", "-") for n in stray)
        raise UsageError(f"{flags}: not a flag of the {'--experiment' if device else 'simulated'} mode")
    if device and args.half is None:
        raise UsageError("--experiment needs --half even|odd (the half the DEMs are learned from)")
    if not device and (args.distance is None or args.p is None or not args.hot):
        raise UsageError("give --experiment FOLDER... (a device's shots) or --distance, --p and --hot (simulated)")
    for name in ("learn_shots", "samples", "test_shots", "threads", "workers"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1")


def run(args: argparse.Namespace) -> int:
    """Run one closed loop (:func:`predecoder.run_closed_loop` or
    :func:`predecoder.run_hardware_loop`) and print its summary; returns the exit status."""
    check_mode(args)
    if args.experiment is not None:
        return _run_device(args)
    given = {k: getattr(args, k) for k in ("learn_shots", "samples", "test_shots") if getattr(args, k) is not None}
    cfg = ClosedLoopConfig(
        distance=args.distance, p=args.p, hot=tuple(tuple(h) for h in args.hot), out=args.out, rounds=args.rounds,
        preset=args.preset, init=None if args.init == "none" else args.init, lr=args.lr, seed=args.seed,
        threads=args.threads, **given,
    )
    cfg.experiment.circuit()  # bad distance, p or coordinates fail before any work
    result = run_closed_loop(cfg, log=lambda m: print(m, file=sys.stderr, flush=True))
    print_simulated(result.to_json(), args.json)
    return 0


def print_simulated(summary: dict, as_json: bool) -> None:
    """The simulated loop's results: JSON, or one row per decoder and the gap closed."""
    if as_json:
        json.dump(summary, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    print(f"{'decoder':<20}{'errors':>8}{'shots':>9}  LER/shot [95%]")
    for name in (f"{d}-{k}" for d in ("pymatching", "pipeline") for k in KINDS):
        r = summary["results"][name]
        print(f"{name:<20}{r['errors']:>8}{r['shots']:>9}  {r['ler']:.3e} [{r['ler_low']:.3e}, {r['ler_high']:.3e}]")
    print_gap(summary["gap_closed"])


def print_gap(gap: dict) -> None:
    """How much of the nominal-to-true gap learning closed; "-" where there was no gap."""
    fmt = lambda x: "-" if x is None else f"{100 * x:.0f}%"  # noqa: E731
    print(f"nominal-to-true gap closed by learning: matcher {fmt(gap['matcher'])}, pipeline {fmt(gap['pipeline'])}")
    if None in gap.values():
        print("(-: the true DEM made no fewer errors than the nominal one on these shots: no gap to close)")


def _run_device(args: argparse.Namespace) -> int:
    from experiments.hardware_command import expand_folders

    given = {k: getattr(args, k) for k in (*_DEVICE_ONLY, "samples") if getattr(args, k) is not None}
    if "samples" in given and "minutes" not in given:
        given["minutes"] = None  # the sample budget alone
    cfg = HardwareLoopConfig(folders=tuple(expand_folders(args.experiment)), out=args.out, preset=args.preset,
                             init=None if args.init == "none" else args.init, lr=args.lr, seed=args.seed,
                             threads=args.threads, **given)
    result = run_hardware_loop(cfg)
    if args.json:
        json.dump(result.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    from experiments.hardware_command import print_tables

    print_tables(result.scores, reference="pymatching-correlated")
    print(f"\nmodel {result.model['path']} (sha256 {result.model['sha256'][:12]}), results in {args.out}/results.json")
    return 0
