"""What a pre-decoder trains on: circuits, their DEMs and layouts, and labeled samplers.

Two sources:

- our own memory circuits (:class:`qec.MemoryExperiment`): both memory bases at the
  run's distance, rounds, noise model and strength; with ``dem_path`` (a DEM learned for one of
  them) the one basis whose circuit the DEM fits;
- a device's circuits (``circuits`` with ``dems``, paired by position): each circuit file gives
  the layout (read from the circuit's structure, so Google's CZ circuits work, exactly as
  ``qec hardware`` decodes them), its DEM file the noise the samples are drawn from (Google's
  device DEM, or one learned from a half of the measured shots). A DEM that does not fit its
  circuit, or holds an error the layout's correction basis cannot express, is a one-line
  :class:`qec._errors.QecError` naming both files.

Each :class:`TrainingExperiment` also carries its DEM's provenance (:mod:`qec._hardware._dem_provenance`:
which measured shots it was estimated from), which the trained model records.

Example:
    >>> from predecoder._train_config import TrainConfig
    >>> cfg = TrainConfig(distance=3, p=0.01, out="unused", steps=1)
    >>> [ex.layout.basis for ex in training_experiments(cfg)]
    ['x', 'z']
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import stim
import torch

from predecoder._train_config import TrainConfig
from qec import CorrectionBasis, LabelError, LabeledSampler, MemoryExperiment, QecError, SpaceTimeLayout
from qec.files import DemMismatchError, check_dem_decodable, check_dem_fits, read_dem
from qec.hardware import FittedOn, read_provenance

__all__ = ["TrainingExperiment", "data_metadata", "read_circuit", "training_experiments"]


class TrainingExperiment:
    """Layout, correction basis, labeled sampler and valid-element mask of one training circuit.

    Attributes:
        circuit, dem: the circuit and the DEM samples are drawn from.
        layout, correction_basis, sampler, valid: what training and validation use.
        name: a short description (for logs and model metadata).
        record: the model metadata's entry for it (circuit and DEM files, DEM hash, rounds).
        fitted_on: the DEM's provenance records (empty for a device model or our noise models).
    """

    def __init__(self, circuit: stim.Circuit, dem: stim.DetectorErrorModel, name: str,
                 layout: SpaceTimeLayout | None = None, record: dict[str, Any] | None = None,
                 fitted_on: list[FittedOn] | None = None):
        self.circuit = circuit
        self.dem = dem
        self.name = name
        self.layout = SpaceTimeLayout.from_circuit(circuit) if layout is None else layout
        self.correction_basis = CorrectionBasis.from_layout(self.layout)
        self.sampler = LabeledSampler(dem, self.correction_basis, seed=0)
        self.valid = torch.from_numpy(self.correction_basis.valid)
        self.record = dict(record or {})
        self.fitted_on = list(fitted_on or [])


def read_circuit(path: str, what: str = "--circuit") -> stim.Circuit:
    """A Stim circuit file; :class:`qec._errors.QecError` with one line for a missing or unreadable file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise QecError(f"{what} {path} does not exist")
    if os.path.isdir(path):
        raise QecError(f"{what} {path} is a directory")
    try:
        return stim.Circuit.from_file(path)
    except PermissionError:
        raise
    except Exception as e:  # Stim raises ValueError; undecodable bytes raise UnicodeDecodeError
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise QecError(f"{what} {path} is not a Stim circuit: {first}") from None


def circuit_distance(path: str) -> int:
    """The code distance of a memory circuit file (from its layout)."""
    return _layout(read_circuit(path), path).distance


def _layout(circuit: stim.Circuit, path: str) -> SpaceTimeLayout:
    try:
        return SpaceTimeLayout.from_circuit(circuit)
    except ValueError as e:  # LayoutError, CircuitStructureError
        raise QecError(f"--circuit {path}: {str(e).splitlines()[0]}") from None


def _dem_sha256(dem: stim.DetectorErrorModel) -> str:
    return hashlib.sha256(str(dem).encode()).hexdigest()


def device_experiment(circuit_path: str, dem_path: str, distance: int | None = None) -> TrainingExperiment:
    """A device circuit and the DEM to sample from, checked against each other."""
    circuit = read_circuit(circuit_path)
    layout = _layout(circuit, circuit_path)
    if distance is not None and layout.distance != distance:
        raise QecError(f"--circuit {circuit_path} is a d={layout.distance} circuit, not d={distance}")
    dem = read_dem(dem_path, what="--dem")
    check_dem_decodable(dem, f"--dem {dem_path}")
    try:
        check_dem_fits(dem, circuit, name=f"--dem {dem_path}")
    except DemMismatchError as e:
        raise QecError(f"{e} (--circuit {circuit_path})") from None
    fitted_on = read_provenance(dem_path)
    record = {"circuit": os.fspath(circuit_path), "dem": os.fspath(dem_path), "dem_sha256": _dem_sha256(dem),
              "distance": layout.distance, "rounds": layout.rounds, "errors": dem.num_errors,
              "fitted_on": [r.to_json() for r in fitted_on]}
    try:
        return TrainingExperiment(circuit, dem, name=f"{os.path.basename(dem_path)} on "
                                  f"{os.path.basename(circuit_path)}", layout=layout, record=record,
                                  fitted_on=fitted_on)
    except LabelError as e:
        raise QecError(f"--dem {dem_path}: the layout of --circuit {circuit_path} cannot label it: "
                         f"{str(e).splitlines()[0]}") from None


def _ours(cfg: TrainConfig, basis: str, dem: stim.DetectorErrorModel | None = None) -> TrainingExperiment:
    exp = MemoryExperiment(cfg.distance, cfg.effective_rounds, cfg.p, basis, cfg.noise)
    dem = exp.dem() if dem is None else dem
    return TrainingExperiment(exp.circuit(), dem, name=f"{basis} basis")


def training_experiments(cfg: TrainConfig) -> list[TrainingExperiment]:
    """The run's experiments (see the module docstring); training alternates between them."""
    if cfg.circuits:
        return [device_experiment(c, d, cfg.distance) for c, d in zip(cfg.circuits, cfg.dems)]
    if cfg.dem_path is None:
        return [_ours(cfg, b) for b in ("x", "z")]
    dem = read_dem(cfg.dem_path, what="--dem")
    check_dem_decodable(dem, f"--dem {cfg.dem_path}")
    errors = []
    for basis in ("x", "z"):
        circuit = MemoryExperiment(cfg.distance, cfg.effective_rounds, cfg.p, basis, cfg.noise).circuit()
        try:
            check_dem_fits(dem, circuit, name=f"--dem {cfg.dem_path}")
        except DemMismatchError as e:
            errors.append(f"{basis} basis: {e}")
            continue
        ex = _ours(cfg, basis, dem)
        ex.fitted_on = read_provenance(cfg.dem_path)
        return [ex]
    raise DemMismatchError(
        f"--dem {cfg.dem_path} fits neither memory basis of the d={cfg.distance}, rounds={cfg.effective_rounds} "
        f"circuit ({'; '.join(errors)}); a device's DEM needs its circuit: --circuit FILE"
    )


def data_metadata(experiments: list[TrainingExperiment]) -> dict[str, Any]:
    """What a model file records of its training data: ``fitted_on`` (every measured half of
    shots the DEMs were estimated from; decoders refuse to score those shots) and, for device
    circuits, ``training_dems`` (each circuit and DEM file, the DEM's hash and provenance)."""
    fitted: list[dict[str, Any]] = []
    for ex in experiments:
        for r in ex.fitted_on:
            if r.to_json() not in fitted:
                fitted.append(r.to_json())
    out: dict[str, Any] = {"fitted_on": fitted}
    records = [ex.record for ex in experiments if ex.record]
    if records:
        out["training_dems"] = records
    return out
