"""What a training run depends on (:class:`TrainConfig`, written into checkpoints) and where it
stands (:class:`TrainState`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from predecoder._model import resolve_preset
from qec import MemoryExperiment, QecError
from qec.runtime import path_text, real_number, whole_number

OPTIMIZERS = ("adamw", "lion")
SAMPLERS = ("auto", "numpy", "torch")
# Which validation LER picks ``best.safetensors``: the residual pipeline's at its best threshold,
# or neural-weighted matching's (the logits as per-shot matching weights).
SELECT_BY = ("threshold", "weighted")

@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (written into checkpoints).

    The data: our memory circuits at ``distance``, ``rounds``, ``p`` and ``noise`` (both bases),
    or the one basis a learned DEM ``dem_path`` fits; or a device's circuit files ``circuits``
    with their DEM files ``dems`` (paired by position; ``p`` and ``rounds`` are then None: the
    circuits say; see :mod:`predecoder._training_data`).

    Stop after ``steps`` optimizer steps, ``samples`` training samples or ``minutes`` of wall
    time, whichever comes first (at least one must be set). ``select_by`` says which validation
    LER chooses the best checkpoint (:data:`SELECT_BY`).
    """

    distance: int
    p: float | None
    out: str
    rounds: int | None = None
    noise: str = "depolarizing"
    dem_path: str | None = None
    circuits: tuple[str, ...] = ()
    dems: tuple[str, ...] = ()
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
    channels_last: bool = False
    fused_optimizer: bool = False
    select_by: str = "threshold"

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", path_text("out", self.out))
        for name in ("distance", "batch", "warmup_steps", "val_shots", "val_every", "log_every"):
            object.__setattr__(self, name, whole_number(name, getattr(self, name)))
        for name in ("rounds", "steps", "samples", "threads"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, whole_number(name, getattr(self, name)))
        object.__setattr__(self, "seed", whole_number("seed", self.seed, minimum=0))
        for name in ("lr", "weight_decay", "pos_weight", "grad_clip"):
            object.__setattr__(self, name, real_number(name, getattr(self, name)))
        if self.p is not None:
            object.__setattr__(self, "p", real_number("p", self.p))
        if self.minutes is not None:
            object.__setattr__(self, "minutes", real_number("minutes", self.minutes))
        if self.batch < 1:
            raise QecError(f"batch must be >= 1, got {self.batch}")
        if self.lr <= 0:
            raise QecError("lr must be > 0")
        if self.optimizer not in OPTIMIZERS:
            raise QecError(f"unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
        resolve_preset(self.preset)
        if self.steps is None and self.samples is None and self.minutes is None:
            raise QecError("give a budget: --steps, --samples or --minutes")
        for name in ("steps", "samples", "minutes"):
            v = getattr(self, name)
            if v is not None and v <= 0:
                raise QecError(f"{name} must be > 0")
        if self.val_shots < 0 or self.val_every < 1:
            raise QecError("val_shots must be >= 0 and val_every >= 1")
        if self.select_by not in SELECT_BY:
            raise QecError(f"unknown select_by {self.select_by!r}; choose from {', '.join(SELECT_BY)}")
        if self.sampler not in SAMPLERS:
            raise QecError(f"unknown sampler {self.sampler!r}; choose from {', '.join(SAMPLERS)}")
        if self.pos_weight <= 0:
            raise QecError("pos_weight must be > 0")
        if self.threads is not None and self.threads < 1:
            raise QecError(f"threads must be >= 1, got {self.threads}")
        object.__setattr__(self, "circuits", tuple(str(c) for c in self.circuits))
        object.__setattr__(self, "dems", tuple(str(d) for d in self.dems))
        if self.circuits:
            if len(self.dems) != len(self.circuits):
                raise QecError(f"give one --dem per --circuit ({len(self.circuits)} circuits, {len(self.dems)} DEMs)")
            if self.dem_path is not None:
                raise QecError("with --circuit, the DEMs pair with the circuits (dems), not dem_path")
            if self.rounds is not None or self.p is not None:
                raise QecError("with --circuit, the circuits give the rounds and the DEMs the noise: "
                                 "leave out --rounds and --p")
            return
        if self.dems:
            raise QecError("DEMs paired with circuits need --circuit")
        if self.p is None:
            raise QecError("give --p (the noise strength), or a device's --circuit with its --dem")
        MemoryExperiment(self.distance, self.effective_rounds, self.p, "x", self.noise)  # validates

    @property
    def on_device_circuits(self) -> bool:
        """Whether the run trains on a device's circuits (``circuits``) rather than ours."""
        return bool(self.circuits)

    @property
    def effective_rounds(self) -> int | None:
        """Rounds of our circuits (default d); None for device circuits (each has its own)."""
        if self.circuits:
            return None
        return self.distance if self.rounds is None else self.rounds


@dataclasses.dataclass
class TrainState:
    """Where a training run stands (written into ``state.json``): step, samples, time, best validation."""
    step: int = 0
    samples: int = 0
    seconds: float = 0.0
    best_ler: float | None = None
    best_threshold: float = 0.0
    last_validation: dict[str, Any] | None = None
    init: dict[str, Any] | None = None  # the warm-start model (path, sha256, samples_seen)
