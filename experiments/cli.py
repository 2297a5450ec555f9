"""The ``qec`` command-line tool: a thin shell over the packages' Python APIs.

Each subcommand lives in its own module of this package, named in ``SUBCOMMANDS``; the module
defines ``add_arguments(parser)`` and ``run(args) -> int``. A user mistake raises
:class:`UsageError`, or the packages raise a :class:`qec.QecError`: printed as one line on stderr
with exit status 2. Any other exception is a bug: it keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from qec import QecError
from qec._runtime._interrupts import Terminated, sigterm_as_interrupt

# subcommand -> (module in this package, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "ler": ("experiments.ler_command", "logical-error-rate sweep, decoders compared on the same shots"),
    "plot": ("experiments.plot_command", "plot LER against p from a sinter CSV"),
    "train": ("experiments.train_command", "train a pre-decoder for one code distance"),
    "decode": ("experiments.decode_command", "decode a file of detection events"),
    "bench": ("experiments.bench_command", "per-round latency and throughput benchmark"),
    "export": ("experiments.export_command", "export a pre-decoder to ONNX"),
    "models": ("experiments.models_command", "show a model file's preset, size and training record"),
    "learn-noise": ("experiments.learn_noise_command", "estimate a DEM from detection events"),
    "hardware": ("experiments.hardware_command",
                 "score decoders on hardware shots (experiment folders) against the folders' own predictions"),
    "closed-loop": ("experiments.closed_loop_command", "learn the DEM, train pre-decoders on it, compare"),
}


class UsageError(QecError):
    """A mistake in the command line: reported as one line, exit status 2."""


def refuse_unused_flags(given: dict[str, object], applies_to: str, chosen: str) -> None:
    """:class:`UsageError` naming every flag of ``given`` (flag -> value, None when not given)
    that was given although it applies only to ``applies_to``, which ``chosen`` does not include:
    a flag that would be silently ignored is a mistake."""
    unused = [flag for flag, value in given.items() if value is not None]
    if unused:
        raise UsageError(f"{', '.join(unused)} only appl{'ies' if len(unused) == 1 else 'y'} to {applies_to}, not {chosen}")


def _available(only: str | None = None) -> dict[str, object]:
    """Subcommand -> its module (None where ``only`` names another subcommand: its module is not
    imported, so ``qec ler`` does not pay for torch when it decodes without a network)."""
    out: dict[str, object] = {}
    for name, (module, _) in SUBCOMMANDS.items():
        if only is not None and name != only:
            out[name] = None
            continue
        try:
            out[name] = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
    return out


def version() -> str:
    """``qec --version``: the package's version and the weighted matcher's backend."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    from qec._decoding._weighted_matcher import describe_backend

    try:
        mine = installed("qec-predecoder")
    except PackageNotFoundError:  # a checkout on PYTHONPATH
        mine = "(not installed)"
    return f"qec-predecoder {mine}; predecoder-weighted's weighted matching: {describe_backend()}"


class _PrintVersion(argparse.Action):
    """``--version`` printed as one line (argparse's own action wraps it)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version())
        parser.exit()


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``qec`` parser; with ``only``, just that subcommand's arguments are built."""
    parser = argparse.ArgumentParser(
        prog="qec",
        description="Surface-code memory experiments, AI pre-decoding and noise learning.",
    )
    parser.add_argument("--version", action=_PrintVersion, help="print the version and the weighted matcher's backend")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module in _available(only).items():
        p = sub.add_parser(name, help=SUBCOMMANDS[name][1], description=SUBCOMMANDS[name][1])
        if module is not None:
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``qec`` with ``argv`` (default: the process's); returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv and argv[0] in SUBCOMMANDS else None)
    args = parser.parse_args(argv)
    try:
        with sigterm_as_interrupt():  # a scheduler's SIGTERM saves and cleans up like Ctrl-C
            return int(args._run(args) or 0)
    except QecError as e:  # UsageError included; anything else is a bug and keeps its traceback
        print(f"qec {args.command}: error: {e}", file=sys.stderr)
        return 2
    except MemoryError:  # sizes are estimated before building (qec._runtime._memory_estimate); this is the backstop
        print(f"qec {args.command}: error: out of memory: give smaller sizes", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `qec models | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0
    except OSError as e:  # unreadable, unwritable, disk full: one line, the file named
        where = f": {e.filename}" if getattr(e, "filename", None) else ""
        print(f"qec {args.command}: error: {e.strerror or e}{where}", file=sys.stderr)
        return 2
    except Terminated:
        print(f"qec {args.command}: terminated (SIGTERM)", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f"qec {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
