"""Training a pre-decoder for one code distance.

Fresh labeled samples every step (never a fixed dataset), both memory bases mixed; per-voxel
BCE over valid basis elements; periodic validation of the pipeline against plain PyMatching on
fixed validation shots, choosing the logit threshold; the best checkpoint is kept.

Each step's data and dropout come from seeds derived from (seed, step, rank), so a resumed run
continues exactly: the checkpoint holds weights, optimizer state and the step count only.
Works under ``torchrun`` (DistributedDataParallel, one process per device; gloo on CPU).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import stim
import torch
import torch.distributed as dist
from safetensors.torch import load_file as st_load_file
from safetensors.torch import save as st_save

from predecoder.model import ModelConfig, PreDecoderCNN, resolve_preset
from predecoder.model_file import ModelFileError, load_model, save_model
from predecoder.optim import Lion
from qec.circuits import MemoryExperiment
from qec.correction_basis import CorrectionBasis
from qec.decoders import PyMatchingDecoder
from qec.layout import SpaceTimeLayout
from qec.noise import UNRECORDED_NOISE_VERSION, noise_label, noise_version
from qec.output_files import write_bytes
from qec.sampling import LabeledSampler

OPTIMIZERS = ("adamw", "lion")
SAMPLERS = ("auto", "numpy", "torch")
VALIDATION_THRESHOLDS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)
# The files a run directory holds.
RUN_FILES = ("state.json", "last.safetensors", "best.safetensors", "optimizer.safetensors", "validation.jsonl")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (written into checkpoints).

    Stop after ``steps`` optimizer steps, ``samples`` training samples or ``minutes`` of wall
    time, whichever comes first (at least one must be set).
    """

    distance: int
    p: float
    out: str
    rounds: int | None = None
    noise: str = "depolarizing"
    dem_path: str | None = None
    preset: str = "small"
    batch: int = 256
    lr: float = 2e-3
    optimizer: str = "adamw"
    weight_decay: float = 1e-4
    pos_weight: float = 1.0
    grad_clip: float = 1.0
    warmup_steps: int = 100
    steps: int | None = None
    samples: int | None = None
    minutes: float | None = None
    device: str = "cpu"
    seed: int = 0
    val_shots: int = 10_000
    val_every: int = 500
    log_every: int = 50
    threads: int | None = None
    bf16: bool = False
    compile: bool = False
    sampler: str = "auto"
    init: str | None = None

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError(f"batch must be >= 1, got {self.batch}")
        if self.lr <= 0:
            raise ValueError("lr must be > 0")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
        resolve_preset(self.preset)
        if self.steps is None and self.samples is None and self.minutes is None:
            raise ValueError("give a budget: --steps, --samples or --minutes")
        for name in ("steps", "samples", "minutes"):
            v = getattr(self, name)
            if v is not None and v <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.val_shots < 0 or self.val_every < 1:
            raise ValueError("val_shots must be >= 0 and val_every >= 1")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.sampler!r}; choose from {', '.join(SAMPLERS)}")
        if self.pos_weight <= 0:
            raise ValueError("pos_weight must be > 0")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")
        MemoryExperiment(self.distance, self.effective_rounds, self.p, "x", self.noise)  # validates

    @property
    def effective_rounds(self) -> int:
        return self.distance if self.rounds is None else self.rounds


@dataclasses.dataclass
class TrainState:
    step: int = 0
    samples: int = 0
    seconds: float = 0.0
    best_ler: float | None = None
    best_threshold: float = 0.0
    last_validation: dict[str, Any] | None = None
    init: dict[str, Any] | None = None  # the warm-start model (path, sha256, samples_seen)


class _Experiment:
    """Layout, basis, sampler and validation shots for one memory basis."""

    def __init__(self, cfg: TrainConfig, basis: str):
        self.exp = MemoryExperiment(cfg.distance, cfg.effective_rounds, cfg.p, basis, cfg.noise)
        circuit = self.exp.circuit()
        if cfg.dem_path is not None:
            dem = _read_dem(cfg.dem_path)
            if dem.num_detectors != circuit.num_detectors:
                raise ValueError(
                    f"{cfg.dem_path}: the DEM has {dem.num_detectors} detectors, the d={cfg.distance}, "
                    f"rounds={cfg.effective_rounds} circuit has {circuit.num_detectors}"
                )
        else:
            dem = self.exp.dem()
        self.dem = dem
        self.layout = SpaceTimeLayout.from_circuit(circuit)
        self.basis = CorrectionBasis.from_layout(self.layout)
        self.sampler = LabeledSampler(dem, self.basis, seed=0)
        self.valid = torch.from_numpy(self.basis.valid)
        self.matching = PyMatchingDecoder(dem)


def _read_dem(path: str) -> stim.DetectorErrorModel:
    try:
        return stim.DetectorErrorModel.from_file(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"DEM file {path} does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"--dem {path} is a directory") from None
    except PermissionError:
        raise
    except Exception as e:  # Stim raises ValueError or IndexError; undecodable bytes raise UnicodeDecodeError
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ValueError(f"--dem {path} is not a Stim detector error model: {first}") from None


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


def validate(
    network: torch.nn.Module,
    experiments: list[_Experiment],
    val_data: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    device: torch.device,
    thresholds=VALIDATION_THRESHOLDS,
    batch: int = 512,
) -> dict[str, Any]:
    """Pipeline LER per threshold vs plain PyMatching on fixed shots (summed over bases), and the
    per-voxel BCE, precision and recall (threshold 0) against the shots' labels."""
    network.eval()
    errors = {t: 0 for t in thresholds}
    plain = 0
    shots = 0
    events_before = 0
    events_after = {t: 0 for t in thresholds}
    bce_sum, voxels, tp, fp, fn = 0.0, 0, 0, 0, 0
    with torch.inference_mode():
        for ex, (events, obs, labels) in zip(experiments, val_data):
            plain += int(np.any(ex.matching.decode_batch(events) != obs, axis=1).sum())
            shots += len(events)
            events_before += int(events.sum())
            logits = []
            for i in range(0, len(events), batch):
                x = torch.from_numpy(ex.layout.to_grid(events[i:i + batch])).to(device)
                logits.append(network(x).float().cpu())
            logits_all = torch.cat(logits)
            y = torch.from_numpy(labels).float()
            bce = torch.nn.functional.binary_cross_entropy_with_logits(logits_all, y, reduction="none")
            bce_sum += float((bce * ex.valid).sum())
            voxels += int(ex.valid.sum()) * len(events)
            c0 = (logits_all >= 0) & ex.valid
            yb = y.bool()
            tp += int((c0 & yb).sum())
            fp += int((c0 & ~yb).sum())
            fn += int((~c0 & yb).sum())
            for t in thresholds:
                c = ((logits_all >= t) & ex.valid).numpy()
                residual = ex.basis.residual_syndrome(events, c)
                pred = ex.basis.observable_flip(c) ^ ex.matching.decode_batch(residual)
                errors[t] += int(np.any(pred != obs, axis=1).sum())
                events_after[t] += int(residual.sum())
    network.train()
    best_t = min(thresholds, key=lambda t: (errors[t], -t))
    return {
        "shots": shots,
        "pymatching_errors": plain,
        "pymatching_ler": plain / max(1, shots),
        "errors_by_threshold": {str(t): errors[t] for t in thresholds},
        "best_threshold": best_t,
        "predecoder_ler": errors[best_t] / max(1, shots),
        "residual_density_ratio": events_after[best_t] / max(1, events_before),
        "bce": bce_sum / max(1, voxels),
        "precision": tp / max(1, tp + fp),
        "recall": tp / max(1, tp + fn),
    }


def _dist_info() -> tuple[int, int, bool]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), True
    return 0, 1, False


def train(
    cfg: TrainConfig,
    resume: bool = False,
    log: Callable[[str], None] = print,
    progress: bool = False,
    stop_at_step: int | None = None,
    on_finish: Callable[[torch.nn.Module], None] | None = None,
    overwrite: bool = False,
) -> TrainState:
    """Run training; writes ``last.safetensors``, ``best.safetensors`` and ``state.json`` in
    ``cfg.out``. Returns the final state. Ctrl-C saves the last checkpoint and re-raises.
    A ``cfg.out`` that already holds a run is continued with ``resume`` or replaced with
    ``overwrite`` (its files are deleted first); neither is a ``ValueError``.
    ``stop_at_step`` ends this call early (as an interruption would) without changing the
    schedule; ``on_finish`` receives the trained network.

    Example:
        >>> import tempfile
        >>> cfg = TrainConfig(distance=3, p=0.01, out=tempfile.mkdtemp(), preset="tiny", steps=10, val_shots=0)
        >>> train(cfg, log=lambda line: None).step
        10
    """
    rank, world, distributed = _dist_info()
    device = torch.device(cfg.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda requested but CUDA is not available")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    if rank == 0:
        probe = out / ".write_test"
        try:
            out.mkdir(parents=True, exist_ok=True)
            probe.write_text("")
            probe.unlink()
        except OSError as e:
            raise ValueError(f"cannot write to {out}: {e.strerror}") from None
    existing = [name for name in RUN_FILES if (out / name).exists()]
    if rank == 0 and existing and not resume and not overwrite:
        raise ValueError(
            f"{out} already holds a training run ({', '.join(existing)}): continue it with --resume "
            f"or replace it with --overwrite"
        )

    model_config: ModelConfig = resolve_preset(cfg.preset)
    torch.manual_seed(cfg.seed)
    network = PreDecoderCNN(model_config).to(device)
    state = TrainState()
    if cfg.init is not None and not resume:
        state.init = _warm_start(cfg, network, device)
        log(f"initialized from {cfg.init} ({state.init['samples_seen']} samples seen there, "
            f"trained on {state.init['noise']})")
    if rank == 0 and overwrite and not resume:
        for name in existing:  # after the warm start: --init may name a file of this run
            (out / name).unlink()
    opt = _make_optimizer(cfg, network)
    if resume:
        state = _load_checkpoint(out, cfg, network, opt, device)
        log(f"resumed at step {state.step} ({state.samples} samples)")
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

    experiments = [_Experiment(cfg, b) for b in ("x", "z")]
    val_data = []
    if rank == 0 and cfg.val_shots > 0:
        for i, ex in enumerate(experiments):
            ex.sampler.reseed([cfg.seed, 10**9, i])
            val_data.append(ex.sampler.sample(cfg.val_shots // 2))
    valid = [ex.valid.to(device) for ex in experiments]
    use_torch_sampler = cfg.sampler == "torch" or (cfg.sampler == "auto" and device.type == "cuda")
    torch_samplers = None
    if use_torch_sampler:
        from predecoder.torch_sampler import TorchLabeledSampler

        torch_samplers = [TorchLabeledSampler(ex.dem, ex.basis, device=device) for ex in experiments]
    pos_weight = torch.tensor(cfg.pos_weight, device=device)

    bar = None
    if progress and rank == 0:
        from tqdm import tqdm

        bar = tqdm(total=None, unit=" samples", dynamic_ncols=True)

    def save(kind: str) -> None:
        if rank != 0:
            return
        meta = _metadata(cfg, state, model_config)
        save_model(out / "last.safetensors", network, meta)
        _save_optimizer(out / "optimizer.safetensors", opt)
        write_bytes(out / "state.json", json.dumps(
            {"config": dataclasses.asdict(cfg), "noise_version": noise_version(cfg.noise),
             "state": dataclasses.asdict(state)}, indent=2).encode(), what="training state")

    t_start = time.perf_counter() - state.seconds
    last_log = time.perf_counter()
    samples_at_log = state.samples
    loss_acc, loss_n = 0.0, 0
    try:
        while _progress_fraction(cfg, state) < 1.0 and (stop_at_step is None or state.step < stop_at_step):
            bi = state.step % 2  # alternate bases: both mixed over training
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
                    msg += f" | val LER {v['predecoder_ler']:.4f} vs pymatching {v['pymatching_ler']:.4f} (t={v['best_threshold']})"
                if bar is not None:
                    bar.set_postfix_str(msg.split(" ", 4)[-1])
                else:
                    log(msg)
                last_log, samples_at_log = now, state.samples
                loss_acc, loss_n = 0.0, 0
            done = _progress_fraction(cfg, state) >= 1.0
            if rank == 0 and (state.step % cfg.val_every == 0 or done):
                if val_data:
                    v = validate(network, experiments, val_data, device)
                    v["step"], v["samples"] = state.step, state.samples
                    state.last_validation = v
                    log(
                        f"validation step {state.step}: pre-decoder LER {v['predecoder_ler']:.5f} "
                        f"(threshold {v['best_threshold']}) vs PyMatching {v['pymatching_ler']:.5f}, "
                        f"residual density x{v['residual_density_ratio']:.3f}, BCE {v['bce']:.5f}, "
                        f"precision {v['precision']:.3f} recall {v['recall']:.3f} at threshold 0"
                    )
                    _append_jsonl(out / "validation.jsonl", v)
                    if state.best_ler is None or v["predecoder_ler"] <= state.best_ler:
                        state.best_ler = v["predecoder_ler"]
                        state.best_threshold = v["best_threshold"]
                        meta = _metadata(cfg, state, model_config)
                        save_model(out / "best.safetensors", network, meta)
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
    if on_finish is not None:
        on_finish(network)
    return state


def _append_jsonl(path: Path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def _metadata(cfg: TrainConfig, state: TrainState, model_config: ModelConfig) -> dict[str, Any]:
    v = state.last_validation or {}
    return {
        "preset": cfg.preset,
        "distance": cfg.distance,
        "rounds": cfg.effective_rounds,
        "noise": cfg.noise,
        "noise_version": noise_version(cfg.noise),
        "p": cfg.p,
        "dem": cfg.dem_path,
        "samples_seen": state.samples + (state.init or {}).get("samples_seen", 0),
        "samples_this_run": state.samples,
        "init": state.init,
        "steps": state.step,
        "train_seconds": round(state.seconds, 1),
        "threshold": float(state.best_threshold),
        "validation": {
            "shots": v.get("shots"),
            "predecoder_ler": v.get("predecoder_ler"),
            "pymatching_ler": v.get("pymatching_ler"),
            "best_ler": state.best_ler,
        },
        "train_config": dataclasses.asdict(cfg),
    }


def _load_weights(path: str | Path, network: PreDecoderCNN, device: torch.device, what: str):
    """Copy a model file's weights into ``network`` (train mode); its config must equal the
    network's. Errors are ``ValueError`` prefixed with ``what`` (the flag that named the file)."""
    try:
        loaded = load_model(path, device=device)
    except ModelFileError as e:
        raise ValueError(f"{what}: {e}") from None
    if loaded.config != network.config:
        raise ValueError(f"{what}: {path} does not fit the preset's model config (its config: {loaded.config})")
    network.load_state_dict(loaded.network.state_dict())
    network.train()
    return loaded


def _warm_start(cfg: TrainConfig, network: PreDecoderCNN, device: torch.device) -> dict[str, Any]:
    """Start from the weights of the model file ``cfg.init`` (a fresh optimizer and schedule follow)."""
    loaded = _load_weights(cfg.init, network, device, "--init")
    return {"path": cfg.init, "sha256": loaded.sha256, "samples_seen": int(loaded.metadata.get("samples_seen") or 0),
            "noise": loaded.describe_training_noise()}


def _make_optimizer(cfg: TrainConfig, network: torch.nn.Module) -> torch.optim.Optimizer:
    if cfg.optimizer == "lion":
        return Lion(network.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(network.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def _save_optimizer(path: Path, opt: torch.optim.Optimizer) -> None:
    sd = opt.state_dict()
    tensors = {}
    scalars = {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{pid}.{k}"] = v.detach().cpu().contiguous()
            else:
                scalars[f"{pid}.{k}"] = v
    write_bytes(path, st_save(tensors, metadata={"scalars": json.dumps(scalars)}), what="optimizer state")


def _load_optimizer(path: Path, opt: torch.optim.Optimizer, device: torch.device) -> None:
    from safetensors import safe_open

    try:
        tensors = st_load_file(str(path), device=str(device))
        with safe_open(str(path), framework="pt") as f:
            scalars = json.loads((f.metadata() or {}).get("scalars", "{}"))
        sd = opt.state_dict()
        state: dict[int, dict[str, Any]] = {}
        for key, v in list(tensors.items()) + list(scalars.items()):
            pid, _, name = key.partition(".")
            state.setdefault(int(pid), {})[name] = v
        sd["state"] = state
        opt.load_state_dict(sd)
    except FileNotFoundError:
        raise ValueError(f"--resume: {path} is missing") from None
    except Exception as e:  # safetensors, JSON and torch raise assorted errors on a bad file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ValueError(f"--resume: {path} is not a usable optimizer state ({first})") from None


def _load_checkpoint(out: Path, cfg: TrainConfig, network, opt, device) -> TrainState:
    state_path = out / "state.json"
    if not state_path.exists():
        raise ValueError(f"--resume: no checkpoint in {out}")
    try:
        saved = json.loads(state_path.read_text())
        saved_cfg = saved["config"]
        saved["state"]["step"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"--resume: {state_path} is not a training state ({type(e).__name__}: {e})") from None
    saved_version = saved.get("noise_version", UNRECORDED_NOISE_VERSION)
    if saved_cfg.get("noise") == cfg.noise and saved_version != noise_version(cfg.noise):
        raise ValueError(
            f"--resume: the run in {out} trained on {noise_label(cfg.noise, saved_version)} noise; this qec's "
            f"{cfg.noise} is v{noise_version(cfg.noise)} (start a new run with --init {out}/last.safetensors)"
        )
    for key in ("distance", "rounds", "noise", "preset", "p", "dem_path", "seed", "batch"):
        if saved_cfg.get(key) != getattr(cfg, key):
            raise ValueError(f"--resume: {key} differs from the checkpoint ({saved_cfg.get(key)} vs {getattr(cfg, key)})")
    _load_weights(out / "last.safetensors", network, device, "--resume")
    _load_optimizer(out / "optimizer.safetensors", opt, device)
    s = saved["state"]
    return TrainState(
        step=s["step"], samples=s["samples"], seconds=s["seconds"], best_ler=s["best_ler"],
        best_threshold=s["best_threshold"], last_validation=s["last_validation"], init=s.get("init"),
    )
