"""The closed loop on a device's own shots: learn, fine-tune, score on the shots nothing saw.

A device model is specific to the qubits it learned; a user with a new patch runs this loop
(``qec closed-loop --experiment FOLDER... --half even --minutes M --out DIR``):

1. learn each experiment folder's DEM from the detection events of one half of its shots
   (:func:`noise_learning.learn_folder_dem`, the likelihood estimator by default), written to
   ``DIR/dems/<folder>.<half>.dem`` with its provenance (``# fitted_on:``);
2. fine-tune a pre-decoder from a shipped or given model (``init``) on the folders' circuits,
   each sampled from its learned DEM, for ``minutes``; the checkpoint with the best
   neural-weighted validation LER on simulated shots of those DEMs is kept (no measured shot
   chooses it);
3. score it as ``predecoder-weighted`` on the *other* half of every folder, beside correlated and
   plain PyMatching with the same learned DEMs and every prediction the folders record
   (:func:`qec.score_hardware`, so the result has the ``folders`` and ``patches`` of
   ``qec hardware --json``), into ``DIR/results.json``.

A rerun with the same arguments resumes (learned DEMs and a finished training are reused; the
scores' CSV ``DIR/scores.csv`` keeps finished folders); one with other arguments is refused in one
line naming them. One process writes ``DIR`` at a time. Progress goes to stderr.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

from predecoder._decoders import ler_decoders
from predecoder._model_catalog import model_path
from predecoder._model_file import load_model
from predecoder._run_config import check_recorded_config, pin_init
from predecoder._train_config import TrainConfig
from predecoder._training import train
from qec.files import folder_lock, make_folder, remove_stale_temporaries, write_bytes
from qec.hardware import HALVES, FittedOn, LearnedDemFiles, other_half, provenance_header
from qec import (
    GOOGLE_DECODERS,
    ExperimentFolder,
    hardware_columns,
    HardwareScores,
    QecError,
    read_experiment_folder,
    score_hardware,
)

__all__ = ["HardwareLoopConfig", "HardwareLoopResult", "run_hardware_loop"]

# Config fields that change none of the files a rerun reuses.
FREE_FIELDS = ("out", "threads", "workers", "bootstrap")
OUT_FILES = ("config.json", "init.safetensors", "results.json", "scores.csv")
DECODERS = ("predecoder-weighted", "pymatching-correlated", "pymatching")


@dataclasses.dataclass(frozen=True)
class HardwareLoopConfig:
    """One closed loop on experiment folders (see the module docstring).

    Attributes:
        folders: experiment folders of one distance and basis (any patches and rounds).
        out: folder for the DEMs, the training run, the scores and results.json.
        half: the half of each folder's shots the DEMs are learned from and the model trains on
            (``"even"`` or ``"odd"``); the other half is scored.
        minutes: training wall time (None: no time limit; then ``samples`` must be given).
        samples: training samples (None: no limit); training stops at whichever budget comes first.
        init: warm start (a shipped name or a file; None: from scratch).
        preset, lr, seed, threads, val_every, val_shots: the training's.
        estimator: ``"likelihood"`` or ``"correlations"`` (:data:`noise_learning.ESTIMATORS`).
        max_shots: the first N shots of every folder (None: all).
        workers, bootstrap: the scoring's processes and bootstrap replicates.
    """

    folders: tuple[str, ...]
    out: str
    half: str = "even"
    minutes: float | None = 20.0
    samples: int | None = None
    init: str | None = "small"
    preset: str = "small"
    estimator: str = "likelihood"
    lr: float = 1e-3
    seed: int = 0
    threads: int = 1
    val_every: int = 300
    val_shots: int = 9_600
    max_shots: int | None = None
    workers: int = 1
    bootstrap: int = 1000

    def __post_init__(self) -> None:
        if self.half not in HALVES:
            raise QecError(f"half must be one of {', '.join(HALVES)}, got {self.half!r}")
        if self.minutes is None and self.samples is None:
            raise QecError("give a training budget: minutes or samples")
        if self.minutes is not None and not self.minutes > 0:
            raise QecError(f"minutes must be > 0, got {self.minutes}")
        if self.samples is not None and self.samples < 1:
            raise QecError(f"samples must be >= 1, got {self.samples}")
        if not self.folders:
            raise QecError("give at least one experiment folder")
        from noise_learning import ESTIMATORS

        if self.estimator not in ESTIMATORS:
            raise QecError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {self.estimator!r}")
        if self.max_shots is not None and self.max_shots < 2:
            raise QecError(f"max_shots must be >= 2, got {self.max_shots}")


@dataclasses.dataclass(frozen=True)
class HardwareLoopResult:
    """What :func:`run_hardware_loop` measured.

    Attributes:
        config: the run's configuration.
        init_sha256: the warm start's sha256 (None: from scratch).
        model: the scored model file and its sha256.
        scores: every decoder on the scored half of every folder.
        seconds: ``"learn"``, ``"train"``, ``"score"`` and ``"total"`` wall seconds of this run.
    """

    config: HardwareLoopConfig
    init_sha256: str | None
    model: dict[str, str]
    scores: HardwareScores
    seconds: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        """What ``results.json`` holds: config, models, seconds, and ``folders`` and ``patches``
        as ``qec hardware --json`` prints them."""
        return {"config": dataclasses.asdict(self.config), "init_sha256": self.init_sha256, "model": self.model,
                "scored_half": other_half(self.config.half), "seconds": self.seconds, **self.scores.to_json()}


def recorded_config(cfg: HardwareLoopConfig) -> dict[str, Any]:
    """What ``out/config.json`` records: every field but :data:`FREE_FIELDS`."""
    return json.loads(json.dumps({k: v for k, v in dataclasses.asdict(cfg).items() if k not in FREE_FIELDS}))


def run_hardware_loop(cfg: HardwareLoopConfig, *, log: Callable[[str], None] | None = None) -> HardwareLoopResult:
    """Learn, fine-tune and score (see the module docstring); writes and returns the result."""
    if log is None:
        def log(line: str) -> None:
            print(line, file=sys.stderr, flush=True)
    folders = [read_experiment_folder(f) for f in cfg.folders]
    kinds = {(f.distance, f.basis) for f in folders}
    if len(kinds) > 1:
        raise QecError(f"one model serves one distance and basis; the folders have {sorted(kinds)}")
    if len({f.name for f in folders}) != len(folders):
        raise QecError("a folder is listed twice")
    out = Path(cfg.out)
    if cfg.init is not None:
        given = model_path(cfg.init)
        if not os.path.isfile(given):
            raise QecError(f"--init {cfg.init}: model file {given} does not exist")
        _refuse_init_fitted_on_scored_shots(given, folders, other_half(cfg.half))
    make_folder(out)
    with folder_lock(out, f"closed loop {out}"):
        remove_stale_temporaries(out, OUT_FILES)
        _check_config(cfg, out)
        return _run(cfg, folders, out, log)


def _refuse_init_fitted_on_scored_shots(path: str, folders: list[ExperimentFolder], scored: str) -> None:
    """A warm start that learned from the shots to be scored (its DEMs' provenance) is refused."""
    fitted = load_model(path).fitted_on
    names = {f.name for f in folders}
    hit = [r for r in fitted if r.folder in names and r.half == scored]
    if hit:
        raise QecError(f"the warm start was trained on {hit[0].describe()}, the shots this loop scores; "
                       f"learn from the {scored} half instead (--half {scored}) or start from another model")


def _check_config(cfg: HardwareLoopConfig, out: Path) -> None:
    check_recorded_config(out, recorded_config(cfg), ("dems", "train", *OUT_FILES))


def _learn(cfg: HardwareLoopConfig, folders: list[ExperimentFolder], out: Path, log) -> list[tuple[str, str, str]]:
    from noise_learning import learn_folder_dem

    make_folder(out / "dems")
    files = []
    for n, folder in enumerate(folders, start=1):
        path = out / "dems" / f"{folder.name}.{cfg.half}.dem"
        if not path.exists():
            t0 = time.perf_counter()
            model = learn_folder_dem(folder, cfg.half, max_shots=cfg.max_shots, estimator=cfg.estimator,
                                     progress=True)
            header = provenance_header([FittedOn(folder=folder.name, half=cfg.half, shots=model.shots)])
            write_bytes(path, header.encode() + str(model.dem()).encode() + b"\n", what="learned DEM")
            log(f"closed loop: learned {folder.name} from its {model.shots} {cfg.half} shots "
                f"({cfg.estimator}, {time.perf_counter() - t0:.1f} s) [{n}/{len(folders)}]")
        files.append((folder.name, cfg.half, str(path)))
    return files


def _train(cfg: HardwareLoopConfig, folders: list[ExperimentFolder], files, out: Path, log) -> Path:
    init = pin_init(cfg.init, out)
    run = out / "train"
    tcfg = TrainConfig(
        distance=folders[0].distance, p=None, circuits=tuple(f.file("circuit_ideal.stim") for f in folders),
        dems=tuple(path for _, _, path in files), preset=cfg.preset, init=init,
        minutes=cfg.minutes, samples=cfg.samples, lr=cfg.lr, seed=cfg.seed, threads=cfg.threads, val_every=cfg.val_every,
        val_shots=cfg.val_shots, select_by="weighted", out=str(run),
    )
    budget = " and ".join(b for b in (cfg.minutes and f"{cfg.minutes:g} min", cfg.samples and f"{cfg.samples} samples")
                          if b)
    log(f"closed loop: training {cfg.preset} for {budget} on {len(folders)} learned DEMs -> {run}")
    train(tcfg, resume=(run / "state.json").exists(), log=lambda line: log(f"closed loop: {line}"))
    return run / "best.safetensors"


def _run(cfg: HardwareLoopConfig, folders: list[ExperimentFolder], out: Path, log) -> HardwareLoopResult:
    t0 = time.perf_counter()
    files = _learn(cfg, folders, out, log)
    t_train = time.perf_counter()
    model = _train(cfg, folders, files, out, log)
    t_score = time.perf_counter()
    recorded = [g for g, name in GOOGLE_DECODERS.items() if all(name in f.prediction_names for f in folders)]
    columns = hardware_columns([*DECODERS, *recorded], [LearnedDemFiles(tuple(files))])
    scored = other_half(cfg.half)

    def progress(score) -> None:
        how = "from scores.csv" if score.from_csv else f"{time.perf_counter() - t_score:.1f} s"
        log(f"closed loop: scored {score.folder.name} ({score.shots} {scored} shots, {how})")

    scores = score_hardware(
        [f.path for f in folders], columns, max_shots=cfg.max_shots, workers=cfg.workers,
        custom_decoders=ler_decoders(model=str(model)), out=out / "scores.csv", on_folder=progress,
        bootstrap=cfg.bootstrap, seed=cfg.seed, half=scored,
    )
    loaded = load_model(model)
    result = HardwareLoopResult(
        config=cfg,
        init_sha256=None if cfg.init is None else load_model(out / "init.safetensors").sha256,
        model={"path": str(model), "sha256": loaded.sha256},
        scores=scores,
        seconds={"learn": round(t_train - t0, 1), "train": round(t_score - t_train, 1),
                 "score": round(time.perf_counter() - t_score, 1), "total": round(time.perf_counter() - t0, 1)},
    )
    write_bytes(out / "results.json", (json.dumps(result.to_json(), indent=1) + "\n").encode(), what="results")
    return result
