"""Training samples per second by preset (forward + backward + optimizer step, data included).

    python benchmarks/training_throughput.py --distance 5 --presets tiny small fast [--device cuda] [--json]

Medians over timed steps after warm-up; on CUDA each step is synchronized.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from predecoder.model import PreDecoderCNN, resolve_preset
from qec import CorrectionBasis, LabeledSampler, MemoryExperiment, SpaceTimeLayout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distance", type=int, default=5)
    parser.add_argument("--p", type=float, default=0.006)
    parser.add_argument("--presets", nargs="+", default=["tiny", "small", "fast"])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    exp = MemoryExperiment(args.distance, args.distance, args.p, "x")
    layout = SpaceTimeLayout.from_circuit(exp.circuit())
    basis = CorrectionBasis.from_layout(layout)
    sampler = LabeledSampler(exp.dem(), basis, seed=1)
    valid = torch.from_numpy(basis.valid).to(device)
    rows = []
    for preset in args.presets:
        net = PreDecoderCNN(resolve_preset(preset)).to(device)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
        times = []
        for step in range(args.steps + 2):
            t0 = time.perf_counter()
            events, _, labels = sampler.sample(args.batch)
            x = torch.from_numpy(layout.to_grid(events)).to(device)
            y = torch.from_numpy(labels).to(device).float()
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=args.bf16):
                logits = net(x)
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), y, reduction="none") * valid).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if step >= 2:
                times.append(time.perf_counter() - t0)
        rows.append({"preset": preset, "parameters": net.num_parameters(), "distance": args.distance,
                     "batch": args.batch, "device": str(device), "threads": args.threads,
                     "samples_per_s": args.batch / statistics.median(times)})
        if not args.json:
            r = rows[-1]
            print(f"{preset:>9} ({r['parameters']:,} params): {r['samples_per_s']:,.0f} samples/s", flush=True)
    if args.json:
        print(json.dumps({"results": rows}))


if __name__ == "__main__":
    main()
