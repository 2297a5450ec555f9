"""The closed loop on uneven noise: learn the DEM from syndromes, train the pre-decoder on it,
decode better than a pre-decoder trained on the nominal model.

One point (a distance, p and a few hot data qubits) is one call of :func:`run_closed_loop`
(``qec closed-loop`` on the command line, ``benchmarks/closed_loop.py`` for tables):

1. sample ``learn_shots`` shots of the hot-spot experiment; learn its DEM from their detection
   events alone (correlation estimator with hyperedges; the structure from the nominal model);
2. train three pre-decoders with the same budget (preset, samples, warm start, seed): on the
   true DEM, on the learned DEM, and on the nominal (uniform-strength) DEM;
3. decode the same fresh test shots with each pipeline, its residual matched by PyMatching on the
   DEM it was trained on, and with plain PyMatching on each DEM.

Everything is written into ``out`` (DEMs, the warm start, the three training runs, results.json)
and a rerun resumes: finished trainings and the learned DEM are reused, not redone. The warm start
is copied into ``out`` before training (``init.safetensors``), so the three trainings start from the same
bytes even if the shipped model changes meanwhile; each pipeline uses its run's *last*
checkpoint, so all three saw exactly the same number of training samples.

``out/config.json`` records every argument the DEMs and models depend on (:data:`FREE_FIELDS`
excepted: the test shots are decoded afresh on every run, threads change no result) and the noise
version; a rerun whose arguments differ is refused with one line naming them, never answered with
the first run's files. One process writes ``out`` at a time.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from noise_learning import DEM_KINDS, DemStructure, estimate_dem
from predecoder._decoders import ler_decoders
from predecoder._model import resolve_preset
from predecoder._model_catalog import model_path
from predecoder._model_file import load_model
from predecoder._train_config import TrainConfig
from predecoder._training import train
from qec import DECODERS, LerResult, LerTask, MemoryExperiment, QecError, collect_ler
from qec.runtime import path_text, real_number, whole_number
from qec.decoding import WithDem
from qec.files import (
    check_dem_decodable,
    folder_lock,
    make_folder,
    read_dem,
    remove_stale_temporaries,
    write_bytes,
)
from predecoder._run_config import check_recorded_config, pin_init

KINDS = DEM_KINDS[:3]  # true, learned, nominal (uniform weights are no training target)
# Config fields that change no file a rerun reuses (results.json is always recomputed).
FREE_FIELDS = ("out", "threads", "test_shots")
# What a run writes directly into ``out`` (the training runs are folders of their own).
OUT_FILES = ("config.json", "init.safetensors", "results.json", *(f"{k}.dem" for k in KINDS))


@dataclasses.dataclass(frozen=True)
class ClosedLoopConfig:
    """One point of the closed loop.

    Attributes:
        distance, p, basis: the memory experiment (rounds = distance unless ``rounds``).
        hot: ``((x, y, factor), ...)``: the hot data qubits (Stim coordinates).
        out: folder for the DEMs, the training runs and results.json.
        learn_shots: shots the DEM is learned from (detection events only).
        samples: training samples per pre-decoder (the same budget for all three).
        test_shots: fresh shots every decoder decodes.
        preset, init: the model preset and the warm start (a shipped name or a file; None: none).
        lr: peak learning rate of the fine-tuning.
        seed: seeds learning shots, training and test shots (each derived).
        threads: torch CPU threads for training.
    """

    distance: int
    p: float
    hot: tuple[tuple[float, float, float], ...]
    out: str
    basis: str = "x"
    rounds: int | None = None
    learn_shots: int = 100_000
    samples: int = 500_000
    test_shots: int = 100_000
    preset: str = "small"
    init: str | None = "small"
    lr: float = 1e-3
    seed: int = 0
    threads: int = 1
    val_shots: int = 10_000

    def __post_init__(self) -> None:
        """Every argument checked (a :class:`qec.QecError` naming the first wrong one) before a
        run writes anything: a mistyped preset or a NaN learning rate is refused here, not after
        the DEM is learned and ``config.json`` recorded."""
        object.__setattr__(self, "out", path_text("out", self.out))
        for name, minimum in (("learn_shots", 1), ("samples", 1), ("test_shots", 1), ("threads", 1),
                              ("val_shots", 0), ("seed", 0)):
            object.__setattr__(self, name, whole_number(name, getattr(self, name), minimum=minimum))
        object.__setattr__(self, "lr", real_number("lr", self.lr, above=0))
        resolve_preset(self.preset)
        self.experiment  # distance, rounds, p, basis and hot spots: MemoryExperiment checks them

    @property
    def experiment(self) -> MemoryExperiment:
        return MemoryExperiment(self.distance, self.rounds or self.distance, self.p, self.basis,
                                scale_qubits=self.hot)

    @property
    def nominal(self) -> MemoryExperiment:
        return MemoryExperiment(self.distance, self.rounds or self.distance, self.p, self.basis)


def learn_dem(cfg: ClosedLoopConfig) -> tuple[Any, float]:
    """The DEM learned from ``cfg.learn_shots`` shots of the hot-spot experiment, and seconds."""
    t0 = time.perf_counter()
    events = cfg.experiment.circuit().compile_detector_sampler(seed=cfg.seed).sample(cfg.learn_shots, bit_packed=True)
    structure = DemStructure.from_dem(cfg.nominal.dem())
    model = estimate_dem(events, structure, method="hyperedge", bit_packed=True)
    return model.dem(), time.perf_counter() - t0


def _write_dems(cfg: ClosedLoopConfig, out: Path, log) -> dict[str, Path]:
    paths = {k: out / f"{k}.dem" for k in KINDS}
    if not paths["learned"].exists():
        learned, seconds = learn_dem(cfg)
        check_dem_decodable(learned, f"the DEM learned from {cfg.learn_shots} shots", hint="give more --learn-shots")
        write_bytes(paths["learned"], str(learned).encode() + b"\n", what="learned DEM")
        log(f"learned the DEM from {cfg.learn_shots} shots in {seconds:.1f} s -> {paths['learned']}")
    for kind, exp in (("true", cfg.experiment), ("nominal", cfg.nominal)):
        write_bytes(paths[kind], str(exp.dem()).encode() + b"\n", what=f"{kind} DEM")
    return paths


def _train(cfg: ClosedLoopConfig, kind: str, dem_path: Path, init: str | None, out: Path, log) -> Path:
    run = out / f"train_{kind}"
    tcfg = TrainConfig(
        distance=cfg.distance, rounds=cfg.rounds, p=cfg.p, noise="depolarizing", dem_path=str(dem_path),
        preset=cfg.preset, init=init, samples=cfg.samples, lr=cfg.lr, seed=cfg.seed, threads=cfg.threads,
        val_shots=cfg.val_shots, val_every=max(1, cfg.samples // (4 * 256)), out=str(run),
    )
    resume = (run / "state.json").exists()
    t0 = time.perf_counter()
    train(tcfg, resume=resume, log=lambda m: None, progress=f"training on the {kind} DEM")
    log(f"trained on the {kind} DEM ({cfg.samples} samples) in {time.perf_counter() - t0:.0f} s -> {run}")
    return run / "last.safetensors"  # the same number of samples for all three


def recorded_config(cfg: ClosedLoopConfig) -> dict[str, Any]:
    """What ``out/config.json`` records: every field but :data:`FREE_FIELDS`, and the noise version."""
    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in FREE_FIELDS}
    return json.loads(json.dumps({**fields, "noise_version": cfg.experiment.noise_version}))


def _check_config(cfg: ClosedLoopConfig, out: Path) -> None:
    """Refuse a rerun into ``out`` whose arguments differ from those its files were made with;
    record them on a first run."""
    check_recorded_config(out, recorded_config(cfg), (*OUT_FILES, *(f"train_{k}" for k in KINDS)))


@dataclasses.dataclass(frozen=True)
class ClosedLoopResult:
    """What :func:`run_closed_loop` measured on one point.

    Attributes:
        config: the run's configuration.
        init_sha256: the warm start's sha256 (None: trained from scratch).
        models: each DEM kind's trained model, its sha256 (``"true"``, ``"learned"``, ``"nominal"``).
        results: ``"pymatching-<kind>"`` and ``"pipeline-<kind>"``, each on the same test shots.
        seconds: wall seconds, ``"total"`` and ``"evaluation"``.
    """

    config: ClosedLoopConfig
    init_sha256: str | None
    models: Mapping[str, str]
    results: Mapping[str, LerResult]
    seconds: Mapping[str, float]

    def gap_closed(self, decoder: str) -> float | None:
        """How much of the nominal-to-true gap in errors learning closes for ``decoder``
        (``"pymatching"`` or ``"pipeline"``): (nominal - learned) / (nominal - true); None when
        there is no gap to close: the true DEM made no fewer errors than the nominal one (the
        ratio would then say the opposite of what happened: a learned DEM worse than the nominal
        one closing "120%" of a negative gap)."""
        nominal, learned, true = (self.results[f"{decoder}-{k}"].errors for k in ("nominal", "learned", "true"))
        return None if nominal <= true else (nominal - learned) / (nominal - true)

    def to_json(self) -> dict[str, Any]:
        """The point as a JSON-ready dict (what ``results.json`` holds)."""
        def versus(a: str, b: str) -> dict[str, Any]:
            c = self.results[a].versus(self.results[b])
            return {"only_a": c.only_a, "only_b": c.only_b, "z": c.z, "ratio": c.errors_b / max(1, c.errors_a)}

        rows = {}
        for name, r in self.results.items():
            j = r.to_json()
            rows[name] = {k: j[k] for k in ("shots", "errors", "ler", "ler_low", "ler_high", "only_fails")}
        return {
            "config": dataclasses.asdict(self.config),
            "init_sha256": self.init_sha256,
            "models": dict(self.models),
            "experiment": self.config.experiment.json_metadata(),
            "results": rows,
            "gap_closed": {"matcher": self.gap_closed("pymatching"), "pipeline": self.gap_closed("pipeline")},
            "paired": {
                "pipeline_learned_vs_nominal": versus("pipeline-learned", "pipeline-nominal"),
                "pipeline_learned_vs_true": versus("pipeline-learned", "pipeline-true"),
                "pymatching_learned_vs_nominal": versus("pymatching-learned", "pymatching-nominal"),
            },
            "seconds": dict(self.seconds),
        }


def run_closed_loop(cfg: ClosedLoopConfig, *, log: Callable[[str], None] | None = None) -> ClosedLoopResult:
    """Learn, train three pre-decoders, decode the same fresh shots; returns (and writes into
    ``cfg.out``/results.json, :meth:`ClosedLoopResult.to_json`) every decoder's result on the same
    shots, and how much of the nominal-to-true gap learning closes for the matcher and for the pipeline.
    A rerun with the same arguments resumes; with others it is a :class:`qec.QecError` (see the module)."""
    if log is None:  # progress lines on stderr (stdout stays the caller's)
        def log(line: str) -> None:
            print(line, file=sys.stderr, flush=True)
    # A bad distance, p, hot spot, size or warm start fails before anything is written.
    cfg.experiment.circuit()
    out = Path(cfg.out)
    if cfg.init is not None:
        given = model_path(cfg.init)
        if not os.path.isfile(given):
            raise QecError(f"--init {cfg.init}: model file {given} does not exist")
        if os.path.realpath(given).startswith(os.path.realpath(out) + os.sep):
            raise QecError(f"--init {cfg.init} is inside --out {out}, whose files this run writes: "
                             f"copy it elsewhere first")
    make_folder(out)
    with folder_lock(out, f"closed loop {out}"):
        remove_stale_temporaries(out, OUT_FILES)
        _check_config(cfg, out)
        return _run(cfg, out, log)


def _run(cfg: ClosedLoopConfig, out: Path, log: Callable[[str], None]) -> ClosedLoopResult:
    t0 = time.perf_counter()
    dems = _write_dems(cfg, out, log)  # first: a DEM too thin to decode with stops the run before anything else
    init = pin_init(cfg.init, out)
    models = {kind: _train(cfg, kind, dems[kind], init, out, log) for kind in KINDS}
    custom: dict[str, Any] = {}
    for kind in KINDS:
        dem = read_dem(dems[kind])
        custom[f"pymatching-{kind}"] = WithDem(DECODERS["pymatching"], dem, f"{kind}.dem")
        custom[f"pipeline-{kind}"] = WithDem(ler_decoders(model=str(models[kind]))["predecoder"], dem, f"{kind}.dem")
    names = tuple(f"{d}-{k}" for d in ("pymatching", "pipeline") for k in KINDS)
    t_eval = time.perf_counter()
    results = collect_ler([LerTask(cfg.experiment, names)], max_shots=cfg.test_shots, seed=cfg.seed + 7_777,
                          custom_decoders=custom, progress=True)
    result = ClosedLoopResult(
        config=cfg,
        init_sha256=None if init is None else load_model(init).sha256,
        models={kind: load_model(models[kind]).sha256 for kind in KINDS},
        results={r.decoder: r for r in results},
        seconds={"total": round(time.perf_counter() - t0, 1), "evaluation": round(time.perf_counter() - t_eval, 1)},
    )
    write_bytes(out / "results.json", (json.dumps(result.to_json(), indent=1) + "\n").encode(), what="results")
    return result
