"""``qec learn-noise``: estimate a detector error model from detection events.

Two modes:

- From files: ``--circuit C.stim --dets F [--dets-format b8] --out learned.dem`` reads detection
  events (Stim's shot formats), takes the DEM *structure* from the circuit (its noise strengths
  are discarded) and writes the estimated DEM.
- Simulated: ``--distance D --p P --train-shots N --test-shots M`` samples N training shots from
  the (possibly hot-spotted) circuit, learns a DEM from their detection events, then decodes M
  fresh shots with PyMatching using the true DEM, the learned DEM, the nominal DEM (same noise
  model without the per-qubit scaling) and uniform weights, all on the same shots.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


from experiments.cli import UsageError
from qec.output_files import write_bytes

_FORMATS = ("01", "b8", "r8", "ptb64", "hits", "dets")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    f = parser.add_argument_group("from files")
    f.add_argument("--circuit", help="Stim circuit (noisy or noiseless) giving the DEM structure")
    f.add_argument("--dets", help="detection events file (one shot per record)")
    f.add_argument("--dets-format", default="b8", choices=_FORMATS, help="Stim shot format (default b8)")
    f.add_argument("--out", help="write the estimated DEM here (.dem)")
    s = parser.add_argument_group("simulated")
    s.add_argument("--distance", type=int, help="code distance (odd, >= 3)")
    s.add_argument("--rounds", type=int, help="rounds (default: distance)")
    s.add_argument("--p", type=float, help="noise strength")
    s.add_argument("--noise", default="depolarizing", help="depolarizing | si1000 | stim")
    s.add_argument("--basis", default="x", choices=("x", "z"), help="memory basis (default x, as qec ler)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--scale-qubit", nargs=3, type=float, action="append", metavar=("X", "Y", "F"),
                   default=[], help="multiply the noise on the qubit at (X, Y) by F (repeatable)")
    s.add_argument("--train-shots", type=int, default=100_000)
    s.add_argument("--test-shots", type=int, default=100_000)
    s.add_argument("--correlated", action="store_true", help="also decode with correlated PyMatching")
    parser.add_argument("--method", default="correlations", choices=("correlations", "network"))
    parser.add_argument("--order", type=int, default=None, choices=(2, 4),
                        help="correlation order: 2 = pairwise edges, 4 = plus 3-/4-point hyperedges "
                             "(default: 4 in file mode and with --correlated, else 2)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _estimator_method(args, file_mode: bool = False) -> str:
    # Measured (docs/noise_learning.md): with plain matching the 3-/4-point correction neither
    # helps nor hurts, so plain runs use the simpler pairwise estimate; correlated matching needs
    # the hyperedges, and a DEM written to a file (for correlated decoding or for training data)
    # should carry them too.
    default = 4 if (file_mode or getattr(args, "correlated", False)) else 2
    order = args.order if args.order is not None else default
    return "pairwise" if order == 2 else "hyperedge"


def run(args: argparse.Namespace) -> int:
    if args.circuit or args.dets:
        return _run_files(args)
    if args.distance is None or args.p is None:
        raise UsageError("give --circuit and --dets (file mode) or --distance and --p (simulated mode)")
    return _run_simulated(args)


def _run_files(args) -> int:
    import stim

    from noise_learning.correlations import CorrelationEstimator
    from noise_learning.structure import structure_from_circuit

    if not (args.circuit and args.dets and args.out):
        raise UsageError("file mode needs --circuit, --dets and --out")
    if args.method != "correlations":
        raise UsageError("file mode supports --method correlations only")
    circuit = stim.Circuit.from_file(args.circuit)
    structure = structure_from_circuit(circuit)
    t0 = time.perf_counter()
    try:
        dets = stim.read_shot_data_file(
            path=args.dets, format=args.dets_format, num_detectors=circuit.num_detectors,
            bit_packed=True,
        )
    except ValueError as e:
        raise UsageError(f"cannot read {args.dets} as {args.dets_format}: {e}") from e
    if dets.shape[0] == 0:
        raise UsageError(f"{args.dets} holds no shots")
    model = CorrelationEstimator(structure, method=_estimator_method(args, file_mode=True)).fit(
        dets, bit_packed=True
    )
    dem = model.dem()
    write_bytes(args.out, str(dem).encode() + b"\n", inputs=(args.circuit, args.dets), what="--out")
    out = {
        "shots": model.shots, "detectors": structure.num_detectors, "method": model.method,
        "clamped": model.clamped, "seconds": round(time.perf_counter() - t0, 3), "out": args.out,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"estimated {len(model.mechanisms)} mechanisms from {model.shots} shots "
              f"({model.method}, {out['seconds']} s); clamped {model.clamped}; wrote {args.out}")
    return 0


def _run_simulated(args) -> int:
    from qec import MemoryExperiment

    from noise_learning.correlations import CorrelationEstimator
    from noise_learning.evaluate import edge_error_stats, paired_difference, paired_ler, uniform_dem
    from noise_learning.structure import DemStructure

    if args.train_shots < 1 or args.test_shots < 1:
        raise UsageError("--train-shots and --test-shots must be positive")
    rounds = args.rounds if args.rounds is not None else args.distance
    exp = MemoryExperiment(args.distance, rounds, args.p, args.basis, args.noise,
                           scale_qubits=tuple(tuple(s) for s in args.scale_qubit))
    nominal = MemoryExperiment(args.distance, rounds, args.p, args.basis, args.noise)
    circuit = exp.circuit()
    true_dem = exp.dem()
    # Structure only: the nominal model's DEM, probabilities discarded.
    structure = DemStructure.from_dem(nominal.dem())
    train = circuit.compile_detector_sampler(seed=args.seed).sample(args.train_shots, bit_packed=True)
    dets, obs = circuit.compile_detector_sampler(seed=args.seed + 1_000_003).sample(
        args.test_shots, separate_observables=True, bit_packed=False
    )
    t0 = time.perf_counter()
    if args.method == "network":
        try:
            from noise_learning.network import learn_dem_with_network
        except ModuleNotFoundError as e:
            raise UsageError(f"--method network is unavailable ({e})") from e

        learned = learn_dem_with_network(exp, train, bit_packed=True)
        clamped = {}
        method = "network"
    else:
        model = CorrelationEstimator(structure, method=_estimator_method(args)).fit(train, bit_packed=True)
        learned = model.dem()
        clamped = model.clamped
        method = model.method
    est_seconds = time.perf_counter() - t0
    if args.out:
        write_bytes(args.out, str(learned).encode() + b"\n", what="--out")
    dems = {"true": true_dem, "learned": learned, "nominal": nominal.dem(), "uniform": uniform_dem(true_dem)}
    out: dict = {
        "d": args.distance, "rounds": rounds, "p": args.p, "noise": args.noise, "basis": args.basis,
        "seed": args.seed, "scale": [list(s) for s in args.scale_qubit], "train_shots": args.train_shots,
        "test_shots": args.test_shots, "method": method, "estimate_seconds": round(est_seconds, 3),
        "clamped": clamped,
    }
    for prefix, correlated in (("", False), ("corr_", True)) if args.correlated else (("", False),):
        try:
            res = paired_ler(dets, obs, dems, correlated=correlated)
        except ValueError as e:
            if "perfect matching" not in str(e):
                raise
            zeroed = sum(clamped.values()) if clamped else 0
            raise UsageError(
                f"the DEM learned from {args.train_shots} shots cannot decode the test shots ({zeroed} mechanisms "
                f"estimated at zero leave syndromes unmatchable); give more --train-shots (10^4 or more)"
            ) from None
        for name, r in res.items():
            out[f"{prefix}ler_{name}"] = r.ler
            out[f"{prefix}ler_{name}_low"] = r.low
            out[f"{prefix}ler_{name}_high"] = r.high
        out[f"{prefix}paired_learned_vs_true"] = paired_difference(res["learned"], res["true"])
        out[f"{prefix}paired_learned_vs_nominal"] = paired_difference(res["learned"], res["nominal"])
    out["edge_stats"] = edge_error_stats(learned, true_dem)
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"d={args.distance} rounds={rounds} p={args.p} {args.noise} basis={args.basis} "
          f"train={args.train_shots} test={args.test_shots} method={method} "
          f"(estimated in {est_seconds:.2f} s, clamped {clamped})")
    for prefix, label in (("", "plain"), ("corr_", "correlated")):
        if f"{prefix}ler_true" not in out:
            continue
        print(f"{label} PyMatching, LER per shot [95% interval]:")
        for name in ("true", "learned", "nominal", "uniform"):
            k = f"{prefix}ler_{name}"
            print(f"  {name:8s} {out[k]:.3e} [{out[k + '_low']:.3e}, {out[k + '_high']:.3e}]")
    es = out["edge_stats"]
    print(f"edges: {es['edges']}, relative error mean {es['rel_error_mean']:+.3f}, "
          f"median |rel| {es['rel_error_median_abs']:.3f}, weight rms {es['weight_error_rms']:.3f}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    from experiments.cli import main

    sys.exit(main(["learn-noise", *sys.argv[1:]]))
