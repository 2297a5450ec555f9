"""Shared fixtures. Torch-free: ``pytest tests/qec`` never loads torch (the pre-decoder's fixtures
import it when used)."""

import importlib.util
import signal
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _sigint_as_from_a_terminal():
    """The Ctrl-C tests send SIGINT to a command's process group and expect it to stop. A test run
    started as a background job of a non-interactive shell ignores SIGINT, and every child would
    inherit that and never stop: such a run handles SIGINT again (children then start with it at
    its default, as a terminal's foreground job does)."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Small convolutions on two busy cores are far slower with two threads than with one. Only
    where torch is loaded (a test module that imports it or the pre-decoder, loaded at collection):
    this fixture never loads it."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def make_model_file(tmp_path_factory):
    """make(seed, metadata, config=None: the tiny preset) -> path of a randomly initialized model file."""

    import torch

    from predecoder import PRESETS, PreDecoderCNN, save_model

    def make(seed: int, metadata: dict, config=None) -> str:
        config = PRESETS["tiny"] if config is None else config
        torch.manual_seed(seed)
        path = tmp_path_factory.mktemp("models") / f"model_{seed}.safetensors"
        save_model(path, PreDecoderCNN(config), metadata)
        return str(path)

    return make


@pytest.fixture(scope="session")
def make_experiment_folder(tmp_path_factory):
    """make(experiment, shots, seed, name=None) -> path of an experiment folder in Google's
    layout, simulated from one of our experiments: its circuit and DEM, shots sampled with Stim,
    and our PyMatching's predictions as ``obs_flips_predicted_by_pymatching.01``."""
    from qec.hardware import write_experiment_folder

    def make(experiment, shots: int, seed: int, name: str | None = None) -> str:
        return write_experiment_folder(tmp_path_factory.mktemp("folders"), experiment, shots, seed, name)

    return make


@pytest.fixture(scope="session")
def benchmark_script():
    """benchmark_script(name) -> the module ``benchmarks/<name>.py``, imported from its file
    (benchmarks are scripts, not a package; their folder goes on ``sys.path``, as when run)."""
    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    if str(folder) not in sys.path:
        sys.path.append(str(folder))

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
