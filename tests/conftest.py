"""Shared fixtures."""

import pytest
import torch

from predecoder import PRESETS, ModelConfig, PreDecoderCNN, save_model


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Small convolutions on two busy cores are far slower with two threads than with one."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def make_model_file(tmp_path_factory):
    """make(seed, metadata, config=tiny) -> path of a randomly initialized model file."""

    def make(seed: int, metadata: dict, config: ModelConfig = PRESETS["tiny"]) -> str:
        torch.manual_seed(seed)
        path = tmp_path_factory.mktemp("models") / f"model_{seed}.safetensors"
        save_model(path, PreDecoderCNN(config), metadata)
        return str(path)

    return make
