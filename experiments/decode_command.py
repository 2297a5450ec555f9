"""``qec decode``: decode a file of detection events (Stim's sample formats) into predictions.

    qec decode --circuit C.stim --dets F.b8 --dets-format b8 --out P.b8 --out-format b8 \\
        [--decoder predecoder|predecoder-correlated|predecoder-weighted|pymatching|pymatching-correlated] \\
        [--model M] \\
        [--block-rounds K] [--device D] [--window W:C]

The file is streamed in chunks of ``--chunk-shots`` shots (memory does not grow with the file),
with a progress bar on stderr (:mod:`qec._data._shot_files`). The output is written with
:func:`qec._data._output_files.atomic_output`: never over the input, through a symlink, directly into a
FIFO or device, else to a temporary file renamed at the end.
"""

from __future__ import annotations

import argparse
import math
import sys

import stim

from experiments.cli import UsageError, refuse_unused_flags
from experiments.ler_command import MODEL_HELP, report_weighted_matching
from predecoder import PREDECODER_NAMES
from qec import DECODERS, SlidingWindow, decode_file
from qec._data._circuit_files import read_circuit
from qec.files import check_dem_decodable, check_output_path
from qec._data._shot_files import IN_FORMATS, OUT_FORMATS, check_b8_file, check_shot_file

DECODER_CHOICES = (*PREDECODER_NAMES, *DECODERS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``qec decode`` flags."""
    parser.add_argument("--circuit", required=True, help="Stim circuit file (rotated surface-code memory for the pre-decoder)")
    parser.add_argument("--dets", required=True, help="detection events file")
    parser.add_argument("--dets-format", default="b8", help=f"format of --dets ({', '.join(IN_FORMATS)}; default b8)")
    parser.add_argument("--shots", type=int, default=None,
                        help="the number of shots --dets holds: checked (b8 has no header, so a file of another "
                             "circuit can fit the detector count)")
    parser.add_argument("--out", required=True, help="predictions file (observable flips)")
    parser.add_argument("--out-format", default="b8", help=f"format of --out ({', '.join(OUT_FORMATS)}; default b8)")
    parser.add_argument("--decoder", default="predecoder", help=f"decoder ({', '.join(DECODER_CHOICES)}; default predecoder)")
    parser.add_argument("--model", default=None, help=MODEL_HELP)
    parser.add_argument("--threshold", type=float, default=None, help="logit threshold (default: the model's)")
    parser.add_argument("--block-rounds", type=int, default=None,
                        help="pre-decoder block size in rounds (default 32); memory is bounded by it")
    parser.add_argument("--block-space", type=int, default=None, help="pre-decoder block size in rows/cols (default: whole patch)")
    parser.add_argument("--block-batch", type=int, default=None, help="blocks per forward pass (default 64)")
    parser.add_argument("--device", default=None, help="torch device for the network: cpu, cuda[:N], auto (default cpu)")
    parser.add_argument("--precision", default=None, help="network precision: fp32, fp16 (CUDA), bf16 (default fp32)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--window", default=None, metavar="W:C",
                        help="decode in sliding windows of W rounds committing the first C (1 <= C <= W; "
                             "docs/streaming.md)")
    parser.add_argument("--chunk-shots", type=int, default=4096, help="shots decoded per chunk (default 4096)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary on stderr")


# ---------------------------------------------------------------------------------------------


def build_decoder(args: argparse.Namespace, circuit: stim.Circuit, dem: stim.DetectorErrorModel):
    """The decoder ``--decoder`` names for ``circuit`` and its ``dem`` (:func:`matchable_dem`),
    with the pre-decoder's flags checked."""
    from qec import LayoutError, get_decoder
    from qec.decoding import decoder_factory

    name = args.decoder if args.window is None else args.decoder + SlidingWindow.parse(args.window).suffix
    options = {}
    pre = args.decoder.startswith("predecoder")
    given = {"--model": args.model, "--threshold": args.threshold, "--block-rounds": args.block_rounds,
             "--block-space": args.block_space, "--block-batch": args.block_batch}
    if not pre:
        refuse_unused_flags({**given, "--device": args.device, "--precision": args.precision,
                             "--threads": args.threads}, "the pre-decoder", args.decoder)
        return get_decoder(name, circuit, dem)
    for key, flag in (("model", "--model"), ("threshold", "--threshold"), ("block_rounds", "--block-rounds"),
                      ("block_space", "--block-space"), ("block_batch", "--block-batch")):
        if given[flag] is not None:
            options[key] = given[flag]
    from predecoder import ler_decoders

    factories = ler_decoders(device=args.device or "cpu", precision=args.precision or "fp32", **options)
    factory = decoder_factory(name, factories)
    try:
        return factory(circuit, dem)
    except LayoutError as e:
        raise UsageError(f"{args.circuit} is not a rotated surface-code memory circuit the pre-decoder can map: {e}") from None


def matchable_dem(circuit: stim.Circuit, path: str) -> stim.DetectorErrorModel:
    """``circuit``'s DEM, decomposed for matching; a :class:`UsageError` naming ``path`` when it
    cannot be, or when matching cannot decode with it (a noiseless circuit)."""
    try:
        dem = circuit.detector_error_model(decompose_errors=True, approximate_disjoint_errors=True)
    except ValueError as e:
        raise UsageError(f"cannot build a matchable detector error model from {path}: "
                         f"{str(e).strip().splitlines()[0]}") from None
    check_dem_decodable(dem, f"the DEM of --circuit {path}",
                        hint="decode with a circuit that has its noise (an experiment folder's circuit_noisy.stim)")
    return dem


def model_inputs(args: argparse.Namespace) -> tuple[str, ...]:
    """The model file a pre-decoder reads (the shipped default's file without --model)."""
    if not args.decoder.startswith("predecoder"):
        return ()
    from predecoder import model_path

    return (model_path(args.model),)


def check_arguments(args: argparse.Namespace) -> None:
    """:class:`UsageError` for the first flag out of range or input file missing."""
    if args.dets_format not in IN_FORMATS:
        raise UsageError(f"unknown --dets-format {args.dets_format!r}; choose from {', '.join(IN_FORMATS)}")
    if args.out_format not in OUT_FORMATS:
        raise UsageError(f"unknown --out-format {args.out_format!r}; choose from {', '.join(OUT_FORMATS)}")
    if args.threshold is not None and not math.isfinite(args.threshold):
        raise UsageError(f"--threshold must be a finite number, got {args.threshold}")
    if args.chunk_shots < 1:
        raise UsageError(f"--chunk-shots must be >= 1, got {args.chunk_shots}")
    if args.shots is not None and args.shots < 0:
        raise UsageError(f"--shots must be >= 0, got {args.shots}")
    if args.decoder not in DECODER_CHOICES:
        raise UsageError(f"unknown decoder {args.decoder!r}; choose from {', '.join(DECODER_CHOICES)}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    check_shot_file(args.dets, "--dets")


def run(args: argparse.Namespace) -> int:
    """Decode ``--dets`` into ``--out`` (:func:`qec.decode_file`); returns the exit status."""
    check_arguments(args)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    inputs = (args.dets, args.circuit, *model_inputs(args))
    check_output_path(args.out, inputs=inputs, what="--out")
    circuit = read_circuit(args.circuit)
    if args.dets_format == "b8":
        check_b8_file(args.dets, circuit.num_detectors, args.dets)
    dem = matchable_dem(circuit, args.circuit)
    decoder = build_decoder(args, circuit, dem)
    if not args.quiet:
        report_weighted_matching([args.decoder])
    done = decode_file(decoder, args.dets, args.out, num_detectors=circuit.num_detectors,
                       dets_format=args.dets_format, out_format=args.out_format, chunk_shots=args.chunk_shots,
                       inputs=inputs[1:], progress=not args.quiet, out_label="--out", dem=dem, shots=args.shots)
    if not args.quiet:
        print(f"decoded {done.shots} shots with {args.decoder} in {done.seconds:.2f} s "
              f"({done.shots_per_second:.0f} shots/s); {done.flips} predicted observable flips -> {args.out}",
              file=sys.stderr)
    return 0
