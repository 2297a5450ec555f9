"""The pipeline decoder: pre-decoder corrections, residual syndrome, global matching.

prediction = L * c  XOR  global_decoder(events XOR H * c),  c = (logits >= threshold) & valid.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import stim
import torch

from predecoder.model_file import LoadedModel, load_model
from qec.correction_basis import CorrectionBasis
from qec.decoders import PyMatchingDecoder, is_bit_packed
from qec.layout import SpaceTimeLayout

GLOBAL_DECODERS = ("pymatching", "pymatching-correlated")


def resolve_device(device: str | torch.device) -> torch.device:
    """``torch.device`` for 'cpu', 'cuda', 'cuda:N'; ``ValueError`` for unknown or unavailable."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use cpu or cuda[:N]") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda requested but CUDA is not available")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {device!r}; use cpu or cuda[:N]")
    return dev


class PipelineDecoder:
    """Pre-decoder + global decoder for one circuit.

    Args:
        circuit: a rotated surface-code memory circuit (layout from its detector coordinates).
        dem: the circuit's detector error model (the global decoder's weights).
        model: a :class:`LoadedModel` or a path (None: the shipped default).
        global_decoder: ``"pymatching"`` or ``"pymatching-correlated"``.
        threshold: logit threshold (None: the model's stored threshold).
        device: torch device for the network.
        batch_size: shots per forward pass.

    Example:
        >>> from qec import MemoryExperiment
        >>> exp = MemoryExperiment(distance=3, rounds=3, p=0.003)
        >>> dec = PipelineDecoder(exp.circuit(), exp.dem())  # doctest: +SKIP
        >>> dec.decode_batch(np.zeros((2, 24), dtype=bool)).shape  # doctest: +SKIP
        (2, 1)
    """

    def __init__(
        self,
        circuit: stim.Circuit,
        dem: stim.DetectorErrorModel,
        model: LoadedModel | str | None = None,
        global_decoder: str = "pymatching",
        threshold: float | None = None,
        device: str | torch.device = "cpu",
        batch_size: int = 256,
    ):
        if global_decoder not in GLOBAL_DECODERS:
            raise ValueError(f"unknown global decoder {global_decoder!r}; choose from {', '.join(GLOBAL_DECODERS)}")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.device = resolve_device(device)
        self.model = model if isinstance(model, LoadedModel) else load_model(model, device=self.device)
        self.model.network.to(self.device).eval()
        self.layout = SpaceTimeLayout.from_circuit(circuit)
        self.basis = CorrectionBasis.from_layout(self.layout)
        self.threshold = self.model.threshold if threshold is None else float(threshold)
        self.batch_size = int(batch_size)
        self.global_decoder = PyMatchingDecoder(dem, correlated=global_decoder.endswith("-correlated"))
        self.num_detectors = circuit.num_detectors
        self._valid = torch.as_tensor(self.basis.valid, device=self.device)
        self.metadata: dict[str, Any] = {"model": self.model.short_hash, "threshold": self.threshold}

    @torch.inference_mode()
    def logits(self, events: np.ndarray) -> torch.Tensor:
        """bool (shots, num_detectors) -> float32 logits (shots, 4, T, H, W) on the device."""
        grid = torch.from_numpy(self.layout.to_grid(events)).to(self.device)
        outs = [self.model.network(grid[i:i + self.batch_size]) for i in range(0, len(grid), self.batch_size)]
        return torch.cat(outs) if outs else torch.empty((0, *self.basis.shape), device=self.device)

    def corrections(self, events: np.ndarray) -> np.ndarray:
        """bool (shots, 4, T, H, W): the corrections the pre-decoder applies."""
        c = (self.logits(events) >= self.threshold) & self._valid
        return c.cpu().numpy()

    def decode_batch(self, dets: np.ndarray, return_residual: bool = False):
        """Detection events -> observable predictions.

        Args:
            dets: bool (shots, num_detectors), or Stim bit-packed uint8 (shots, ceil(N / 8)).
            return_residual: also return the residual events bool (shots, num_detectors).

        Returns:
            bool (shots, 1) predictions (bit-packed uint8 (shots, 1) for bit-packed input), and
            the residual when asked.
        """
        dets = np.asarray(dets)
        packed = is_bit_packed(dets, self.num_detectors)
        events = self.layout.unpack(dets) if packed else dets.astype(bool, copy=False)
        if events.ndim != 2 or events.shape[1] != self.num_detectors:
            raise ValueError(f"expected {self.num_detectors} detectors per shot, got shape {dets.shape}")
        c = self.corrections(events)
        residual = self.basis.residual_syndrome(events, c)
        flip = self.basis.observable_flip(c)
        prediction = flip ^ self.global_decoder.decode_batch(residual)
        if packed:
            prediction = np.packbits(prediction, axis=1, bitorder="little")
        return (prediction, residual) if return_residual else prediction


def make_decoder(name: str, circuit: stim.Circuit, dem: stim.DetectorErrorModel, **options: Any) -> PipelineDecoder:
    """Factory for the ``qec`` decoder registry: ``predecoder`` and ``predecoder-correlated``.

    Options: ``model`` (path), ``threshold``, ``device``, ``batch_size``.
    """
    allowed = {"model", "threshold", "device", "batch_size"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(f"decoder {name!r} takes no option {', '.join(unknown)}")
    global_decoder = "pymatching-correlated" if name.endswith("-correlated") else "pymatching"
    return PipelineDecoder(circuit, dem, global_decoder=global_decoder, **options)
