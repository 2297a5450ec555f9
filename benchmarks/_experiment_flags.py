"""The flags every benchmark on a simulated memory experiment takes, declared once.

Benchmarks are scripts run as ``python benchmarks/NAME.py``; their folder is then on ``sys.path``
and they import this module as ``_experiment_flags``.
"""

from __future__ import annotations

import argparse


def experiment_parser(doc: str, *, rounds: str = "d-1", many: bool = False,
                      decoder_flags: bool = True) -> argparse.ArgumentParser:
    """A parser titled by ``doc``'s first line with ``--distance`` (5), ``--rounds`` (``rounds``:
    a number, ``d`` or ``d-1``; read it with :func:`rounds_for`) and ``--p`` (0.006); with
    ``decoder_flags``, ``--basis`` (x) and ``--model`` (small) too. ``many=True``: ``--distance`` and
    ``--p`` take several values (lists)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    several = {"nargs": "+"} if many else {}
    parser.add_argument("--distance", type=int, default=[5] if many else 5, **several)
    parser.add_argument("--rounds", default=rounds, help=f"noisy rounds: a number, d or d-1 (default {rounds})")
    parser.add_argument("--p", type=float, default=[0.006] if many else 0.006, **several)
    if decoder_flags:
        parser.add_argument("--basis", default="x", choices=("x", "z"))
        parser.add_argument("--model", default="small", help="a shipped model's name or a model file")
    return parser


def rounds_for(rounds: str, distance: int) -> int:
    """``--rounds``' value at ``distance``: ``"d"`` -> d, ``"d-1"`` -> d - 1, else the number."""
    if rounds in ("d", "d-1"):
        return distance - (rounds == "d-1")
    try:
        return int(rounds)
    except ValueError:
        raise SystemExit(f"error: --rounds takes a number, d or d-1, got {rounds!r}") from None
