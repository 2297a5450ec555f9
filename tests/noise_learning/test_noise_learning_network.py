"""Tests of the learned noise estimator (layout, bounded output, save/load, DEM building)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qec import MemoryExperiment
from noise_learning import _network as net


def test_round_pair_layout_places_every_bulk_detector():
    for basis in ("x", "z"):
        c = MemoryExperiment(5, 5, 0.003, basis=basis).circuit()
        layout = net.RoundPairLayout.from_circuit(c)
        assert layout.grid == 6 and len(layout.layers) == 4
        assert layout.masks.sum() == 24 and np.all(layout.masks.sum(axis=0) <= 1)
        dets = np.zeros((1, c.num_detectors), dtype=bool)
        k = int(layout.det_index[7])
        dets[0, k] = True
        x = layout.tensor(dets)
        assert x.shape == (3, 8, 6, 6)
        assert float(x[:, :4].sum()) == (1 if layout.layer_pos[7] in (0, 3) else 2)
        # The event sits on its own stabilizer's mask.
        t, typ, r, col = layout.layer_pos[7], layout.type_pos[7], layout.row[7], layout.col[7]
        assert layout.masks[typ, r, col] == 1


def test_output_is_bounded_and_training_runs(tmp_path):
    torch.manual_seed(0)
    model, meta = net.train_noise_net(distance=3, n_bags=16, shots=8, epochs=1, bags_per_step=4,
                                      widths=(8, 8), log=lambda *_: None)
    x = torch.rand(10, 8, 4, 4) * 100
    logp = model(x, bags=2)
    assert logp.shape == (2, 25)
    assert torch.all(logp >= math.log(net.LOW) - 1e-5) and torch.all(logp <= math.log(net.HIGH) + 1e-5)
    path = tmp_path / "m"
    net.save_noise_net(model, meta, path)
    loaded, meta2 = net.load_noise_net(path)
    assert meta2["n_bags"] == 16
    torch.testing.assert_close(loaded(x, bags=2), model.eval()(x, bags=2))
    exp = MemoryExperiment(3, 3, 0.005)
    dets = exp.circuit().compile_detector_sampler(seed=0).sample(100, bit_packed=True)
    dem = net.learn_dem_with_network(exp, dets, bit_packed=True, model_path=path)
    assert dem.num_detectors == exp.dem().num_detectors


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        net.load_noise_net(tmp_path / "nothing")


@pytest.mark.slow
def test_cli_network_method_uses_the_shipped_model(capsys):
    import json

    from experiments.cli import main

    if not net.DEFAULT_NOISE_NET.with_suffix(".safetensors").exists():
        pytest.skip("no trained model shipped")
    rc = main(["learn-noise", "--distance", "5", "--p", "0.006", "--train-shots", "3000",
               "--test-shots", "2000", "--estimator", "network", "--json"])
    r = json.loads(capsys.readouterr().out)
    assert rc == 0 and r["method"] == "network"
    # Uniform noise of the training family: the learned matching graph is close to the true one.
    assert abs(r["edge_stats"]["rel_error_mean"]) < 0.25
