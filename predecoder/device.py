"""The one device resolver: every command and API that takes a torch device name goes through
:func:`resolve_device` (``cpu``, ``cuda``, ``cuda:N`` or ``auto``)."""

from __future__ import annotations

import torch

from qec.errors import QecError


def resolve_device(device: str | torch.device) -> torch.device:
    """``torch.device`` for 'cpu', 'cuda', 'cuda:N' or 'auto'; ``ValueError`` for unknown or unavailable."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise QecError(f"unknown device {device!r}; use cpu, cuda[:N] or auto") from None
    if dev.type not in ("cpu", "cuda"):
        raise QecError(f"unsupported device {device!r}; use cpu, cuda[:N] or auto")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise QecError(f"device {device!r} requested but CUDA is not available")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise QecError(f"device {device!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    return dev
