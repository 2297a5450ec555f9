"""``qec bench``: per-round latency (batch 1) and throughput (large batch), stage by stage.

    qec bench --distance 9 13 --p 0.003 0.006 --batch 1 256 [--device cuda] [--json]
    qec bench --distance 9 13 --p 0.003 0.006 --batch 256 --decoder predecoder-weighted
    qec bench --stream --distance 5 --p 0.005 --decoder pymatching --window 10:5 [--cadence-us 1] [--json]

One set of sampled shots per point; warm-up, then medians over ``--repeats``; CUDA timings are
synchronized. ``--json`` prints one document ``{"results": [...]}``, one row per (distance, p,
batch), with keys device, device_name, distance, rounds, p, batch, predecoder_us_per_round,
network_us_per_round, pymatching_us_per_round, pymatching_residual_us_per_round,
end_to_end_us_per_round, overhead_us_per_round, overhead_fraction, residual_speedup, density_raw, density_residual, ...

``--decoder predecoder-weighted`` times neural-weighted matching: its matching stage
(``weighted_matching_us_per_round``: per-shot weights from the logits plus matching, network
excluded) replaces PyMatching on the residual, and ``matching_vs_pymatching`` is its time over
plain PyMatching's on the raw events.

``--stream`` feeds rounds one at a time to a decoder in sliding windows (:mod:`predecoder._stream_bench`):
per experiment length (``--stream-lengths``, in units of d rounds) the reaction latency (last round
in -> prediction out; ``reaction_latency_us`` {p50, p99, max, mean}), ``rounds_per_second``,
``peak_rss_bytes`` (each length in a fresh process) and ``keeps_up`` against a device producing a
round every ``--device-round-us`` (1 us).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys

import torch

from experiments.cli import UsageError, refuse_unused_flags
from experiments.ler_command import MODEL_HELP
from predecoder import PREDECODER_NAMES
from predecoder._stream_bench import DEVICE_ROUND_US, STREAM_LENGTHS
from qec import BASES, DECODERS, NOISE_MODELS, SlidingWindow

# Flags passed to run_bench as they are: the benchmark's own, and the pipeline's options.
BENCH_FLAGS = ("rounds", "noise", "basis", "shots", "device", "model", "repeats", "warmup", "seed", "latency_decodes",
               "latency_path", "decoder")
PIPELINE_FLAGS = ("block_rounds", "block_space", "block_batch", "precision", "compile", "threshold", "matching_workers",
                  "backend")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``qec bench`` flags."""
    parser.add_argument("--distance", "-d", type=int, nargs="+", required=True, help="odd code distances >= 3")
    parser.add_argument("--rounds", "-r", type=int, default=None, help="stabilizer rounds (default: the distance)")
    parser.add_argument("--p", type=float, nargs="+", required=True, help="noise strengths")
    parser.add_argument("--noise", default="depolarizing", help=f"noise model ({', '.join(NOISE_MODELS)})")
    parser.add_argument("--basis", default="x", help=f"memory basis ({', '.join(BASES)})")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 256],
                        help="shots per decode call: 1 = latency, large = throughput (default 1 256)")
    parser.add_argument("--shots", type=int, default=None, help="shots per point (default: max(batch, 32))")
    parser.add_argument("--device", default="cpu", help="cpu, cuda[:N] or auto (default cpu)")
    parser.add_argument("--model", default=None, help=MODEL_HELP)
    parser.add_argument("--threshold", type=float, default=None, help="logit threshold (default: the model's)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats; medians are reported (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    parser.add_argument("--block-rounds", type=int, default=32, help="block size in rounds (default 32)")
    parser.add_argument("--block-space", type=int, default=None, help="block size in rows/cols (default: whole)")
    parser.add_argument("--block-batch", type=int, default=64, help="blocks per forward pass (default 64)")
    parser.add_argument("--precision", default="fp32", help="fp32, fp16 (CUDA) or bf16")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network (CUDA graphs on CUDA)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: on a busy two-core machine two threads ran the "
                             "network 9x slower; raise it on an idle many-core machine)")
    parser.add_argument("--seed", type=int, default=1, help="sampling seed (default 1)")
    parser.add_argument("--backend", default="torch", choices=("torch", "onnxruntime"),
                        help="network runtime: torch, or onnxruntime (the exported ONNX network; CUDA/TensorRT "
                             "providers on CUDA; needs the [onnx] extra)")
    parser.add_argument("--latency-path", action="store_true",
                        help="batch-1 latency through the static path (one copy each way; a CUDA graph on "
                             "CUDA) and its overlapped stream")
    parser.add_argument("--matching-workers", type=int, default=0,
                        help="PyMatching in N worker processes, overlapped with the network (throughput mode)")
    parser.add_argument("--latency-decodes", type=int, default=1000,
                        help="single-shot decodes for the latency percentiles at batch 1 (default 1000; 0: none)")
    parser.add_argument("--decoder", default="predecoder", choices=(*PREDECODER_NAMES, *DECODERS),
                        help="pre-decoder composition (default predecoder: PyMatching on the residual; "
                             "predecoder-weighted: neural-weighted matching on the events); with --stream also "
                             "pymatching and pymatching-correlated")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    stream = parser.add_argument_group("streaming (--stream; docs/streaming.md)")
    stream.add_argument("--stream", action="store_true",
                        help="feed rounds one at a time to the decoder in sliding windows: reaction latency (last "
                             "round in -> prediction out), rounds per second, peak memory, per experiment length")
    stream.add_argument("--window", default=None, metavar="W:C", help="sliding windows (default 2d:d)")
    stream.add_argument("--stream-lengths", type=int, nargs="+", default=None, metavar="M",
                        help=f"experiment lengths, M*d rounds each (default {' '.join(map(str, STREAM_LENGTHS))})")
    stream.add_argument("--stream-shots", type=int, default=None,
                        help="experiments streamed per length, after one untimed (default 100)")
    stream.add_argument("--cadence-us", type=float, default=None,
                        help="a round arrives every this many us (default 0: as fast as the decoder takes them)")
    stream.add_argument("--device-round-us", type=float, default=None,
                        help=f"the device keeps_up is judged against: a round every this many us "
                             f"(default {DEVICE_ROUND_US:g})")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print its table (or JSON); returns the exit status."""
    from predecoder._bench import run_bench

    check_arguments(args)
    torch.set_num_threads(args.threads)
    if args.stream:
        return run_stream(args)
    rows = []
    for d, p, batch in itertools.product(args.distance, args.p, args.batch):
        row = run_bench(d, p, batch=batch, log=lambda line: print(f"qec bench: {line}", file=sys.stderr, flush=True),
                        **{k: getattr(args, k) for k in BENCH_FLAGS + PIPELINE_FLAGS})
        rows.append(row)
        if not args.json:
            if len(rows) == 1:
                threshold = "none" if row["threshold"] is None else f"{row['threshold']:g}"
                print(f"device: {row['device']} ({row['device_name']}); {row['decoder']}, model {row['model']} "
                      f"(R={row['receptive_field']}, threshold {threshold}, trained on {row['model_noise']}), "
                      f"backend {row['backend']}; "
                      f"us per round, medians of {args.repeats}")
                print(header())
            print(format_row(row), flush=True)
    if args.json:
        json.dump({"results": rows}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print_latency(rows)
    return 0



def run_stream(args: argparse.Namespace) -> int:
    """``--stream``: one row per (distance, p, length), each length in a fresh process."""
    from predecoder._stream_bench import StreamOptions, run_stream_bench

    rows = []
    for d, p in itertools.product(args.distance, args.p):
        options = StreamOptions(
            d, p, decoder=args.decoder, window=None if args.window is None else SlidingWindow.parse(args.window),
            experiments=args.stream_shots or 100, cadence_us=args.cadence_us or 0.0,
            device_round_us=args.device_round_us or DEVICE_ROUND_US, seed=args.seed, noise=args.noise,
            basis=args.basis, model=args.model, threshold=args.threshold, device=args.device, threads=args.threads)
        for row in run_stream_bench(options, tuple(args.stream_lengths or STREAM_LENGTHS)):
            rows.append(row)
            if not args.json:
                print_stream_row(row, first=len(rows) == 1)
    if args.json:
        json.dump({"results": rows}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 0


def print_stream_row(row: dict, first: bool) -> None:
    """One length's line (after a header naming the decoder, device and cadence)."""
    if first:
        cadence = "as fast as it goes" if not row["cadence_us"] else f"a round every {row['cadence_us']:g} us"
        print(f"streaming {row['decoder']}/w{row['window']} on {row['device']} ({row['device_name']}); rounds arrive "
              f"{cadence}; {row['experiments']} experiments per length; keeps_up: against a round every "
              f"{row['device_round_us']:g} us")
        print(f"{'d':>3}{'p':>8}{'rounds':>8} {'reaction p50/p99/max (us)':>28} {'CPU p50/p99 (us)':>17}{'rounds/s':>11}"
              f"{'us/round':>10}{'vs device':>11}{'keeps up':>9}{'peak RSS':>10}{'growth':>9}  agrees")
    lat, cpu = row["reaction_latency_us"], row["reaction_cpu_us"]
    print(f"{row['distance']:>3}{row['p']:>8g}{row['rounds']:>8} {lat['p50']:>9.0f}/{lat['p99']:>8.0f}/{lat['max']:>9.0f}"
          f" {cpu['p50']:>8.0f}/{cpu['p99']:>8.0f}"
          f"{row['rounds_per_second']:>11.0f}{row['us_per_round']:>10.1f}{row['throughput_vs_device']:>11.2e}"
          f"{str(row['keeps_up']):>9}{row['peak_rss_bytes'] / 1e6:>8.0f}MB{row['stream_rss_growth_bytes'] / 1e6:>7.1f}MB"
          f"  {row['agrees_with_batch']}", flush=True)


def check_arguments(args: argparse.Namespace) -> None:
    """:class:`UsageError` for the first flag out of range."""
    check_stream_arguments(args)
    for d in args.distance:
        if d < 3 or d % 2 == 0:
            raise UsageError(f"distance must be odd and >= 3, got {d}")
    if args.rounds is not None and args.rounds < 1:
        raise UsageError(f"rounds must be >= 1, got {args.rounds}")
    for p in args.p:
        if not 0 <= p < 0.5:
            raise UsageError(f"p must be in [0, 0.5), got {p}")
    if args.noise not in NOISE_MODELS:
        raise UsageError(f"unknown noise model {args.noise!r}; choose from {', '.join(NOISE_MODELS)}")
    if args.basis not in BASES:
        raise UsageError(f"unknown basis {args.basis!r}; choose from {', '.join(BASES)}")
    if args.matching_workers < 0:
        raise UsageError(f"--matching-workers must be >= 0, got {args.matching_workers}")
    if args.latency_decodes < 0:
        raise UsageError(f"--latency-decodes must be >= 0, got {args.latency_decodes}")
    if args.shots is not None and args.shots < 1:
        raise UsageError(f"--shots must be >= 1, got {args.shots}")
    if args.shots is not None and max(args.batch) > args.shots:
        raise UsageError(f"--shots {args.shots} is fewer than --batch {max(args.batch)}: a batch needs that many "
                         f"shots (give --shots >= every --batch)")
    if args.threshold is not None and not math.isfinite(args.threshold):
        raise UsageError(f"--threshold must be a finite number, got {args.threshold}")
    if any(b < 1 for b in args.batch):
        raise UsageError("--batch values must be >= 1")
    if args.repeats < 1 or args.warmup < 0:
        raise UsageError("--repeats must be >= 1 and --warmup >= 0")
    if args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")


def check_stream_arguments(args: argparse.Namespace) -> None:
    """The streaming flags: only with --stream, in range; flags --stream does not use refused."""
    stream_flags = {"--window": args.window, "--stream-lengths": args.stream_lengths,
                    "--stream-shots": args.stream_shots, "--cadence-us": args.cadence_us,
                    "--device-round-us": args.device_round_us}
    if not args.stream:
        refuse_unused_flags(stream_flags, "--stream", "this benchmark")
        if args.decoder not in PREDECODER_NAMES:
            raise UsageError(f"--decoder {args.decoder} is timed with --stream only; without it choose from "
                             f"{', '.join(PREDECODER_NAMES)}")
        return
    refuse_unused_flags({"--rounds": args.rounds, "--shots": args.shots, "--latency-path": args.latency_path or None,
                         "--matching-workers": args.matching_workers or None, "--compile": args.compile or None},
                        "the batch benchmark", "--stream")
    if args.window is not None:
        SlidingWindow.parse(args.window)
    if any(m < 1 for m in args.stream_lengths or ()):
        raise UsageError("--stream-lengths must be >= 1")
    if args.stream_shots is not None and args.stream_shots < 1:
        raise UsageError(f"--stream-shots must be >= 1, got {args.stream_shots}")
    for flag, value in (("--cadence-us", args.cadence_us), ("--device-round-us", args.device_round_us)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise UsageError(f"{flag} must be a number >= 0, got {value}")
    if args.device_round_us is not None and args.device_round_us <= 0:
        raise UsageError(f"--device-round-us must be > 0, got {args.device_round_us}")


def print_latency(rows: list[dict]) -> None:
    """The single-shot latency table of the rows that measured it (nothing when none did)."""
    with_latency = [r for r in rows if r.get("latency")]
    if with_latency:
        lat = with_latency[0]["latency"]
        print(f"\nsingle-shot latency ({lat['path']}), us per round, over {lat['decodes']} decodes at batch 1:")
        print(f"{'d':>3}{'r':>5}{'p':>7} {'stage':<20}" + "".join(f"{k:>9}" for k in LATENCY_KEYS))
        for r in with_latency:
            for stage in ("predecoder", "pymatching_residual", "end_to_end"):
                dist = r["latency"][stage]
                print(f"{r['distance']:>3}{r['rounds']:>5}{r['p']:>7g} {stage:<20}"
                      + "".join(f"{dist[k]:>9.2f}" for k in LATENCY_KEYS))
            if "stream_us_per_round" in r["latency"]:
                print(f"{r['distance']:>3}{r['rounds']:>5}{r['p']:>7g} {'stream (overlapped)':<20}"
                      f"{r['latency']['stream_us_per_round']:>9.2f}")


LATENCY_KEYS = ("mean", "p50", "p90", "p99", "p99.9", "max")


def header() -> str:
    """The table's column header line."""
    return (f"{'d':>3}{'r':>5}{'p':>7}{'batch':>6} {'predec':>9}{'network':>9}{'PM raw':>9}{'matching':>9}"
            f"{'end2end':>9} {'overhead':>8} {'(by diff)':>9} {'PM speedup':>10} {'density raw->resid':>20}")


def format_row(r: dict) -> str:
    """One table row; ``matching`` is PyMatching on the residual, or the weighted matcher."""
    sp = "-" if r["residual_speedup"] is None else f"{r['residual_speedup']:.2f}x"
    matching = r["weighted_matching_us_per_round"] if r["decoder"] == "predecoder-weighted" else r[
        "pymatching_residual_us_per_round"]
    return (f"{r['distance']:>3}{r['rounds']:>5}{r['p']:>7g}{r['batch']:>6} {r['predecoder_us_per_round']:>9.2f}"
            f"{r['network_us_per_round']:>9.2f}{r['pymatching_us_per_round']:>9.2f}"
            f"{matching:>9.2f}{r['end_to_end_us_per_round']:>9.2f} "
            f"{100 * r['overhead_fraction']:>7.1f}% {100 * r['overhead_fraction_by_difference']:>8.1f}% {sp:>10} {r['density_raw']:>9.4f} -> {r['density_residual']:.4f}")
