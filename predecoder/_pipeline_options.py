"""How a pipeline decoder runs (:class:`PipelineOptions`): declared once, taken by
:class:`predecoder.PipelineDecoder` as keyword arguments and inherited as fields by
:class:`predecoder.PipelineDecoderFactory`."""

from __future__ import annotations

import dataclasses

DEFAULT_BLOCK_ROUNDS = 32
DEFAULT_BLOCK_BATCH = 64
PRECISIONS = ("fp32", "fp16", "bf16")


@dataclasses.dataclass(frozen=True)
class PipelineOptions:
    """The options of a :class:`predecoder.PipelineDecoder` (its keyword arguments but ``model``,
    ``layout`` and ``matching``).

    Attributes:
        global_decoder: ``"pymatching"`` or ``"pymatching-correlated"`` on the residual, or
            ``"pymatching-weighted"``: PyMatching on the events with the network's per-shot weights.
        threshold: logit threshold (None: the model's stored threshold; with
            ``"pymatching-weighted"``, None means no corrections are applied before matching).
        device: torch device for the network ('cpu', 'cuda', 'cuda:N', 'auto').
        batch_size: shots per inference chunk (capped so a chunk's grid stays small).
        block_rounds: block interior size in rounds (None: all rounds in one block).
        block_space: block interior size in rows and columns (None: the whole patch).
        block_batch: blocks (or whole volumes) per forward pass; bounds the network's memory.
        precision: ``"fp32"`` (default), ``"fp16"`` (CUDA only) or ``"bf16"``.
        compile: ``torch.compile`` the network (on CUDA with CUDA graphs); every forward pass
            then has one shape (the last block batch is padded).
        matching_workers: 0 (default): PyMatching in this process. N > 0: PyMatching in N worker
            processes (:class:`qec.decoding.ParallelMatcher`), and ``decode_batch`` overlaps them
            with the network: chunk k is matched while chunk k+1 is pre-decoded.
        backend: ``"torch"`` (default) or ``"onnxruntime"`` (the exported ONNX network in an ONNX
            Runtime session, CUDA/TensorRT providers on CUDA; fp32 only).
        weighted_backend: the per-shot weighted matcher's backend (``"auto"``, ``"compiled"`` or
            ``"rebuild"``: :class:`qec.decoding.WeightedMatcher`).
    """

    global_decoder: str = "pymatching"
    threshold: float | None = None
    device: str = "cpu"
    batch_size: int = 256
    block_rounds: int | None = DEFAULT_BLOCK_ROUNDS
    block_space: int | None = None
    block_batch: int = DEFAULT_BLOCK_BATCH
    precision: str = "fp32"
    compile: bool = False
    matching_workers: int = 0
    backend: str = "torch"
    weighted_backend: str = "auto"

    def options(self) -> dict:
        """The options as keyword arguments of :class:`predecoder.PipelineDecoder` (a subclass's
        own fields left out)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(PipelineOptions)}
