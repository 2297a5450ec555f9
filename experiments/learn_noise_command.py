"""``qec learn-noise``: estimate a detector error model from detection events.

Three modes:

- From an experiment folder: ``--experiment FOLDER --half even|odd --out learned.dem`` learns
  from the detection events of that half of the folder's shots (the structure from the folder's
  circuit DEM; see :mod:`noise_learning._experiment_dems`): a DEM for decoding the *other* half.
- From files: ``--circuit C.stim --dets F [--dets-format b8] --out learned.dem`` reads detection
  events (Stim's shot formats), takes the DEM *structure* from the circuit (its noise strengths
  are discarded) and writes the estimated DEM.
- Simulated: ``--distance D --p P --train-shots N --test-shots M`` samples N training shots from
  the (possibly hot-spotted) circuit, learns a DEM from their detection events, then decodes M
  fresh shots with PyMatching using the true DEM, the learned DEM, the nominal DEM (same noise
  model without the per-qubit scaling) and uniform weights, all on the same shots: the library
  function :func:`noise_learning._comparison.compare_learned_dem`; this module parses and prints.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from experiments.cli import UsageError
from noise_learning import DEM_KINDS
from qec.files import check_output_path, write_bytes

_FORMATS = ("01", "b8", "r8", "ptb64", "hits", "dets")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``qec learn-noise`` flags."""
    f = parser.add_argument_group("from files")
    f.add_argument("--circuit", help="Stim circuit (noisy or noiseless) giving the DEM structure")
    f.add_argument("--dets", help="detection events file (one shot per record)")
    f.add_argument("--dets-format", default="b8", choices=_FORMATS, help="Stim shot format (default b8)")
    f.add_argument("--shots", type=int, default=None,
                   help="the number of shots --dets holds: checked (b8 has no header, so a file of another circuit "
                        "can fit the detector count)")
    f.add_argument("--out", help="write the estimated DEM here (.dem)")
    e = parser.add_argument_group("from an experiment folder")
    e.add_argument("--experiment", metavar="FOLDER", help="experiment folder (Google's data layout)")
    e.add_argument("--half", choices=("even", "odd"), help="learn from this half of the shots (by index)")
    e.add_argument("--max-shots", type=int, default=None, help="use the first N shots of the folder")
    e.add_argument("--per-round", action="store_true",
                   help="estimate every round on its own (default: pool each mechanism over its translates in "
                        "time, the first and last layers kept apart)")
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
    parser.add_argument("--estimator", "--method", dest="estimator", default="likelihood",
                        choices=("likelihood", "correlations", "network"),
                        help="likelihood (default: maximum likelihood over local windows, started from the "
                             "correlation estimate), correlations (the 2-/3-/4-point moment estimate), or network "
                             "(the paper's learned estimator, simulated mode only); --method is its old name")
    parser.add_argument("--order", type=int, default=None, choices=(2, 4),
                        help="correlations only: 2 = pairwise edges, 4 = plus 3-/4-point hyperedges "
                             "(default: 4 in file mode and with --correlated, else 2)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """Learn a DEM (from files, an experiment folder, or a simulated comparison); returns the exit status."""
    if args.experiment is not None:
        check_mode_flags(args, "--experiment", ("simulated", "files"))
        return _run_experiment(args)
    if args.half is not None:
        raise UsageError("--half needs --experiment")
    if args.circuit or args.dets:
        check_mode_flags(args, "file mode (--circuit, --dets)", ("simulated", "experiment"))
        return _run_files(args)
    if args.distance is None or args.p is None:
        raise UsageError("give --circuit and --dets (file mode) or --distance and --p (simulated mode)")
    check_mode_flags(args, "simulated mode (--distance, --p)", ("files", "experiment"))
    return _run_simulated(args)


# Each mode's own flags, with their defaults: given to another mode, they would be ignored.
MODE_FLAGS = {
    "simulated": {"distance": None, "rounds": None, "p": None, "noise": "depolarizing", "basis": "x", "seed": 0,
                  "scale_qubit": [], "train_shots": 100_000, "test_shots": 100_000, "correlated": False},
    "files": {"dets_format": "b8", "shots": None},
    "experiment": {"max_shots": None, "per_round": False},
}


def check_mode_flags(args: argparse.Namespace, mode: str, others: tuple[str, ...]) -> None:
    """:class:`UsageError` naming the flags of the ``others`` modes given to ``mode`` (they would
    be silently ignored). A flag left at its default counts as not given."""
    given = {}
    for other in others:
        for name, default in MODE_FLAGS[other].items():
            if getattr(args, name) == default:
                continue
            given[f"--{name.replace('_', '-')}"] = getattr(args, name)
    if given:
        raise UsageError(f"{', '.join(given)} {'does' if len(given) == 1 else 'do'} not apply to {mode}: "
                         f"leave {'it' if len(given) == 1 else 'them'} out")


def _check_experiment_flags(args) -> None:
    if args.circuit or args.dets or args.distance is not None:
        raise UsageError("--experiment reads its circuit and shots from the folder: leave out --circuit, --dets "
                         "and --distance")
    if args.half is None or args.out is None:
        raise UsageError("--experiment needs --half even|odd and --out")
    if args.estimator == "network":
        raise UsageError("--experiment supports --estimator likelihood or correlations")
    _check_order(args)
    if args.max_shots is not None and args.max_shots < 2:
        raise UsageError(f"--max-shots must be >= 2, got {args.max_shots}")


def check_learned(model, source: str, half: str = "") -> None:
    """A learned DEM matching cannot decode with (too few shots: errors estimated at zero cut
    detectors off from the boundary) is refused in one line, not written. A likelihood fit starts
    such errors above zero, so its own DEM always decodes: the moment estimate it started from
    says whether the shots were enough."""
    from qec.files import check_dem_decodable

    shots = f"the {model.shots} {half + ' ' if half else ''}shot{'' if model.shots == 1 else 's'}"
    start = [] if model.likelihood_fit is None else [model.likelihood_fit.start]
    for learned in (model, *start):
        check_dem_decodable(learned.dem(), f"the DEM learned from {shots} of {source}",
                            hint="learn from more shots (10^4 or more)")


def _run_experiment(args) -> int:
    from noise_learning import learn_folder_dem
    from qec import read_experiment_folder
    from qec._hardware._experiment_folders import folder_files

    _check_experiment_flags(args)
    folder = read_experiment_folder(args.experiment)
    inputs = folder_files(folder.path)
    check_output_path(args.out, inputs, what="--out")
    t0 = time.perf_counter()
    model = learn_folder_dem(folder, args.half, max_shots=args.max_shots, estimator=args.estimator,
                             method="pairwise" if args.order == 2 else "hyperedge", pool_rounds=not args.per_round,
                             progress=True)
    from qec.hardware import FittedOn, provenance_header

    check_learned(model, folder.name, args.half)

    # The file says which shots it was estimated from: whatever uses it (decoding, a pre-decoder
    # trained on it) is refused on those shots.
    header = provenance_header([FittedOn(folder=folder.name, half=args.half, shots=model.shots)])
    write_bytes(args.out, header.encode() + str(model.dem()).encode() + b"\n", inputs=inputs, what="--out")
    out = {
        "experiment": folder.path, "half": args.half, "shots": model.shots, "detectors": folder.num_detectors,
        "method": model.method, "clamped": model.clamped, "seconds": round(time.perf_counter() - t0, 3),
        "out": args.out, **_fit_record(model),
    }
    _print_learned(args, out, f"estimated {len(model.mechanisms)} mechanisms from the {model.shots} {args.half} "
                   f"shots of {folder.name} ({model.method}, {out['seconds']} s); clamped {model.clamped}; wrote "
                   f"{args.out} (decode the {'odd' if args.half == 'even' else 'even'} shots with it)")
    return 0


def _check_order(args) -> None:
    if args.estimator == "likelihood" and args.order == 2:
        raise UsageError("--estimator likelihood fits the 3-/4-point hyperedges too: leave out --order 2 "
                         "(or give --estimator correlations)")


def _fit_record(model) -> dict:
    """The likelihood fit's JSON record under ``likelihood_fit`` (nothing for the moment estimates)."""
    return {} if model.likelihood_fit is None else {"likelihood_fit": model.likelihood_fit.to_json()}


def _print_learned(args, out: dict, line: str) -> None:
    print(json.dumps(out) if args.json else line)


def _read_dets(args, structure):
    """--dets as bit-packed events, uint8 (shots, ceil(num_detectors / 8)), checked: the file's
    format and size, --shots, and that the events fit the structure's DEM (not another circuit's)."""
    import stim

    from qec._data._shot_checks import check_events_fit_dem, check_shot_count
    from qec._data._shot_files import check_b8_file, check_shot_file

    num_detectors = structure.num_detectors

    check_shot_file(args.dets, "--dets")
    if args.dets_format == "b8":
        check_b8_file(args.dets, num_detectors)
    try:
        events = stim.read_shot_data_file(path=args.dets, format=args.dets_format, num_detectors=num_detectors,
                                          bit_packed=True)
    except ValueError as e:
        raise UsageError(f"cannot read {args.dets} as {args.dets_format}: {e}") from e
    if events.shape[0] == 0:
        raise UsageError(f"{args.dets} holds no shots")
    check_shot_count(events.shape[0], args.shots, args.dets)
    check_events_fit_dem(events, structure.template, args.dets, bit_packed=True)
    return events


def _run_files(args) -> int:
    from noise_learning import learn_dem, structure_from_circuit
    from qec._data._circuit_files import read_circuit

    if not (args.circuit and args.dets and args.out):
        raise UsageError("file mode needs --circuit, --dets and --out")
    if args.estimator == "network":
        raise UsageError("file mode supports --estimator likelihood or correlations")
    _check_order(args)
    circuit = read_circuit(args.circuit)
    structure = structure_from_circuit(circuit)
    t0 = time.perf_counter()
    events = _read_dets(args, structure)
    # A DEM written to a file (for correlated decoding or for training data) carries the
    # hyperedges by default.
    model = learn_dem(events, structure, estimator=args.estimator, method="pairwise" if args.order == 2 else "hyperedge",
                      bit_packed=True, progress=True)
    check_learned(model, args.dets)
    write_bytes(args.out, str(model.dem()).encode() + b"\n", inputs=(args.circuit, args.dets), what="--out")
    out = {
        "shots": model.shots, "detectors": structure.num_detectors, "method": model.method,
        "clamped": model.clamped, "seconds": round(time.perf_counter() - t0, 3), "out": args.out,
        **_fit_record(model),
    }
    _print_learned(args, out, f"estimated {len(model.mechanisms)} mechanisms from {model.shots} shots "
                              f"({model.method}, {out['seconds']} s); clamped {model.clamped}; wrote {args.out}")
    return 0


def _run_simulated(args) -> int:
    from qec import MemoryExperiment

    if args.train_shots < 1 or args.test_shots < 1:
        raise UsageError("--train-shots and --test-shots must be positive")
    rounds = args.rounds if args.rounds is not None else args.distance
    exp = MemoryExperiment(args.distance, rounds, args.p, args.basis, args.noise,
                           scale_qubits=tuple(tuple(s) for s in args.scale_qubit))
    nominal = MemoryExperiment(args.distance, rounds, args.p, args.basis, args.noise)
    result = _compare(args, exp, nominal)
    if args.out:
        write_bytes(args.out, str(result.learned).encode() + b"\n", what="--out")
    out: dict = {
        "d": args.distance, "rounds": rounds, "p": args.p, "noise": args.noise, "basis": args.basis,
        "seed": args.seed, "scale": [list(s) for s in args.scale_qubit], "train_shots": args.train_shots,
        "test_shots": args.test_shots, **result.summary(),
    }
    if args.json:
        print(json.dumps(out))
    else:
        print_comparison(out, result)
    return 0


def _compare(args, exp, nominal):
    """:func:`compare_learned_dem` with the flags; its failures as :class:`UsageError` (a learned DEM
    that cannot decode is still written to --out)."""
    from noise_learning import compare_learned_dem
    from noise_learning._comparison import LearnedDemUndecodable

    try:
        _check_order(args)
        return compare_learned_dem(
            exp, nominal, train_shots=args.train_shots, test_shots=args.test_shots, seed=args.seed,
            estimator=args.estimator, order=args.order, correlated=args.correlated, progress=True,
        )
    except ModuleNotFoundError as e:
        if args.estimator != "network":
            raise
        raise UsageError(f"--estimator network is unavailable ({e})") from e
    except LearnedDemUndecodable as e:
        if args.out:
            write_bytes(args.out, str(e.learned).encode() + b"\n", what="--out")
        raise UsageError(
            f"the DEM learned from {e.train_shots} shots cannot decode the test shots ({e.zeroed} mechanisms "
            f"estimated at zero leave syndromes unmatchable); give more --train-shots (10^4 or more)"
        ) from None


def print_comparison(out: dict, result) -> None:
    """The simulated comparison's table: each DEM's LER per decoding, then the edge statistics."""
    print(f"d={out['d']} rounds={out['rounds']} p={out['p']} {out['noise']} basis={out['basis']} "
          f"train={out['train_shots']} test={out['test_shots']} method={result.method} "
          f"(estimated in {result.estimate_seconds:.2f} s, clamped {result.clamped})")
    for prefix, label in (("", "plain"), ("corr_", "correlated")):
        if f"{prefix}ler_true" not in out:
            continue
        print(f"{label} PyMatching, LER per shot [95% interval]:")
        for name in [*DEM_KINDS, "correlations"]:
            k = f"{prefix}ler_{name}"
            if k in out:
                print(f"  {name:12s} {out[k]:.3e} [{out[k + '_low']:.3e}, {out[k + '_high']:.3e}]")
        versus = out.get(f"{prefix}paired_learned_vs_correlations")
        if versus is not None:
            print(f"  learned vs correlations, paired: only-fails {versus['only_a']} vs {versus['only_b']}, "
                  f"z {versus['z']:+.1f}")
    es = out["edge_stats"]
    print(f"edges: {es['edges']}, relative error mean {es['rel_error_mean']:+.3f}, "
          f"median |rel| {es['rel_error_median_abs']:.3f}, weight rms {es['weight_error_rms']:.3f}")


if __name__ == "__main__":  # pragma: no cover
    from experiments.cli import main

    sys.exit(main(["learn-noise", *sys.argv[1:]]))
