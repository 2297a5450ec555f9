"""benchmarks/_experiment_flags.py: the flags the simulated-experiment benchmarks share, in the
command line's grammar."""

from __future__ import annotations

import pytest


@pytest.fixture
def flags(benchmark_script):
    return benchmark_script("_experiment_flags")


def test_rounds_read_as_qec_ler_reads_them(flags, capsys):
    parser = flags.experiment_parser("A benchmark.")
    for given, rounds in (("d", 7), ("d-1", 6), ("d+2", 9), ("3", 3)):
        args = parser.parse_args(["--distance", "7", "--rounds", given])
        assert flags.resolve_rounds(args.rounds, args.distance) == rounds
    with pytest.raises(SystemExit):
        parser.parse_args(["--rounds", "dd"])
    assert "invalid rounds 'dd': give a number or d, d-1, d+2" in capsys.readouterr().err


def test_one_point_or_several(flags):
    from predecoder import DEFAULT_MODEL

    one = flags.experiment_parser("A benchmark.\n\nMore.").parse_args([])
    assert (one.distance, flags.resolve_rounds(one.rounds, 5), one.p, one.basis, one.model) == \
        (5, 5, 0.006, "x", DEFAULT_MODEL)  # qec ler's defaults
    assert flags.resolve_rounds(flags.experiment_parser("B.", rounds="d-1").parse_args([]).rounds, 5) == 4
    many = flags.experiment_parser("A benchmark.", many=True, decoder_flags=False)
    args = many.parse_args(["--distance", "3", "5", "--p", "0.001", "0.002"])
    assert (args.distance, args.p) == ([3, 5], [0.001, 0.002])
    assert not hasattr(args, "basis")
