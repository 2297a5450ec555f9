"""Sliding-window decoding: one window over the whole experiment is global matching bit for bit, a
committed correction's flip is carried across the cut, streaming in chunks equals one batch, and
W = 2d, C = d decodes about as well as the global decoder."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pytest
import stim

from qec import MemoryExperiment, PyMatchingDecoder, QecError
from qec._decoding._dem_stream import SEPARATOR, dem_chunks, detector_times, observable_token
from qec._decoding._weighted_matcher import WeightedMatcher
from qec._decoding._window_decoder import WindowDecoder
from qec._decoding._window_plan import SlidingWindow

DATA = Path(__file__).resolve().parents[1] / "data" / "google_qec3v5"


@pytest.mark.parametrize("text, rounds, commit", [("20:10", 20, 10), (" 5 : 5 ", 5, 5), ("1:1", 1, 1)])
def test_window_parses(text, rounds, commit):
    w = SlidingWindow.parse(text)
    assert (w.rounds, w.commit) == (rounds, commit) and str(w) == f"{rounds}:{commit}"
    assert w.suffix == f"/w{rounds}:{commit}"


@pytest.mark.parametrize("text, says", [("10:20", "cannot be longer"), ("0:0", ">= 1"), ("5:0", ">= 1"),
                                        ("5", "give W:C"), ("a:b", "give W:C"), ("-1:1", "give W:C"),
                                        ("5:2:1", "give W:C"), ("", "give W:C")])
def test_bad_windows_are_refused_in_one_line(text, says):
    with pytest.raises(QecError) as e:
        SlidingWindow.parse(text)
    assert says in str(e.value) and "\n" not in str(e.value)


def test_dem_chunks_equal_stims_flattening():
    """Repeat blocks expanded lazily, chunk by chunk: the same errors and detector times as Stim's
    flattened model."""
    dem = MemoryExperiment(distance=3, rounds=25, p=0.01, noise="si1000").dem()
    assert any(isinstance(i, stim.DemRepeatBlock) for i in dem)
    chunks = list(dem_chunks(dem, chunk_errors=100))
    assert len(chunks) > 5
    tokens, probabilities = [], []
    for inst in dem.flattened():
        if inst.type == "error":
            probabilities.append(inst.args_copy()[0])
            tokens += [SEPARATOR if t.is_separator() else t.val if t.is_relative_detector_id()
                       else observable_token(t.val) for t in inst.targets_copy()]
    assert np.concatenate([c.targets for c in chunks]).tolist() == tokens
    assert np.concatenate([c.probabilities for c in chunks]).tolist() == probabilities
    coords = dem.get_detector_coordinates()
    assert detector_times(dem).tolist() == [coords[k][-1] for k in range(dem.num_detectors)]


def _dems():
    out = [(f"ours d={d} {b}", MemoryExperiment(distance=d, rounds=r, p=0.01, basis=b).dem())
           for d, r, b in ((3, 7, "x"), (5, 6, "z"))]
    out += [(Path(f).parent.name, stim.DetectorErrorModel.from_file(f))
            for f in sorted(glob.glob(str(DATA / "*" / "circuit_detector_error_model.dem")))]
    return out


@pytest.mark.parametrize("correlated", [False, True])
def test_one_window_over_the_whole_experiment_is_global_matching(correlated):
    """W >= the experiment's layers: one window, the model itself, predictions equal bit for bit
    (our circuits and Google's), bit-packed too."""
    dems = _dems()
    assert len(dems) >= 4
    for name, dem in dems:
        layers = len(np.unique(detector_times(dem)))
        events = np.random.default_rng(3).random((300, dem.num_detectors)) < 0.04
        want = PyMatchingDecoder(dem, correlated=correlated).decode_batch(events)
        for rounds in (layers, layers + 5):
            dec = WindowDecoder(dem, SlidingWindow(rounds, 1), correlated=correlated)
            assert len(dec.steps) == 1
            assert np.array_equal(dec.decode_batch(events), want), name
        packed = np.packbits(events, axis=1, bitorder="little")
        assert np.array_equal(dec.decode_batch(packed, bit_packed=True), np.packbits(want, axis=1, bitorder="little"))


def _chain_dem():
    """One stabilizer over four rounds (times 0..3): cheap measurement errors between rounds
    (p=0.1), costly data errors flipping the observable (p=0.001); the last round has no boundary."""
    lines = ["error(0.1) D0 D1", "error(0.1) D1 D2", "error(0.1) D2 D3"]
    lines += [f"error(0.001) D{t} L0" for t in range(4)]
    lines += [f"detector(0, {t}) D{t}" for t in range(4)]
    return stim.DetectorErrorModel("\n".join(lines))


def test_a_committed_correction_is_carried_across_the_cut():
    """Only D0 fires. Window 0 (layers 0-1, commits layer 0) matches D0 through D0-D1 to the open
    upper boundary (two cheap edges beat one data error) and commits D0-D1: no observable flip,
    and D1 is carried. Window 1 (layers 1-2) sees D1 fire and does the same one layer up (D2
    carried). The last window (layers 2-3) sees D2 fire and, with no boundary above, matches it
    with a data error: the observable flips, as global matching says. Without the carries the
    later windows would see nothing and predict no flip."""
    dem = _chain_dem()
    dec = WindowDecoder(dem, SlidingWindow(2, 1))
    assert [s.carry.array().tolist() for s in dec.steps] == [[1], [2], []]
    events = np.array([[1, 0, 0, 0]], dtype=bool)
    assert PyMatchingDecoder(dem).decode_batch(events).tolist() == [[True]]
    stream = dec.stream(1)
    stream.push(events[:, :2])  # window 0 is ready
    assert stream.next_step == 1 and stream.observables.tolist() == [[False]]
    assert stream._events[:, 1 - stream._lo].tolist() == [1]  # D1 flipped by the commit, D0's event committed
    stream.push(events[:, 2:])
    assert stream.result().tolist() == [[True]]
    assert dec.decode_batch(events).tolist() == [[True]]


def test_streaming_in_chunks_equals_one_batch():
    exp = MemoryExperiment(distance=3, rounds=21, p=0.01, basis="z")
    events = exp.circuit().compile_detector_sampler(seed=5).sample(500)
    dec = WindowDecoder(exp.dem(), SlidingWindow(6, 3), correlated=True)
    want = dec.decode_batch(events)
    rng = np.random.default_rng(1)
    stream = dec.stream(len(events))
    at = 0
    while at < events.shape[1]:
        k = int(rng.integers(1, 40))
        stream.push(events[:, at:at + k])
        at += k
    assert np.array_equal(stream.result(), want)
    assert stream._events.shape[1] < events.shape[1] // 2  # only the open windows' events are held
    with pytest.raises(QecError, match="have arrived"):
        dec.stream(1).result()


def test_the_bulk_windows_share_their_matchers():
    """Memory does not grow with the rounds: 10x the rounds, the same distinct windows."""
    counts = []
    for rounds in (30, 300):
        dec = WindowDecoder(MemoryExperiment(distance=3, rounds=rounds, p=0.01).dem(), SlidingWindow(6, 2))
        counts.append((len(dec.steps), len(dec.matchers)))
    assert counts == [(14, 4), (149, 4)]


def test_a_model_without_times_is_refused():
    with pytest.raises(QecError, match="detector 1 has no coordinates"):
        WindowDecoder(stim.DetectorErrorModel("error(0.1) D0 D1\ndetector(0, 0) D0"), SlidingWindow(2, 1))


@pytest.mark.parametrize("split, chunk", [(64, None), (3, 50)])
def test_weighted_windows(monkeypatch, split, chunk):
    """Per-shot weights: one window over everything is the global weighted matcher bit for bit;
    carried detectors beyond 64 observables are matched in groups with the same matching (a group
    size of 3 forces several groups); the columns planned in chunks by time (50 columns a chunk)
    keep their order within each window."""
    import qec._decoding._window_decoder as module

    monkeypatch.setattr(module, "OBSERVABLES_PER_MATCH", split)
    if chunk:
        monkeypatch.setattr(module, "CHUNK_ERRORS", chunk)
    from qec import CorrectionBasis, SpaceTimeLayout

    exp = MemoryExperiment(distance=3, rounds=8, p=0.01)
    layout = SpaceTimeLayout.from_circuit(exp.circuit())
    basis = CorrectionBasis.from_layout(layout)
    Hc = basis.H.tocsc()
    columns = np.flatnonzero(basis.valid.ravel() & (np.diff(Hc.indptr) > 0))
    H, L = Hc[:, columns], basis.L[None, columns].astype(np.uint8)
    rng = np.random.default_rng(2)
    events, obs = exp.circuit().compile_detector_sampler(seed=2).sample(300, separate_observables=True)
    logits = rng.normal(-4, 2, size=(300, basis.num_elements)).astype(np.float32)
    times = layout.detector_t.astype(float)
    want = WeightedMatcher(H, L).decode_batch_from_logits(events, logits, columns)
    whole = WindowDecoder.weighted(H, L, times, SlidingWindow(9, 9))
    assert np.array_equal(whole.decode_batch_from_logits(events, logits, columns), want)
    windowed = WindowDecoder.weighted(H, L, times, SlidingWindow(4, 2))
    if split == 3:
        assert any(len(m.groups) > 1 for m in windowed.matchers.values())
    got = windowed.decode_batch_from_logits(events, logits, columns)
    assert np.mean(got != want) < 0.05


@pytest.mark.slow
def test_windows_of_2d_committing_d_decode_about_as_well_as_global_matching():
    """d=5, 50 rounds, p=0.005, 4000 shots (fixed seed): W=2d, C=d differs from global matching on
    a few shots only; W=C=d (no buffer) costs many errors."""
    exp = MemoryExperiment(distance=5, rounds=50, p=0.005, basis="z")
    events, obs = exp.circuit().compile_detector_sampler(seed=7).sample(4000, separate_observables=True)
    fails = (PyMatchingDecoder(exp.dem()).decode_batch(events) != obs).any(axis=1)
    wide = (WindowDecoder(exp.dem(), SlidingWindow(10, 5)).decode_batch(events) != obs).any(axis=1)
    narrow = (WindowDecoder(exp.dem(), SlidingWindow(5, 5)).decode_batch(events) != obs).any(axis=1)
    assert fails.sum() > 500
    assert (wide & ~fails).sum() + (fails & ~wide).sum() < 20
    assert narrow.sum() > 1.15 * fails.sum()


def test_a_long_stream_holds_a_few_windows_of_events():
    """Pushed a round at a time, 601 rounds: the stream holds about two windows of events."""
    exp = MemoryExperiment(distance=3, rounds=600, p=0.01)
    dec = WindowDecoder(exp.dem(), SlidingWindow(6, 3))
    events = exp.circuit().compile_detector_sampler(seed=1).sample(2)
    stream = dec.stream(2)
    widths = []
    for t in range(len(dec.round_starts) - 1):
        stream.push(events[:, dec.round_starts[t]:dec.round_starts[t + 1]])
        widths.append(stream._events.shape[1])
    assert np.array_equal(stream.result(), dec.decode_batch(events))
    assert max(widths) <= 2 * 7 * 8  # two windows of 7 layers of 8 detectors
