"""A batch-of-one decoding path built for latency.

Per shot, the host does only two copies: the bit-packed detection events go into a pinned,
reused host buffer and to the device in one copy; everything else runs on the device with static
shapes (unpack the bits, grid scatter, network, threshold, residual = events XOR H*c, observable
flip = L*c, pack the residual's bits), captured once as a CUDA graph per layout and replayed;
then one copy back of the packed residual and the flip, and PyMatching on the packed residual.
No host synchronization happens in between.

:meth:`LatencyPath.decode_stream` overlaps the two halves over a stream of shots: while
PyMatching decodes shot k in a worker thread, the device already pre-decodes shot k+1, so the
per-shot cost is bounded by the slower half, not their sum.

For neural-weighted matching (``global_decoder="pymatching-weighted"``) the step also copies the
logits back (one more copy), and the host matches with per-shot weights instead.

On the CPU (or without CUDA graphs) the same static step runs eagerly, so its logic is tested
everywhere: it gives exactly the predictions of :meth:`PipelineDecoder.decode_batch`.

Example:
    >>> from qec import MemoryExperiment
    >>> from predecoder import PipelineDecoder
    >>> exp = MemoryExperiment(3, 3, 0.01, "x")
    >>> path = LatencyPath(PipelineDecoder(exp.circuit(), exp.dem()))
    >>> shot = exp.circuit().compile_detector_sampler(seed=1).sample(1, bit_packed=True)[0]
    >>> path.decode_shot(shot).shape
    (1,)
"""

from __future__ import annotations

import concurrent.futures
from typing import Iterable, Iterator

import numpy as np
import torch

from predecoder._pipeline import MAX_WEIGHT, PipelineDecoder
from qec import QecError


class LatencyPath:
    """Batch-1 decoding with static device buffers (a CUDA graph on CUDA).

    Args:
        decoder: the pipeline to run (its network, precision, threshold, layout and matcher).
        graph: capture a CUDA graph (CUDA only; None: on CUDA, yes).
    """

    def __init__(self, decoder: PipelineDecoder, graph: bool | None = None):
        if decoder.backend != "torch":
            raise QecError("the latency path runs the torch network; use backend torch")
        if decoder.plan.blocks_per_shot != 1:
            raise QecError(
                f"the latency path needs one block per shot; this volume {decoder.layout.shape} is cut into "
                f"{decoder.plan.blocks_per_shot} (raise block_rounds / block_space)"
            )
        self.decoder = decoder
        dev = decoder.device
        self.device = dev
        n = decoder.num_detectors
        self.num_detectors = n
        self.packed_width = (n + 7) // 8
        pin = dev.type == "cuda"
        self._in_host = torch.zeros((1, self.packed_width), dtype=torch.uint8, pin_memory=pin)
        self._in_dev = torch.zeros((1, self.packed_width), dtype=torch.uint8, device=dev)
        # bit j of detector k: byte k // 8, bit k % 8 (little-endian, Stim's layout)
        k = torch.arange(n, device=dev)
        self._byte = k // 8
        self._shift = (k % 8).to(torch.uint8)
        # packing the residual: 8 bits per byte, padded with zeros
        self._pad = self.packed_width * 8 - n
        self._weights = (2 ** torch.arange(8, device=dev)).to(torch.uint8)
        self._out_dev = torch.zeros((1, self.packed_width + 1), dtype=torch.uint8, device=dev)
        self._out_host = torch.zeros((1, self.packed_width + 1), dtype=torch.uint8, pin_memory=pin)
        self.weighted = decoder.weighted
        if self.weighted:
            width = int(np.prod(decoder.correction_basis.shape))
            self._logits_dev = torch.zeros((1, width), dtype=torch.float32, device=dev)
            self._logits_host = torch.zeros((1, width), dtype=torch.float32, pin_memory=pin)
        self.graph = None
        if graph is None:
            graph = dev.type == "cuda"
        if graph:
            if dev.type != "cuda":
                raise QecError("a CUDA graph needs a CUDA device")
            self._capture()

    # -----------------------------------------------------------------------------------------

    @torch.inference_mode()
    def _step(self) -> None:
        """The static device step: _in_dev (packed events) -> _out_dev (packed residual, flip)."""
        d = self.decoder
        bits = (self._in_dev[0, self._byte] >> self._shift) & 1  # uint8 (N,)
        events = bits.view(1, -1)
        logits = d.logits_from_grid(d.grid(events.to(torch.bool)))  # one block: network(x), as float32
        c = d.corrections_from_logits(logits)  # none for neural-weighted matching without a threshold
        residual, flip = d.apply_corrections(events, c)
        if self.weighted:
            self._logits_dev.copy_(logits.masked_fill(c, -MAX_WEIGHT).view(1, -1))
        r = residual.view(torch.uint8)
        if self._pad:
            r = torch.cat([r, torch.zeros((1, self._pad), dtype=torch.uint8, device=self.device)], dim=1)
        packed = (r.view(1, self.packed_width, 8) * self._weights).sum(dim=2, dtype=torch.uint8)
        self._out_dev[:, :self.packed_width].copy_(packed)
        self._out_dev[:, self.packed_width:].copy_(flip.view(torch.uint8))

    def _capture(self) -> None:
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            for _ in range(3):  # warm up kernels and allocator outside the graph
                self._step()
        torch.cuda.current_stream(self.device).wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self._step()

    # -----------------------------------------------------------------------------------------

    def predecode_shot(self, packed: np.ndarray) -> tuple:
        """uint8 (ceil(N / 8),) bit-packed events -> (packed residual uint8 (ceil(N / 8),), flip),
        and the logits float32 (4 * T * H * W,) for neural-weighted matching."""
        self._in_host.numpy()[0] = packed
        self._in_dev.copy_(self._in_host, non_blocking=True)
        if self.graph is not None:
            self.graph.replay()
        else:
            self._step()
        self._out_host.copy_(self._out_dev, non_blocking=True)
        if self.weighted:
            self._logits_host.copy_(self._logits_dev, non_blocking=True)
        if self.device.type == "cuda":
            torch.cuda.current_stream(self.device).synchronize()
        out = self._out_host.numpy()[0]
        if self.weighted:
            return out[:self.packed_width].copy(), bool(out[self.packed_width]), self._logits_host.numpy()[0].copy()
        return out[:self.packed_width].copy(), bool(out[self.packed_width])

    def match_shot(self, residual: np.ndarray, flip: bool, logits: np.ndarray | None = None) -> np.ndarray:
        """The host half: :meth:`predecode_shot`'s output -> bool (1,) observable prediction."""
        if self.weighted:
            events = np.unpackbits(residual, count=self.num_detectors, bitorder="little").astype(bool)[None, :]
            return self.decoder.match_weighted(events, np.array([[flip]]), logits[None, :])[0]
        pred = self.decoder.local_matcher.decode_batch(residual[None, :], bit_packed=True)
        return (np.unpackbits(pred[0], count=1, bitorder="little") ^ flip).astype(bool)

    def decode_shot(self, packed: np.ndarray) -> np.ndarray:
        """uint8 (ceil(N / 8),) bit-packed events -> bool (1,) observable prediction."""
        return self.match_shot(*self.predecode_shot(packed))

    def decode_stream(self, shots: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Predictions for a stream of bit-packed shots, in order; matching of shot k runs in a
        worker thread while shot k+1 is pre-decoded."""
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            pending = None
            for packed in shots:
                prepared = self.predecode_shot(packed)
                if pending is not None:
                    yield pending.result()
                pending = pool.submit(self.match_shot, *prepared)
            if pending is not None:
                yield pending.result()
