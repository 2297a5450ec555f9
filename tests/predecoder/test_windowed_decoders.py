"""Windowed decoders by name (``NAME/wW:C``): PyMatching's and the pre-decoder's compositions; one
window over the whole experiment is the global composition bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from predecoder import ler_decoders
from qec import MemoryExperiment, QecError, SlidingWindow, get_decoder
from qec._decoding._decoders import WithDem, decoder_factory, windowed_names


@pytest.fixture(scope="module")
def shots():
    exp = MemoryExperiment(distance=3, rounds=9, p=0.006)
    events, obs = exp.circuit().compile_detector_sampler(seed=4).sample(1500, separate_observables=True)
    return exp, events, obs


@pytest.mark.parametrize("name", ["pymatching", "pymatching-correlated", "predecoder", "predecoder-correlated",
                                  "predecoder-weighted"])
def test_one_window_is_the_global_decoder_and_windows_are_close(shots, name):
    exp, events, obs = shots
    custom = ler_decoders()
    want = get_decoder(name, exp.circuit(), exp.dem(), custom).decode_batch(events)
    whole = get_decoder(f"{name}/w10:3", exp.circuit(), exp.dem(), custom)
    assert whole.metadata["window"] == "10:3"
    assert np.array_equal(whole.decode_batch(events), want)
    packed = np.packbits(events, axis=1, bitorder="little")
    assert np.array_equal(whole.decode_batch(packed, bit_packed=True), np.packbits(want, axis=1, bitorder="little"))
    windowed = get_decoder(f"{name}/w6:3", exp.circuit(), exp.dem(), custom).decode_batch(events)
    fails, wfails = (want != obs).any(axis=1), (windowed != obs).any(axis=1)
    assert fails.sum() > 20 and (fails != wfails).sum() <= max(3, fails.sum() // 10)


def test_window_names_and_refusals():
    assert windowed_names(["a", "b"], [SlidingWindow(4, 2)]) == ["a", "a/w4:2", "b", "b/w4:2"]
    factory = decoder_factory("pymatching-correlated/w8:4")
    assert factory.correlated and factory.window == SlidingWindow(8, 4)
    with pytest.raises(QecError, match="cannot be longer"):
        decoder_factory("pymatching/w4:8")
    with pytest.raises(QecError, match="unknown decoder 'nope'"):
        decoder_factory("nope/w4:2")

    class SinterLike:
        def compile_decoder_for_dem(self, dem):
            raise AssertionError

    with pytest.raises(QecError, match="'other' has no windowed form"):
        decoder_factory("other/w4:2", {"other": SinterLike()})
    dem = MemoryExperiment(distance=3, rounds=3, p=0.01).dem()
    inner = decoder_factory("pymatching/w4:2", {"pymatching": WithDem(decoder_factory("pymatching"), dem, "x")})
    assert isinstance(inner, WithDem) and inner.decoder.window == SlidingWindow(4, 2)


def test_windowed_and_global_compositions_share_one_network_pass(shots, monkeypatch):
    """The LER engine runs a network once per shot for all compositions of it, windowed or not
    (:func:`qec._collection._pairing.decode_same_shots`), and each gets what it gets alone."""
    from predecoder import PipelineDecoder
    from qec._collection._pairing import decode_same_shots

    exp, events, _ = shots
    custom = ler_decoders()
    names = ["predecoder-weighted", "predecoder-weighted/w6:3", "predecoder/w6:3", "pymatching"]
    decoders = {n: get_decoder(n, exp.circuit(), exp.dem(), custom) for n in names}
    calls = []
    original = PipelineDecoder.logits_from_grid
    monkeypatch.setattr(PipelineDecoder, "logits_from_grid", lambda self, x: calls.append(len(x)) or original(self, x))
    predictions, seconds = decode_same_shots(decoders, events, bit_packed=False)
    assert sum(calls) == len(events) and set(seconds) == set(names)
    for n in names:
        assert np.array_equal(predictions[n], decoders[n].decode_batch(events))


@pytest.mark.parametrize("name, block, threshold", [("predecoder", 2, None), ("predecoder-correlated", 3, None),
                                                    ("predecoder-weighted", 3, None), ("predecoder-weighted", 2, 1.0)])
def test_a_pipeline_streamed_a_round_at_a_time_equals_its_batch(shots, name, block, threshold):
    """The network once per block of rounds as they arrive (exact block-wise inference), the
    windows as their rounds' logits are known: the batch decoder's predictions, bit for bit, for
    all shots at once and for single shots."""
    from predecoder._stream_pipeline import PipelineStream

    exp, events, _ = shots
    events = events[:200]
    custom = ler_decoders(block_rounds=block, threshold=threshold)
    dec = get_decoder(f"{name}/w6:3", exp.circuit(), exp.dem(), custom)
    want = dec.decode_batch(events)
    stream = PipelineStream(dec, len(events))
    for t in range(stream.rounds):
        stream.push(events[:, stream.round_detectors(t)])
    assert np.array_equal(stream.result(), want)
    for k in range(3):
        one = PipelineStream(dec, 1)
        for t in range(one.rounds):
            one.push(events[k:k + 1, one.round_detectors(t)])
        assert np.array_equal(one.result(), want[k:k + 1])
    with pytest.raises(QecError, match="rounds have arrived"):
        PipelineStream(dec, 1).result()


def test_a_long_stream_holds_a_few_rounds_only():
    from predecoder._stream_pipeline import PipelineStream

    exp = MemoryExperiment(distance=3, rounds=80, p=0.006)
    events = exp.circuit().compile_detector_sampler(seed=2).sample(2)
    dec = get_decoder("predecoder-weighted/w6:3", exp.circuit(), exp.dem(), ler_decoders(block_rounds=3))
    stream = PipelineStream(dec, 2)
    for t in range(stream.rounds):
        stream.push(events[:, stream.round_detectors(t)])
    assert np.array_equal(stream.result(), dec.decode_batch(events))
    held = [b.data.shape[2] for b in (stream._input, stream._logits, stream._fixed)]
    assert max(held) <= 16 and stream.windows._events.shape[1] <= 16 * 8  # of 81 rounds, 8 detectors each
