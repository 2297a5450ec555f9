"""One GPU lease (15 minutes of device time, the machine's start included; one call at most 10):
check the CUDA paths, measure latency, train the flagship further on the current noise, and
evaluate old against new on fresh paired shots, in two calls.

    # call 1 (at most 9 minutes: install 1, tests 1, bench 2, throughput 0.75, training 3.25 + 1)
    python benchmarks/gpu_check_and_train.py --out $OUT/run --minutes 3.25 --skip eval [--wheels DIR]
    # call 2 at once, on the still-warm machine (at most 3 minutes), with call 1's best.safetensors
    # copied into the repo (an ignored folder named in carry)
    python benchmarks/gpu_check_and_train.py --out $OUT/eval --eval-model gpu/best.safetensors \
        --skip tests bench throughput train [--wheels DIR]
    python benchmarks/gpu_check_and_train.py --out /tmp/smoke --device cpu --smoke   # its test
    python benchmarks/gpu_check_and_train.py --plan                                   # the budget

Steps (each with its own time limit; a failed step is recorded and the next one still runs):

1. ``pytest -m cuda`` (tests/predecoder/test_cuda.py: GPU pipeline == CPU pipeline, half precision within
   the intervals, training steps, the benchmark);
2. ``qec bench --device cuda --precision fp16`` at d=13, p=0.003 (the latency targets' point),
   batch 1 through the batch-1 latency path (CUDA graph) and batch 1024, for ``predecoder`` and
   ``predecoder-weighted``;
3. training throughput A/B (``benchmarks/training_throughput.py``: Fast at d=9, batch 2048,
   bf16; base, channels-last, fused AdamW, both), and ``qec train`` continuing the shipped
   ``fast`` model (``--init fast``) on the current noise for ``--minutes`` with the fastest
   variant's flags (d=9, p=0.006, bf16, on-device sampling, best checkpoint by neural-weighted
   validation LER);
4. paired evaluation on fresh shots (d=9, rounds 8 = the paper's n_rounds 9, p=0.006, X basis):
   the shipped model and the new one (call 1's, or ``--eval-model``), each as ``predecoder`` and
   ``predecoder-weighted``, and plain and correlated PyMatching decode the very same shots.

Everything lands in ``--out``: environment.json, tests.log, bench.json (+ bench.log),
train/ (best.safetensors, last.safetensors, validation.jsonl, train.log), eval.json and
summary.json. No network access is needed: with ``--wheels DIR`` the missing dependencies
(stim, pymatching, sinter, setuptools, pybind11, ...) are installed from that folder only (``pip
--no-index``); put ``pymatching-2.4.0.tar.gz`` next to setup.py to build the compiled weighted
matcher there (else neural-weighted matching runs its exact, slower fallback).
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
    "bench": ["-d", "13", "--p", "0.003", "--batch", "1", "1024", "--precision", "fp16", "--repeats", "5",
              "--latency-path", "--latency-decodes", "2000"],
    "throughput": ["--distance", "9", "--presets", "fast", "--batch", "2048", "--bf16", "--steps", "10"],
    "train": ["--distance", "9", "--p", "0.006", "--preset", "fast", "--init", "fast", "--bf16", "--batch", "2048",
              "--lr", "7e-4", "--val-shots", "20000", "--val-every", "1000", "--sampler", "torch",
              "--select-by", "weighted"],
    "eval": {"distance": 9, "rounds": 8, "p": 0.006, "shots": 40_000},
    # seconds: the machine's start (1.5 min) + call 1 (9) + call 2 (3) = 13.5 of the lease's 15
    "limits": {"tests": 60, "bench": 120, "throughput": 45, "eval": 150},
}
SMOKE = {
    "bench": ["-d", "3", "--p", "0.01", "--batch", "1", "2", "--shots", "2", "--repeats", "1", "--warmup", "0",
              "--latency-decodes", "20", "--latency-path"],
    "throughput": ["--distance", "3", "--presets", "tiny", "--batch", "8", "--steps", "2"],
    "train": ["--distance", "3", "--p", "0.006", "--preset", "fast", "--init", "fast", "--batch", "4",
              "--lr", "1e-5", "--val-shots", "50", "--val-every", "1", "--steps", "2", "--threads", "1",
              "--select-by", "weighted"],
    "eval": {"distance": 3, "rounds": 2, "p": 0.006, "shots": 300},
    "limits": {"tests": 240, "bench": 120, "throughput": 120, "eval": 120},
}
BENCH_DECODERS = ("predecoder", "predecoder-weighted")


def plan_minutes(minutes: float, limits: dict, skip=()) -> dict:
    """Minutes of each call of the two-call plan: every step at its limit, training's minutes plus
    its start and final validation (1 expected), the installs; call 2 runs at once on the warm
    machine, so the lease pays for one start."""
    steps = {"install": 1.0, "tests": limits["tests"] / 60, "bench": limits["bench"] / 60,
             "throughput": limits["throughput"] / 60, "train": minutes + 1.0}
    call1 = {k: v for k, v in steps.items() if k not in skip}
    return {"call1": call1, "call1_total": round(sum(call1.values()), 2),
            "call2": {"install": 0.5, "eval": limits["eval"] / 60}, "call2_total": round(0.5 + limits["eval"] / 60, 2),
            "machine_starts": 1.5}


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
    """The shipped model and the new one (each as ``predecoder`` and ``predecoder-weighted``),
    plain and correlated PyMatching, all on the same fresh shots."""
    from predecoder import ler_decoders, load_model
    from qec import LerTask, MemoryExperiment, collect_ler, paired_z

    custom = {}
    for tag, model in (("old", old), ("new", new)):
        decoders = ler_decoders(model=model, device=device)
        custom[f"predecoder-{tag}"] = decoders["predecoder"]
        custom[f"predecoder-weighted-{tag}"] = decoders["predecoder-weighted"]
    exp = MemoryExperiment(spec["distance"], spec["rounds"], spec["p"], "x")
    task = LerTask(exp, ("pymatching", "pymatching-correlated", *custom))
    results = {r.decoder: r for r in collect_ler([task], max_shots=spec["shots"], seed=seed, custom_decoders=custom)}
    rows = {name: r.to_json() for name, r in results.items()}
    pm = results["pymatching"]

    def versus(a: str, b: str) -> dict:
        only_a, only_b = results[a].only_fails().get(b, 0), results[b].only_fails().get(a, 0)
        return {"only_" + a: only_a, "only_" + b: only_b, "z": paired_z(only_a, only_b)}

    n, o = results["predecoder-new"], results["predecoder-old"]
    nw, ow = results["predecoder-weighted-new"], results["predecoder-weighted-old"]
    return {
        "experiment": exp.json_metadata(), "shots": spec["shots"], "seed": seed, "results": rows,
        "old_model": load_model(old).sha256, "new_model": load_model(new).sha256,
        "ratio_old": pm.errors / max(1, o.errors), "ratio_new": pm.errors / max(1, n.errors),
        "ratio_weighted_old": pm.errors / max(1, ow.errors), "ratio_weighted_new": pm.errors / max(1, nw.errors),
        "ratio_correlated": pm.errors / max(1, results["pymatching-correlated"].errors),
        "new_vs_old": versus("predecoder-new", "predecoder-old"),
        "weighted_new_vs_old": versus("predecoder-weighted-new", "predecoder-weighted-old"),
        "weighted_new_vs_correlated": versus("predecoder-weighted-new", "pymatching-correlated"),
        "new_is_better": nw.errors < ow.errors and versus("predecoder-weighted-new", "predecoder-weighted-old")["z"] < -1.96,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="output folder (created; must not hold an earlier run)")
    parser.add_argument("--plan", action="store_true", help="print the two calls' worst-case minutes and exit")
    parser.add_argument("--eval-model", default=None,
                        help="evaluate this model against the shipped fast (call 2) instead of one trained now")
    parser.add_argument("--minutes", type=float, default=3.25, help="training minutes (default 3.25: call 1 of the plan)")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (with --smoke)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: the whole script in about a minute on a CPU")
    parser.add_argument("--wheels", default=None, help="install missing dependencies from this wheel folder first")
    parser.add_argument("--skip", nargs="*", default=[], choices=("tests", "bench", "throughput", "train", "eval"),
                        help="steps to leave out")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error("--minutes must be > 0")
    if args.plan:
        print(json.dumps(plan_minutes(args.minutes, FULL["limits"], args.skip), indent=1))
        return 0
    if not args.out:
        parser.error("--out is required")
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
                                        str(ROOT / "tests" / "predecoder" / "test_cuda.py")], out / "tests.log", limits["tests"]))
    if "bench" not in args.skip:
        rows = []
        for decoder in BENCH_DECODERS:
            log = out / f"bench_{decoder}.log"
            row = run_step(f"bench {decoder}", qec + ["bench", "--device", args.device, *plan["bench"], "--decoder",
                                                      decoder, "--json"], log, limits["bench"] / len(BENCH_DECODERS))
            steps.append(row)
            if row["returncode"] == 0:
                text = log.read_text()
                rows += json.loads(text[text.index("{"):])["results"]
        (out / "bench.json").write_text(json.dumps({"results": rows}, indent=1) + "\n")
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
    new_model = args.eval_model
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
                   k: evaluation[k] for k in ("ratio_old", "ratio_new", "ratio_weighted_old", "ratio_weighted_new",
                                              "ratio_correlated", "new_vs_old", "weighted_new_vs_old",
                                              "weighted_new_vs_correlated", "new_is_better", "shots")}}
    if new_model is not None and args.eval_model is None:
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
