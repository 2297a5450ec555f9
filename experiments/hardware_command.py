"""``qec hardware``: decoders scored on hardware shots (experiment folders in the layout of Google's
published surface-code data), against the predictions the folders hold, all on the same shots.

    qec hardware ../shared/google-qec3v5 --decoders pymatching pymatching-correlated \\
        google-pymatching google-correlated-matching --dem circuit pij learned --plot hw.png
    qec hardware ../shared/google-qec3v5 --decoders pymatching google-pymatching --window 6:3

A FOLDER that is not itself an experiment folder but holds some stands for all of them. Per folder:
errors and paired only-fails counts of every decoder (as ``qec ler``); per patch (same distance,
center, basis): the error per round from the decay 1 - 2P(r) = A(1 - 2 eps)^r over the folders of
at least 3 rounds, with a bootstrap-over-shots interval. ``--dem`` chooses our decoders' DEMs
(several give columns ``name@dem``): ``circuit`` (the folder's circuit DEM), ``pij`` (each half
with the p_ij DEM fitted on the other half), ``learned`` (learned from the other half's detection
events by noise_learning's estimator), or a DEM file. ``--json`` prints one document
``{"folders": [...], "patches": [...]}``; ``--out`` appends a sinter CSV a folder at a time (a
rerun takes the folders it holds from it); ``--plot`` draws P(r) against r for every decoder.
The work is :func:`qec.score_hardware`; this module parses, prints and plots.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time

from experiments.cli import UsageError
from experiments.ler_command import (
    add_decoder_arguments,
    add_window_argument,
    decoder_mapping,
    known_decoders,
    parse_windows,
    report_model,
)
from predecoder import PREDECODER_NAMES
from qec import DECODERS, GOOGLE_DECODERS, hardware_columns, read_csv_stats
from qec._decoding._decoders import windowed_names
from qec._hardware._experiment_folders import PROPERTIES, folder_files
from qec._hardware._hardware_columns import CircuitDem, FileDem, PijDem
from qec._hardware._hardware_scores import MIN_ROUNDS
from qec._data._output_files import atomic_output
from qec.files import check_output_path
from qec._data._stats_csv import check_writable

# learned: the likelihood estimator; learned-correlations: the moment estimator it starts from;
# -per-round: each round's mechanisms apart instead of pooled over their translates in time.
LEARNED_DEMS = ("learned", "learned-per-round", "learned-correlations", "learned-correlations-per-round")
DEM_CHOICES = ("circuit", "pij", *LEARNED_DEMS)
DEFAULT_DECODERS = ("pymatching", "pymatching-correlated", *GOOGLE_DECODERS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``qec hardware`` flags."""
    parser.add_argument("folders", nargs="+", metavar="FOLDER",
                        help="experiment folders (or a folder holding experiment folders)")
    parser.add_argument("--decoders", nargs="+", default=list(DEFAULT_DECODERS),
                        help=f"decoders compared on the same shots: ours ({', '.join([*DECODERS, *PREDECODER_NAMES])}, "
                             f"or names from --custom-decoders) and the folders' recorded predictions "
                             f"({', '.join(GOOGLE_DECODERS)}); default: {' '.join(DEFAULT_DECODERS)}")
    parser.add_argument("--dem", nargs="+", default=["circuit"], metavar="DEM",
                        help="our decoders' DEMs: circuit, pij, learned (maximum likelihood on the other half's "
                             "events, pooled over rounds; learned-per-round: not pooled; learned-correlations[-per-"
                             "round]: the correlation estimate it starts from), a DEM file, or a folder of "
                             "<experiment folder>.<even|odd>.dem files learned earlier (e.g. qec closed-loop "
                             "--experiment's DIR/dems; each half decoded with the other half's file, as "
                             "'learned-files'); several give one column per decoder and DEM, named decoder@dem "
                             "(default: circuit)")
    parser.add_argument("--max-shots", type=int, default=None,
                        help="the first N shots of each folder (split into even/odd halves the same way)")
    parser.add_argument("--half", choices=("even", "odd"), default=None,
                        help="score only this half of each folder's shots (by index; of the first --max-shots); DEMs "
                             "learned per half then come from the other half. A DEM or model fitted on some folder's "
                             "half (its provenance says) is refused on that half")
    parser.add_argument("--min-rounds", type=int, default=MIN_ROUNDS,
                        help=f"fit the decay over folders of at least this many rounds (default {MIN_ROUNDS})")
    parser.add_argument("--bootstrap", type=int, default=1000,
                        help="bootstrap replicates of the error-per-round interval (default 1000; 0: none)")
    parser.add_argument("--reference", default=None, metavar="DECODER",
                        help="the table's paired only-fails counts are against this decoder (default: the one "
                             "with the lowest error per round in each patch)")
    parser.add_argument("--workers", type=int, default=1, help="processes, a folder each (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument("--out", default=None, help="sinter CSV to append to, a folder at a time (and resume from)")
    parser.add_argument("--plot", default=None, metavar="PNG", help="draw P(r) against r for every decoder")
    add_decoder_arguments(parser)
    add_window_argument(parser, "adds, for every decoder of ours, a column NAME/wW:C decoding the same shots in "
                                "sliding windows")


def expand_folders(paths: list[str]) -> list[str]:
    """Experiment folders; a directory without ``properties.yml`` whose subdirectories have one
    stands for those subdirectories (sorted)."""
    out = []
    for p in paths:
        if os.path.isdir(p) and not os.path.exists(os.path.join(p, PROPERTIES)):
            inner = sorted(os.path.join(p, q) for q in os.listdir(p)
                           if os.path.isfile(os.path.join(p, q, PROPERTIES)))
            if inner:
                out.extend(inner)
                continue
        out.append(p)
    return out


def dem_sources(choices: list[str]) -> list:
    """The DEM sources for --dem (learned ones from noise_learning)."""
    out = []
    for c in choices:
        if c == "circuit":
            out.append(CircuitDem())
        elif c == "pij":
            out.append(PijDem())
        elif c in LEARNED_DEMS:
            from noise_learning import LearnedDem

            out.append(LearnedDem(estimator="correlations" if "correlations" in c else "likelihood",
                                  pool_rounds=not c.endswith("per-round")))
        elif os.path.isfile(c):
            out.append(FileDem(c))
        elif os.path.isdir(c):
            from qec.hardware import dem_folder

            out.append(dem_folder(c))
        else:
            raise UsageError(f"--dem {c}: give {', '.join(DEM_CHOICES)}, a DEM file or a folder of DEM files")
    return out


@dataclasses.dataclass(frozen=True)
class CheckedFlags:
    """What :func:`check_arguments` makes of the flags.

    Attributes:
        folders: the experiment folders (parents of folders expanded).
        custom: plug-in decoders by name (--decoder-module).
        columns: the decoder-and-DEM columns to score (:func:`qec.hardware_columns`).
        ours: the decoders that are not Google's predictions.
        inputs: every file read (folders' files, DEM files): no output may overwrite one.
    """

    folders: list[str]
    custom: dict
    columns: list
    ours: list[str]
    inputs: list[str]


def check_arguments(args: argparse.Namespace) -> CheckedFlags:
    """Every flag checked (:class:`UsageError` for the first that is wrong) before anything is decoded."""
    if args.max_shots is not None and args.max_shots < 1:
        raise UsageError(f"--max-shots must be >= 1, got {args.max_shots}")
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    if args.bootstrap < 0:
        raise UsageError(f"--bootstrap must be >= 0, got {args.bootstrap}")
    if args.threshold is not None and not math.isfinite(args.threshold):
        raise UsageError(f"--threshold must be a finite number, got {args.threshold}")
    folders = expand_folders(args.folders)
    custom = decoder_mapping(args)
    known = known_decoders(custom, *GOOGLE_DECODERS)
    for name in args.decoders:
        if name not in known:
            raise UsageError(f"unknown decoder {name!r}; choose from {', '.join(known)}")
    windows = parse_windows(args.window)
    decoders = [v for n in args.decoders for v in ([n] if n in GOOGLE_DECODERS else windowed_names([n], windows))]
    ours = [n for n in decoders if n not in GOOGLE_DECODERS]
    sources = dem_sources(args.dem) if ours else []
    columns = hardware_columns(decoders, sources)
    if args.reference is not None and args.reference not in [c.name for c in columns]:
        raise UsageError(f"--reference {args.reference} is not one of the decoders: {', '.join(c.name for c in columns)}")
    inputs = [path for f in folders for path in folder_files(f)]
    inputs += [s.path for s in sources if isinstance(s, FileDem)]
    if args.out is not None:
        check_output_path(args.out, inputs, what="--out")
        read_csv_stats(args.out)  # a malformed CSV fails before any decoding
        check_writable(args.out)
    if args.plot is not None:
        check_output_path(args.plot, inputs, what="--plot")
    return CheckedFlags(folders=folders, custom=custom, columns=columns, ours=ours, inputs=inputs)


def run(args: argparse.Namespace) -> int:
    """Score the decoders on the folders' shots and print the table (or JSON); returns the exit status."""
    flags = check_arguments(args)
    from qec import read_experiment_folder, score_hardware
    from qec._hardware._hardware_scores import check_columns

    # Shots a DEM or model was fitted on are refused before anything is decoded.
    check_columns([read_experiment_folder(f) for f in flags.folders], flags.columns, flags.custom, args.half)
    report_model(args.model, flags.ours, set())
    t0 = time.perf_counter()

    def progress(score) -> None:
        how = "from the CSV" if score.from_csv else f"{time.perf_counter() - t0:.1f} s"
        print(f"qec hardware: {score.folder.name}: {score.shots} shots ({how})", file=sys.stderr, flush=True)

    scores = score_hardware(
        flags.folders, flags.columns, max_shots=args.max_shots, custom_decoders=flags.custom, workers=args.workers,
        out=args.out,
        on_folder=progress, min_rounds=args.min_rounds, bootstrap=args.bootstrap, half=args.half,
    )
    if args.plot is not None:
        plot_hardware(scores, args.plot, flags.inputs)
    if args.json:
        json.dump(scores.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_tables(scores, reference=args.reference)
    if args.plot is not None:
        print(f"qec hardware: wrote {args.plot}", file=sys.stderr)
    return 0


def _center(center) -> str:
    return "-" if center is None else f"{center[0]}_{center[1]}"


def _pct(x: float) -> str:
    return "nan" if x is None or math.isnan(x) else f"{100 * x:.3f}%"


def print_tables(scores, file=None, reference: str | None = None) -> None:
    """Errors per folder and decoder; then per patch the error per round of each decoder, best
    first, with the paired only-fails counts (summed over the fitted folders) against
    ``reference`` (default: the best)."""
    file = file or sys.stdout
    names = list(scores.folders[0].decoders) if scores.folders else []
    width = max([len(n) for n in names] + [10])
    print(f"{'folder':<36}{'d':>3}{'r':>4}{'shots':>8}  " + "  ".join(f"{n:>{width}}" for n in names), file=file)
    for f in scores.folders:
        print(f"{f.folder.name:<36}{f.folder.distance:>3}{f.folder.rounds:>4}{f.shots:>8}  "
              + "  ".join(f"{f.decoders[n].errors:>{width}}" for n in names), file=file)
    for p in scores.patches:
        used = [f for f in scores.folders if f.patch == (p.distance, p.center, p.basis) and f.folder.rounds in p.rounds]
        half = used[0].half if used else None
        print(f"\npatch d={p.distance} center {_center(p.center)} basis {p.basis}"
              f"{'' if half is None else f', {half} shots'}: error per round, fit of "
              f"1 - 2P(r) = A(1 - 2 eps)^r over rounds {', '.join(map(str, p.rounds)) or '(none)'} "
              f"[95% bootstrap interval], decoding seconds per shot", file=file)
        ranked = sorted(p.decoders, key=lambda n: (math.isnan(p.decoders[n].eps), p.decoders[n].eps))
        if not ranked:
            continue
        best = reference or ranked[0]
        for n in ranked:
            fit = p.decoders[n]
            only = ""
            if n != best and used:
                a = sum(f.decoders[n].only_fails.get(best, 0) for f in used)
                b = sum(f.decoders[best].only_fails.get(n, 0) for f in used)
                only = f"  only-fails vs {best}: {a} vs {b}"
            sps = p.seconds_per_shot.get(n, math.nan)
            timing = "       -" if math.isnan(sps) or sps == 0 else f"{sps:.2e} s"
            print(f"  {n:<{width}}  {_pct(fit.eps):>8} [{_pct(fit.low)}, {_pct(fit.high)}]  {timing}{only}",
                  file=file)
    print(f"\nonly-fails a vs b = shots (of the fitted folders) where this decoder failed and "
          f"{reference or 'the best'} did not, and the other way round.", file=file)


def plot_hardware(scores, path: str, inputs) -> None:
    """P(r) against r, one panel per patch: every decoder's points (95% likelihood intervals) and
    its fitted decay over the fitted rounds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from qec import fit_ler

    patches = list(scores.patches)
    if not patches:
        raise UsageError("nothing to plot: no folders")
    fig, axes = plt.subplots(1, len(patches), figsize=(5.6 * len(patches), 5.0), squeeze=False)
    colors = plt.get_cmap("tab20" if len(patches[0].decoders) > 10 else "tab10").colors
    markers = "osD^v<>phX*"
    for ax, p in zip(axes[0], patches):
        folders = sorted((f for f in scores.folders if f.patch == (p.distance, p.center, p.basis)),
                         key=lambda f: f.folder.rounds)
        for k, (name, fit) in enumerate(p.decoders.items()):
            color, marker = colors[k % len(colors)], markers[k % len(markers)]
            r = np.array([f.folder.rounds for f in folders])
            fits = [fit_ler(f.decoders[name].errors, f.decoders[name].shots) for f in folders]
            best = np.array([x.best for x in fits])
            err = np.array([[x.best - x.low for x in fits], [x.high - x.best for x in fits]])
            label = f"{name} ({_pct(fit.eps)})"
            ax.errorbar(r, best, yerr=err, fmt=marker, color=color, ms=4, capsize=2, label=label)
            if p.rounds and not math.isnan(fit.eps):
                rr = np.linspace(min(p.rounds), max(p.rounds), 100)
                ax.plot(rr, 0.5 * (1 - fit.amplitude * (1 - 2 * fit.eps) ** rr), color=color, lw=1)
        ax.set_title(f"d={p.distance}, center {_center(p.center)}, {p.basis.upper()} basis")
        ax.set_xlabel("rounds r")
        ax.set_ylabel("logical error per shot P(r)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6, loc="lower right", title="decoder (error per round)", title_fontsize=6)
    fig.tight_layout()
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    try:
        with atomic_output(path, inputs, what="--plot") as f:
            fig.savefig(f, format=fmt)
    except ValueError as e:
        raise UsageError(str(e).splitlines()[0]) from None
    finally:
        plt.close(fig)


if __name__ == "__main__":  # pragma: no cover
    from experiments.cli import main

    sys.exit(main(["hardware", *sys.argv[1:]]))
