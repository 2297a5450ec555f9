"""qec export: ONNX with dynamic batch and metadata; ONNX Runtime's logits equal PyTorch's."""

import json

import numpy as np
import pytest
import torch

from experiments.cli import main
from predecoder import ModelConfig, PreDecoderCNN, load_model, save_model
from predecoder._blockwise import blockwise_forward

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    torch.manual_seed(9)
    path = tmp_path_factory.mktemp("export") / "m.safetensors"
    save_model(path, PreDecoderCNN(ModelConfig((8, 8), (3, 5, 3))), {"threshold": 0.25, "distance": 5})
    return str(path)


def test_export_onnx_matches_pytorch(model_path, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", "--model", model_path, "--format", "onnx", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["max_abs_logit_difference"] < 1e-4
    model = load_model(model_path)
    proto = onnx.load(str(out))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert float(meta["threshold"]) == 0.25 and meta["model_sha256"] == model.sha256
    assert int(meta["receptive_field"]) == 9 and int(meta["halo"]) == 4
    layout = json.loads(meta["layout"])
    assert layout["input"]["channels"] == ["x_events", "z_events", "x_mask", "z_mask"]
    assert layout["output"]["channels"] == ["z_data", "x_data", "x_meas", "z_meas"]
    assert json.loads(meta["qec_predecoder"])["distance"] == 5
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for shape in [(1, 4, 6, 6, 6), (5, 4, 11, 8, 8), (2, 4, 3, 10, 10)]:  # dynamic batch and volume
        x = (rng.random(shape) < 0.2).astype(np.float32)
        got = session.run(["logits"], {"events": x})[0]
        with torch.inference_mode():
            want = model.network(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
    # The exported graph also serves block-wise inference unchanged.
    x = torch.from_numpy((rng.random((2, 4, 13, 8, 8)) < 0.2).astype(np.float32))

    def ort_forward(w):
        return torch.from_numpy(session.run(["logits"], {"events": w.numpy()})[0])

    with torch.inference_mode():
        torch.testing.assert_close(blockwise_forward(ort_forward, x, 4, (3, 5, None), block_batch=4),
                                   model.network(x), atol=1e-5, rtol=1e-5)


def test_export_bad_input(model_path, tmp_path, capsys):
    assert main(["export", "--model", model_path, "--format", "tflite", "--out", str(tmp_path / "m")]) == 2
    assert "unknown --format" in capsys.readouterr().err
    assert main(["export", "--model", str(tmp_path / "none.safetensors"), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["export", "--model", model_path, "--out", str(tmp_path / "no" / "m.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_onnxruntime_backend_decodes_as_torch(tmp_path):
    pytest.importorskip("onnxruntime")
    from predecoder import PipelineDecoder
    from qec import MemoryExperiment

    exp = MemoryExperiment(5, 4, 0.006, "x")
    circuit, dem = exp.circuit(), exp.dem()
    dets = circuit.compile_detector_sampler(seed=2).sample(400)
    torch_dec = PipelineDecoder(circuit, dem, model="small")
    ort_dec = PipelineDecoder(circuit, dem, model="small", backend="onnxruntime")
    assert ort_dec.network.providers == ["CPUExecutionProvider"] and ort_dec.metadata["backend"] == "onnxruntime"
    lt, lo = torch_dec.logits(dets), ort_dec.logits(dets)
    assert float((lt - lo).abs().max()) < 1e-3
    near = ((lt - torch_dec.threshold).abs() < 1e-3).flatten(1).any(dim=1).numpy()
    np.testing.assert_array_equal(ort_dec.decode_batch(dets)[~near], torch_dec.decode_batch(dets)[~near])
    with pytest.raises(ValueError, match="unknown backend"):
        PipelineDecoder(circuit, dem, model="small", backend="tensorflow")
