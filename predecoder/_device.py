"""The one device resolver: every command and API that takes a torch device name goes through
:func:`resolve_device` (``cpu``, ``cuda``, ``cuda:N`` or ``auto``)."""

from __future__ import annotations

import torch

from qec import QecError


def parse_device(device: str | torch.device) -> torch.device | None:
    """The name checked, not the device: ``torch.device`` for 'cpu', 'cuda', 'cuda:N' (``None``
    for 'auto'), whether or not this machine has it (a cluster's workers may; ``qec ler
    --cluster``); ``QecError`` for an unknown name.

    >>> parse_device("cuda:1"), parse_device("auto")
    (device(type='cuda', index=1), None)
    """
    if isinstance(device, str) and device == "auto":
        return None
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise QecError(f"unknown device {device!r}; use cpu, cuda[:N] or auto") from None
    if dev.type not in ("cpu", "cuda"):
        raise QecError(f"unsupported device {device!r}; use cpu, cuda[:N] or auto")
    return dev


def resolve_device(device: str | torch.device) -> torch.device:
    """``torch.device`` for 'cpu', 'cuda', 'cuda:N' or 'auto'; ``QecError`` for unknown or unavailable."""
    dev = parse_device(device)
    if dev is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise QecError(f"device {device!r} requested but CUDA is not available")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise QecError(f"device {device!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    return dev
