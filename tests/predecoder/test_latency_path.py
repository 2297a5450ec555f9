"""The batch-1 latency path: its static step (captured as a CUDA graph on a GPU, run eagerly
here) gives exactly the predictions of the ordinary pipeline, shot by shot and as a stream."""

from __future__ import annotations

import numpy as np
import pytest

from predecoder import PipelineDecoder
from predecoder._latency_path import LatencyPath
from qec import MemoryExperiment


@pytest.mark.parametrize("d, rounds, basis, name", [(3, 3, "x", "small"), (5, 4, "z", "small"),
                                                  pytest.param(5, 5, "x", "fast", marks=pytest.mark.slow)])
def test_static_path_decodes_exactly_as_the_pipeline(d, rounds, basis, name):
    exp = MemoryExperiment(d, rounds, 0.008, basis)
    circuit, dem = exp.circuit(), exp.dem()
    dets = circuit.compile_detector_sampler(seed=d + rounds).sample(150)
    dec = PipelineDecoder(circuit, dem, model=name)
    path = LatencyPath(dec)
    assert path.graph is None  # the CPU runs the same step eagerly
    packed = np.packbits(dets, axis=1, bitorder="little")
    want = dec.decode_batch(dets)
    got = np.array([path.decode_shot(p) for p in packed])
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.array(list(path.decode_stream(iter(packed)))), want)
    res, flip = path.predecode_shot(packed[0])
    want_res, _ = dec.residual_and_flip(dets[:1])
    np.testing.assert_array_equal(np.unpackbits(res, count=dec.num_detectors, bitorder="little").astype(bool),
                                  want_res[0])


def test_errors_are_clear():
    exp = MemoryExperiment(3, 40, 0.008, "x")
    dec = PipelineDecoder(exp.circuit(), exp.dem(), block_rounds=8)
    with pytest.raises(ValueError, match="one block per shot"):
        LatencyPath(dec)
    small = PipelineDecoder(MemoryExperiment(3, 3, 0.008).circuit(), MemoryExperiment(3, 3, 0.008).dem())
    with pytest.raises(ValueError, match="CUDA graph needs a CUDA device"):
        LatencyPath(small, graph=True)
