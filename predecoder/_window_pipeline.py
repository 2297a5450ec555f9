"""A pre-decoder composition matched in sliding windows (:mod:`qec._decoding._window_decoder`).

The network side is the pipeline's own (block-wise, exact: each round's logits depend on the
rounds within the receptive radius only, so they are the same whether the network runs over the
whole volume or block by block as the rounds arrive, :mod:`predecoder._stream_pipeline`); only the
matching is windowed:

- ``predecoder``, ``predecoder-correlated``: the residual events (events XOR H*c) matched in
  windows of the DEM, plus the pre-decoder's flip L*c;
- ``predecoder-weighted``: the events matched in windows of the correction basis's graph, each
  window's edges weighted by the network's logits (a finite threshold applies its corrections
  first, as the global composition does).

Example:
    >>> import numpy as np
    >>> from qec import MemoryExperiment, SlidingWindow
    >>> from predecoder import PipelineDecoder
    >>> exp = MemoryExperiment(distance=3, rounds=12, p=0.003)
    >>> pipe = PipelineDecoder(exp.circuit(), exp.dem(), global_decoder="pymatching-weighted", matching=False)
    >>> dec = WindowedPipelineDecoder(pipe, exp.dem(), SlidingWindow(6, 3))
    >>> dec.decode_batch(np.zeros((2, exp.circuit().num_detectors), dtype=bool)).tolist(), dec.metadata["window"]
    ([[False], [False]], '6:3')
"""

from __future__ import annotations

from typing import Any

import numpy as np
import stim
import torch

from predecoder._pipeline import MAX_WEIGHT, PipelineDecoder
from qec import SlidingWindow, WindowDecoder


class WindowedPipelineDecoder:
    """A :class:`PipelineDecoder`'s network, then matching in sliding windows.

    Args:
        pipeline: the composition (its global matchers are not used; build it with
            ``matching=False`` to skip them).
        dem: the circuit's DEM (the residual's matching weights).
        window: the windows' rounds and commit region.
        weighted_backend: the weighted matcher's backend (``predecoder-weighted``).

    ``decode_batch(events, bit_packed=False)`` as :meth:`PipelineDecoder.decode_batch`.
    """

    def __init__(self, pipeline: PipelineDecoder, dem: stim.DetectorErrorModel, window: SlidingWindow, *,
                 weighted_backend: str = "auto"):
        self.pipeline = pipeline
        self.window = window
        self.num_detectors = pipeline.num_detectors
        if pipeline.weighted:
            basis, columns = pipeline.correction_basis, pipeline.weight_index
            self.matcher = WindowDecoder.weighted(
                basis.H.tocsc()[:, columns], basis.L[None, columns].astype(np.uint8),
                pipeline.layout.detector_t.astype(np.float64), window, backend=weighted_backend, clip=MAX_WEIGHT)
        else:
            self.matcher = WindowDecoder(dem, window, correlated=pipeline.global_decoder_name.endswith("-correlated"))
        self.metadata: dict[str, Any] = {**pipeline.metadata, "window": str(window)}
        self.fitted_on = pipeline.fitted_on

    @property
    def network_key(self) -> tuple:
        """The network side's :attr:`PipelineDecoder.network_key`: windowed and global compositions
        of one network share its pass (:meth:`PipelineDecoder.decode_together`)."""
        return self.pipeline.network_key

    decode_together = staticmethod(PipelineDecoder.decode_together)

    @torch.inference_mode()
    def decode_from_logits(self, events: np.ndarray, logits: torch.Tensor) -> np.ndarray:
        """bool (k, num_detectors) events and their logits (k, 4, T, H, W) -> bool (k, 1)."""
        p = self.pipeline
        events = np.asarray(events, dtype=bool)
        if p.weighted:
            events, flip, flat = p.weighted_inputs(events, logits)
            return flip ^ self.matcher.decode_batch_from_logits(events, flat, p.weight_index)
        residual, flip = p.apply_corrections(torch.as_tensor(events).to(p.device), p.corrections_from_logits(logits))
        return flip.cpu().numpy() ^ self.matcher.decode_batch(residual.cpu().numpy())

    def decode_batch(self, events: np.ndarray, bit_packed: bool = False) -> np.ndarray:
        """bool (shots, num_detectors) -> bool (shots, 1); bit-packed uint8 in and out with ``bit_packed=True``."""
        return self.decode_together([self], events, bit_packed)[0][0]

    def close(self) -> None:
        """Nothing to stop (windowed matching runs in this process)."""
