"""Block-wise inference equals whole-volume inference (logits within rounding, same corrections)."""

import numpy as np
import pytest
import torch

from predecoder._blockwise import blockwise_forward, make_plan, plan_axis
from predecoder._model import ModelConfig, PreDecoderCNN
from predecoder._model_file import LoadedModel
from predecoder._pipeline import PipelineDecoder
from qec import MemoryExperiment


def _net(widths=(8, 8), kernels=(3, 3, 3), seed=0):
    torch.manual_seed(seed)
    net = PreDecoderCNN(ModelConfig(widths, kernels)).eval()
    with torch.no_grad():  # larger weights so logits vary a lot across sites
        for p in net.parameters():
            p.mul_(2.0)
    return net


@pytest.mark.parametrize("size,block,halo", [(10, 3, 2), (10, 4, 0), (7, 7, 3), (5, 9, 2), (1, 1, 4), (1001, 32, 4),
                                             (12, 5, 6)])
def test_axis_plan_covers_and_respects_halo(size, block, halo):
    a = plan_axis(size, block, halo)
    covered = np.zeros(size, dtype=int)
    for s, w in zip(a.starts, a.window_starts):
        covered[s:s + a.interior] += 1
        assert 0 <= w <= s and s + a.interior <= w + a.window <= size
        assert w == 0 or s - w >= halo  # a window edge inside the volume is >= halo from the interior
        assert w + a.window == size or w + a.window - (s + a.interior) >= halo
    assert covered.min() >= 1
    pos = a.position_index()
    assert len(pos) == size and len(set(pos)) == size


SHAPES = [(3, 7, 6, 6), (2, 11, 4, 4), (2, 5, 10, 10), (1, 13, 7, 9)]
BLOCKS = [(1, 1, 1), (2, 3, 4), (3, None, None), (4, 4, 4), (5, 2, None), (None, None, None), (100, 3, 5)]


@pytest.mark.parametrize("kernels", [(3, 3, 3), (3, 5, 1, 3)])
@pytest.mark.parametrize("shape", SHAPES)
def test_blockwise_equals_whole_volume(shape, kernels):
    net = _net(widths=(6,) * (len(kernels) - 1), kernels=kernels)
    g = torch.Generator().manual_seed(sum(shape))
    B, T, H, W = shape
    x = (torch.rand((B, 4, T, H, W), generator=g) < 0.3).float()
    with torch.no_grad():
        ref = net(x)
        for block in BLOCKS:
            for bb in ((1, 1000) if block == (2, 3, 4) else (5,)):
                y = blockwise_forward(net, x, net.config.halo, block, block_batch=bb)
                assert y.shape == ref.shape
                torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-5)
                assert torch.equal(y >= 0, ref >= 0)


def test_too_small_halo_is_detected():
    """The equality test has teeth: a halo one short of the receptive radius breaks it."""
    net = _net()
    x = (torch.rand((2, 4, 9, 6, 6), generator=torch.Generator().manual_seed(3)) < 0.3).float()
    with torch.no_grad():
        ref = net(x)
        y = blockwise_forward(net, x, net.config.halo - 1, (2, 2, 2), block_batch=7)
    assert (y - ref).abs().max() > 1e-3


def test_pad_last_batch_and_empty():
    net = _net()
    x = torch.rand((3, 4, 6, 5, 5))
    with torch.no_grad():
        ref = net(x)
        y = blockwise_forward(net, x, net.config.halo, (4, 3, None), block_batch=4, pad_last_batch=True)
        torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-5)
        y = blockwise_forward(net, x, net.config.halo, (None, None, None), block_batch=2, pad_last_batch=True)
        torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-5)
        empty = blockwise_forward(net, x[:0], net.config.halo, (2, 2, 2))
    assert empty.shape == (0, 4, 6, 5, 5)


def test_plan_overhead():
    plan = make_plan((1001, 14, 14), 4, (32, None, None))
    assert plan.blocks_per_shot == 32 and plan.window == (40, 14, 14)
    assert plan.compute_overhead < 1.3
    assert make_plan((14, 14, 14), 4, (32, None, None)).is_whole_volume


def _loaded(net):
    return LoadedModel(network=net, metadata={"threshold": 0.0}, sha256="0" * 64, path="<memory>")


@pytest.mark.parametrize("d,rounds,basis", [(3, 3, "x"), pytest.param(5, 7, "z", marks=pytest.mark.slow),
                                           pytest.param(3, 1000, "x", marks=pytest.mark.slow)])
def test_pipeline_blockwise_equals_whole_volume(d, rounds, basis):
    exp = MemoryExperiment(distance=d, rounds=rounds, p=0.01, basis=basis)
    circuit, dem = exp.circuit(), exp.dem()
    net = _net(widths=(8, 8, 8), kernels=(3, 3, 3, 3))
    shots = 3 if rounds > 100 else 8
    events = circuit.compile_detector_sampler(seed=d + rounds).sample(shots)
    whole = PipelineDecoder(circuit, dem, model=_loaded(net), block_rounds=None)
    assert whole.plan.is_whole_volume
    ref_logits = whole.logits(events)
    ref_c = whole.corrections(events)
    assert 0 < ref_c.sum() < ref_c.size  # a non-trivial test
    ref_pred = whole.decode_batch(events)
    blocks = [(7, None, 4), (3, 2, 3), (64, None, 8)] if rounds > 100 else [(1, 1, 1), (2, 3, 5), (4, 3, 3)]
    for br, bs, bb in blocks:
        dec = PipelineDecoder(circuit, dem, model=_loaded(net), block_rounds=br, block_space=bs, block_batch=bb)
        assert not dec.plan.is_whole_volume
        torch.testing.assert_close(dec.logits(events), ref_logits, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(dec.corrections(events), ref_c)
        np.testing.assert_array_equal(dec.decode_batch(events), ref_pred)
