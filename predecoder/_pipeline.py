"""The pipeline decoder: pre-decoder corrections, residual syndrome, global matching.

prediction = L * c  XOR  global_decoder(events XOR H * c),  c = (logits >= threshold) & valid.

With ``global_decoder="pymatching-weighted"`` the network's logits become per-shot matching
weights instead (neural-weighted matching, :mod:`qec._decoding._weighted_matcher`): every valid basis
element k with detectors is an edge of one matching graph with weight -logit_k (clipped to
+-:data:`MAX_WEIGHT`), and the raw events are matched on it. A finite ``threshold`` makes it a
hybrid: corrections with logit >= threshold are applied first (as above) and their edges frozen
at the largest weight; the residual is matched with the neural weights of the rest.

The network runs block-wise (:mod:`predecoder._blockwise`): the (T, H, W) volume is cut into
blocks with the model's receptive radius as halo, all blocks of all shots go through batched
forward passes and the interiors are stitched, which equals whole-volume inference. CPU and CUDA
share one code path; on CUDA the block loop never waits for the host, and half precision
(``precision="fp16"``/``"bf16"``) and ``torch.compile`` (CUDA graphs via ``mode=reduce-overhead``)
are options.
"""

from __future__ import annotations

import copy
import hashlib
import math
from typing import Any

import numpy as np
import stim
import torch

from predecoder._blockwise import blockwise_forward, make_plan
from predecoder._decoder_names import GLOBAL_DECODERS
from predecoder._device import resolve_device
from predecoder._export import BACKENDS, OnnxRuntimeNetwork
from predecoder._model import IN_CHANNELS, OUT_CHANNELS
from predecoder._model_file import LoadedModel, load_model
from predecoder._pipeline_options import PRECISIONS, PipelineOptions
from predecoder._shared_network import decode_together
from qec.encoding import check_shots, pack_bits
from qec import CorrectionBasis, PyMatchingDecoder, QecError, SpaceTimeLayout
from qec.files import as_dem, check_dem_fits
from qec.decoding import ParallelMatcher, WeightedMatcher

# Neural weights are clipped to +-MAX_WEIGHT: log((1 - p) / p) = 30 is p = 1e-13 either way.
MAX_WEIGHT = 30.0
DTYPES = dict(zip(PRECISIONS, (torch.float32, torch.float16, torch.bfloat16)))
# Shots per inference chunk are capped so that one chunk's grid holds at most this many sites.
MAX_CHUNK_SITES = 1 << 22


def _check_block(value: int | None, what: str) -> int | None:
    if value is None:
        return None
    value = int(value)
    if value < 1:
        raise QecError(f"{what} must be >= 1, got {value}")
    return value


class PipelineDecoder:
    """Pre-decoder + global decoder for one circuit.

    Args:
        circuit: a rotated surface-code memory circuit (layout from its detector coordinates).
            May be None when ``layout`` is given.
        dem: the circuit's detector error model (the global decoder's weights).
        model: a :class:`LoadedModel` or a path (None: the shipped default).
        layout: use this layout instead of deriving one from ``circuit``.
        matching: build the global matchers (False: the caller matches, e.g. in sliding windows).
        options: :class:`predecoder._pipeline_options.PipelineOptions`' fields (global decoder,
            threshold, device, blocks, precision, backends, matching workers), by keyword.

    Raises ``ValueError`` (a :class:`qec.LayoutError` for circuits) naming the problem.

    Example:
        >>> from qec import MemoryExperiment
        >>> exp = MemoryExperiment(distance=3, rounds=3, p=0.003)
        >>> dec = PipelineDecoder(exp.circuit(), exp.dem())
        >>> dec.decode_batch(np.zeros((2, 24), dtype=bool)).shape
        (2, 1)
    """

    @classmethod
    def from_dem(cls, dem: stim.DetectorErrorModel | str, *, model: LoadedModel | str | None = None,
                 **options: Any) -> "PipelineDecoder":
        """The pipeline for a DEM (or a DEM file's path) alone, its layout read from the detector
        coordinates (:meth:`qec.SpaceTimeLayout.from_dem`: those of a Stim-generated rotated memory,
        up to a translation and detector order). ``options`` are the constructor's keyword arguments.
        Without a circuit nothing says which shots it will get: :func:`qec.decode_file` with
        ``dem=`` checks a file's shots against it.

        Example:
            >>> from qec import MemoryExperiment
            >>> dem = MemoryExperiment(distance=3, rounds=3, p=0.003).dem()
            >>> PipelineDecoder.from_dem(dem, global_decoder="pymatching-weighted").decode_batch(
            ...     np.zeros((2, 24), dtype=bool)).tolist()
            [[False], [False]]
        """
        dem = as_dem(dem)
        return cls(None, dem, model=model, layout=SpaceTimeLayout.from_dem(dem), **options)

    def __init__(
        self,
        circuit: stim.Circuit | None,
        dem: stim.DetectorErrorModel,
        *,
        model: LoadedModel | str | None = None,
        layout: SpaceTimeLayout | None = None,
        matching: bool = True,
        **options: Any,
    ):
        options = PipelineOptions(**options)
        global_decoder, threshold, device = options.global_decoder, options.threshold, options.device
        batch_size, block_batch, precision = options.batch_size, options.block_batch, options.precision
        block_rounds, block_space, compile = options.block_rounds, options.block_space, options.compile
        backend, matching_workers = options.backend, options.matching_workers
        if global_decoder not in GLOBAL_DECODERS:
            raise QecError(f"unknown global decoder {global_decoder!r}; choose from {', '.join(GLOBAL_DECODERS)}")
        if int(batch_size) < 1:
            raise QecError(f"batch_size must be >= 1, got {batch_size}")
        if int(block_batch) < 1:
            raise QecError(f"block_batch must be >= 1, got {block_batch}")
        if precision not in DTYPES:
            raise QecError(f"unknown precision {precision!r}; choose from {', '.join(DTYPES)}")
        self.device = resolve_device(device)
        if precision == "fp16" and self.device.type != "cuda":
            raise QecError("precision fp16 needs a CUDA device; use fp32 or bf16 on the CPU")
        self.block = (_check_block(block_rounds, "block_rounds"), _check_block(block_space, "block_space"),
                      _check_block(block_space, "block_space"))
        self.block_batch = int(block_batch)
        self.batch_size = int(batch_size)
        self.precision = precision
        dem = as_dem(dem)
        if circuit is not None:
            check_dem_fits(dem, circuit)  # the other basis's DEM would decode silently wrong
        if layout is None:
            if circuit is None:
                raise QecError("PipelineDecoder needs a circuit or a layout")
            layout = SpaceTimeLayout.from_circuit(circuit)
        self.layout = layout
        if dem.num_detectors != layout.num_detectors:
            raise QecError(
                f"the DEM has {dem.num_detectors} detectors but the circuit's layout has {layout.num_detectors}"
            )
        self.correction_basis = CorrectionBasis.from_layout(layout)
        self.num_detectors = layout.num_detectors

        self.model = model if isinstance(model, LoadedModel) else load_model(model, device=self.device)
        cfg = self.model.config
        if cfg.in_channels != IN_CHANNELS or cfg.out_channels != OUT_CHANNELS:
            raise QecError(
                f"the model has {cfg.in_channels} input / {cfg.out_channels} output channels; the layout needs "
                f"{IN_CHANNELS} event channels in and {OUT_CHANNELS} correction channels out"
            )
        self.model.network.to(self.device).eval()
        self.halo = cfg.halo
        self.weighted = global_decoder == "pymatching-weighted"
        if threshold is None:
            threshold = float("inf") if self.weighted else self.model.threshold
        self.threshold = float(threshold)
        if math.isnan(self.threshold):  # +inf is allowed: no corrections at all
            raise QecError(f"threshold must be a number, got {self.threshold}")
        self._dtype = DTYPES[precision]
        net = self.model.network
        if self._dtype != torch.float32:
            net = copy.deepcopy(net).to(self._dtype)
        self.compiled = bool(compile)
        if backend not in BACKENDS:
            raise QecError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
        self.backend = backend
        if backend == "onnxruntime" and (precision != "fp32" or compile):
            raise QecError("backend onnxruntime runs the fp32 ONNX network: no --precision or --compile with it")
        if compile:
            mode = "reduce-overhead" if self.device.type == "cuda" else None
            net = torch.compile(net, mode=mode, dynamic=False)
        self.network = net  # the forward function the block loop calls (cast / compiled / ONNX Runtime)
        if backend == "onnxruntime":
            self.network = OnnxRuntimeNetwork(self.model, self.device)

        correlated = global_decoder.endswith("-correlated")
        if int(matching_workers) < 0:
            raise QecError(f"matching_workers must be >= 0, got {matching_workers}")
        if (self.weighted or not matching) and int(matching_workers):
            raise QecError("matching workers run global PyMatching, not neural-weighted or windowed matching")
        self.matching_workers = int(matching_workers)
        # In this process: what single shots are matched with (a worker's round trip costs more).
        self.local_matcher = PyMatchingDecoder(dem, correlated=correlated) if matching else None
        if self.matching_workers:
            self.global_decoder = ParallelMatcher(dem, correlated=correlated, workers=self.matching_workers)
        else:
            self.global_decoder = self.local_matcher
        self.global_decoder_name = global_decoder
        T, H, W = layout.shape
        self._flat_index = torch.as_tensor(layout.detector_flat_index, device=self.device)
        self._masks = torch.as_tensor(layout.detector_mask(), dtype=self._dtype, device=self.device)
        self._valid = torch.as_tensor(self.correction_basis.valid, device=self.device)
        self._valid_flat = self._valid.reshape(1, -1)
        # One comparison gives thresholded, masked corrections: +inf where no element exists.
        self._thresholds = torch.where(
            self._valid, torch.tensor(self.threshold, dtype=torch.float32), torch.tensor(float("inf"))
        ).to(self.device)
        # H and L as gather tables: detector n is flipped by the elements _flips[n, :] (padded
        # with the index of an always-off extra element); the observable by _obs_elements.
        Hr = self.correction_basis.H.tocsr()
        counts = np.diff(Hr.indptr)
        K = max(int(counts.max()), 1) if len(counts) else 1
        # Padding points at an element that never exists (X-stabilizer misread in the last layer).
        T, H, W = layout.shape
        never = ((2 * T) + (T - 1)) * H * W
        assert not self.correction_basis.valid.ravel()[never]
        flips = np.full((self.num_detectors, K), never, dtype=np.int64)
        for k in range(K):
            has = counts > k
            flips[has, k] = Hr.indices[Hr.indptr[:-1][has] + k]
        self._flips_flat = torch.as_tensor(flips.reshape(-1), device=self.device)
        self._obs_elements = torch.as_tensor(np.flatnonzero(self.correction_basis.L), device=self.device)
        self._chunk = max(1, min(self.batch_size, MAX_CHUNK_SITES // (T * H * W)))
        self.weighted_matcher: WeightedMatcher | None = None
        if self.weighted:
            # The edges: valid basis elements that flip at least one detector, in flat grid order.
            basis = self.correction_basis
            Hc = basis.H.tocsc()
            self.weight_index = np.flatnonzero(basis.valid.ravel() & (np.diff(Hc.indptr) > 0))
            self.weighted_matcher = WeightedMatcher(
                Hc[:, self.weight_index], basis.L[None, self.weight_index].astype(np.uint8), backend=options.weighted_backend
            ) if matching else None
        # The measured shots the model's training DEMs were estimated from: never to be scored
        # with it (qec._hardware._hardware_scores refuses them).
        self.fitted_on = self.model.fitted_on
        self.metadata: dict[str, Any] = {"model": self.model.short_hash}
        if math.isfinite(self.threshold) or not self.weighted:
            self.metadata["threshold"] = self.threshold
        if self.weighted:
            self.metadata["matching"] = "neural-weights"
        if self.model.training_noise is not None:
            # Shown in results: which noise (and version) the model learned.
            self.metadata["model_noise"] = "{} v{}".format(*self.model.training_noise)
        if precision != "fp32":
            self.metadata["precision"] = precision
        if backend != "torch":
            self.metadata["backend"] = backend

    # -----------------------------------------------------------------------------------------
    # Stages (each is one vectorized step over the whole batch).

    @property
    def plan(self):
        """The :class:`predecoder._blockwise.BlockPlan` used for this circuit's volume."""
        return make_plan(self.layout.shape, self.halo, self.block)

    def _events(self, events: np.ndarray, bit_packed: bool = False) -> np.ndarray:
        """bool (shots, num_detectors) from either layout (``bit_packed`` says which)."""
        events = check_shots(events, self.num_detectors, bit_packed)
        return self.layout.unpack(events) if bit_packed else events.astype(bool, copy=False)

    def grid(self, events: np.ndarray | torch.Tensor) -> torch.Tensor:
        """bool (shots, num_detectors) -> network input (shots, 4, T, H, W) on the device."""
        ev = torch.as_tensor(np.ascontiguousarray(events) if isinstance(events, np.ndarray) else events)
        ev = ev.to(self.device, non_blocking=True)
        T, H, W = self.layout.shape
        x = torch.zeros((ev.shape[0], 2, T * H * W), dtype=self._dtype, device=self.device)
        x.view(ev.shape[0], -1).index_copy_(1, self._flat_index, ev.to(self._dtype))
        x = x.view(ev.shape[0], 2, T, H, W)
        return torch.cat([x, self._masks.expand(ev.shape[0], -1, -1, -1, -1)], dim=1)

    @torch.inference_mode()
    def logits_from_grid(self, x: torch.Tensor) -> torch.Tensor:
        """Network input (shots, 4, T, H, W) -> float32 logits, block-wise."""
        return blockwise_forward(
            self.network, x, self.halo, self.block, self.block_batch, out_channels=OUT_CHANNELS,
            out_dtype=torch.float32, pad_last_batch=self.compiled,
        )

    @torch.inference_mode()
    def logits(self, events: np.ndarray, bit_packed: bool = False) -> torch.Tensor:
        """bool (shots, num_detectors) -> float32 logits (shots, 4, T, H, W) on the device."""
        events = self._events(events, bit_packed)
        outs = [self.logits_from_grid(self.grid(events[i:i + self._chunk])) for i in range(0, len(events), self._chunk)]
        return torch.cat(outs) if outs else torch.empty((0, *self.correction_basis.shape), device=self.device)

    @torch.inference_mode()
    def corrections_from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """bool (shots, 4, T, H, W) on the device: logit >= threshold at valid basis elements."""
        return logits >= self._thresholds

    @torch.inference_mode()
    def _corrections_chunk(self, events: np.ndarray) -> np.ndarray:
        c = self.corrections_from_logits(self.logits_from_grid(self.grid(events)))
        return c.cpu().numpy()  # the one host synchronization per chunk

    def corrections(self, events: np.ndarray, bit_packed: bool = False) -> np.ndarray:
        """bool (shots, 4, T, H, W): the corrections the pre-decoder applies."""
        events = self._events(events, bit_packed)
        if len(events) == 0:
            return np.zeros((0, *self.correction_basis.shape), dtype=bool)
        return np.concatenate([self._corrections_chunk(events[i:i + self._chunk])
                               for i in range(0, len(events), self._chunk)])

    @torch.inference_mode()
    def apply_corrections(self, events: torch.Tensor, corrections: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """On the device: (residual = events XOR H * c, flip = L * c), bool (B, N) and (B, 1).

        H and L are applied as gathers (each detector XORs its at most six flipping elements),
        so no index list depends on the data and nothing waits for the host. ``corrections``
        must be off where no basis element exists (as :meth:`corrections_from_logits` makes them).
        """
        B = corrections.shape[0]
        # uint8 views of bool tensors; uint8 sums wrap modulo 256, which keeps the parity.
        c = corrections.reshape(B, -1).to(torch.bool).view(torch.uint8)
        hits = torch.index_select(c, 1, self._flips_flat).view(B, self.num_detectors, -1)
        residual = (hits.sum(dim=2, dtype=torch.uint8) + events.to(torch.bool).view(torch.uint8)) & 1
        flip = torch.index_select(c, 1, self._obs_elements).sum(dim=1, keepdim=True, dtype=torch.uint8) & 1
        return residual.view(torch.bool), flip.view(torch.bool)

    @torch.inference_mode()
    def residual_and_flip(self, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The whole pre-decoder side of one chunk: bool events (k, N) on the host -> (residual
        bool (k, N), observable flip bool (k, 1)) on the host (grid, network, threshold, H*c, L*c)."""
        ev = torch.as_tensor(np.ascontiguousarray(events)).to(self.device, non_blocking=True)
        c = self.corrections_from_logits(self.logits_from_grid(self.grid(ev)))
        residual, flip = self.apply_corrections(ev, c)
        return residual.cpu().numpy(), flip.cpu().numpy()

    def decode_corrections(self, events: np.ndarray, corrections: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apply given corrections and finish with the global decoder.

        The network path (:meth:`decode_batch`) and oracle corrections (e.g. a sampler's true
        labels) go through the same :meth:`apply_corrections`.

        Args:
            events: bool (shots, num_detectors).
            corrections: bool (shots, 4, T, H, W) (or flat): basis elements applied.

        Returns:
            (prediction bool (shots, 1), residual events bool (shots, num_detectors)), where
            prediction = L * c XOR global_decoder(events XOR H * c).
        """
        events = self._events(events)
        corrections = np.asarray(corrections, dtype=bool).reshape(len(events), -1)
        if corrections.shape[1] != self.correction_basis.num_elements:
            raise QecError(f"corrections must have {self.correction_basis.num_elements} elements per shot")
        c = torch.as_tensor(corrections).to(self.device) & self._valid_flat  # non-elements do nothing
        residual, flip = self.apply_corrections(torch.as_tensor(events).to(self.device), c)
        residual, flip = residual.cpu().numpy(), flip.cpu().numpy()
        return flip ^ self.global_decoder.decode_batch(residual), residual

    # -----------------------------------------------------------------------------------------

    def decode_batch(self, events: np.ndarray, *, return_residual: bool = False, bit_packed: bool = False):
        """Detection events -> observable predictions.

        Args:
            events: bool (shots, num_detectors), or Stim bit-packed uint8 (shots, ceil(N / 8)).
            return_residual: also return the residual events bool (shots, num_detectors).
            bit_packed: whether ``events`` is bit-packed (default: not).

        Returns:
            bool (shots, 1) predictions (bit-packed uint8 (shots, 1) for bit-packed input), and
            the residual when asked.
        """
        events = self._events(events, bit_packed)
        preds, residuals = [], []
        for i in range(0, len(events), self._chunk):
            chunk = events[i:i + self._chunk]
            if self.weighted:
                res, flip, logits = self.weighted_inputs(chunk)
                preds.append(self.match_weighted(res, flip, logits))
            else:
                res, flip = self.residual_and_flip(chunk)
                if self.matching_workers:  # matched in a worker while the next chunk is pre-decoded
                    preds.append((flip, self.global_decoder.submit(res, bit_packed=False)))
                else:
                    preds.append(flip ^ self.global_decoder.decode_batch(res, bit_packed=False))
            if return_residual:
                residuals.append(res)
        if self.matching_workers:
            preds = [flip ^ future.result() for flip, future in preds]
        prediction = np.concatenate(preds) if preds else np.zeros((0, 1), dtype=bool)
        if bit_packed:
            prediction = pack_bits(prediction)
        if not return_residual:
            return prediction
        residual = np.concatenate(residuals) if residuals else np.zeros((0, self.num_detectors), dtype=bool)
        return prediction, residual


    # -----------------------------------------------------------------------------------------
    # Neural-weighted matching.

    @torch.inference_mode()
    def weighted_inputs(self, events: np.ndarray, logits: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The network side of neural-weighted matching for one chunk: bool events (k, N) on the
        host -> (events to match bool (k, N), observable flip bool (k, 1), logits float32
        (k, 4 * T * H * W)) on the host. Without a finite threshold the events are the raw ones
        and the flip is zero; with one, corrections at logit >= threshold are applied and their
        logits set to -MAX_WEIGHT (a frozen edge). ``logits`` (k, 4, T, H, W) on the device, if
        given, are used instead of running the network."""
        ev = torch.as_tensor(np.ascontiguousarray(events)).to(self.device, non_blocking=True)
        if logits is None:
            logits = self.logits_from_grid(self.grid(ev))
        if math.isfinite(self.threshold):
            c = self.corrections_from_logits(logits)
            residual, flip = self.apply_corrections(ev, c)
            logits = logits.masked_fill(c, -MAX_WEIGHT)
            residual, flip = residual.cpu().numpy(), flip.cpu().numpy()
        else:
            residual, flip = np.asarray(events, dtype=bool), np.zeros((len(events), 1), dtype=bool)
        return residual, flip, logits.reshape(len(events), -1).cpu().numpy()

    def match_weighted(self, events: np.ndarray, flip: np.ndarray, logits: np.ndarray) -> np.ndarray:
        """The matching side: :meth:`weighted_inputs`' arrays -> bool (k, 1) predictions."""
        assert self.weighted_matcher is not None, "this pipeline does not use pymatching-weighted"
        return flip ^ self.weighted_matcher.decode_batch_from_logits(events, logits, self.weight_index, clip=MAX_WEIGHT)

    @torch.inference_mode()
    def decode_from_logits(self, events: np.ndarray, logits: torch.Tensor) -> np.ndarray:
        """Everything after the network for one chunk: bool events (k, N) and their logits
        (k, 4, T, H, W) -> bool (k, 1) predictions (so that one network pass can serve several
        compositions, e.g. in a comparison on the same shots)."""
        events = np.asarray(events, dtype=bool)
        if self.weighted:
            return self.match_weighted(*self.weighted_inputs(events, logits))
        ev = torch.as_tensor(np.ascontiguousarray(events)).to(self.device)
        residual, flip = self.apply_corrections(ev, self.corrections_from_logits(logits))
        return flip.cpu().numpy() ^ self.local_matcher.decode_batch(residual.cpu().numpy(), bit_packed=False)

    @property
    def network_key(self) -> tuple:
        """Pipelines with equal keys compute the same logits for the same events (the same model
        file, layout, device, precision, blocks and backend), whatever they finish with: one
        network pass can serve them all (:meth:`decode_together`)."""
        layout = hashlib.sha256(self.layout.detector_flat_index.tobytes()).hexdigest()[:16]
        return (self.model.sha256, self.layout.shape, layout, str(self.device), self.precision, self.block,
                self.block_batch, self.backend, self.compiled)

    decode_together = staticmethod(decode_together)

    def close(self) -> None:
        """Stop the matching worker processes, if any (they also die with this process)."""
        if self.matching_workers:
            self.global_decoder.close()
