"""Train the learned noise estimator and compare it with the correlation estimator.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/noise_learning_network.py train --out runs/noise_net_d5
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/noise_learning_network.py compare [--model runs/noise_net_d5]

``train`` writes OUT.safetensors and OUT.json (one thread); it never writes the shipped model
(copy a result over ``noise_learning/models/noise_net_d5.*`` by hand to ship it). ``compare``
(the shipped model unless ``--model``) estimates from the same 10^5 training shots with the
network and with the correlation estimator,
then decodes the same test shots with PyMatching for each DEM (95% intervals, paired z-scores).
"""

from __future__ import annotations

import argparse
import pathlib
import shlex
import sys
import time

import torch

from noise_learning import CorrelationEstimator, DemStructure
from noise_learning._evaluate import edge_error_stats, paired_difference, paired_ler
from noise_learning._network import (
    DEFAULT_NOISE_NET,
    load_noise_net,
    predict_noise,
    save_noise_net,
    train_noise_net,
)
from qec import MemoryExperiment


def _fmt(r) -> str:
    return f"{r.ler:.3e} [{r.low:.2e}, {r.high:.2e}]"


def do_train(args) -> None:
    torch.set_num_threads(1)
    model, meta = train_noise_net(distance=5, n_bags=args.bags, shots=args.shots, epochs=args.epochs,
                                  widths=tuple(args.widths), seed=args.seed)
    meta["command"] = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    save_noise_net(model, meta, args.out)
    print(f"saved {args.out}.safetensors ({meta['parameters']} parameters, "
          f"{meta['train_seconds']} s training, {meta['data_seconds']} s data)")


def compare(args) -> None:
    torch.set_num_threads(1)
    model, meta = load_noise_net(args.model)
    hot = ((3.0, 3.0, 5.0), (5.0, 7.0, 5.0), (7.0, 5.0, 5.0))
    cases = [(5, 0.003, ()), (5, 0.006, ()), (7, 0.003, ()), (7, 0.006, ()), (5, 0.003, hot)]
    print("| d | p | hot spots | p from network | true DEM | network | correlations (pairwise) | z network vs true | "
          "network edge weight rms | correlations edge weight rms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for d, p, scale in cases:
        exp = MemoryExperiment(d, d, p, scale_qubits=scale)
        nominal = MemoryExperiment(d, d, p)
        c = exp.circuit()
        train_dets = c.compile_detector_sampler(seed=31 + d).sample(args.train_shots, bit_packed=True)
        dets, obs = c.compile_detector_sampler(seed=32 + d).sample(args.test_shots, separate_observables=True)
        t0 = time.perf_counter()
        noise = predict_noise(model, c, train_dets, bit_packed=True)
        t_net = time.perf_counter() - t0
        net_dem = MemoryExperiment(d, d, p, circuit_noise=noise).dem()
        corr_dem = CorrelationEstimator(DemStructure.from_dem(nominal.dem())).fit(train_dets, bit_packed=True).dem()
        res = paired_ler(dets, obs, {"true": exp.dem(), "network": net_dem, "correlations": corr_dem})
        z = paired_difference(res["network"], res["true"])["z"]
        s_net = edge_error_stats(net_dem, exp.dem())["weight_error_rms"]
        s_cor = edge_error_stats(corr_dem, exp.dem())["weight_error_rms"]
        p_net = sum(noise.cnot)
        hs = "3 qubits x5" if scale else "-"
        print(f"| {d} | {p} | {hs} | {p_net:.4f} | {_fmt(res['true'])} | {_fmt(res['network'])} | "
              f"{_fmt(res['correlations'])} | {z:+.1f} | {s_net:.3f} | {s_cor:.3f} |", flush=True)
        print(f"  (network inference {t_net:.1f} s on {args.train_shots} shots)", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("train", "compare"))
    parser.add_argument("--bags", type=int, default=4000)
    parser.add_argument("--shots", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 32, 32, 16])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-shots", type=int, default=100_000)
    parser.add_argument("--test-shots", type=int, default=200_000)
    parser.add_argument("--out", default=None, help="train: write OUT.safetensors and OUT.json (required)")
    parser.add_argument("--model", default=str(DEFAULT_NOISE_NET), help="compare: the model (default: the shipped one)")
    args = parser.parse_args()
    if args.what == "train":
        if args.out is None:
            parser.error("train needs --out (the shipped model is never overwritten)")
        if pathlib.Path(args.out).resolve().with_suffix("") == pathlib.Path(DEFAULT_NOISE_NET).resolve().with_suffix(""):
            parser.error(f"--out {args.out} is the shipped model; write elsewhere and copy it by hand")
    do_train(args) if args.what == "train" else compare(args)


if __name__ == "__main__":
    main()
