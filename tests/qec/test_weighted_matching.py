"""Matching with per-shot weights: the compiled matcher equals PyMatching rebuilt per shot, bit for bit."""

import os

import numpy as np
import pymatching
import pytest
import scipy.sparse

from qec._decoding import _weighted_matcher
from qec._decoding._weighted_matcher import WeightedMatcher, compiled_available

# Skipped where the core was not built (an install with QEC_COMPILED_MATCHER=optional), except in
# CI (CI=true), where a missing core fails them: CI never passes on the fallback alone.
needs_compiled = pytest.mark.skipif(not compiled_available() and not os.environ.get("CI"),
                                    reason="qec._decoding._weighted_matching was not built")


def per_shot_rebuild(H, L, events, weights):
    """The reference: one PyMatching graph per shot, as the probe that measured the idea did."""
    out = []
    for ev, w in zip(events, weights):
        m = pymatching.Matching.from_check_matrix(H, weights=w, faults_matrix=L, use_virtual_boundary_node=True)
        out.append(m.decode(ev.astype(np.uint8)))
    return np.array(out, dtype=bool)


def random_graph(rng, detectors=30, columns=90, observables=2):
    """A random check matrix with 1-2 detectors per column, many parallel columns (same detectors,
    different observables) and some empty columns, as a correction basis has."""
    rows, cols = [], []
    for c in range(columns):
        k = rng.choice([0, 1, 2, 2, 2], p=[0.05, 0.25, 0.7 / 3, 0.7 / 3, 0.7 / 3])
        if c >= 10 and rng.random() < 0.3:  # a parallel copy of an earlier column
            src = int(rng.integers(0, c))
            dets = [r for r, cc in zip(rows, cols) if cc == src]
        else:
            dets = rng.choice(detectors, size=k, replace=False).tolist()
        rows += dets
        cols += [c] * len(dets)
    H = scipy.sparse.csc_matrix((np.ones(len(rows), dtype=np.uint8), (rows, cols)), shape=(detectors, columns))
    L = scipy.sparse.csc_matrix((rng.random((observables, columns)) < 0.3).astype(np.uint8))
    return H, L


@needs_compiled
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_compiled_equals_per_shot_rebuild_on_random_graphs(seed):
    rng = np.random.default_rng(seed)
    H, L = random_graph(rng)
    shots = 200
    # Weights of both signs and repeated values (ties), a few integral shots (PyMatching then
    # skips its normalisation), and a few shots whose weights are all zero.
    weights = np.round(rng.normal(2.0, 3.0, size=(shots, H.shape[1])), 1)
    weights[::17] = np.round(weights[::17])
    weights[5] = 0.0
    events = rng.random((shots, H.shape[0])) < 0.15
    # Only syndromes that have a matching (every component here reaches the boundary or not).
    ok = []
    for b in range(shots):
        try:
            per_shot_rebuild(H, L, events[b:b + 1], weights[b:b + 1])
            ok.append(b)
        except ValueError:
            pass
    assert len(ok) > shots // 2
    events, weights = events[ok], weights[ok]
    expected = per_shot_rebuild(H, L, events, weights)
    got = WeightedMatcher(H, L, backend="compiled").decode_batch(events, weights)
    assert got.dtype == bool and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@needs_compiled
def test_float32_weights_and_logits_give_the_same_predictions():
    rng = np.random.default_rng(4)
    H, L = random_graph(rng, detectors=20, columns=50, observables=1)
    # A boundary column for every detector keeps every syndrome matchable.
    H = scipy.sparse.hstack([H, scipy.sparse.eye(20, dtype=np.uint8)]).tocsc()
    L = scipy.sparse.hstack([L, scipy.sparse.csc_matrix((1, 20), dtype=np.uint8)]).tocsc()
    logits = rng.normal(-3, 4, size=(100, 70)).astype(np.float32)
    events = rng.random((100, 20)) < 0.2
    m = WeightedMatcher(H, L)
    from_logits = m.decode_batch_from_logits(events, logits, np.arange(70), clip=6.0)
    expected = per_shot_rebuild(H, L, events, np.clip(-logits.astype(np.float64), -6.0, 6.0))
    np.testing.assert_array_equal(from_logits, expected)
    np.testing.assert_array_equal(m.decode_batch(events, np.clip(-logits, -6.0, 6.0)), expected)


def test_rebuild_backend_is_the_reference():
    H = scipy.sparse.csc_matrix(np.array([[1, 1, 0], [0, 1, 1]], dtype=np.uint8))
    L = scipy.sparse.csc_matrix(np.array([[1, 0, 0]], dtype=np.uint8))
    m = WeightedMatcher(H, L, backend="rebuild")
    assert m.backend == "rebuild"
    events = np.array([[1, 0], [1, 0], [0, 1]], dtype=bool)
    weights = np.array([[1.0, 5.0, 5.0], [9.0, 1.0, 1.0], [1.0, 1.0, -2.0]])
    np.testing.assert_array_equal(m.decode_batch(events, weights), per_shot_rebuild(H, L, events, weights))


@pytest.mark.parametrize("backend", ["auto", "rebuild"])
def test_bad_input_is_a_clear_error(backend):
    H = scipy.sparse.csc_matrix(np.array([[1, 1, 0], [0, 1, 1]], dtype=np.uint8))
    L = scipy.sparse.csc_matrix(np.array([[1, 0, 0]], dtype=np.uint8))
    m = WeightedMatcher(H, L, backend=backend)
    events = np.zeros((2, 2), dtype=bool)
    with pytest.raises(ValueError, match="NaN"):
        m.decode_batch(events, np.array([[1.0, np.nan, 1.0], [1.0, 1.0, 1.0]]))
    with pytest.raises(ValueError, match="weights must be"):
        m.decode_batch(events, np.ones((2, 4)))
    with pytest.raises(ValueError, match="events must be"):
        m.decode_batch(np.zeros((2, 3), dtype=bool), np.ones((2, 3)))
    with pytest.raises(ValueError, match="at most 2"):
        WeightedMatcher(scipy.sparse.csc_matrix(np.ones((3, 2), dtype=np.uint8)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="backend"):
        WeightedMatcher(H, L, backend="fast")


@needs_compiled
def test_the_compiled_core_is_the_runtimes_pymatching():
    """The core was compiled from the sources of the PyMatching release the runtime runs
    (pyproject.toml pins it, setup.py builds from that pin)."""
    from qec._decoding import _weighted_matching

    assert _weighted_matching.PYMATCHING_VERSION == pymatching.__version__


def test_a_missing_core_says_so_once_when_the_fallback_decodes(monkeypatch, capsys):
    monkeypatch.setattr(_weighted_matcher, "_weighted_matching", None)
    monkeypatch.setattr(_weighted_matcher, "_warned_fallback", False)
    assert _weighted_matcher.weighted_matching_backend() == "rebuild"
    assert "rebuild fallback" in _weighted_matcher.describe_backend()
    H = scipy.sparse.csc_matrix(np.array([[1, 1, 0], [0, 1, 1]], dtype=np.uint8))
    L = scipy.sparse.csc_matrix(np.array([[1, 0, 0]], dtype=np.uint8))
    m = WeightedMatcher(H, L)
    assert m.backend == "rebuild"
    events = np.array([[1, 0]], dtype=bool)
    for _ in range(3):
        m.decode_batch(events, np.ones((1, 3)))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rebuild fallback" in err and "not built" in err


def test_the_build_pins_pymatching_and_names_no_registry():
    """setup.py builds from the release pyproject.toml pins, with a pinned sdist hash, and fetches
    it through pip (no package registry's address anywhere in the build or the packages)."""
    import re
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    pin = next(d for d in deps if d.startswith("pymatching"))
    assert re.fullmatch(r"pymatching==[0-9.]+", pin), pin
    assert pin.split("==")[1] == pymatching.__version__
    setup = (root / "setup.py").read_text()
    assert f'"{pin.split("==")[1]}": "' in setup  # its sdist's sha256
    assert "urllib" not in setup
    texts = [setup, (root / "pyproject.toml").read_text()] + [
        p.read_text() for package in ("qec", "predecoder", "noise_learning", "experiments")
        for p in (root / package).rglob("*.py")]
    assert not [t for t in texts if re.search(r"pythonhosted\.org|pypi\.org", t)]


def test_qec_version_names_the_weighted_matchers_backend(capsys):
    from experiments.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("qec-predecoder ") and out.count("\n") == 1
    assert _weighted_matcher.describe_backend() in out
