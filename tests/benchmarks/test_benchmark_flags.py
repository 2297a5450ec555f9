"""benchmarks/_experiment_flags.py: the flags the simulated-experiment benchmarks share."""

from __future__ import annotations

import pytest


@pytest.fixture
def flags(benchmark_script):
    return benchmark_script("_experiment_flags")


def test_rounds_read_as_a_number_d_or_d_minus_one(flags):
    assert [flags.rounds_for(r, 7) for r in ("d", "d-1", "3")] == [7, 6, 3]
    with pytest.raises(SystemExit, match="--rounds takes a number, d or d-1, got 'dd'"):
        flags.rounds_for("dd", 5)


def test_one_point_or_several(flags):
    one = flags.experiment_parser("A benchmark.\n\nMore.").parse_args([])
    assert (one.distance, one.rounds, one.p, one.basis, one.model) == (5, "d-1", 0.006, "x", "small")
    many = flags.experiment_parser("A benchmark.", many=True, rounds="d", decoder_flags=False)
    args = many.parse_args(["--distance", "3", "5", "--p", "0.001", "0.002"])
    assert (args.distance, args.rounds, args.p) == ([3, 5], "d", [0.001, 0.002])
    assert not hasattr(args, "basis")
