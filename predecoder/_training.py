"""Training a pre-decoder for one code distance.

Fresh labeled samples every step (never a fixed dataset), both memory bases mixed; per-voxel
BCE over valid basis elements; periodic validation of the pipeline against plain PyMatching on
fixed validation shots, choosing the logit threshold; the best checkpoint is kept.

Each step's data and dropout come from seeds derived from (seed, step, rank), so a resumed run
continues exactly: the checkpoint holds weights, optimizer state and the step count only.
Works under ``torchrun`` (DistributedDataParallel, one process per device; gloo on CPU).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import torch
import torch.distributed as dist

from predecoder._checkpoints import (
    RUN_FILES,
    load_checkpoint,
    run_metadata,
    save_run,
    trim_validation_log,
    warm_start,
)
from predecoder._model import ModelConfig, PreDecoderCNN, resolve_preset
from predecoder._model_catalog import model_path
from predecoder._model_file import save_model
from predecoder._optim import Lion
from predecoder._device import resolve_device
from predecoder._train_config import OPTIMIZERS, SAMPLERS, TrainConfig, TrainState
from predecoder._training_data import TrainingExperiment, data_metadata, training_experiments
from predecoder._validation import VALIDATION_THRESHOLDS, validate, validation_pipeline
from qec import QecError
from qec.runtime import deferred_interrupts, progress_bar
from qec.files import check_output_path, folder_lock, make_folder, remove_stale_temporaries

__all__ = ["OPTIMIZERS", "SAMPLERS", "VALIDATION_THRESHOLDS", "TrainConfig", "TrainState", "distributed", "train"]


def _step_seed(seed: int, step: int, rank: int, basis_index: int) -> list[int]:
    return [int(seed), int(step), int(rank), int(basis_index)]


def _lr_at(cfg: TrainConfig, state: TrainState, elapsed_fraction: float | None) -> float:
    warm = min(1.0, (state.step + 1) / max(1, cfg.warmup_steps))
    if elapsed_fraction is None:
        return cfg.lr * warm
    return cfg.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, elapsed_fraction))))


def _progress_fraction(cfg: TrainConfig, state: TrainState) -> float:
    fractions = []
    if cfg.steps is not None:
        fractions.append(state.step / cfg.steps)
    if cfg.samples is not None:
        fractions.append(state.samples / cfg.samples)
    if cfg.minutes is not None:
        fractions.append(state.seconds / (60 * cfg.minutes))
    return max(fractions)


@contextlib.contextmanager
def distributed(device: str) -> Iterator[str]:
    """Under ``torchrun`` (WORLD_SIZE > 1, torchrun's own variables): the process group (NCCL on
    CUDA, gloo on the CPU) for the block, and this process's device (``cuda:LOCAL_RANK``); else
    nothing, and ``device`` unchanged.

    Example:
        >>> with distributed("cpu") as device:
        ...     device
        'cpu'
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        yield device
        return
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device.startswith("cuda")
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    try:
        yield f"cuda:{local_rank}" if cuda else device
    finally:
        dist.destroy_process_group()


def _dist_info() -> tuple[int, int, bool]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), True
    return 0, 1, False


def train(
    cfg: TrainConfig,
    *,
    resume: bool = False,
    log: Callable[[str], None] | None = None,
    progress: bool | str = False,
    stop_at_step: int | None = None,
    on_finish: Callable[[torch.nn.Module], None] | None = None,
    overwrite: bool = False,
) -> TrainState:
    """Run training; writes ``last.safetensors``, ``best.safetensors`` and ``state.json`` in
    ``cfg.out`` (with ``val_shots=0`` nothing chooses a best checkpoint: ``best.safetensors`` is
    the final network). Returns the final state. Ctrl-C saves the last checkpoint and re-raises; so
    does SIGTERM inside :func:`qec._runtime._interrupts.sigterm_as_interrupt` (as ``qec train`` runs).
    One process writes a run folder at a time (another gets a one-line ``LockedError``); the
    temporary files of a killed run are removed when the folder is next opened.
    A ``cfg.out`` that already holds a run is continued with ``resume`` or replaced with
    ``overwrite`` (its files are deleted first); neither is a ``ValueError``.
    ``stop_at_step`` ends this call early (as an interruption would) without changing the
    schedule; ``on_finish`` receives the trained network. ``log`` receives each progress line
    (default: printed on stderr); ``progress`` shows a bar of the samples trained on stderr
    instead of the step lines (a string: the bar's label).

    Example:
        >>> import tempfile
        >>> cfg = TrainConfig(distance=3, p=0.01, out=tempfile.mkdtemp(), preset="tiny", steps=10, val_shots=0)
        >>> train(cfg, log=lambda line: None).step
        10
    """
    if log is None:  # progress lines go to stderr, as sinter's do; stdout stays the caller's
        def log(line: str) -> None:
            print(line, file=sys.stderr, flush=True)
    rank, world, distributed = _dist_info()
    out = Path(cfg.out)
    # The run's files never replace what it reads: the DEMs, the circuits, and the warm start
    # (read unless resuming).
    init = None if cfg.init is None or resume else model_path(cfg.init)
    if rank == 0:
        for name, flag in ((cfg.dem_path, "--dem"), (init, "--init")):
            if name is not None and not os.path.isfile(name):
                raise QecError(f"{flag} {name} does not exist" if not os.path.exists(name) else f"{flag} {name} is not a file")
    # A bad circuit or DEM, or a size the machine cannot hold, fails before the run folder is made.
    experiments = training_experiments(cfg)
    data = data_metadata(experiments)
    if rank != 0:
        return _train(cfg, out, experiments, data, resume, log, progress, stop_at_step, on_finish, overwrite)
    inputs = (cfg.dem_path, *cfg.dems, *cfg.circuits, init)
    make_folder(out)
    for name in RUN_FILES:
        check_output_path(out / name, inputs=inputs, what="run file")
    probe = out / ".write_test"
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise QecError(f"cannot write to {out}: {e.strerror}") from None
    with folder_lock(out, f"training run {out}"):  # one writer per run folder
        stale = remove_stale_temporaries(out, RUN_FILES)
        if stale:
            log(f"removed {len(stale)} temporary file(s) a killed run left in {out}")
        return _train(cfg, out, experiments, data, resume, log, progress, stop_at_step, on_finish, overwrite)


def _train(cfg: TrainConfig, out: Path, experiments: list[TrainingExperiment], data: dict, resume: bool, log,
           progress: bool, stop_at_step, on_finish, overwrite: bool) -> TrainState:
    """:func:`train` once ``out`` is ready (and locked, on rank 0)."""
    rank, world, distributed = _dist_info()
    device = resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    existing = [name for name in RUN_FILES if (out / name).exists()]
    if rank == 0 and existing and not resume and not overwrite:
        raise QecError(
            f"{out} already holds a training run ({', '.join(existing)}): continue it with --resume "
            f"or replace it with --overwrite"
        )

    model_config: ModelConfig = resolve_preset(cfg.preset)
    torch.manual_seed(cfg.seed)
    network = PreDecoderCNN(model_config).to(device)
    memory_format = torch.channels_last_3d if cfg.channels_last else torch.contiguous_format
    if cfg.channels_last:
        network = network.to(memory_format=memory_format)
    state = TrainState()
    if cfg.init is not None and not resume:
        state.init = warm_start(cfg, network, device)
        log(f"initialized from {cfg.init} ({state.init['samples_seen']} samples seen there, "
            f"trained on {state.init['noise']})")
    if rank == 0 and overwrite and not resume:
        for name in existing:  # after the warm start: --init may name a file of this run
            (out / name).unlink()
    opt = _make_optimizer(cfg, network)
    if resume:
        state = load_checkpoint(out, cfg, network, opt, device)
        log(f"resumed at step {state.step} ({state.samples} samples)")
        dropped = trim_validation_log(out / "validation.jsonl", state.step) if rank == 0 else 0
        if dropped:
            log(f"removed {dropped} row(s) of validation.jsonl written after that checkpoint by a killed run "
                f"(those steps are validated again)")
        if _progress_fraction(cfg, state) >= 1.0:
            log(f"nothing to train: the run in {out} already reached its budget; raise --steps, --samples "
                f"or --minutes to continue it")
            return state
    model = network
    if distributed:
        model = torch.nn.parallel.DistributedDataParallel(
            network, device_ids=[device.index] if device.type == "cuda" else None
        )
    forward = model
    if cfg.compile:
        forward = torch.compile(model)

    val_data = []
    if rank == 0 and cfg.val_shots > 0:
        for i, ex in enumerate(experiments):
            ex.sampler.reseed([cfg.seed, 10**9, i])
            val_data.append(ex.sampler.sample(max(1, cfg.val_shots // len(experiments))))
    pipelines = [validation_pipeline(network, ex.layout, ex.dem, device) for ex in experiments] if val_data else []
    valid = [ex.valid.to(device) for ex in experiments]
    use_torch_sampler = cfg.sampler == "torch" or (cfg.sampler == "auto" and device.type == "cuda")
    torch_samplers = None
    if use_torch_sampler:
        from predecoder._torch_sampler import TorchLabeledSampler

        torch_samplers = [TorchLabeledSampler(ex.dem, ex.correction_basis, device=device) for ex in experiments]
    pos_weight = torch.tensor(cfg.pos_weight, device=device)

    bar = None
    if progress and rank == 0:
        budgets = [b for b in (cfg.samples, cfg.steps and cfg.steps * cfg.batch * world) if b]
        bar = progress_bar(min(budgets, default=None), progress if isinstance(progress, str) else "training",
                           unit=" samples", initial=state.samples)

    def save(kind: str) -> None:
        if rank != 0:
            return
        with deferred_interrupts():  # the checkpoint's files always belong together
            save_run(out, network, opt, cfg, state, model_config, data)

    t_start = time.perf_counter() - state.seconds
    last_log = time.perf_counter()
    samples_at_log = state.samples
    loss_acc, loss_n = 0.0, 0
    try:
        while _progress_fraction(cfg, state) < 1.0 and (stop_at_step is None or state.step < stop_at_step):
            bi = state.step % len(experiments)  # alternate bases: both mixed over training
            ex = experiments[bi]
            seed = _step_seed(cfg.seed, state.step, rank, bi)
            if torch_samplers is not None:
                torch_samplers[bi].reseed(hash(tuple(seed)) & 0x7FFFFFFFFFFF)
                x, _, y = torch_samplers[bi].sample(cfg.batch)
            else:
                ex.sampler.reseed(seed)
                events, _, labels = ex.sampler.sample(cfg.batch)
                x = torch.from_numpy(ex.layout.to_grid(events)).to(device, non_blocking=True)
                y = torch.from_numpy(labels).to(device, non_blocking=True).float()
            torch.manual_seed(hash((cfg.seed, state.step, rank)) & 0x7FFFFFFF)
            for g in opt.param_groups:
                g["lr"] = _lr_at(cfg, state, _progress_fraction(cfg, state))
            if cfg.channels_last:
                x = x.contiguous(memory_format=memory_format)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                logits = forward(x)
            loss_map = torch.nn.functional.binary_cross_entropy_with_logits(
                logits.float(), y, pos_weight=pos_weight, reduction="none"
            )
            mask = valid[bi]
            loss = (loss_map * mask).sum() / (mask.sum() * cfg.batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(network.parameters(), cfg.grad_clip)
            opt.step()
            state.step += 1
            state.samples += cfg.batch * world
            state.seconds = time.perf_counter() - t_start
            loss_acc = loss_acc + loss.detach()  # stays on the device: no host sync per step
            loss_n += 1
            if bar is not None:
                bar.update(cfg.batch * world)
            if rank == 0 and state.step % cfg.log_every == 0:
                now = time.perf_counter()
                rate = (state.samples - samples_at_log) / max(1e-9, now - last_log)
                msg = f"step {state.step} samples {state.samples} loss {float(loss_acc) / loss_n:.5f} {rate:.0f} samples/s"
                if state.last_validation:
                    v = state.last_validation
                    msg += (f" | val LER {v['predecoder_ler']:.4f} (t={v['best_threshold']}), weighted "
                            f"{v['weighted_ler']:.4f} vs pymatching {v['pymatching_ler']:.4f}")
                if bar is not None:
                    bar.set_postfix_str(msg.split(" ", 4)[-1])
                else:
                    log(msg)
                last_log, samples_at_log = now, state.samples
                loss_acc, loss_n = 0.0, 0
            done = _progress_fraction(cfg, state) >= 1.0
            if rank == 0 and (state.step % cfg.val_every == 0 or done):
                if val_data:
                    v = validate(network, experiments, pipelines, val_data, device)
                    v["step"], v["samples"] = state.step, state.samples
                    state.last_validation = v
                    log(
                        f"validation step {state.step}: pre-decoder LER {v['predecoder_ler']:.5f} "
                        f"(threshold {v['best_threshold']}), neural-weighted {v['weighted_ler']:.5f} "
                        f"vs PyMatching {v['pymatching_ler']:.5f}, "
                        f"residual density x{v['residual_density_ratio']:.3f}, BCE {v['bce']:.5f}, "
                        f"precision {v['precision']:.3f} recall {v['recall']:.3f} at threshold 0"
                    )
                    with deferred_interrupts():  # the best model and the state that names it
                        _append_jsonl(out / "validation.jsonl", v)
                        score = v["weighted_ler"] if cfg.select_by == "weighted" else v["predecoder_ler"]
                        if state.best_ler is None or score <= state.best_ler:
                            state.best_ler = score
                            state.best_threshold = v["best_threshold"]
                            save_model(out / "best.safetensors", network, run_metadata(cfg, state, model_config, data))
                save("periodic")
            if distributed and cfg.val_shots > 0 and state.step % cfg.val_every == 0:
                dist.barrier()
    except KeyboardInterrupt:
        save("interrupt")
        raise
    finally:
        if bar is not None:
            bar.close()
    save("final")
    if rank == 0 and cfg.val_shots == 0:  # nothing to choose by: the final network is the best there is
        save_model(out / "best.safetensors", network, run_metadata(cfg, state, model_config, data))
    if on_finish is not None:
        on_finish(network)
    return state


def _append_jsonl(path: Path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def _make_optimizer(cfg: TrainConfig, network: torch.nn.Module) -> torch.optim.Optimizer:
    if cfg.optimizer == "lion":
        return Lion(network.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    fused = {"fused": True} if cfg.fused_optimizer else {}
    return torch.optim.AdamW(network.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, **fused)
