"""qec decode: Stim sample formats in and out, streamed in chunks, bad input as one line."""

from pathlib import Path

import numpy as np
import pytest
import stim
import torch

import qec._data._shot_files as shot_files
from experiments.cli import main
from predecoder import PRESETS, ModelConfig, PreDecoderCNN, ler_decoders, save_model
from qec import MemoryExperiment, get_decoder


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("decode")
    exp = MemoryExperiment(distance=3, rounds=5, p=0.01, basis="z")
    circuit = exp.circuit()
    (root / "c.stim").write_text(str(circuit))
    torch.manual_seed(3)
    model = root / "m.safetensors"
    save_model(model, PreDecoderCNN(PRESETS["tiny"]), {"threshold": 0.05})
    dets = circuit.compile_detector_sampler(seed=11).sample(777)
    return root, circuit, dets, str(model)


def _read_predictions(path, fmt):
    return stim.read_shot_data_file(path=str(path), format=fmt, num_measurements=1)


@pytest.mark.parametrize("fmt", ["b8", "01", "r8"])
@pytest.mark.parametrize("out_fmt", ["b8", "01"])
def test_round_trip_matches_decode_batch(setup, fmt, out_fmt, monkeypatch, capsys):
    root, circuit, dets, model = setup
    monkeypatch.setattr(shot_files, "R8_BLOCK_BYTES", 13)  # many partial r8 blocks
    path = root / f"dets.{fmt}"
    stim.write_shot_data_file(data=dets, path=str(path), format=fmt, num_detectors=circuit.num_detectors)
    dem = circuit.detector_error_model(decompose_errors=True, approximate_disjoint_errors=True)
    for name, extra in (("pymatching", []), ("predecoder", ["--model", model, "--block-rounds", "2", "--threads", "1"])):
        out = root / f"pred_{name}_{fmt}.{out_fmt}"
        args = ["decode", "--circuit", str(root / "c.stim"), "--dets", str(path), "--dets-format", fmt,
                "--out", str(out), "--out-format", out_fmt, "--decoder", name, "--chunk-shots", "100"] + extra
        assert main(args) == 0
        assert "decoded 777 shots" in capsys.readouterr().err
        custom = ler_decoders(model=model) if name == "predecoder" else None
        expected = get_decoder(name, circuit, dem, custom).decode_batch(dets)
        np.testing.assert_array_equal(_read_predictions(out, out_fmt), expected)


def test_empty_file(setup, capsys):
    root, circuit, dets, model = setup
    (root / "empty.b8").write_bytes(b"")
    out = root / "empty_pred.01"
    assert main(["decode", "--circuit", str(root / "c.stim"), "--dets", str(root / "empty.b8"), "--out", str(out),
                 "--out-format", "01", "--decoder", "pymatching", "--quiet"]) == 0
    assert out.read_bytes() == b""


def _fails(args, capsys, match):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1, err
    return err


def test_bad_input(setup, tmp_path, capsys):
    root, circuit, dets, model = setup
    c = str(root / "c.stim")
    n = circuit.num_detectors
    good = tmp_path / "d.b8"
    stim.write_shot_data_file(data=dets[:10], path=str(good), format="b8", num_detectors=n)
    base = ["decode", "--circuit", c, "--out", str(tmp_path / "p.b8"), "--quiet"]
    # Sizes that do not fit the circuit.
    bad = tmp_path / "bad.b8"
    bad.write_bytes(good.read_bytes()[:-1])
    _fails(base + ["--dets", str(bad), "--decoder", "pymatching"], capsys, "not a whole number")
    # Padding bits past the last detector: a file written for more detectors.
    import io

    raw = np.zeros((3, 5), dtype=np.uint8)
    raw[1, -1] = 0x80
    with pytest.raises(shot_files.ShotFileError, match="padding bits"):
        list(shot_files.read_shots(io.BytesIO(raw.tobytes()), "b8", 37, 2, raw.size, "x.b8"))
    line = tmp_path / "bad.01"
    line.write_text("0" * n + "\n" + "0" * (n - 1) + "\n")
    _fails(base + ["--dets", str(line), "--dets-format", "01", "--decoder", "pymatching"], capsys, "line 2 has")
    r8 = tmp_path / "bad.r8"
    stim.write_shot_data_file(data=dets[:10], path=str(r8), format="r8", num_detectors=n)
    r8.write_bytes(r8.read_bytes()[:-1])
    _fails(base + ["--dets", str(r8), "--dets-format", "r8", "--decoder", "pymatching"], capsys, "r8")
    assert not (tmp_path / "p.b8").exists()  # no half-written output
    # A circuit the layout cannot map, a model that does not fit, an unknown device or format.
    rep = tmp_path / "rep.stim"
    rep_c = stim.Circuit.generated("repetition_code:memory", distance=3, rounds=2, after_clifford_depolarization=0.01)
    rep.write_text(str(rep_c))
    rep_d = tmp_path / "rep.b8"
    stim.write_shot_data_file(data=np.zeros((2, rep_c.num_detectors), dtype=bool), path=str(rep_d), format="b8",
                              num_detectors=rep_c.num_detectors)
    _fails(["decode", "--circuit", str(rep), "--dets", str(rep_d), "--out", str(tmp_path / "p.b8"), "--model", model],
           capsys, "not a rotated surface-code memory circuit")
    odd = tmp_path / "odd.safetensors"
    save_model(odd, PreDecoderCNN(ModelConfig((4,), (3, 3), in_channels=6)), {})
    _fails(base + ["--dets", str(good), "--model", str(odd)], capsys, "input / 4 output channels")
    _fails(base + ["--dets", str(good), "--model", model, "--device", "tpu"], capsys, "device")
    _fails(base + ["--dets", str(good), "--dets-format", "ptb64"], capsys, "unknown --dets-format")
    _fails(base + ["--dets", str(good), "--decoder", "pymatching", "--model", model], capsys, "only applies to the pre-decoder")
    _fails(base + ["--dets", str(tmp_path / "missing.b8")], capsys, "does not exist")
    junk = tmp_path / "junk.stim"
    junk.write_text("NOT_A_GATE 0\n")
    _fails(["decode", "--circuit", str(junk), "--dets", str(good), "--out", str(tmp_path / "p.b8")], capsys,
           "cannot read circuit")


# ---------------------------------------------------------------------------------------------
# Issue 30: faults, round three.

DATA = Path(__file__).resolve().parents[1] / "data" / "google_qec3v5"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "google-qec3v5"


def test_another_circuits_b8_file_is_refused(tmp_path, capsys):
    """Item 2: 2,000 shots of a d=3 circuit are 400 shots of a d=5 one in b8 (no header); `qec
    decode` "decoded 400 shots". Their detectors no longer fire together as errors make them."""
    c3, c5 = (MemoryExperiment(d, d, 0.003, "x").circuit() for d in (3, 5))
    (tmp_path / "c5.stim").write_text(str(c5))
    c3.compile_detector_sampler(seed=1).sample_write(2000, filepath=str(tmp_path / "d3.b8"), format="b8")
    assert (tmp_path / "d3.b8").stat().st_size % ((c5.num_detectors + 7) // 8) == 0  # its size fits d=5
    out = tmp_path / "p.b8"
    for decoder in ("pymatching", "predecoder"):
        _fails(["decode", "--circuit", str(tmp_path / "c5.stim"), "--dets", str(tmp_path / "d3.b8"), "--out", str(out),
                "--decoder", decoder], capsys, "does not look like shots of this circuit")
    assert not out.exists()
    # Its own circuit decodes it; --shots, when given, must be the file's count.
    (tmp_path / "c3.stim").write_text(str(c3))
    base = ["decode", "--circuit", str(tmp_path / "c3.stim"), "--dets", str(tmp_path / "d3.b8"), "--out", str(out),
            "--decoder", "pymatching", "--quiet"]
    assert main(base + ["--shots", "2000"]) == 0
    _fails(base + ["--shots", "400"], capsys, "holds 2000 shots of this circuit, not the 400 given (--shots)")
    c3.compile_detector_sampler(seed=1).sample_write(300, filepath=str(tmp_path / "d3.01"), format="01")
    _fails(base[:4] + [str(tmp_path / "d3.01"), "--dets-format", "01"] + base[5:] + ["--shots", "301"], capsys,
           "holds 300 shots")


def _sycamore_folders() -> list[Path]:
    return sorted(DATA.glob("surface_code_*_d3_*")) + sorted(SHARED.glob("surface_code_*"))


def test_genuine_hardware_shots_pass_the_check():
    """Item 2's check must never refuse real shots: every Sycamore folder here (the test slices,
    and the 36 shared folders when present) against its circuit DEM and its p_ij DEMs."""
    from qec import read_experiment_folder
    from qec._data._shot_checks import check_events_fit_dem

    folders = _sycamore_folders()
    assert len(folders) >= 3
    for path in folders:
        folder = read_experiment_folder(path)
        events = folder.events(20_000)
        for dem in (folder.circuit_dem(), folder.pij_dem("even"), folder.pij_dem("odd")):
            check_events_fit_dem(events, dem, folder.name, bit_packed=True)


def test_a_noiseless_circuit_is_one_line(tmp_path, capsys):
    """Item 9: decoding a folder's shots with its circuit_ideal.stim crashed inside PyMatching."""
    folder = DATA / "surface_code_bX_d3_r03_center_3_5"
    for decoder in ("pymatching", "pymatching-correlated", "predecoder", "predecoder-weighted"):
        err = _fails(["decode", "--circuit", str(folder / "circuit_ideal.stim"), "--dets",
                      str(folder / "detection_events.b8"), "--out", str(tmp_path / "p.b8"), "--decoder", decoder],
                     capsys, "has no error of positive probability")
        assert "circuit_noisy.stim" in err
    assert not (tmp_path / "p.b8").exists()


def test_the_decode_bar_counts_shots(setup, tmp_path, monkeypatch, capsys):
    """Item 18: the bar counted kB, not shots."""
    import qec._runtime._progress

    root, circuit, dets, model = setup
    path = tmp_path / "d.b8"
    stim.write_shot_data_file(data=dets, path=str(path), format="b8", num_detectors=circuit.num_detectors)
    monkeypatch.setattr(qec._runtime._progress, "LOG_PERIOD_S", 0.0)
    assert main(["decode", "--circuit", str(root / "c.stim"), "--dets", str(path), "--out", str(tmp_path / "p.b8"),
                 "--decoder", "pymatching", "--chunk-shots", "100"]) == 0
    err = capsys.readouterr().err
    assert "decoding: 100%" in err and "777/777" in err and " shots/s]" in err and "B/s" not in err, err


@pytest.mark.parametrize("command", ["decode", "ler", "hardware", "bench", "export"])
def test_model_help_names_every_shipped_model(command):
    """Item 18: `hardware --model` listed only "small, fast"; `decode --model` said "model file"."""
    from experiments.cli import build_parser
    from predecoder import SHIPPED_MODELS

    parser = build_parser(command)
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    help_text = next(a.help for a in sub._actions if a.dest == "model")
    assert all(name in help_text for name in SHIPPED_MODELS) and "file" in help_text


def test_decode_file_names_a_wrong_argument(setup, tmp_path):
    """Item 12: decode_file(..., num_detectors="24") was a TypeError from deep inside."""
    from qec import QecError, decode_file

    root, circuit, dets, model = setup
    path = tmp_path / "d.b8"
    stim.write_shot_data_file(data=dets, path=str(path), format="b8", num_detectors=circuit.num_detectors)
    dem = circuit.detector_error_model(decompose_errors=True, approximate_disjoint_errors=True)
    decoder = get_decoder("pymatching", circuit, dem)
    for kwargs, message in ((dict(num_detectors=str(circuit.num_detectors)), "num_detectors must be an integer >= 1"),
                            (dict(num_detectors=circuit.num_detectors, chunk_shots=0), "chunk_shots must be an integer"),
                            (dict(num_detectors=circuit.num_detectors, shots=-1), "shots must be an integer >= 0")):
        with pytest.raises(QecError, match=message):
            decode_file(decoder, path, tmp_path / "p.01", out_format="01", **kwargs)
    assert not (tmp_path / "p.01").exists()
    done = decode_file(decoder, path, tmp_path / "p.01", num_detectors=circuit.num_detectors, out_format="01",
                       shots=777, dem=dem)
    assert done.shots == 777
