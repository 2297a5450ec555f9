"""Each package's front door: what ``__all__`` offers (a snapshot: a change to the public surface
is a deliberate edit here), that every name exists and is documented, and that the library's
defaults are the command line's."""

from __future__ import annotations

import importlib

import pytest

FRONT_DOORS = {
    "qec": {
        "BASES", "CORRECTION_CHANNELS", "DECODERS", "EVENT_CHANNELS", "GOOGLE_DECODERS", "NOISE_MODELS",
        "SAMPLING_METHODS", "CircuitNoise", "CircuitStructureError", "CorrectionBasis", "DecodedFile", "Decoder",
        "ErrorLabels", "ExperimentFolder", "ExperimentFolderError", "HardwareScores", "LabelError",
        "LabeledSampler", "LayoutError", "LerResult", "LerTask", "MemoryCircuitStructure", "MemoryExperiment",
        "PyMatchingDecoder", "QecError", "SpaceTimeLayout", "collect_ler", "decode_file", "dem_error_labels",
        "fit_ler", "get_decoder", "gf2_product", "hardware_columns", "memory_circuit", "paired_z",
        "read_csv_stats", "read_experiment_folder", "read_memory_structure", "scale_qubit_noise", "score_hardware",
        "SlidingWindow", "WindowDecoder", "WindowStream",
    },
    "predecoder": {
        "DEFAULT_MODEL", "PRESETS", "SHIPPED_MODELS", "LoadedModel", "ModelConfig", "ModelFileError",
        "PipelineDecoder", "PipelineDecoderFactory", "PreDecoderCNN", "TrainConfig", "TrainState", "ClosedLoopConfig", "ClosedLoopResult", "GLOBAL_DECODERS", "PREDECODER_NAMES",
        "default_model_path", "ler_decoders", "load_model", "model_path", "resolve_device", "resolve_preset",
        "save_model", "shipped_models", "ShippedModel", "sinter_decoders", "train", "run_closed_loop",
        "HardwareLoopConfig", "HardwareLoopResult", "run_hardware_loop", "WindowedPipelineDecoder",
    },
    "noise_learning": {
        "DEM_KINDS", "CorrelationEstimator", "DecodedShots", "DemStructure", "EstimatedModel", "LearnedDem",
        "LearnedDemComparison", "SlidingWindowEstimator", "compare_learned_dem", "estimate_dem",
        "folder_structure", "graph_edge_probabilities", "learn_folder_dem", "structure_from_circuit",
        "ESTIMATORS", "LikelihoodEstimator", "LikelihoodFit", "dem_log_likelihood", "learn_dem",
    },
    # qec's public modules for the packages built on it (predecoder, noise_learning).
    "qec.encoding": {
        "CORRECTION_CHANNELS", "EVENT_CHANNELS", "SAMPLING_METHODS", "CircuitStructureError", "CorrectionBasis",
        "ErrorLabels", "LabelError", "LabeledSampler", "LayoutError", "MemoryCircuitStructure", "SpaceTimeLayout",
        "check_shots", "dem_error_labels", "dem_error_table", "gf2_product", "pack_bits", "read_memory_structure",
        "unpack_bits",
    },
    "qec.decoding": {
        "DECODERS", "Decoder", "ParallelMatcher", "PyMatchingDecoder", "SlidingWindow", "WeightedMatcher",
        "WindowDecoder", "WindowStream", "WithDem", "compare_failures", "decoder_factory", "failure_vectors",
        "get_decoder", "weighted_matching_backend",
    },
    "qec.files": {
        "DemMismatchError", "as_dem", "check_dem_decodable", "check_dem_fits", "check_output_path", "folder_lock",
        "make_folder", "read_dem", "remove_stale_temporaries", "write_bytes",
    },
    "qec.hardware": {
        "CIRCUIT_DEM", "GOOGLE_DECODERS", "HALVES", "NOISY_CIRCUIT", "ExperimentFolder", "ExperimentFolderError",
        "FittedOn", "HardwareScores", "LearnedDemFiles", "dem_folder", "half_indices", "hardware_columns", "other_half", "provenance_header",
        "read_experiment_folder", "read_provenance", "records_from_json", "score_hardware", "write_experiment_folder",
    },
    "qec.noise": {
        "NOISE_MODELS", "UNRECORDED_NOISE_VERSION", "CircuitNoise", "fold_hadamards", "insert_circuit_noise",
        "noise_label", "noise_version", "scale_qubit_noise",
    },
    "qec.runtime": {
        "check_fits", "deferred_interrupts", "detectors", "path_text", "point_bytes", "progress_bar", "real_number",
        "whole_number", "worker_pool",
    },
}


@pytest.mark.parametrize("package", sorted(FRONT_DOORS))
def test_front_door_offers_exactly_its_snapshot(package):
    module = importlib.import_module(package)
    assert set(module.__all__) == FRONT_DOORS[package]
    assert len(module.__all__) == len(set(module.__all__))


@pytest.mark.parametrize("package", sorted(FRONT_DOORS))
def test_every_exported_name_exists_and_callables_are_documented(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        obj = getattr(module, name)
        if callable(obj):
            assert (obj.__doc__ or "").strip(), f"{package}.{name} has no docstring"


def test_user_errors_share_one_base_class():
    import noise_learning._comparison
    import predecoder
    import qec
    import qec._collection._ler_jobs

    for cls in (qec.LayoutError, qec.LabelError, qec.ExperimentFolderError, qec.CircuitStructureError,
                predecoder.ModelFileError, noise_learning._comparison.LearnedDemUndecodable,
                qec._collection._ler_jobs.WorkerSetupError):
        assert issubclass(cls, qec.QecError) and issubclass(cls, ValueError)


def _command_defaults(command: str) -> dict[str, object]:
    from experiments.cli import build_parser

    parser = build_parser(command)
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return {a.dest: a.default for a in sub._actions}


def test_library_defaults_are_the_command_lines():
    import dataclasses
    import inspect

    import predecoder
    import qec

    ler = _command_defaults("ler")
    exp = {f.name: f.default for f in dataclasses.fields(qec.MemoryExperiment)}
    assert [exp["basis"]] == ler["basis"] and [exp["noise"]] == ler["noise"]
    train = _command_defaults("train")
    for f in dataclasses.fields(predecoder.TrainConfig):
        if f.name in train and f.default is not dataclasses.MISSING:
            assert train[f.name] == f.default, f.name
    bench = _command_defaults("bench")
    pipeline = {f.name: f.default for f in dataclasses.fields(predecoder.PipelineDecoderFactory)}
    for name in ("block_rounds", "block_space", "block_batch", "precision", "backend", "matching_workers"):
        assert bench[name] == pipeline[name], name
    assert _command_defaults("decode")["chunk_shots"] == inspect.signature(qec.decode_file).parameters["chunk_shots"].default


def test_every_public_definition_has_a_docstring():
    """Modules, and their public functions, classes and methods (properties aside), in every package."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    missing = []
    for package in ("qec", "predecoder", "noise_learning", "experiments"):
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text())
            if path.name != "__init__.py" or package != "experiments":
                if not ast.get_docstring(tree):
                    missing.append(str(path.relative_to(root)))
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                    if not ast.get_docstring(node):
                        missing.append(f"{path.relative_to(root)}: {node.name}")
                    for sub in node.body if isinstance(node, ast.ClassDef) else ():
                        if (isinstance(sub, ast.FunctionDef) and not sub.name.startswith("_")
                                and not any(getattr(d, "id", None) == "property" for d in sub.decorator_list)
                                and not ast.get_docstring(sub)):
                            missing.append(f"{path.relative_to(root)}: {node.name}.{sub.name}")
    assert not missing, missing


@pytest.mark.parametrize("package", sorted(FRONT_DOORS))
def test_packages_declare_their_types(package):
    from pathlib import Path

    assert (Path(importlib.import_module(package).__file__).parent / "py.typed").is_file()


def test_command_modules_only_parse_and_print():
    """In the CLI package, a function over 30 lines declares or checks flags, or prints or plots:
    the work lives in the library packages."""
    import ast
    from pathlib import Path

    allowed = ("add_arguments", "check_", "print_", "plot_", "draw")
    long_workers = []
    for path in sorted((Path(__file__).resolve().parents[1] / "experiments").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 30:
                if not node.name.startswith(allowed):
                    long_workers.append(f"{path.name}:{node.lineno} {node.name}")
    assert long_workers == []


def test_the_command_line_and_benchmarks_take_public_names_from_the_front_doors():
    """A name a package or one of its public modules exports is imported from there, never from a
    private module (private modules are imported only for what no public one offers)."""
    import ast
    from pathlib import Path

    exported: dict[str, set[str]] = {}
    for door in FRONT_DOORS:
        exported.setdefault(door.split(".")[0], set()).update(importlib.import_module(door).__all__)
    root = Path(__file__).resolve().parents[1]
    by_the_back = []
    for folder in ("experiments", "benchmarks"):
        for path in sorted((root / folder).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and "._" in node.module:
                    package = node.module.split(".")[0]
                    names = [a.name for a in node.names if a.name in exported.get(package, ())]
                    if names:
                        by_the_back.append(f"{folder}/{path.name}:{node.lineno} {node.module}: {', '.join(names)}")
    assert by_the_back == []


def test_the_pre_decoders_names_and_a_plain_sweep_need_no_torch():
    """``predecoder.PREDECODER_NAMES`` and ``qec ler`` without a pre-decoder load no torch (its
    import alone takes seconds); the pre-decoder's names load it on first use."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import predecoder\n"
        "from experiments.cli import main\n"
        "assert main(['ler', '-d', '3', '--p', '0.01', '--max-shots', '200', '--decoders', 'pymatching']) == 0\n"
        "assert set(predecoder.PREDECODER_NAMES) == {'predecoder', 'predecoder-correlated', 'predecoder-weighted'}\n"
        "assert 'torch' not in sys.modules, 'torch was loaded'\n"
        "predecoder.PipelineDecoder\n"
        "assert 'torch' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
