"""``qec train``: train a pre-decoder for one code distance: on our memory circuits (``--distance
--p [--noise] [--dem LEARNED]``) or on a device's (``--circuit FILE... --dem FILE...``: each
circuit's layout, samples from its DEM, e.g. Google's device DEM or one learned from half of the
measured shots by ``qec learn-noise --experiment``)."""

from __future__ import annotations

import argparse
import sys

from predecoder import PRESETS, TrainConfig, resolve_device, train
from predecoder._train_config import SELECT_BY
from predecoder._training import OPTIMIZERS, distributed
from qec import QecError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``qec train`` flags."""
    parser.add_argument("--distance", type=int, default=None,
                        help="code distance d (odd, >= 3); with --circuit, read from the circuit")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per training volume (default: d)")
    parser.add_argument("--p", type=float, default=None, help="noise strength of the training data")
    parser.add_argument("--noise", default="depolarizing", help="noise model (depolarizing, si1000, stim)")
    parser.add_argument("--dem", nargs="+", default=None, metavar="DEM",
                        help="train on detector error model files: one learned for our d/rounds circuit, or with "
                             "--circuit one per circuit (a device's DEM, e.g. one qec learn-noise --experiment wrote)")
    parser.add_argument("--circuit", nargs="+", default=None, metavar="CIRCUIT",
                        help="a device's memory circuit files (e.g. an experiment folder's circuit_ideal.stim): the "
                             "layout comes from each, the samples from its --dem; training alternates between them")
    parser.add_argument("--preset", default="small", help=f"model preset: {', '.join(PRESETS)}")
    parser.add_argument("--steps", type=int, default=None, help="stop after this many optimizer steps")
    parser.add_argument("--samples", type=int, default=None, help="stop after this many training samples")
    parser.add_argument("--minutes", type=float, default=None, help="stop after this much wall time")
    parser.add_argument("--batch", type=int, default=256, help="samples per step (per process)")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (cosine decay to 10%%)")
    parser.add_argument("--optimizer", default="adamw", choices=OPTIMIZERS)
    parser.add_argument("--pos-weight", type=float, default=1.0, help="BCE weight of positive labels")
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda[:N] or auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-shots", type=int, default=10_000, help="fixed validation shots (both bases)")
    parser.add_argument("--val-every", type=int, default=500, help="validate every N steps")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast (GPU)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--channels-last", action="store_true", help="model and inputs in channels_last_3d (GPU)")
    parser.add_argument("--fused-optimizer", action="store_true", help="fused AdamW kernels (GPU)")
    parser.add_argument("--sampler", default="auto", choices=("auto", "numpy", "torch"),
                        help="labeled sampling: numpy on CPU, on-device torch (auto: torch on CUDA)")
    parser.add_argument("--select-by", default="threshold", choices=SELECT_BY,
                        help="which validation LER picks best.safetensors: the residual pipeline's at its best "
                             "threshold (default), or neural-weighted matching's (for --decoders predecoder-weighted)")
    parser.add_argument("--out", required=True, help="run directory (checkpoints, validation log)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    parser.add_argument("--overwrite", action="store_true", help="replace the run --out holds (its files are deleted)")
    parser.add_argument("--init", default=None, metavar="MODEL",
                        help="start from this model file's weights (same preset; new optimizer and schedule)")


# Flags that are TrainConfig fields of the same name.
CONFIG_FLAGS = ("rounds", "p", "noise", "preset", "steps", "samples", "minutes", "batch", "lr", "optimizer", "pos_weight",
                "seed", "val_shots", "val_every", "threads", "bf16", "compile", "sampler", "out", "init", "channels_last",
                "fused_optimizer", "select_by")


def check_data_flags(args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[str, ...], str | None, int]:
    """(circuits, DEMs, DEM path, distance) from --circuit/--dem or --distance/--p/--dem, checked."""
    if args.resume and args.overwrite:
        raise QecError("--resume continues the run in --out, --overwrite replaces it: give one")
    circuits, dems, dem_path, distance = (), (), None, args.distance
    if args.circuit:
        from predecoder._training_data import circuit_distance

        if not args.dem or len(args.dem) != len(args.circuit):
            raise QecError(f"--circuit needs one --dem per circuit ({len(args.circuit)} circuits, "
                             f"{len(args.dem or [])} DEMs)")
        if args.p is not None or args.rounds is not None or args.noise != "depolarizing":
            raise QecError("with --circuit, the circuits give the rounds and the DEMs the noise: leave out "
                             "--p, --rounds and --noise")
        found = circuit_distance(args.circuit[0])
        if distance is not None and distance != found:
            raise QecError(f"--circuit {args.circuit[0]} is a d={found} circuit, not --distance {distance}")
        circuits, dems, distance = tuple(args.circuit), tuple(args.dem), found
    else:
        if distance is None or args.p is None:
            raise QecError("give --distance and --p (our circuits), or a device's --circuit with its --dem")
        if args.dem and len(args.dem) > 1:
            raise QecError("several --dem files need their circuits: --circuit, one per DEM")
        dem_path = args.dem[0] if args.dem else None
    return circuits, dems, dem_path, distance


def run(args: argparse.Namespace) -> int:
    """Train a pre-decoder into ``--out`` and print the outcome; returns the exit status."""
    circuits, dems, dem_path, distance = check_data_flags(args)
    with distributed(str(resolve_device(args.device))) as device:
        cfg = TrainConfig(distance=distance, dem_path=dem_path, circuits=circuits, dems=dems, device=device,
                          **{k: getattr(args, k) for k in CONFIG_FLAGS})
        state = train(cfg, resume=args.resume, overwrite=args.overwrite,
                      log=lambda m: print(m, file=sys.stderr, flush=True))
    print_outcome(state, args)
    return 0


def print_outcome(state, args: argparse.Namespace) -> None:
    """The run's one-line summary on stdout."""
    if state.last_validation:
        v = state.last_validation
        print(
            f"trained {state.samples} samples in {state.seconds:.0f} s; best validation LER "
            f"{state.best_ler:.5f} ({'neural-weighted' if args.select_by == 'weighted' else 'threshold ' + str(state.best_threshold)}) "
            f"vs PyMatching {v['pymatching_ler']:.5f}; "
            f"model: {args.out}/best.safetensors"
        )
    else:
        print(f"trained {state.samples} samples in {state.seconds:.0f} s; model: {args.out}/last.safetensors")
