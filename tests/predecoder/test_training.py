"""Training: loss falls, resume is exact, DDP with two gloo processes, clear errors."""

import json
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from predecoder import load_model
from predecoder._optim import Lion
from predecoder._training import TrainConfig, train

pytestmark = pytest.mark.slow  # training runs (and two-process DDP)


def _cfg(tmp_path, **kw):
    base = dict(distance=3, p=0.01, out=str(tmp_path), preset="tiny", batch=32, steps=8, val_shots=0,
                log_every=1000, threads=1, seed=3, warmup_steps=1)
    base.update(kw)
    return TrainConfig(**base)


def _weights(path):
    return {k: v.clone() for k, v in load_model(path).network.state_dict().items()}


def test_a_few_steps_reduce_the_loss(tmp_path):
    losses = []
    cfg = _cfg(tmp_path, steps=40, lr=3e-3, log_every=10)
    train(cfg, log=lambda m: losses.append(float(m.split("loss ")[1].split()[0])) if "loss" in m else None)
    assert len(losses) == 4
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("optimizer", ["adamw", "lion"])
def test_resume_reproduces_an_uninterrupted_run(tmp_path, optimizer):
    lr = 3e-3 if optimizer == "adamw" else 3e-4
    a, b = tmp_path / "a", tmp_path / "b"
    train(_cfg(a, optimizer=optimizer, lr=lr, steps=6), log=lambda m: None)
    train(_cfg(b, optimizer=optimizer, lr=lr, steps=6), log=lambda m: None, stop_at_step=3)
    assert json.loads((b / "state.json").read_text())["state"]["step"] == 3
    train(_cfg(b, optimizer=optimizer, lr=lr, steps=6), resume=True, log=lambda m: None)
    wa, wb = _weights(a / "last.safetensors"), _weights(b / "last.safetensors")
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_init_warm_starts_from_a_model_file(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    train(_cfg(a, steps=4, lr=3e-3), log=lambda m: None)
    train(_cfg(b, steps=4, init=str(a / "last.safetensors")), log=lambda m: None, stop_at_step=0)
    wa, wb = _weights(a / "last.safetensors"), _weights(b / "last.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    train(_cfg(b, steps=4, init=str(a / "last.safetensors")), resume=True, log=lambda m: None)
    meta = load_model(b / "last.safetensors").metadata
    assert meta["samples_this_run"] == 4 * 32
    assert meta["samples_seen"] == 8 * 32  # the warm start's samples count
    assert meta["init"]["samples_seen"] == 4 * 32 and len(meta["init"]["sha256"]) == 64


def test_init_rejects_another_preset_and_bad_files(tmp_path):
    train(_cfg(tmp_path / "a", steps=1), log=lambda m: None)
    with pytest.raises(ValueError, match="--init: .* does not fit the preset"):
        train(_cfg(tmp_path / "b", preset="small", init=str(tmp_path / "a" / "last.safetensors")), log=lambda m: None)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="--init"):
        train(_cfg(tmp_path / "c", init=str(junk)), log=lambda m: None)


def test_validation_keeps_best_checkpoint_with_threshold(tmp_path):
    state = train(_cfg(tmp_path, steps=4, val_shots=400, val_every=2), log=lambda m: None)
    assert state.last_validation["shots"] == 400
    best = load_model(tmp_path / "best.safetensors")
    assert best.metadata["threshold"] == state.best_threshold
    assert best.metadata["distance"] == 3 and best.metadata["samples_seen"] > 0
    rows = (tmp_path / "validation.jsonl").read_text().strip().splitlines()
    assert len(rows) == 2


def test_validation_scores_neural_weighted_matching_and_can_select_by_it(tmp_path):
    state = train(_cfg(tmp_path, steps=4, val_shots=400, val_every=2, select_by="weighted"), log=lambda m: None)
    rows = [json.loads(r) for r in (tmp_path / "validation.jsonl").read_text().strip().splitlines()]
    assert all(0 <= r["weighted_errors"] <= r["shots"] and r["weighted_ler"] == r["weighted_errors"] / r["shots"]
               for r in rows)
    # The best checkpoint is the one with the lowest neural-weighted validation LER.
    assert state.best_ler == min(r["weighted_ler"] for r in rows)
    with pytest.raises(ValueError, match="chose its best model by weighted"):
        train(_cfg(tmp_path, steps=6, val_shots=400, val_every=2), resume=True, log=lambda m: None)
    with pytest.raises(ValueError, match="select_by"):
        _cfg(tmp_path, select_by="lowest")


def test_impossible_settings_are_errors(tmp_path):
    with pytest.raises(ValueError, match="batch"):
        _cfg(tmp_path, batch=0)
    with pytest.raises(ValueError, match="preset"):
        _cfg(tmp_path, preset="enormous")
    with pytest.raises(ValueError, match="budget"):
        _cfg(tmp_path, steps=None)
    with pytest.raises(ValueError, match="distance"):
        _cfg(tmp_path, distance=4)
    with pytest.raises(ValueError, match="resume"):
        train(_cfg(tmp_path / "empty"), resume=True)
    with pytest.raises(ValueError, match="CUDA"):
        train(_cfg(tmp_path, device="cuda"))


def test_dem_file_is_used_and_checked(tmp_path):
    from qec import MemoryExperiment

    dem_path = tmp_path / "learned.dem"
    MemoryExperiment(3, 3, 0.02, "x").dem().to_file(dem_path)
    train(_cfg(tmp_path / "run", steps=2, dem_path=str(dem_path)), log=lambda m: None)
    wrong = tmp_path / "wrong.dem"
    MemoryExperiment(5, 5, 0.02, "x").dem().to_file(wrong)
    with pytest.raises(ValueError, match="detectors"):
        train(_cfg(tmp_path / "run2", steps=2, dem_path=str(wrong)), log=lambda m: None)


def test_lion_step_is_a_signed_update():
    p = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
    opt = Lion([p], lr=0.1)
    p.grad = torch.tensor([0.5, -2.0])
    opt.step()
    assert torch.allclose(p.detach(), torch.tensor([0.9, -0.9]))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, out, result_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        cfg = TrainConfig(distance=3, p=0.01, out=out, preset="tiny", batch=16, steps=3, val_shots=0,
                          threads=1, seed=5, log_every=1000)

        def dump(net):
            torch.save({k: v.detach().clone() for k, v in net.state_dict().items()},
                       os.path.join(result_dir, f"rank{rank}.pt"))

        state = train(cfg, log=lambda m: None, on_finish=dump)
        assert state.samples == 3 * 16 * world
    finally:
        dist.destroy_process_group()


def test_ddp_two_gloo_processes_stay_in_sync(tmp_path):
    out = str(tmp_path / "run")
    mp.spawn(_ddp_worker, args=(2, _free_port(), out, str(tmp_path)), nprocs=2, join=True)
    w0 = torch.load(tmp_path / "rank0.pt")
    w1 = torch.load(tmp_path / "rank1.pt")
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k
    saved = json.loads((tmp_path / "run" / "state.json").read_text())["state"]
    assert saved["samples"] == 3 * 16 * 2


def test_torch_sampler_training_path_runs_on_cpu(tmp_path):
    state = train(_cfg(tmp_path, steps=3, sampler="torch"), log=lambda m: None)
    assert state.step == 3 and (tmp_path / "last.safetensors").exists()


# ---------------------------------------------------------------------------------------------
# A device's circuits: Google's CZ circuit (tests/data slice) with its DEM, or a learned one.

GOOGLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "google_qec3v5")
R03 = os.path.join(GOOGLE, "surface_code_bX_d3_r03_center_3_5")
R05 = os.path.join(GOOGLE, "surface_code_bX_d3_r05_center_3_5")


def _device_cfg(tmp_path, circuits, dems, **kw):
    base = dict(distance=3, p=None, out=str(tmp_path), preset="tiny", batch=16, steps=4, val_shots=200,
                val_every=4, log_every=1000, threads=1, seed=5, warmup_steps=1, circuits=tuple(circuits),
                dems=tuple(dems), select_by="weighted")
    base.update(kw)
    return TrainConfig(**base)


def test_trains_on_a_device_circuit_and_records_its_dems(tmp_path):
    from predecoder._training_data import training_experiments
    from qec._hardware._dem_provenance import FittedOn, provenance_header
    from qec._encoding._layout import SpaceTimeLayout
    import stim

    # A learned DEM says which shots it came from; the model records it.
    learned = tmp_path / "learned.dem"
    dem_text = open(os.path.join(R05, "circuit_detector_error_model.dem")).read()
    learned.write_text(provenance_header([FittedOn("surface_code_bX_d3_r05_center_3_5", "even", 1000)]) + dem_text)
    circuits = [os.path.join(R03, "circuit_ideal.stim"), os.path.join(R05, "circuit_ideal.stim")]
    dems = [os.path.join(R03, "circuit_detector_error_model.dem"), str(learned)]
    cfg = _device_cfg(tmp_path / "run", circuits, dems)
    experiments = training_experiments(cfg)
    # The layout is the one qec hardware decodes Google's circuits with.
    for ex, c in zip(experiments, circuits):
        ref = SpaceTimeLayout.from_circuit(stim.Circuit.from_file(c))
        assert (ex.layout.shape, ex.layout.basis) == (ref.shape, ref.basis)
        assert (ex.layout.detector_flat_index == ref.detector_flat_index).all()
    assert [ex.layout.rounds for ex in experiments] == [3, 5]
    state = train(cfg, log=lambda m: None)
    assert state.step == 4 and state.last_validation["shots"] == 200
    m = load_model(tmp_path / "run" / "best.safetensors")
    assert m.metadata["rounds"] == [3, 5] and m.metadata["noise"] is None and m.metadata["p"] is None
    assert [r["dem"] for r in m.metadata["training_dems"]] == dems
    assert m.metadata["training_dems"][0]["fitted_on"] == []
    assert len(m.metadata["training_dems"][1]["dem_sha256"]) == 64
    assert m.fitted_on == [FittedOn("surface_code_bX_d3_r05_center_3_5", "even", 1000)]
    assert m.describe_training_noise() == "device DEMs circuit_detector_error_model.dem, learned.dem, d=3"
    # Resume checks the device data too.
    with pytest.raises(ValueError, match="circuits differs"):
        train(_device_cfg(tmp_path / "run", circuits[::-1], dems[::-1], steps=6), resume=True, log=lambda m: None)


def test_device_training_errors_are_clear(tmp_path):
    from predecoder._training_data import training_experiments

    c3 = os.path.join(R03, "circuit_ideal.stim")
    d3 = os.path.join(R03, "circuit_detector_error_model.dem")
    d5 = os.path.join(R05, "circuit_detector_error_model.dem")
    with pytest.raises(ValueError, match="one --dem per --circuit"):
        _device_cfg(tmp_path, [c3], [d3, d5])
    with pytest.raises(ValueError, match="leave out --rounds and --p"):
        _device_cfg(tmp_path, [c3], [d3], p=0.01)
    with pytest.raises(ValueError, match=r"--dem .*r05.* has 40 detectors, the circuit 24 \(--circuit .*r03"):
        training_experiments(_device_cfg(tmp_path, [c3], [d5]))
    with pytest.raises(ValueError, match="is a d=3 circuit, not d=5"):
        training_experiments(_device_cfg(tmp_path, [c3], [d3], distance=5))
    with pytest.raises(ValueError, match="does not exist"):
        training_experiments(_device_cfg(tmp_path, [str(tmp_path / "nope.stim")], [d3]))
    # Our circuit's DEM on a device: a device's DEM needs its circuit.
    with pytest.raises(ValueError, match="--circuit FILE"):
        training_experiments(_cfg(tmp_path, dem_path=d3))
    # Nothing was written by the failures.
    assert not any(tmp_path.iterdir())


def test_train_command_on_a_device_circuit(tmp_path, capsys):
    from experiments.cli import main

    c3 = os.path.join(R03, "circuit_ideal.stim")
    d3 = os.path.join(R03, "circuit_detector_error_model.dem")
    d5 = os.path.join(R05, "circuit_detector_error_model.dem")
    base = ["train", "--preset", "tiny", "--steps", "2", "--batch", "8", "--val-shots", "0", "--threads", "1"]
    assert main([*base, "--circuit", c3, "--dem", d3, "--out", str(tmp_path / "ok")]) == 0
    assert "trained 16 samples" in capsys.readouterr().out
    assert load_model(tmp_path / "ok" / "last.safetensors").metadata["distance"] == 3  # read from the circuit
    for argv, message in [
        ([*base, "--circuit", c3, "--out", str(tmp_path / "a")], "--circuit needs one --dem per circuit (1 circuits, 0 DEMs)"),
        ([*base, "--circuit", c3, "--dem", d3, "--p", "0.01", "--out", str(tmp_path / "a")], "leave out --p, --rounds"),
        ([*base, "--circuit", c3, "--dem", d3, "--distance", "5", "--out", str(tmp_path / "a")],
         "is a d=3 circuit, not --distance 5"),
        ([*base, "--circuit", c3, "--dem", d5, "--out", str(tmp_path / "a")], "has 40 detectors, the circuit 24"),
        ([*base, "--dem", d3, d5, "--distance", "3", "--p", "0.01", "--out", str(tmp_path / "a")],
         "several --dem files need their circuits"),
        ([*base, "--out", str(tmp_path / "a")], "give --distance and --p"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err


# ---------------------------------------------------------------------------------------------
# Issue 30: faults, round three.


@pytest.mark.parametrize("kwargs, message", [
    (dict(minutes=float("nan")), "minutes must be a finite number, got nan"),  # item 4: "trained 0 samples"
    (dict(pos_weight=float("nan")), "pos_weight must be a finite number, got nan"),  # item 4: non-finite weights
    (dict(pos_weight=float("inf")), "pos_weight must be a finite number, got inf"),
    (dict(lr=float("nan")), "lr must be a finite number, got nan"),  # item 11
    (dict(lr=float("inf")), "lr must be a finite number, got inf"),  # item 11: "a matching weight is NaN"
    (dict(seed=-1), "seed must be an integer >= 0, got -1"),  # item 11 (ler refuses it too)
    (dict(steps=1.5), "steps must be an integer, got 1.5"),  # item 6: ran 2 steps
    (dict(steps="2"), "steps must be an integer, got '2'"),  # item 12: TypeError
    (dict(out=None), "out must be a path"),  # item 12: AttributeError
    (dict(batch=True), "batch must be an integer, got True"),
])
def test_broken_numbers_are_refused_naming_the_argument(tmp_path, kwargs, message):
    from qec import QecError

    with pytest.raises(QecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _cfg(tmp_path / "never", **kwargs)
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("flags, message", [
    (["--minutes", "nan"], "minutes must be a finite number, got nan"),
    (["--pos-weight", "inf"], "pos_weight must be a finite number, got inf"),
    (["--lr", "nan"], "lr must be a finite number, got nan"),
    (["--lr", "inf"], "lr must be a finite number, got inf"),
    (["--seed", "-1"], "seed must be an integer >= 0, got -1"),
])
def test_train_command_refuses_broken_numbers_in_one_line(tmp_path, capsys, flags, message):
    from experiments.cli import main

    out = tmp_path / "run"
    argv = ["train", "--distance", "3", "--p", "0.01", "--preset", "tiny", "--steps", "2", "--val-shots", "0",
            "--threads", "1", "--out", str(out), *flags]
    if "--minutes" in flags:
        argv.remove("--steps"), argv.remove("2")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_a_dem_without_noise_is_refused(tmp_path, capsys):
    """Items 4 and 8: --dem with every probability 0 trained and reported "LER 0 vs 0"; a
    probability-1 error crashed in PyMatching."""
    import re

    from experiments.cli import main
    from qec import MemoryExperiment

    text = str(MemoryExperiment(3, 3, 0.01, "x").dem())
    for name, body, message in (("zero", re.sub(r"error\([^)]*\)", "error(0)", text), "no error of positive probability"),
                                ("one", re.sub(r"error\([^)]*\)", "error(1)", text, count=1), "of probability 1")):
        dem = tmp_path / f"{name}.dem"
        dem.write_text(body)
        out = tmp_path / f"run_{name}"
        assert main(["train", "--distance", "3", "--p", "0.01", "--dem", str(dem), "--preset", "tiny", "--steps", "2",
                     "--val-shots", "100", "--threads", "1", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"--dem {dem}" in err and message in err, err
        assert not out.exists()


def test_a_killed_runs_validation_rows_after_its_checkpoint_are_not_doubled(tmp_path):
    """Item 13: kill -9 between a validation's row and the checkpoint after it: the resumed run
    validated that step again and validation.jsonl held it twice."""
    import shutil

    run, saved = tmp_path / "run", tmp_path / "at_step_4"
    cfg = _cfg(run, steps=8, val_shots=200, val_every=4)
    train(cfg, log=lambda m: None, stop_at_step=4)
    shutil.copytree(run, saved)  # the checkpoint of step 4 (its row of step 4 included)
    train(cfg, resume=True, log=lambda m: None)  # validates step 8, then saves
    whole = (run / "validation.jsonl").read_text()
    for name in ("state.json", "last.safetensors", "optimizer.safetensors"):  # the kill came before that save
        shutil.copy(saved / name, run / name)
    with open(run / "validation.jsonl", "a") as f:
        f.write('{"step": 8, "predecoder_l')  # and a second kill cut a row
    logged = []
    train(cfg, resume=True, log=logged.append)
    steps = [json.loads(line)["step"] for line in (run / "validation.jsonl").read_text().splitlines()]
    assert steps == [4, 8]
    assert (run / "validation.jsonl").read_text() == whole  # exact resume: the same row again
    assert any("removed 2 row(s) of validation.jsonl" in m for m in logged), logged
