"""Export a pre-decoder network to ONNX (ONNX Runtime, TensorRT).

The graph maps ``events`` float32 (batch, 4, T, H, W) to ``logits`` float32 (batch, 4, T, H, W);
batch, T, H and W are dynamic, so one file serves any distance, any number of rounds and the
block windows of :mod:`predecoder._blockwise`. The file's ``metadata_props`` carry what a runtime
needs to use it without this package: the layout of the input and output channels, the
correction threshold, the receptive field and halo, and the source model's sha256.
"""

from __future__ import annotations

import copy
import io
import json
import os
import warnings
from typing import Any

import numpy as np
import torch

from predecoder._model_file import LoadedModel, load_model
from qec import CORRECTION_CHANNELS, EVENT_CHANNELS, QecError
from qec.files import write_bytes

EXPORT_FORMATS = ("onnx",)
DEFAULT_OPSET = 17

LAYOUT_DESCRIPTION = {
    "input": {"name": "events", "shape": ["batch", 4, "T", "H", "W"], "dtype": "float32",
              "channels": list(EVENT_CHANNELS)},
    "output": {"name": "logits", "shape": ["batch", 4, "T", "H", "W"], "dtype": "float32",
               "channels": list(CORRECTION_CHANNELS)},
    "grid": "T = rounds + 1 time layers (detector coordinate t); H = W = d + 1; a measure qubit at Stim "
            "coordinates (x, y) sits at (row, col) = (y / 2, x / 2), a data qubit at ((y - 1) / 2, (x - 1) / 2); "
            "X and Z stabilizers share the grid as a checkerboard",
    "masks": "channels 2 and 3 are 1 where an X- / Z-type detector exists at (t, row, col), 0 elsewhere",
    "corrections": "apply basis element (channel, t, row, col) where logit >= threshold and the element exists",
    "blocks": "fully convolutional: blocks with a halo of `halo` sites, windows kept inside the volume, "
              "give the whole-volume output (see predecoder/blockwise.py)",
}


def onnx_metadata(model: LoadedModel) -> dict[str, str]:
    """The key -> string metadata written into the ONNX file."""
    cfg = model.config
    return {
        "qec_predecoder": json.dumps(model.metadata, sort_keys=True),
        "layout": json.dumps(LAYOUT_DESCRIPTION, sort_keys=True),
        "threshold": repr(model.threshold),
        "receptive_field": str(cfg.receptive_field),
        "halo": str(cfg.halo),
        "model_sha256": model.sha256,
    }


def onnx_bytes(model: LoadedModel, opset: int = DEFAULT_OPSET) -> bytes:
    """The network as a checked ONNX model (dynamic batch, T, H, W; layout and threshold in the
    metadata), serialized."""
    import onnx

    net = copy.deepcopy(model.network).to("cpu").float().eval()
    example = torch.zeros((1, 4, 3, 4, 4), dtype=torch.float32)
    dynamic = {0: "batch", 2: "T", 3: "H", 4: "W"}
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net, (example,), buf, dynamo=False, input_names=["events"], output_names=["logits"],
            dynamic_axes={"events": dynamic, "logits": dynamic}, opset_version=int(opset), do_constant_folding=True,
        )
    proto = onnx.load_from_string(buf.getvalue())
    for key, value in onnx_metadata(model).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "qec-predecoder"
    proto.doc_string = "qec pre-decoder: events (batch, 4, T, H, W) -> correction logits (batch, 4, T, H, W)"
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def export_onnx(model: LoadedModel | str | None, path: str | os.PathLike, opset: int = DEFAULT_OPSET) -> dict[str, Any]:
    """Write ``model`` (LoadedModel, shipped name or path; None = the shipped default) as ONNX to
    ``path``.

    Returns a summary dict (path, opset, sha256, threshold, receptive_field, parameters).
    """
    if not isinstance(model, LoadedModel):
        model = load_model(model)
    data = onnx_bytes(model, opset)
    path = os.fspath(path)
    write_bytes(path, data, inputs=(model.path,), what="--out")
    return {
        "path": path, "format": "onnx", "opset": int(opset), "sha256": model.sha256, "threshold": model.threshold,
        "receptive_field": model.config.receptive_field, "parameters": model.network.num_parameters(),
        "bytes": len(data),
    }


def verify_onnx(path: str | os.PathLike, model: LoadedModel, shape=(3, 4, 6, 6, 6), seed: int = 0) -> float:
    """Max |ONNX Runtime logits - PyTorch logits| on random 0/1 events of ``shape``."""
    import onnxruntime as ort

    rng = np.random.default_rng(seed)
    x = (rng.random(shape) < 0.2).astype(np.float32)
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    got = session.run(["logits"], {"events": x})[0]
    with torch.inference_mode():
        want = model.network.to("cpu")(torch.from_numpy(x)).numpy()
    return float(np.abs(got - want).max())


BACKENDS = ("torch", "onnxruntime")


class OnnxRuntimeNetwork:
    """The network as an ONNX Runtime session, a drop-in for the torch module in the pipeline's
    block loop: float (B, 4, T, H, W) tensor in, float32 logits tensor out on the same device.

    Providers: TensorRT, then CUDA, where installed and ``device`` is CUDA; else the CPU.
    ``ValueError`` with one line when onnxruntime (the ``[onnx]`` extra) is missing or a CUDA
    device has no CUDA provider.
    """

    def __init__(self, model: LoadedModel, device: torch.device, opset: int = DEFAULT_OPSET):
        try:
            import onnxruntime as ort
        except ImportError:
            raise QecError("backend onnxruntime needs onnxruntime: pip install 'qec-predecoder[onnx]'") from None
        available = ort.get_available_providers()
        if device.type == "cuda":
            providers = [p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if p in available]
            if not providers:
                raise QecError(f"backend onnxruntime on {device}: this onnxruntime has no CUDA provider "
                                 f"(has {', '.join(available)}); install onnxruntime-gpu")
        else:
            providers = ["CPUExecutionProvider"]
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, torch.get_num_threads())
        self.session = ort.InferenceSession(onnx_bytes(model, opset), sess_options=options, providers=providers)
        self.providers = self.session.get_providers()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self.session.run(["logits"], {"events": x.detach().float().cpu().numpy()})[0]
        return torch.from_numpy(out).to(x.device)
