"""One GPU, one command, about 12 minutes: check the CUDA paths, measure latency, train the
flagship further on the current noise, and evaluate old against new on fresh paired shots.

    python benchmarks/gpu_check_and_train.py --out gpu_run --minutes 8 [--wheels DIR]
    python benchmarks/gpu_check_and_train.py --out /tmp/smoke --device cpu --smoke   # its test

Steps (each with its own time limit; a failed step is recorded and the next one still runs):

1. ``pytest -m cuda`` (tests/test_cuda.py: GPU pipeline == CPU pipeline, half precision within
   the intervals, training steps, the benchmark);
2. ``qec bench --device cuda --precision fp16`` at d=9 and 13, p=0.003 and 0.006, batch 1 and
   1024, with the batch-1 latency path (CUDA graph) and matching workers;
3. training throughput A/B (``benchmarks/training_throughput.py``: Fast at d=9, batch 2048,
   bf16; base, channels-last, fused AdamW, both), and ``qec train`` continuing the shipped
   ``fast`` model (``--init fast``) on the current noise for ``--minutes`` with the fastest
   variant's flags (d=9, p=0.006, bf16, on-device sampling);
4. paired evaluation on fresh shots (d=9, rounds 8 = the paper's n_rounds 9, p=0.006, X basis):
   the shipped model, the new best checkpoint and plain PyMatching decode the very same shots.

Everything lands in ``--out``: environment.json, tests.log, bench.json (+ bench.log),
train/ (best.safetensors, last.safetensors, validation.jsonl, train.log), eval.json and
summary.json. No network access is needed: with ``--wheels DIR`` the missing dependencies
(stim, pymatching, sinter, ...) are installed from that folder only (``pip --no-index``).
``--smoke`` uses tiny sizes so that the whole script runs on a CPU in about a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# throughput variant -> qec train flags
VARIANT_FLAGS = {"base": [], "channels-last": ["--channels-last"], "fused": ["--fused-optimizer"],
                 "channels-last+fused": ["--channels-last", "--fused-optimizer"]}

FULL = {
    "bench": ["-d", "9", "13", "--p", "0.003", "0.006", "--batch", "1", "1024", "--precision", "fp16",
              "--repeats", "5", "--latency-path", "--matching-workers", "4"],
    "throughput": ["--distance", "9", "--presets", "fast", "--batch", "2048", "--bf16", "--steps", "10"],
    "train": ["--distance", "9", "--p", "0.006", "--preset", "fast", "--init", "fast", "--bf16", "--batch", "2048",
              "--lr", "7e-4", "--val-shots", "20000", "--val-every", "1000", "--sampler", "torch"],
    "eval": {"distance": 9, "rounds": 8, "p": 0.006, "shots": 40_000},
    "limits": {"tests": 240, "bench": 240, "throughput": 180, "eval": 300},
}
SMOKE = {
    "bench": ["-d", "3", "--p", "0.01", "--batch", "1", "2", "--shots", "2", "--repeats", "1", "--warmup", "0",
              "--latency-decodes", "20", "--latency-path"],
    "throughput": ["--distance", "3", "--presets", "tiny", "--batch", "8", "--steps", "2"],
    "train": ["--distance", "3", "--p", "0.006", "--preset", "fast", "--init", "fast", "--batch", "4",
              "--lr", "1e-5", "--val-shots", "50", "--val-every", "1", "--steps", "2", "--threads", "1"],
    "eval": {"distance": 3, "rounds": 2, "p": 0.006, "shots": 300},
    "limits": {"tests": 240, "bench": 120, "throughput": 120, "eval": 120},
}


def run_step(name: str, cmd: list[str], log: Path, timeout: float) -> dict:
    """Run one step as a subprocess; its output goes to ``log``; never raises."""
    t0 = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with open(log, "w") as f:
        try:
            rc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, timeout=timeout, env=env).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    row = {"step": name, "command": " ".join(cmd), "returncode": rc, "seconds": round(time.perf_counter() - t0, 1),
           "log": log.name}
    print(f"[{name}] {'ok' if rc == 0 else 'FAILED (' + str(rc) + ')'} in {row['seconds']} s -> {log}", flush=True)
    return row


def install_wheels(wheels: str, out: Path) -> dict:
    cmd = [sys.executable, "-m", "pip", "install", "--no-index", "--find-links", wheels, "-e", str(ROOT)]
    return run_step("install", cmd, out / "install.log", timeout=600)


def environment(device: str) -> dict:
    import torch

    env = {"python": platform.python_version(), "torch": torch.__version__, "device": device,
           "cuda": torch.version.cuda, "host": platform.node()}
    if device.startswith("cuda") and torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
    return env


def evaluate(old: str, new: str, spec: dict, device: str, seed: int) -> dict:
    """The shipped model, the new one and plain PyMatching on the same fresh shots."""
    from predecoder import ler_decoders, load_model
    from qec import LerTask, MemoryExperiment, collect_ler
    from qec.statistics import paired_z

    custom = {
        "predecoder-old": ler_decoders(model=old, device=device)["predecoder"],
        "predecoder-new": ler_decoders(model=new, device=device)["predecoder"],
    }
    exp = MemoryExperiment(spec["distance"], spec["rounds"], spec["p"], "x")
    task = LerTask(exp, ("pymatching", "predecoder-old", "predecoder-new"))
    results = {r.decoder: r for r in collect_ler([task], max_shots=spec["shots"], seed=seed, custom_decoders=custom)}
    rows = {name: r.to_json() for name, r in results.items()}
    pm, o, n = results["pymatching"], results["predecoder-old"], results["predecoder-new"]
    only_new, only_old = n.only_fails().get("predecoder-old", 0), o.only_fails().get("predecoder-new", 0)
    return {
        "experiment": exp.json_metadata(), "shots": spec["shots"], "seed": seed, "results": rows,
        "old_model": load_model(old).sha256, "new_model": load_model(new).sha256,
        "ratio_old": pm.errors / max(1, o.errors), "ratio_new": pm.errors / max(1, n.errors),
        "new_vs_old": {"only_new_fails": only_new, "only_old_fails": only_old, "z": paired_z(only_new, only_old)},
        "new_is_better": n.errors < o.errors and paired_z(only_new, only_old) < -1.96,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder (created; must not hold an earlier run)")
    parser.add_argument("--minutes", type=float, default=8.0, help="training minutes (default 8)")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (with --smoke)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: the whole script in about a minute on a CPU")
    parser.add_argument("--wheels", default=None, help="install missing dependencies from this wheel folder first")
    parser.add_argument("--skip", nargs="*", default=[], choices=("tests", "bench", "throughput", "train", "eval"),
                        help="steps to leave out")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error("--minutes must be > 0")
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        parser.error(f"--out {out} is not empty: give a new folder (an earlier run is never overwritten)")
    out.mkdir(parents=True, exist_ok=True)
    plan = SMOKE if args.smoke else FULL
    steps: list[dict] = []
    if args.wheels:
        steps.append(install_wheels(args.wheels, out))
    (out / "environment.json").write_text(json.dumps(environment(args.device), indent=1) + "\n")
    qec = [sys.executable, "-m", "experiments.cli"]
    limits = plan["limits"]

    if "tests" not in args.skip:
        steps.append(run_step("tests", [sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider",
                                        str(ROOT / "tests" / "test_cuda.py")], out / "tests.log", limits["tests"]))
    if "bench" not in args.skip:
        row = run_step("bench", qec + ["bench", "--device", args.device, *plan["bench"], "--json"], out / "bench.log",
                       limits["bench"])
        steps.append(row)
        if row["returncode"] == 0:
            text = (out / "bench.log").read_text()
            (out / "bench.json").write_text(text[text.index("{"):])
    variant = "base"
    if "throughput" not in args.skip:
        variants = list(VARIANT_FLAGS) if args.device.startswith("cuda") else ["base", "channels-last"]
        row = run_step("throughput", [sys.executable, str(ROOT / "benchmarks" / "training_throughput.py"),
                                      "--device", args.device, *plan["throughput"], "--variants", *variants, "--json"],
                       out / "throughput.log", plan["limits"]["throughput"])
        steps.append(row)
        if row["returncode"] == 0:
            lines = [ln for ln in (out / "throughput.log").read_text().splitlines() if ln.startswith("{")]
            results = json.loads(lines[-1])["results"]
            (out / "throughput.json").write_text(json.dumps({"results": results}, indent=1) + "\n")
            variant = max(results, key=lambda r: r["samples_per_s"])["variant"]
    new_model = None
    if "train" not in args.skip:
        train_dir = out / "train"
        budget = [] if args.smoke else ["--minutes", str(args.minutes)]
        row = run_step("train", qec + ["train", "--device", args.device, *plan["train"], *budget,
                                       *VARIANT_FLAGS[variant], "--out", str(train_dir)],
                       out / "train.log", timeout=60 * args.minutes + 300)
        steps.append(row)
        best = train_dir / "best.safetensors"
        if best.exists():
            new_model = str(best)
    evaluation = None
    if "eval" not in args.skip and new_model is not None:
        t0 = time.perf_counter()
        try:
            evaluation = evaluate("fast", new_model, plan["eval"], args.device, args.seed)
            (out / "eval.json").write_text(json.dumps(evaluation, indent=1) + "\n")
            rc = 0
        except Exception as e:  # recorded, never lost: the model and logs are already on disk
            (out / "eval.log").write_text(f"{type(e).__name__}: {e}\n")
            rc = 1
        steps.append({"step": "eval", "returncode": rc, "seconds": round(time.perf_counter() - t0, 1)})
        print(f"[eval] {'ok' if rc == 0 else 'FAILED'} in {steps[-1]['seconds']} s", flush=True)
    summary = {"environment": json.loads((out / "environment.json").read_text()), "steps": steps,
               "new_model": new_model, "training_variant": variant, "evaluation": None if evaluation is None else {
                   k: evaluation[k] for k in ("ratio_old", "ratio_new", "new_vs_old", "new_is_better", "shots")}}
    if new_model is not None:
        from predecoder import load_model

        meta = load_model(new_model).metadata
        summary["training"] = {k: meta.get(k) for k in ("samples_seen", "samples_this_run", "train_seconds",
                                                        "validation", "threshold", "noise", "noise_version")}
        if meta.get("train_seconds"):
            summary["training"]["samples_per_second"] = round(meta["samples_this_run"] / meta["train_seconds"], 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    return 0 if all(s["returncode"] == 0 for s in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
