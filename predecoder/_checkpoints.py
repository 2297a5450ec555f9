"""Training checkpoints: a run directory's files, the model metadata that records the run, warm
starts from a model file, and the optimizer and state files that make ``--resume`` exact.

Every file is written through :func:`qec.files.write_bytes` (atomic; safetensors, never
pickle).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file as st_load_file
from safetensors.torch import save as st_save

from predecoder._model import ModelConfig, PreDecoderCNN
from predecoder._model_file import ModelFileError, load_model, save_model
from predecoder._train_config import TrainConfig, TrainState
from qec import QecError
from qec.noise import UNRECORDED_NOISE_VERSION, noise_label, noise_version
from qec.files import write_bytes

# The files a training run's directory holds.
RUN_FILES = ("state.json", "last.safetensors", "best.safetensors", "optimizer.safetensors", "validation.jsonl")


def save_run(out: Path, network: PreDecoderCNN, opt: torch.optim.Optimizer, cfg: TrainConfig, state: TrainState,
             model_config: ModelConfig, data: dict[str, Any] | None = None) -> None:
    """Write the checkpoint of a run: last.safetensors, optimizer.safetensors, state.json."""
    save_model(out / "last.safetensors", network, run_metadata(cfg, state, model_config, data))
    _save_optimizer(out / "optimizer.safetensors", opt)
    write_bytes(out / "state.json", json.dumps(
        {"config": dataclasses.asdict(cfg), "noise_version": noise_version(cfg.noise),
         "state": dataclasses.asdict(state)}, indent=2).encode(), what="training state")


def run_metadata(cfg: TrainConfig, state: TrainState, model_config: ModelConfig,
                 data: dict[str, Any] | None = None) -> dict[str, Any]:
    """A model file's metadata: the run's config and state, and ``data``
    (:func:`predecoder._training_data.data_metadata`: the DEMs' provenance, device circuits)."""
    v = state.last_validation or {}
    data = dict(data or {})
    device = cfg.on_device_circuits
    rounds = cfg.effective_rounds
    if device:
        rounds = sorted({r["rounds"] for r in data.get("training_dems", [])}) or None
    return {
        **data,
        "preset": cfg.preset,
        "distance": cfg.distance,
        "rounds": rounds,
        "noise": None if device else cfg.noise,
        "noise_version": None if device else noise_version(cfg.noise),
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


def load_weights(path: str | Path, network: PreDecoderCNN, device: torch.device, what: str):
    """Copy a model file's weights into ``network`` (train mode); its config must equal the
    network's. Errors are ``ValueError`` prefixed with ``what`` (the flag that named the file)."""
    try:
        loaded = load_model(path, device=device)
    except ModelFileError as e:
        raise QecError(f"{what}: {e}") from None
    if loaded.config != network.config:
        raise QecError(f"{what}: {path} does not fit the preset's model config (its config: {loaded.config})")
    network.load_state_dict(loaded.network.state_dict())
    network.train()
    return loaded


def warm_start(cfg: TrainConfig, network: PreDecoderCNN, device: torch.device) -> dict[str, Any]:
    """Start from the weights of the model file ``cfg.init`` (a fresh optimizer and schedule follow)."""
    loaded = load_weights(cfg.init, network, device, "--init")
    return {"path": cfg.init, "sha256": loaded.sha256, "samples_seen": int(loaded.metadata.get("samples_seen") or 0),
            "noise": loaded.describe_training_noise()}


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
        raise QecError(f"--resume: {path} is missing") from None
    except Exception as e:  # safetensors, JSON and torch raise assorted errors on a bad file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise QecError(f"--resume: {path} is not a usable optimizer state ({first})") from None


def trim_validation_log(path: Path, step: int) -> int:
    """Drop the rows of ``validation.jsonl`` after ``step`` (the checkpoint a run resumes from) and
    a last row cut mid-way: a run killed between a validation and its checkpoint left them, and
    the resumed run validates those steps again (each step once in the log). Returns how many
    rows were dropped."""
    if not path.exists():
        return 0
    text = path.read_text(encoding="utf-8", errors="replace")
    kept = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
            if row["step"] <= step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):  # a row cut mid-way by a kill
            pass
    dropped = len(text.splitlines()) - len(kept)
    if dropped or (text and not text.endswith("\n")):
        write_bytes(path, "".join(line + "\n" for line in kept).encode(), what="validation log")
    return dropped


def load_checkpoint(out: Path, cfg: TrainConfig, network, opt, device) -> TrainState:
    """Restore ``network`` and ``opt`` from run folder ``out`` (``--resume``) and return its state;
    refuses a run of another configuration."""
    state_path = out / "state.json"
    if not state_path.exists():
        raise QecError(f"--resume: no checkpoint in {out}")
    try:
        saved = json.loads(state_path.read_text())
        saved_cfg = saved["config"]
        saved["state"]["step"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
        raise QecError(f"--resume: {state_path} is not a training state ({type(e).__name__}: {e})") from None
    saved_version = saved.get("noise_version", UNRECORDED_NOISE_VERSION)
    if saved_cfg.get("noise") == cfg.noise and saved_version != noise_version(cfg.noise):
        raise QecError(
            f"--resume: the run in {out} trained on {noise_label(cfg.noise, saved_version)} noise; this qec's "
            f"{cfg.noise} is v{noise_version(cfg.noise)} (start a new run with --init {out}/last.safetensors)"
        )
    for key in ("distance", "rounds", "noise", "preset", "p", "dem_path", "circuits", "dems", "seed", "batch"):
        have, want = saved_cfg.get(key, [] if key in ("circuits", "dems") else None), getattr(cfg, key)
        if isinstance(want, tuple):
            have = tuple(have)
        if have != want:
            raise QecError(f"--resume: {key} differs from the checkpoint ({saved_cfg.get(key)} vs {getattr(cfg, key)})")
    if saved_cfg.get("select_by", "threshold") != cfg.select_by:  # runs before select_by chose by threshold
        raise QecError(f"--resume: the run chose its best model by {saved_cfg.get('select_by', 'threshold')} "
                         f"validation LER, not {cfg.select_by}")
    load_weights(out / "last.safetensors", network, device, "--resume")
    _load_optimizer(out / "optimizer.safetensors", opt, device)
    s = saved["state"]
    return TrainState(
        step=s["step"], samples=s["samples"], seconds=s["seconds"], best_ler=s["best_ler"],
        best_threshold=s["best_threshold"], last_validation=s["last_validation"], init=s.get("init"),
    )
