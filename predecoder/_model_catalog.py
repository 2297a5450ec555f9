"""The models shipped with the package, by name, and what was measured of them.

``--model`` everywhere (and ``load_model``, ``ler_decoders``, ``sinter_decoders``,
``train --init``) takes a shipped model's name or a file path: a name of :data:`SHIPPED_MODELS`
means the package's file (write ``./small`` for a file called ``small``). ``models/catalog.json``
holds, per shipped model, a line on what it is for and the paired LER ratios measured on fresh
shots (with the command that measured them), and for a device model its provenance (which
measured shots its training DEMs were estimated from) and what it measured on the device's shots
it never saw; the model files hold their training records.

Example:
    >>> sorted(SHIPPED_MODELS), DEFAULT_MODEL
    (['fast', 'small', 'sycamore-d3', 'sycamore-d3-v1', 'sycamore-d5', 'sycamore-d5-v1'], 'small')
    >>> model_path("fast").endswith("fast.safetensors")
    True
"""

from __future__ import annotations

import json
import os
from importlib import resources
from typing import Any

# name -> file in predecoder/models
# sycamore-d5, sycamore-d3: small fine-tuned on the noise learned from Google's Sycamore shots
# (d=5, and both d=3 patches; docs/hardware.md). A device model retrained keeps its name; the
# version it replaced stays reachable as NAME-v1.
SHIPPED_MODELS = {"small": "small.safetensors", "fast": "fast.safetensors",
                  "sycamore-d5": "sycamore-d5.safetensors", "sycamore-d3": "sycamore-d3.safetensors",
                  "sycamore-d3-v1": "sycamore-d3-v1.safetensors", "sycamore-d5-v1": "sycamore-d5-v1.safetensors"}
# What a CPU user gets without --model: the small model runs ~15x faster than fast on a CPU.
DEFAULT_MODEL = "small"


def _models_dir():
    return resources.files("predecoder") / "models"


def model_path(model: str | os.PathLike | None = None) -> str:
    """The file of a shipped model's name, or ``model`` itself as a path (None: the default)."""
    if model is None:
        model = DEFAULT_MODEL
    text = os.fspath(model)
    if text in SHIPPED_MODELS:
        return str(_models_dir() / SHIPPED_MODELS[text])
    return text


def default_model_path() -> str:
    """Path of the shipped default model (:data:`DEFAULT_MODEL`) inside the package."""
    return model_path(DEFAULT_MODEL)


def catalog_entries() -> dict[str, dict[str, Any]]:
    """``models/catalog.json``: shipped model name -> its entry (purpose, measurements, provenance)."""
    return json.loads((_models_dir() / "catalog.json").read_text())
