"""``qec export``: write a pre-decoder network as ONNX (dynamic batch; layout and threshold in metadata).

    qec export --model M.safetensors --format onnx --out F.onnx [--opset 17] [--no-verify]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys

from experiments.cli import UsageError
from experiments.ler_command import MODEL_HELP
from predecoder._export import DEFAULT_OPSET, EXPORT_FORMATS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``qec export`` flags."""
    parser.add_argument("--model", default=None, help=MODEL_HELP)
    parser.add_argument("--format", default="onnx", help=f"output format ({', '.join(EXPORT_FORMATS)})")
    parser.add_argument("--out", required=True, help="output file, e.g. model.onnx")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip comparing ONNX Runtime's logits with PyTorch's after writing")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def check_arguments(args: argparse.Namespace) -> None:
    """:class:`UsageError` for the first flag out of range (or onnx not installed)."""
    if args.format not in EXPORT_FORMATS:
        raise UsageError(f"unknown --format {args.format!r}; choose from {', '.join(EXPORT_FORMATS)}")
    if importlib.util.find_spec("onnx") is None:
        raise UsageError("ONNX export needs the onnx package: pip install 'qec-predecoder[onnx]'")
    if os.path.isdir(args.out):
        raise UsageError(f"--out {args.out} is a directory")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise UsageError(f"--out {args.out}: directory {out_dir} does not exist")
    if not 13 <= args.opset <= 21:
        raise UsageError(f"--opset must be in 13..21, got {args.opset}")


def run(args: argparse.Namespace) -> int:
    """Export the model to ONNX (checked against torch with ONNX Runtime when installed); returns the exit status."""
    check_arguments(args)
    from predecoder import load_model
    from predecoder._export import export_onnx, verify_onnx

    model = load_model(args.model)
    summary = export_onnx(model, args.out, opset=args.opset)
    if not args.no_verify and importlib.util.find_spec("onnxruntime") is not None:
        err = verify_onnx(args.out, model)
        summary["max_abs_logit_difference"] = err
        if err > 1e-3:
            raise UsageError(f"ONNX Runtime's logits differ from PyTorch's by {err:.2e}")
    if args.json:
        json.dump(summary, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        extra = f", ONNX Runtime max |dlogit| {summary['max_abs_logit_difference']:.1e}" \
            if "max_abs_logit_difference" in summary else ""
        print(f"wrote {summary['path']} (onnx opset {summary['opset']}, model {summary['sha256'][:12]}, "
              f"R={summary['receptive_field']}, threshold {summary['threshold']:g}{extra})")
    return 0
