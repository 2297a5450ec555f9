"""Training samples per second by preset and variant (forward + backward + optimizer step, data
included), and the data's share of a step.

    python benchmarks/training_throughput.py --distance 5 --presets tiny small fast [--device cuda] [--json]
    python benchmarks/training_throughput.py --distance 9 --presets fast --device cuda --bf16 --batch 2048 \
        --variants base channels-last fused channels-last+fused torch-sampler   # the GPU A/B

Variants: ``base``; ``channels-last`` (model and inputs in channels_last_3d); ``fused`` (fused
AdamW, CUDA); ``torch-sampler`` (labeled samples drawn on the device,
:class:`predecoder._torch_sampler.TorchLabeledSampler`, instead of numpy + copy); combinations
with ``+``. Medians over timed steps after two warm-up steps; on CUDA each step is synchronized.
``data_share`` = sampling time / step time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from predecoder import PreDecoderCNN, resolve_preset
from qec import CorrectionBasis, LabeledSampler, MemoryExperiment, SpaceTimeLayout

VARIANT_PARTS = ("base", "channels-last", "fused", "torch-sampler")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distance", type=int, default=5)
    parser.add_argument("--p", type=float, default=0.006)
    parser.add_argument("--presets", nargs="+", default=["tiny", "small", "fast"])
    parser.add_argument("--variants", nargs="+", default=["base"], help=f"combinations of {', '.join(VARIANT_PARTS)}")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for v in args.variants:
        if any(part not in VARIANT_PARTS for part in v.split("+")):
            parser.error(f"unknown variant {v!r}; combine {', '.join(VARIANT_PARTS)} with +")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    exp = MemoryExperiment(args.distance, args.distance, args.p, "x")
    layout = SpaceTimeLayout.from_circuit(exp.circuit())
    basis = CorrectionBasis.from_layout(layout)
    sampler = LabeledSampler(exp.dem(), basis, seed=1)
    valid = torch.from_numpy(basis.valid).to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rows = []
    for preset in args.presets:
        for variant in args.variants:
            parts = set(variant.split("+"))
            fmt = torch.channels_last_3d if "channels-last" in parts else torch.contiguous_format
            net = PreDecoderCNN(resolve_preset(preset)).to(device).to(memory_format=fmt)
            opt = torch.optim.AdamW(net.parameters(), lr=1e-3, **({"fused": True} if "fused" in parts else {}))
            torch_sampler = None
            if "torch-sampler" in parts:
                from predecoder._torch_sampler import TorchLabeledSampler

                torch_sampler = TorchLabeledSampler(exp.dem(), basis, device=device)
            times, data_times = [], []
            for step in range(args.steps + 2):
                sync()
                t0 = time.perf_counter()
                if torch_sampler is not None:
                    x, _, y = torch_sampler.sample(args.batch)
                else:
                    events, _, labels = sampler.sample(args.batch)
                    x = torch.from_numpy(layout.to_grid(events)).to(device)
                    y = torch.from_numpy(labels).to(device).float()
                x = x.contiguous(memory_format=fmt)
                sync()
                t_data = time.perf_counter() - t0
                with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=args.bf16):
                    logits = net(x)
                loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), y, reduction="none")
                        * valid).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                sync()
                if step >= 2:
                    times.append(time.perf_counter() - t0)
                    data_times.append(t_data)
            step_s = statistics.median(times)
            rows.append({"preset": preset, "variant": variant, "parameters": net.num_parameters(),
                         "distance": args.distance, "batch": args.batch, "device": str(device), "bf16": args.bf16,
                         "threads": args.threads, "samples_per_s": args.batch / step_s,
                         "data_share": statistics.median(data_times) / step_s})
            if not args.json:
                r = rows[-1]
                print(f"{preset:>9} {variant:<28} ({r['parameters']:,} params): {r['samples_per_s']:,.0f} samples/s, "
                      f"data {100 * r['data_share']:.0f}% of a step", flush=True)
    if args.json:
        print(json.dumps({"results": rows}))


if __name__ == "__main__":
    main()
