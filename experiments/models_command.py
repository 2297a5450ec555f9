"""``qec models``: the shipped models (or given files), what they are and what they were trained on.

    qec models                      # every shipped model: name, preset, size, training, measured LER
    qec models --model a.safetensors fast [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

from predecoder import load_model, shipped_models
from qec._decoding._weighted_matcher import describe_backend


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``qec models`` flags."""
    parser.add_argument("--model", nargs="+", default=None,
                        help="model files or shipped names (default: list every shipped model)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def run(args: argparse.Namespace) -> int:
    """List the shipped models (or the given files) with their records; returns the exit status."""
    if args.model:
        rows = [{"name": None, "summary": load_model(m).summary()} for m in args.model]
    else:
        rows = [{"name": s.name, "default": s.default, "purpose": s.purpose, "summary": s.summary,
                 "measured": s.measured, "provenance": s.provenance} for s in shipped_models()]
    matching = describe_backend()
    if args.json:
        json.dump({"models": rows, "weighted_matching": matching}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    for row in rows:
        print_model(row)
    print(f"predecoder-weighted's weighted matching: {matching}")
    return 0


def print_model(row: dict) -> None:
    """One model's record, as ``qec models`` prints it."""
    r = row["summary"]
    v = r["validation"] or {}
    val = "-"
    if v.get("predecoder_ler") is not None and v.get("pymatching_ler"):
        val = (f"LER {v['predecoder_ler']:.5f} vs PyMatching {v['pymatching_ler']:.5f} "
               f"({v['pymatching_ler'] / v['predecoder_ler']:.3f}x) on {v.get('shots')} shots")
    samples = "-" if r["samples_seen"] is None else f"{r['samples_seen']:,}"
    title = r["path"] if row["name"] is None else f"{row['name']}{' (default)' if row['default'] else ''}: {row['purpose']}"
    print(f"{title}\n"
          f"  sha256 {r['sha256'][:12]}  preset {r['preset']}  {r['parameters']:,} parameters  "
          f"R={r['receptive_field']}  threshold {r['threshold']:g}\n"
          f"  trained on {r['training_noise']} (rounds {r['rounds']}), {samples} samples\n"
          f"  validation: {val}")
    fitted = r.get("fitted_on") or []
    if len(fitted) > 3:  # one line per half and shot count
        groups: dict[tuple, list[str]] = {}
        for f in fitted:
            groups.setdefault((f["half"], f.get("shots")), []).append(f["folder"])
        for (half, shots), names in groups.items():
            n = "" if shots is None else f"{shots} "
            print(f"  DEMs learned from the {n}{half} shots of each of {len(names)} folders: {', '.join(names)} "
                  f"(never score those with it)")
    else:
        for f in fitted:
            n = "" if f.get("shots") is None else f"{f['shots']} "
            print(f"  DEM learned from the {n}{f['half']} shots of {f['folder']} (never score those with it)")
    prov = row.get("provenance")
    if prov:
        print(f"  provenance: {prov['summary']}")
    for m in row.get("measured") or []:
        if m.get("kind") == "hardware":
            print(f"  measured on hardware: {m['patch']}, {m['basis'].upper()} basis, {m['half']} shots "
                  f"({m['shots']:,}), {m['decoder']}: {100 * m['eps_per_round']:.3f}% per round "
                  f"[{100 * m['low']:.3f}, {100 * m['high']:.3f}]; {m['compared']}")
            continue
        ler = f"LER {m['ler']:.3e} [{m['ler_low']:.3e}, {m['ler_high']:.3e}], " if "ler_low" in m else ""
        corr = f"; z {m['z_vs_correlated']:+.1f} vs correlated PyMatching" if "z_vs_correlated" in m else ""
        print(f"  measured, {m.get('decoder', 'predecoder')}: d={m['d']} rounds={m['rounds']} p={m['p']} "
              f"{m['noise']} v{m['noise_version']}: {ler}{m['ratio']:.3f}x fewer errors than PyMatching "
              f"({m['shots']:,} paired shots{corr})")
