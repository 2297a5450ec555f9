"""The ``--rounds`` grammar of the command line, shared with the benchmarks: a number, or relative to
the distance as ``d``, ``d-1``, ``d+2``.

Example:
    >>> [resolve_rounds(rounds_spec(text), 7) for text in ("d", "d-1", "d+2", "3")]
    [7, 6, 9, 3]
    >>> rounds_text(rounds_spec("d-1"))
    'd-1'
"""

from __future__ import annotations

import argparse

# --rounds' help; format it with the default ("d").
ROUNDS_HELP = ("noisy stabilizer rounds, Stim's convention: a number, or relative to the distance as d, d-1, d+2 "
               "(default: {}; the paper's n_rounds = d is d-1 here)")


def rounds_spec(text: str) -> tuple[str, int]:
    """``"7"`` -> ("abs", 7); ``"d"``, ``"d-1"``, ``"d+2"`` -> ("rel", offset)."""
    t = text.strip().replace(" ", "")
    try:
        if t == "d":
            return ("rel", 0)
        if t.startswith("d") and t[1:2] in "+-" and len(t) > 2:
            return ("rel", int(t[1:]))
        return ("abs", int(t))
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"invalid rounds {text!r}: give a number or d, d-1, d+2, ...")


def resolve_rounds(spec: tuple[str, int], distance: int) -> int:
    """Rounds of a ``--rounds`` spec at ``distance``."""
    kind, value = spec
    return distance + value if kind == "rel" else value


def rounds_text(spec: tuple[str, int]) -> str:
    """A ``--rounds`` spec as the command line writes it: ``"7"``, ``"d"``, ``"d-1"``."""
    kind, value = spec
    return str(value) if kind == "abs" else "d" if value == 0 else f"d{value:+d}"
