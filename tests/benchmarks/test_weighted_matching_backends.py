"""benchmarks/weighted_matching_backends.py: the compiled core and its fallback on the same neural
weights agree on every shot (fusion-blossom measured only where it is installed)."""

from __future__ import annotations

import json
import sys


def test_backends_agree_and_are_timed(benchmark_script, monkeypatch, capsys):
    module = benchmark_script("weighted_matching_backends")
    monkeypatch.setattr(sys, "argv", ["weighted_matching_backends.py", "--distance", "3", "--shots", "60",
                                      "--fallback-shots", "20", "--seed", "2"])
    module.main()
    out = json.loads(capsys.readouterr().out)
    backends = out["backends"]
    assert {"compiled", "rebuild"} <= set(backends) and out["fallback_shots"] == 20
    assert all(b["agree"] == 1.0 and b["us_per_shot"] > 0 for b in backends.values())
