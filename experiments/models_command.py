"""``qec models``: what a model file is and what it was trained on.

    qec models                      # the shipped model(s)
    qec models --model a.safetensors b.safetensors [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

from predecoder.model_file import default_model_path, load_model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", nargs="+", default=None, help="model files (default: the shipped model)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def run(args: argparse.Namespace) -> int:
    paths = args.model or [default_model_path()]
    rows = [load_model(p).summary() for p in paths]
    if args.json:
        json.dump({"models": rows}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    for r in rows:
        v = r["validation"] or {}
        val = "-"
        if v.get("predecoder_ler") is not None and v.get("pymatching_ler"):
            val = (f"LER {v['predecoder_ler']:.5f} vs PyMatching {v['pymatching_ler']:.5f} "
                   f"({v['pymatching_ler'] / v['predecoder_ler']:.3f}x) on {v.get('shots')} shots")
        samples = "-" if r["samples_seen"] is None else f"{r['samples_seen']:,}"
        print(f"{r['path']}\n"
              f"  sha256 {r['sha256'][:12]}  preset {r['preset']}  {r['parameters']:,} parameters  "
              f"R={r['receptive_field']}  threshold {r['threshold']:g}\n"
              f"  trained on {r['training_noise']} (rounds {r['rounds']}), {samples} samples\n"
              f"  validation: {val}")
    return 0
