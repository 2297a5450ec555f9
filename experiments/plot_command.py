"""``qec plot``: LER against p (log-log) from a sinter CSV written by ``qec ler``.

One line per decoder and metadata other than p (distance, rounds, noise model and its version,
basis, scaled qubits, pre-decoder model and threshold, ...), so that rows that differ in anything
but p never share a line; drawn with ``sinter.plot_error_rate`` (the 95% likelihood region shaded).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections import defaultdict

from experiments.cli import UsageError
from qec import read_csv_stats
from qec._circuits._noise import NOISE_VERSIONS
from qec.noise import UNRECORDED_NOISE_VERSION
from qec.files import check_output_path, write_bytes
from qec._data._statistics import CONFIDENCE_95_LIKELIHOOD_FACTOR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``qec plot`` flags."""
    parser.add_argument("--in", dest="inputs", nargs="+", required=True, help="sinter CSV file(s)")
    parser.add_argument("--out", required=True,
                        help="image file to write; its extension gives the format (png, pdf, svg, ...; none: png); "
                             "- writes the image to standard output")
    parser.add_argument("--per-round", action="store_true", help="plot the LER per round instead of per shot")


def series_label(decoder: str, m: dict) -> str:
    """``"pymatching d=5 r=4 depolarizing v2 x"`` plus whatever else tells the series apart."""
    noise = m.get("noise", "?")
    if noise in NOISE_VERSIONS:
        noise = f"{noise} v{m.get('noise_version', UNRECORDED_NOISE_VERSION)}"
    label = decoder
    if "d" in m:
        label += f" d={m['d']}"
    if "r" in m and m.get("r") != m.get("d"):
        label += f" r={m['r']}"
    if "noise" in m:
        label += f" {noise}"
    if "b" in m:
        label += f" {m['b']}"
    known = {"d", "r", "p", "b", "noise", "noise_version"}
    extra = [f"{k}={m[k]}" for k in sorted(m) if k not in known]
    return " ".join([label, *extra])


def group_series(stats, per_round: bool = False) -> tuple[dict[tuple, list], int]:
    """(series -> rows, rows skipped for lacking p): one series per decoder and metadata other
    than p, so rows that differ in anything but p never share a line."""
    groups: dict[tuple, list] = defaultdict(list)
    skipped = 0
    for s in stats:
        m = s.json_metadata if isinstance(s.json_metadata, dict) else {}
        if not isinstance(m.get("p"), (int, float)):
            skipped += 1
            continue
        if per_round and not isinstance(m.get("r"), int):
            raise UsageError(f"--per-round needs the rounds 'r' in every row's metadata; a {s.decoder} row has none")
        rest = tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in m.items() if k != "p"))
        groups[(s.decoder, rest)].append(s)
    return groups, skipped


def run(args: argparse.Namespace) -> int:
    """Plot LER against p from a sinter CSV into ``--out``; returns the exit status."""
    fmt = image_format(args.out)
    if args.out != "-":  # before reading anything: never over an input, never a directory
        check_output_path(args.out, inputs=args.inputs, what="--out")
    groups = read_series(args)
    image = draw(groups, fmt, per_round=args.per_round)
    if args.out == "-":
        sys.stdout.buffer.write(image)
        sys.stdout.buffer.flush()
    else:
        write_bytes(args.out, image, inputs=args.inputs, what="--out")
    print(f"qec plot: wrote {'stdout' if args.out == '-' else args.out} ({fmt})", file=sys.stderr)
    return 0


def read_series(args: argparse.Namespace) -> dict[tuple, list]:
    """The --in CSVs' rows by series (:func:`group_series`); a note on stderr for rows without p."""
    stats = []
    for path in args.inputs:
        file_stats = read_csv_stats(path)
        if not file_stats and not os.path.exists(path):
            raise UsageError(f"no such file: {path}")
        stats.extend(file_stats.values())
    if not stats:
        raise UsageError("the input holds no statistics")
    groups, skipped = group_series(stats, per_round=args.per_round)
    if not groups:
        raise UsageError(
            "no row has the noise strength 'p' in its json_metadata (qec ler writes it; for sinter collect "
            "use --metadata_func auto with circuit files named like d=5,r=4,p=0.006.stim)"
        )
    if skipped:
        print(f"qec plot: skipped {skipped} row(s) without 'p' in their metadata", file=sys.stderr)
    return groups


def draw(groups: dict[tuple, list], fmt: str, *, per_round: bool = False) -> bytes:
    """The plot of ``groups`` (:func:`group_series`) as an image in format ``fmt``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import sinter

    n = len(groups)
    # Distinct colours (tab20) and markers, so that 16+ series stay apart; the legend sits beside
    # the axes, never over the data.
    colors = plt.get_cmap("tab20" if n > 10 else "tab10").colors
    markers = "osD^v<>phX*"
    fig, ax = plt.subplots(figsize=(7 + 3.5 * (1 + n // 24), 5))
    label_of = {}
    for (decoder, rest), rows in groups.items():
        for s in rows:
            label_of[id(s)] = series_label(decoder, rows[0].json_metadata)
    order = {label: k for k, label in enumerate(sorted(set(label_of.values())))}
    # sinter's plotting: one curve per series, the 95% likelihood region shaded around it.
    sinter.plot_error_rate(
        ax=ax,
        stats=[s for rows in groups.values() for s in rows if s.shots > 0],
        x_func=lambda s: s.json_metadata["p"],
        failure_units_per_shot_func=(lambda s: s.json_metadata["r"]) if per_round else (lambda s: 1),
        group_func=lambda s: label_of[id(s)],
        plot_args_func=lambda k, label, _: {"color": colors[order[label] % len(colors)],
                                             "marker": markers[order[label] % len(markers)]},
        highlight_max_likelihood_factor=CONFIDENCE_95_LIKELIHOOD_FACTOR,
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("physical error rate p")
    ax.set_ylabel("logical error rate per round" if per_round else "logical error rate per shot")
    ax.grid(True, which="both", alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                  ncol=1 + n // 24)
    fig.tight_layout()
    image = io.BytesIO()
    try:
        fig.savefig(image, format=fmt)
    finally:
        plt.close(fig)
    return image.getvalue()


def image_format(out: str) -> str:
    """The image format of ``--out``: its extension (png, pdf, svg, ...), png without one (also
    for ``-``, standard output, and devices such as /dev/stdout); one line for an unknown one."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if not out:
        raise UsageError("--out is empty: give an image file (or - for standard output)")
    ext = os.path.splitext(os.path.basename(out))[1][1:].lower()
    if not ext:
        return "png"
    if ext not in formats:
        raise UsageError(f"--out {out}: unknown image format .{ext}; give one of {', '.join(sorted(formats))} "
                         f"(or no extension for png)")
    return ext

