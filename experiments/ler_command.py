"""``qec ler``: logical-error-rate sweep; every decoder of a point decodes the same shots.

The sweep is the product of all multi-value flags. Results append to a sinter CSV (``--out``),
which a re-run of the same command resumes. ``--json`` prints exactly one JSON document
``{"results": [...]}`` on stdout, one row per (point, decoder).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import sys

from experiments.cli import UsageError, refuse_unused_flags
from experiments.rounds_flag import ROUNDS_HELP, resolve_rounds, rounds_spec, rounds_text
from predecoder import DEFAULT_MODEL, PREDECODER_NAMES, SHIPPED_MODELS
from qec import (
    BASES,
    DECODERS,
    NOISE_MODELS,
    LerResult,
    LerTask,
    MemoryExperiment,
    SlidingWindow,
    collect_ler,
    read_csv_stats,
)
from qec._decoding._decoders import load_custom_decoders, windowed_names
from qec.decoding import WithDem, decoder_factory
from qec.files import check_dem_decodable, check_output_path, read_dem
from qec._collection._ler import check_tasks_fit
from qec._collection._pairing import NotPaired, compare
from qec._data._stats_csv import check_writable


# --model of every command that takes a pre-decoder model.
MODEL_HELP = (f"pre-decoder model: a shipped model's name ({', '.join(SHIPPED_MODELS)}; qec models describes them) "
              f"or a model file (default {DEFAULT_MODEL})")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``qec ler`` flags."""
    parser.add_argument("--distance", "-d", type=int, nargs="+", required=True, help="odd code distances >= 3")
    parser.add_argument("--rounds", "-r", type=rounds_spec, nargs="+", default=None, help=ROUNDS_HELP.format("d"))
    parser.add_argument("--p", type=float, nargs="+", required=True, help="noise strengths in [0, 0.5)")
    parser.add_argument("--basis", nargs="+", default=["x"], help=f"memory bases ({', '.join(BASES)}; default x)")
    parser.add_argument("--noise", nargs="+", default=["depolarizing"],
                        help=f"noise models ({', '.join(NOISE_MODELS)}; default depolarizing)")
    parser.add_argument("--decoders", nargs="+", default=["pymatching"],
                        help=f"decoders compared on the same shots ({', '.join([*DECODERS, *PREDECODER_NAMES])}, or "
                             f"names from --custom-decoders)")
    parser.add_argument("--max-shots", type=int, default=None,
                        help="shots per point and decoder, CSV rows included (default 100000 "
                             "unless --max-errors is given)")
    parser.add_argument("--max-errors", type=int, default=None, help="stop a decoder at this many errors")
    parser.add_argument("--seed", type=int, default=None, help="base seed (default: random)")
    parser.add_argument("--out", default=None, help="sinter CSV to append to and resume from")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    parser.add_argument("--cluster", default=None, metavar="ADDRESS",
                        help="run the batches on a Dask cluster: a scheduler address (tcp://host:8786) or local:N "
                             "(N worker processes here); same rows as --workers 1 (docs/cluster.md; needs "
                             "pip install -e '.[cluster]')")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    add_decoder_arguments(parser, several_models=True)
    parser.add_argument("--dem", default=None, metavar="FILE",
                        help="decode with this DEM (e.g. from qec learn-noise) instead of the experiment's; it "
                             "must fit the circuit (detectors and coordinates)")
    parser.add_argument("--scale-qubit", action="append", nargs=3, metavar=("X", "Y", "FACTOR"), type=float,
                        default=None, help="multiply the noise on the qubit at (X, Y) by FACTOR (repeatable)")
    add_window_argument(parser, "adds, for every decoder, a variant NAME/wW:C that decodes the same shots in "
                                "sliding windows")


def add_window_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """``--window W:C ...`` (several values, repeatable): sliding-window decoding (docs/streaming.md)."""
    parser.add_argument("--window", nargs="+", action="extend", default=None, metavar="W:C",
                        help=f"sliding windows of W rounds committing the first C (1 <= C <= W): {what} "
                             f"(docs/streaming.md)")


def parse_windows(values: list[str] | None) -> list[SlidingWindow]:
    """The ``--window`` values as windows; a :class:`qec.QecError` for a bad or repeated one."""
    windows = [SlidingWindow.parse(v) for v in values or ()]
    for k, w in enumerate(windows):
        if w in windows[:k]:
            raise UsageError(f"--window {w} given twice")
    return windows


def add_decoder_arguments(parser: argparse.ArgumentParser, several_models: bool = False) -> None:
    """The options that choose and configure decoders beyond qec's own (``--custom-decoders`` and
    the pre-decoder's), shared by every command that decodes with :func:`decoder_mapping`.
    ``several_models``: ``--model`` takes several models, compared on the same shots
    (:func:`model_variants`)."""
    parser.add_argument("--custom-decoders", nargs="+", default=[], metavar="MODULE:FUNCTION",
                        help="more decoders: FUNCTION() returns {name: sinter.Decoder or factory(circuit, dem)}, "
                             "as sinter's --custom_decoders_module_function (e.g. "
                             "tesseract_decoder:make_tesseract_sinter_decoders_dict, "
                             "experiments.extra_decoders:beliefmatching)")
    if several_models:
        parser.add_argument("--model", nargs="+", default=None, metavar="MODEL",
                            help=MODEL_HELP + "; several models are compared on the same shots, each pre-decoder "
                                 "decoder once per model, named DECODER@HASH (the model file's short hash)")
    else:
        parser.add_argument("--model", default=None, help=MODEL_HELP)
    parser.add_argument("--device", default=None, help="pre-decoder network device: cpu, cuda[:N] or auto (default cpu)")
    parser.add_argument("--precision", default=None,
                        help="pre-decoder network precision: fp32, bf16, fp16 (CUDA) (default fp32)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="pre-decoder logit threshold (default: the model's; recorded with the stats)")


def decoder_mapping(args: argparse.Namespace) -> dict:
    """The decoders beyond qec's own (:func:`add_decoder_arguments`): the pre-decoder's (with
    --model and --threshold) when asked for, then those of every --custom-decoders MODULE:FUNCTION."""
    out: dict = {}
    if any(name in PREDECODER_NAMES for name in args.decoders):
        from predecoder import ler_decoders, resolve_device
        from predecoder._device import parse_device
        from predecoder._pipeline_options import PRECISIONS

        if getattr(args, "cluster", None) is None:
            resolve_device(args.device or "cpu")  # an unknown device or precision fails before anything else
        else:  # the cluster's workers have the GPUs; this process may have none
            parse_device(args.device or "cpu")
        if (args.precision or "fp32") not in PRECISIONS:
            raise UsageError(f"unknown --precision {args.precision!r}; choose from {', '.join(PRECISIONS)}")
        variants = model_variants(args)
        for model in models_given(args) or [None]:
            factories = ler_decoders(model=model, threshold=args.threshold, device=args.device or "cpu",
                                     precision=args.precision or "fp32")
            out.update({v: factories[name] for v, (name, m) in variants.items() if m == model} if variants
                       else factories)
    else:
        refuse_unused_flags({"--model": args.model, "--threshold": args.threshold, "--device": args.device,
                             "--precision": args.precision}, f"the pre-decoder ({', '.join(PREDECODER_NAMES)})",
                            ", ".join(args.decoders))
    for spec in args.custom_decoders:
        out.update(load_custom_decoders(spec))
    return out


def models_given(args: argparse.Namespace) -> list[str]:
    """The ``--model`` values (a list in qec ler, one value elsewhere; none when not given)."""
    return [] if args.model is None else [args.model] if isinstance(args.model, str) else list(args.model)


def model_variants(args: argparse.Namespace) -> dict[str, tuple[str, str]]:
    """With several ``--model`` values: each pre-decoder decoder of ``--decoders`` once per model,
    ``"DECODER@HASH"`` -> (decoder, model), HASH the model file's short hash (as sinter's pinned
    names); empty with one model (the decoders keep their names). :class:`UsageError` for a model
    given twice."""
    models = models_given(args)
    if len(models) < 2:
        return {}
    from predecoder import load_model

    tags = {}
    for m in models:
        tag = load_model(m).short_hash
        if tag in tags:
            raise UsageError(f"--model {tags[tag]} and {m} are the same model ({tag})")
        tags[tag] = m
    return {f"{name}@{tag}": (name, m) for name in args.decoders if name in PREDECODER_NAMES
            for tag, m in tags.items()}


def decoder_names(args: argparse.Namespace) -> list[str]:
    """``--decoders`` as the sweep names them: a pre-decoder decoder once per model when several
    ``--model`` values are given (:func:`model_variants`), in their order."""
    variants = model_variants(args)
    out = []
    for name in args.decoders:
        out += [v for v, (n, _) in variants.items() if n == name] or [name]
    return out


def custom_decoders(args: argparse.Namespace) -> dict:
    """:func:`decoder_mapping`, every decoder wrapped to decode with --dem when it is given."""
    out = decoder_mapping(args)
    if args.dem is not None:
        dem = read_dem(args.dem, what="--dem")
        check_dem_decodable(dem, f"--dem {args.dem}")
        label = f"{os.path.basename(args.dem)}@{hashlib.sha256(str(dem).encode()).hexdigest()[:12]}"
        out = {name: WithDem(decoder_factory(name, out), dem, label) for name in decoder_names(args)}
    return out


# The flags whose values the sweep takes the product of (and --decoders, compared on each point).
SWEEP_FLAGS = ("distance", "rounds", "p", "basis", "noise", "decoders")


def drop_repeated_values(args: argparse.Namespace) -> list[str]:
    """Keep the first of each value given twice to a sweep flag; what was repeated ("--p 0.003").
    The sweep is the product of the flags' values, so a repeated value adds no point (collected
    twice, its shots would be counted twice)."""
    repeated = []
    for name in SWEEP_FLAGS:
        values = getattr(args, name)
        if values is None:
            continue
        kept = list(dict.fromkeys(values))
        if len(kept) < len(values):
            twice = [v for i, v in enumerate(values) if v in values[:i]]
            shown = [rounds_text(v) if name == "rounds" else f"{v}" for v in dict.fromkeys(twice)]
            repeated.append(f"--{name} {' '.join(shown)}")
            setattr(args, name, kept)
    return repeated


def build_tasks(args: argparse.Namespace, custom: dict | None = None) -> list[LerTask]:
    """The sweep's tasks, each point once: a value given twice to a sweep flag, or two --rounds
    naming one point (3 and d at d=3), is swept once, with a one-line note on stderr.
    ``UsageError``/``ValueError`` on bad input."""
    repeated = drop_repeated_values(args)
    check_sweep_flags(args, custom)
    decoders = tuple(windowed_names(decoder_names(args), parse_windows(args.window)))
    scale = tuple(tuple(s) for s in (args.scale_qubit or ()))
    tasks: dict[MemoryExperiment, LerTask] = {}
    for d, noise, basis, p in itertools.product(args.distance, args.noise, args.basis, args.p):
        for r in [resolve_rounds(spec, d) for spec in args.rounds or [("rel", 0)]]:
            exp = MemoryExperiment(distance=d, rounds=r, p=p, basis=basis, noise=noise, scale_qubits=scale)
            if exp in tasks and f"--rounds {r} at d={d}" not in repeated:
                repeated.append(f"--rounds {r} at d={d}")
            tasks.setdefault(exp, LerTask(exp, decoders))
    if repeated:
        print(f"qec ler: note: {'; '.join(repeated)} given more than once: each point and decoder is swept once",
              file=sys.stderr)
    return list(tasks.values())


def known_decoders(custom: dict | None, *recorded: str) -> list[str]:
    """The decoder names a command takes: qec's own, the pre-decoder's, ``recorded`` (a hardware
    folder's predictions), then the custom ones not among them."""
    ours = [*DECODERS, *PREDECODER_NAMES]
    return [*ours, *recorded, *(n for n in (custom or {}) if n not in ours)]


def check_sweep_flags(args: argparse.Namespace, custom: dict | None = None) -> None:
    """:class:`UsageError` for the first decoder, coordinate or limit out of range."""
    known = known_decoders(custom)
    for name in args.decoders:
        if name not in known:
            raise UsageError(f"unknown decoder {name!r}; choose from {', '.join(known)}")
    for n in args.noise:
        if n not in NOISE_MODELS:
            raise UsageError(f"unknown noise model {n!r}; choose from {', '.join(NOISE_MODELS)}")
    for b in args.basis:
        if b not in BASES:
            raise UsageError(f"unknown basis {b!r}; choose from {', '.join(BASES)}")
    for d in args.distance:
        if d < 3 or d % 2 == 0:
            raise UsageError(f"distance must be odd and >= 3, got {d}")
    for spec in args.rounds or ():
        for d in args.distance:
            if resolve_rounds(spec, d) < 1:
                raise UsageError(f"rounds must be >= 1, got {resolve_rounds(spec, d)} at d={d}")
    for p in args.p:
        if not 0 <= p < 0.5:
            raise UsageError(f"p must be in [0, 0.5), got {p}")
    if args.max_shots is not None and args.max_shots < 1:
        raise UsageError(f"--max-shots must be >= 1, got {args.max_shots}")
    if args.max_errors is not None and args.max_errors < 1:
        raise UsageError(f"--max-errors must be >= 1, got {args.max_errors}")
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")


def run(args: argparse.Namespace) -> int:
    """Run the LER sweep and print the table (or JSON); returns the exit status."""
    if args.threshold is not None and not math.isfinite(args.threshold):
        raise UsageError(f"--threshold must be a finite number, got {args.threshold}")
    processes = local_processes(args)
    custom = custom_decoders(args)
    tasks = build_tasks(args, custom)
    if args.out is not None:
        check_out_flag(args)
    check_tasks_fit(tasks, processes)  # before building anything: sizes the machine cannot hold
    for t in tasks:  # unknown coordinates etc. fail before any sampling
        t.experiment.circuit()
    report_model(args.model, args.decoders, {t.experiment.noise for t in tasks})
    max_shots = args.max_shots
    if max_shots is None and args.max_errors is None:
        max_shots = 100_000
    results = collect_ler(
        tasks, max_shots=max_shots, max_errors=args.max_errors, seed=args.seed, out=args.out,
        workers=args.workers, progress=True, custom_decoders=custom, cluster=args.cluster,
    )
    if args.json:
        json.dump({"results": [r.to_json() for r in results]}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_table(results)
    return 0


def local_processes(args: argparse.Namespace) -> int:
    """This machine's decoding processes (for the memory estimate): --workers, or a local
    cluster's workers (a remote cluster's are elsewhere: 1); --cluster's address and package checked."""
    if args.cluster is None:
        return args.workers
    from qec._collection._cluster import ClusterAddress, import_distributed

    if args.workers != 1:
        raise UsageError("give --workers or --cluster, not both (--cluster local:N runs N worker processes here)")
    processes = ClusterAddress.parse(args.cluster).local_workers or 1
    import_distributed()
    return processes


def check_out_flag(args: argparse.Namespace) -> None:
    """--out is no input (the model, --dem), a readable sinter CSV if it exists, and writable."""
    models = []
    if any(name in PREDECODER_NAMES for name in args.decoders):
        from predecoder import model_path

        models = [model_path(m) for m in models_given(args) or [None]]
    check_output_path(args.out, inputs=(*models, args.dem), what="--out")
    read_csv_stats(args.out)  # a malformed CSV fails before any sampling
    check_writable(args.out)


def report_weighted_matching(decoders) -> None:
    """One stderr line saying which backend matches ``predecoder-weighted``'s per-shot weights (the
    compiled core, or the slower rebuild fallback where it was not built)."""
    if any(name.startswith("predecoder-weighted") for name in decoders):
        from qec._decoding._weighted_matcher import describe_backend

        print(f"predecoder-weighted: weighted matching by {describe_backend()}", file=sys.stderr)


def report_model(model: str | list[str] | None, decoders, noises) -> None:
    """One stderr line per pre-decoder model (``model``: one, several or None: the default) naming
    it and its training noise, one note per noise model of the sweep that it learned in another
    version, and the weighted matcher's backend (:func:`report_weighted_matching`)."""
    if not any(name.startswith("predecoder") for name in decoders):
        return
    report_weighted_matching(decoders)
    from predecoder import load_model

    for m in [model] if model is None or isinstance(model, str) else model:
        loaded = load_model(m)
        print(f"pre-decoder model {loaded.short_hash}: trained on {loaded.describe_training_noise()}",
              file=sys.stderr)
        for noise in sorted(noises):
            note = loaded.noise_mismatch(noise)
            if note:
                print(note, file=sys.stderr)


def print_table(results: list[LerResult], file=None) -> None:
    """The results, one row per (point, decoder), then per point which decoder made the fewest
    errors and by how much against each decoder that decoded the same shots (a paired comparison,
    :func:`qec._collection._pairing.compare`; any other pair is named with the reason it is not compared), and
    what the columns mean."""
    file = file or sys.stdout
    w = max([28, *(len(r.decoder) + 1 for r in results)])  # 28 unless a name is longer
    head = f"{'decoder':<{w}}{'d':>3}{'r':>4}{'p':>9} {'basis':<5} {'noise':<16}{'shots':>10}{'errors':>8}" \
           f"  {'LER/shot [95%]':<32}{'LER/round':>11}  only-fails"
    print(head, file=file)
    points: dict[str, list[LerResult]] = {}
    for r in results:
        j = r.to_json()

        def g(x):
            return "nan" if x is None else f"{x:.3e}"

        noise = f"{j['noise']} v{j['noise_version']}"
        interval = f"{g(j['ler'])} [{g(j['ler_low'])}, {g(j['ler_high'])}]"
        only = ", ".join(f"{k}:{v}" for k, v in j["only_fails"].items())
        print(
            f"{j['decoder']:<{w}}{j['distance']:>3}{j['rounds']:>4}{j['p']:>9g} {j['basis']:<5} {noise:<16}"
            f"{j['shots']:>10}{j['errors']:>8}  {interval:<32}{g(j['ler_per_round']):>11}  {only}",
            file=file,
        )
        key = f"d={j['distance']} r={j['rounds']} p={j['p']:g} {j['basis']} {noise}" + (
            f" scale={j['scale_qubits']}" if "scale_qubits" in j else "")
        points.setdefault(key, []).append(r)
    compared = {k: rows for k, rows in points.items() if len(rows) > 1 and all(r.shots for r in rows)}
    if not compared:
        return
    print("", file=file)
    for key, rows in compared.items():
        best = min(rows, key=lambda r: r.errors / r.shots)
        paired, unpaired = [], []
        for r in rows:
            if r is best:
                continue
            try:
                c = compare(best, r)
            except NotPaired as e:
                unpaired.append(f"{r.decoder} not compared ({e})")
                continue
            paired.append(f"{c.ratio:.3f}x fewer than {r.decoder} (only-fails {c.only_a} vs {c.only_b})")
        if paired:
            line = f"{best.decoder} made the fewest errors: {'; '.join(paired)}"
            if unpaired:
                line += "; " + "; ".join(unpaired)
        else:
            line = "no paired comparison: " + "; ".join(unpaired)
        print(f"{key}: {line}", file=file)
    print("only-fails D:n = shots on which this decoder failed and decoder D, decoding the same shot, did not "
          "(shown where the two decoded all their shots together).", file=file)
