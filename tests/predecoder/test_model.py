"""Model shapes, receptive field, parameter counts, and safe model files."""

import json

import pytest
import torch

from predecoder import PRESETS, ModelConfig, ModelFileError, PreDecoderCNN, load_model, resolve_preset, save_model
from predecoder._model_file import METADATA_KEY


def test_paper_parameter_counts_and_receptive_fields():
    assert PreDecoderCNN(PRESETS["fast"]).num_parameters() == 912_772
    assert PreDecoderCNN(PRESETS["accurate"]).num_parameters() == 1_797_764
    assert PRESETS["fast"].receptive_field == 9
    assert PRESETS["accurate"].receptive_field == 13
    assert ModelConfig((8,), (5, 3)).receptive_field == 7


@pytest.mark.parametrize("shape", [(2, 4, 6, 6, 6), (1, 4, 3, 8, 8), (3, 4, 11, 10, 10)])
def test_output_shape_matches_input(shape):
    net = PreDecoderCNN(PRESETS["tiny"]).eval()
    out = net(torch.zeros(shape))
    assert out.shape == shape


def test_output_depends_only_on_receptive_field():
    torch.manual_seed(0)
    cfg = ModelConfig((8, 8), (3, 3, 3))  # R = 7, halo 3
    net = PreDecoderCNN(cfg).eval()
    x = torch.zeros(1, 4, 15, 15, 15)
    base = net(x)
    x2 = x.clone()
    x2[0, 0, 7, 7, 7] = 1.0
    diff = (net(x2) - base).abs().sum(dim=(0, 1)) > 0
    idx = diff.nonzero()
    assert idx.min().item() >= 7 - cfg.halo and idx.max().item() <= 7 + cfg.halo


def test_bad_configs_and_presets():
    with pytest.raises(ValueError, match="unknown preset"):
        resolve_preset("huge")
    with pytest.raises(ValueError):
        ModelConfig((8,), (3,))
    with pytest.raises(ValueError):
        ModelConfig((8,), (2, 3))


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(1)
    net = PreDecoderCNN(PRESETS["tiny"])
    path = tmp_path / "m.safetensors"
    digest = save_model(path, net, {"threshold": 1.5, "distance": 5})
    loaded = load_model(path)
    assert loaded.sha256 == digest and loaded.threshold == 1.5
    assert loaded.metadata["distance"] == 5 and loaded.metadata["receptive_field"] == 7
    x = torch.randn(2, 4, 4, 6, 6)
    with torch.no_grad():
        assert torch.allclose(loaded.network(x), net.eval()(x))


def test_bad_model_files_are_named_errors(tmp_path):
    p = tmp_path / "pickle.pt"
    torch.save(PreDecoderCNN(PRESETS["tiny"]).state_dict(), p)
    with pytest.raises(ModelFileError, match="not a safetensors"):
        load_model(p)
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "missing.safetensors")
    good = tmp_path / "good.safetensors"
    save_model(good, PreDecoderCNN(PRESETS["tiny"]), {})
    data = good.read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "trunc.safetensors")
    # A safetensors file that is not ours.
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, tmp_path / "other.safetensors")
    with pytest.raises(ModelFileError, match="not a qec pre-decoder"):
        load_model(tmp_path / "other.safetensors")
    # Metadata whose config does not fit the tensors.
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    meta = json.loads(header["__metadata__"][METADATA_KEY])
    meta["config"]["widths"] = [17, 16]
    header["__metadata__"][METADATA_KEY] = json.dumps(meta)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    (tmp_path / "mismatch.safetensors").write_bytes(len(h).to_bytes(8, "little") + h + data[8 + n:])
    with pytest.raises(ModelFileError, match="shape"):
        load_model(tmp_path / "mismatch.safetensors")
    # Wrong channel counts for the layout.
    save_model(tmp_path / "ch.safetensors", PreDecoderCNN(ModelConfig((4,), (3, 3), in_channels=2)), {})
    with pytest.raises(ModelFileError, match="channels"):
        load_model(tmp_path / "ch.safetensors")
