"""Model files: safetensors weights with the JSON metadata in the file's header.

Loading never unpickles. A file that is not safetensors, is corrupt, lacks our metadata or whose
tensors do not fit its config raises :class:`ModelFileError` naming the problem.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from predecoder._model import IN_CHANNELS, OUT_CHANNELS, ModelConfig, PreDecoderCNN
from predecoder._model_catalog import model_path
from qec import QecError
from qec.noise import UNRECORDED_NOISE_VERSION, noise_label, noise_version
from qec.files import write_bytes

METADATA_KEY = "qec_predecoder"
FORMAT_VERSION = 1


class ModelFileError(QecError):
    """A model file that cannot be used (not safetensors, corrupt, or not fitting)."""


@dataclasses.dataclass
class LoadedModel:
    """A network with its metadata.

    Attributes:
        network: the module, in eval mode.
        metadata: dict with at least ``config``, ``threshold``; training facts when present.
        sha256: hex digest of the file's bytes (the model's identity in results).
        path: where it was loaded from.
    """

    network: PreDecoderCNN
    metadata: dict[str, Any]
    sha256: str
    path: str

    @property
    def config(self) -> ModelConfig:
        return self.network.config

    @property
    def threshold(self) -> float:
        return float(self.metadata.get("threshold", 0.0))

    @property
    def short_hash(self) -> str:
        return self.sha256[:12]

    @property
    def training_noise(self) -> tuple[str, int] | None:
        """(noise model, noise version) the model was trained on; None when the file does not say
        (a model written before noise versions were recorded counts as version 1)."""
        noise = self.metadata.get("noise")
        if noise is None:
            return None
        return noise, noise_version(noise, self.metadata.get("noise_version", UNRECORDED_NOISE_VERSION))

    @property
    def fitted_on(self) -> list:
        """The measured shots the training DEMs were estimated from
        (:class:`qec.hardware.FittedOn` records; empty when none were)."""
        from qec.hardware import records_from_json

        return records_from_json(self.metadata.get("fitted_on"))

    def describe_training_noise(self) -> str:
        """One line: ``"depolarizing v2, d=5, p=0.006"``, or for a device model its DEM files
        (``"device DEMs r05.dem, r11.dem, d=5"``); ``"unknown"`` when not recorded."""
        tn = self.training_noise
        dems = self.metadata.get("training_dems")
        if tn is None and dems:
            names = ", ".join(os.path.basename(str(r.get("dem"))) for r in dems)
            d = self.metadata.get("distance")
            return f"device DEM{'s' if len(dems) > 1 else ''} {names}" + ("" if d is None else f", d={d}")
        if tn is None:
            return "unknown"
        parts = [noise_label(*tn)]
        if self.metadata.get("dem"):
            parts.append(f"DEM {self.metadata['dem']}")
        for key, name in (("distance", "d"), ("p", "p")):
            if self.metadata.get(key) is not None:
                parts.append(f"{name}={self.metadata[key]}")
        return ", ".join(parts)

    def summary(self) -> dict[str, Any]:
        """What a user asks of a model file: identity, size, training record, validation.

        Keys: path, sha256, preset, parameters, receptive_field, threshold, training_noise,
        noise, noise_version, distance, rounds, p, samples_seen, validation (a dict or None).
        """
        m = self.metadata
        tn = self.training_noise
        return {
            "path": self.path,
            "sha256": self.sha256,
            "preset": m.get("preset"),
            "parameters": self.network.num_parameters(),
            "receptive_field": self.config.receptive_field,
            "threshold": self.threshold,
            "training_noise": self.describe_training_noise(),
            "noise": None if tn is None else tn[0],
            "noise_version": None if tn is None else tn[1],
            "distance": m.get("distance"),
            "rounds": m.get("rounds"),
            "p": m.get("p"),
            "samples_seen": m.get("samples_seen"),
            "validation": m.get("validation"),
            "fitted_on": [r.to_json() for r in self.fitted_on],
        }

    def noise_mismatch(self, noise: str) -> str | None:
        """One line when the model was trained on another version of ``noise`` than the current
        one (e.g. the superseded depolarizing v1), else None."""
        tn = self.training_noise
        if tn is None or tn[0] != noise or tn[1] == noise_version(noise):
            return None
        return (
            f"note: model {self.short_hash} was trained on {noise_label(*tn)} noise; this experiment uses "
            f"{noise_label(noise, noise_version(noise))}"
        )


def project_version() -> str:
    """This package's installed version (recorded in model files), or ``unknown``."""
    try:
        from importlib.metadata import version

        return version("qec-predecoder")
    except Exception:  # pragma: no cover - not installed
        return "unknown"


def model_bytes(network: PreDecoderCNN, metadata: dict[str, Any]) -> bytes:
    """Serialize to safetensors bytes; ``metadata`` gets the config and format version added."""
    meta = dict(metadata)
    meta["config"] = network.config.to_dict()
    meta["receptive_field"] = network.config.receptive_field
    meta["format_version"] = FORMAT_VERSION
    meta.setdefault("threshold", 0.0)
    meta.setdefault("project_version", project_version())
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in network.state_dict().items()}
    return st_save(tensors, metadata={METADATA_KEY: json.dumps(meta, sort_keys=True)})


def save_model(path: str | os.PathLike, network: PreDecoderCNN, metadata: dict[str, Any]) -> str:
    """Write atomically (:func:`qec.files.write_bytes`) and return the file's sha256."""
    data = model_bytes(network, metadata)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, data, what="model file")
    return hashlib.sha256(data).hexdigest()


def _read_header_metadata(data: bytes, name: str) -> dict[str, Any]:
    if len(data) < 8:
        raise ModelFileError(f"{name} is not a safetensors file (too short)")
    n = int.from_bytes(data[:8], "little")
    if n <= 0 or 8 + n > len(data):
        raise ModelFileError(f"{name} is not a safetensors file (bad header length)")
    try:
        header = json.loads(data[8:8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"{name} is not a safetensors file (header is not JSON)") from None
    meta = header.get("__metadata__", {}) if isinstance(header, dict) else {}
    if METADATA_KEY not in meta:
        raise ModelFileError(f"{name} is a safetensors file but not a qec pre-decoder (no '{METADATA_KEY}' metadata)")
    try:
        out = json.loads(meta[METADATA_KEY])
    except json.JSONDecodeError:
        raise ModelFileError(f"{name}: pre-decoder metadata is not valid JSON") from None
    if not isinstance(out, dict) or "config" not in out:
        raise ModelFileError(f"{name}: pre-decoder metadata has no model config")
    if out.get("noise") is not None:
        try:
            noise_version(out["noise"], out.get("noise_version", UNRECORDED_NOISE_VERSION))
        except ValueError as e:
            raise ModelFileError(f"{name}: training noise: {e}") from None
    return out


def load_model_bytes(data: bytes, name: str = "model") -> tuple[PreDecoderCNN, dict[str, Any]]:
    """Parse safetensors bytes into a network (eval mode) and its metadata."""
    meta = _read_header_metadata(data, name)
    try:
        config = ModelConfig.from_dict(meta["config"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{name}: invalid model config ({e})") from None
    if config.in_channels != IN_CHANNELS or config.out_channels != OUT_CHANNELS:
        raise ModelFileError(
            f"{name}: the model has {config.in_channels} input / {config.out_channels} output channels; "
            f"the layout needs {IN_CHANNELS} / {OUT_CHANNELS}"
        )
    try:
        tensors = st_load(data)
    except (SafetensorError, Exception) as e:  # corrupt payloads raise various errors
        raise ModelFileError(f"{name} is corrupt: {e}") from None
    network = PreDecoderCNN(config)
    expected = network.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ModelFileError(f"{name}: tensors do not fit the config (missing {missing}, unexpected {extra})")
    for k, v in expected.items():
        if tuple(tensors[k].shape) != tuple(v.shape):
            raise ModelFileError(f"{name}: tensor {k} has shape {tuple(tensors[k].shape)}, config needs {tuple(v.shape)}")
        if not torch.isfinite(tensors[k]).all():
            raise ModelFileError(f"{name}: tensor {k} holds non-finite values")
    network.load_state_dict({k: t.to(torch.float32) for k, t in tensors.items()})
    network.eval()
    return network, meta


def load_model(path: str | os.PathLike | None = None, *, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a model file, or a shipped model by name (``"small"``, ``"fast"``; the default
    when ``path`` is None; see :mod:`predecoder._model_catalog`).

    Example:
        >>> m = load_model()
        >>> m.config.receptive_field, m.training_noise
        (9, ('depolarizing', 2))
    """
    path = model_path(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ModelFileError(f"model file {path} does not exist") from None
    except IsADirectoryError:
        raise ModelFileError(f"model path {path} is a directory, not a file") from None
    network, meta = load_model_bytes(data, name=path)
    network.to(device)
    return LoadedModel(network=network, metadata=meta, sha256=hashlib.sha256(data).hexdigest(), path=path)
