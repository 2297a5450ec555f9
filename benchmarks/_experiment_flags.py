"""The flags every benchmark on a simulated memory experiment takes, declared once, with the
command line's grammar (``--rounds`` as ``qec ler`` reads it, ``--model`` as every ``qec`` command
takes it).

Benchmarks are scripts run as ``python benchmarks/NAME.py``; their folder is then on ``sys.path``
and they import this module as ``_experiment_flags``.
"""

from __future__ import annotations

import argparse

from experiments.ler_command import MODEL_HELP
from experiments.rounds_flag import ROUNDS_HELP, resolve_rounds, rounds_spec
from predecoder import DEFAULT_MODEL

__all__ = ["experiment_parser", "resolve_rounds"]


def experiment_parser(doc: str, *, rounds: str = "d", many: bool = False,
                      decoder_flags: bool = True) -> argparse.ArgumentParser:
    """A parser titled by ``doc``'s first line with ``--distance`` (5), ``--rounds`` (default
    ``rounds``, ``qec ler``'s d unless a benchmark says otherwise; a spec: read it at a distance with
    :func:`resolve_rounds`) and ``--p`` (0.006); with ``decoder_flags``, ``--basis`` (x) and
    ``--model`` (the shipped default) too. ``many=True``: ``--distance`` and ``--p`` take several
    values (lists)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    several = {"nargs": "+"} if many else {}
    parser.add_argument("--distance", type=int, default=[5] if many else 5, **several)
    parser.add_argument("--rounds", type=rounds_spec, default=rounds_spec(rounds), help=ROUNDS_HELP.format(rounds))
    parser.add_argument("--p", type=float, default=[0.006] if many else 0.006, **several)
    if decoder_flags:
        parser.add_argument("--basis", default="x", choices=("x", "z"))
        parser.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    return parser
