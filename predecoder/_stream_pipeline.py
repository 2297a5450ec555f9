"""A windowed pre-decoder composition on events that arrive a round at a time.

The network runs once per block of rounds, as soon as the block's window (its interior and the
receptive radius after it) has arrived: the blocks and windows of :func:`predecoder._blockwise.plan_axis`
along time, so the logits are block-wise inference's (equal to whole-volume inference). Each
block's corrections c (logit >= threshold) give the residual of the rounds they cover (a round's
detectors are flipped by the elements of that round and, for measurement errors, the round
before) and the pre-decoder's flip L*c; the residual (``predecoder``, ``predecoder-correlated``)
or the events with their logits as per-shot weights (``predecoder-weighted``) go to a
:class:`qec.WindowStream` a round at a time, once the logits of the round are known. Events,
logits and corrections are held for the rounds still needed only.

Example:
    >>> import numpy as np
    >>> from qec import MemoryExperiment, SlidingWindow
    >>> from predecoder import PipelineDecoder, WindowedPipelineDecoder
    >>> exp = MemoryExperiment(distance=3, rounds=20, p=0.006)
    >>> events = exp.circuit().compile_detector_sampler(seed=1).sample(50)
    >>> pipe = PipelineDecoder(exp.circuit(), exp.dem(), global_decoder="pymatching-weighted", block_rounds=3,
    ...                        matching=False)
    >>> dec = WindowedPipelineDecoder(pipe, exp.dem(), SlidingWindow(6, 3))
    >>> stream = PipelineStream(dec, len(events))
    >>> for t in range(stream.rounds):
    ...     stream.push(events[:, stream.round_detectors(t)])
    >>> np.array_equal(stream.result(), dec.decode_batch(events))
    True
"""

from __future__ import annotations

import numpy as np
import torch

from predecoder._blockwise import plan_axis
from predecoder._pipeline import MAX_WEIGHT
from predecoder._window_pipeline import WindowedPipelineDecoder
from qec import QecError


class _Layers:
    """Layers [base, base + capacity) of a (shots, channels, T, H, W) volume."""

    def __init__(self, shots: int, channels: int, capacity: int, plane: tuple[int, int], dtype, device):
        self.data = torch.zeros((shots, channels, capacity, *plane), dtype=dtype, device=device)
        self.base = 0

    def cover(self, end: int, keep_from: int) -> None:
        """Make layers [keep_from, end) addressable (dropping those below ``keep_from``)."""
        if end - self.base <= self.data.shape[2]:
            return
        if end - keep_from > self.data.shape[2]:
            raise AssertionError("a streaming buffer is too small")
        kept = self.data[:, :, keep_from - self.base:].clone()
        self.data.zero_()
        self.data[:, :, :kept.shape[2]] = kept
        self.base = keep_from

    def slab(self, start: int, end: int) -> torch.Tensor:
        return self.data[:, :, start - self.base:end - self.base]

    def flat_positions(self, channel, t, plane) -> torch.Tensor:
        """Positions in ``data[s].reshape(-1)`` of (channel, layer t, flat site in the plane)."""
        C, cap, H, W = self.data.shape[1:]
        return (channel * cap + (t - self.base)) * (H * W) + plane


class PipelineStream:
    """One pass of a :class:`WindowedPipelineDecoder` over events arriving a round at a time.

    ``push(events)`` takes round t's events, bool (shots, len(round_detectors(t))), rounds in
    order (t = 0 .. rounds - 1); ``result()`` is the bool (shots, 1) prediction after the last.
    The network's blocks are the pipeline's ``block_rounds`` (the whole patch in space).
    """

    def __init__(self, decoder: WindowedPipelineDecoder, shots: int):
        p = decoder.pipeline
        if p.block[1] is not None:
            raise QecError("streaming runs the network on whole rounds: no block_space")
        self.decoder, self.pipeline, self.shots = decoder, p, int(shots)
        T, H, W = p.layout.shape
        self.rounds, self._plane = T, (H, W)
        t = p.layout.detector_t
        if np.any(np.diff(t) < 0):
            raise QecError("streaming needs the detectors in time order (round by round)")
        self.round_starts = np.searchsorted(t, np.arange(T + 1))
        self._plan = plan_axis(T, p.block[0], p.halo)
        self._next_block = 0
        P, b = self._plan.window, self._plan.interior
        window = decoder.window.rounds
        device = p.device
        self._input = _Layers(self.shots, 4, P + b + 1, (H, W), p._dtype, device)
        self._logits = _Layers(self.shots, 4, window + 2 * b + 2, (H, W), torch.float32, device)
        self._fixed = _Layers(self.shots, 4, window + 2 * b + 2, (H, W), torch.bool, device)
        self._row = torch.as_tensor(p.layout.detector_row, device=device)
        self._col = torch.as_tensor(p.layout.detector_col, device=device)
        self._site = self._row * W + self._col
        self._channel = torch.as_tensor(p.layout.detector_channel, device=device)
        flips = p._flips_flat.view(p.num_detectors, -1)
        self._flips = flips
        self._never = ((2 * T) + (T - 1)) * H * W
        obs = p._obs_elements
        self._obs = (obs // (T * H * W), (obs // (H * W)) % T, obs % (H * W))
        self.arrived = self.computed = self.pushed = 0
        self.flip = torch.zeros((self.shots, 1), dtype=torch.bool, device=device)
        values = self._values if p.weighted else None
        self.windows = decoder.matcher.stream(self.shots, values)

    def round_detectors(self, t: int) -> slice:
        """The detectors of round t (a slice of the detector order)."""
        return slice(int(self.round_starts[t]), int(self.round_starts[t + 1]))

    def push(self, events: np.ndarray) -> None:
        """Round ``arrived``'s events, bool (shots, its detectors)."""
        t = self.arrived
        if t >= self.rounds:
            raise QecError(f"all {self.rounds} rounds have arrived")
        ev = torch.as_tensor(np.ascontiguousarray(events, dtype=bool), device=self.pipeline.device)
        dets = self.round_detectors(t)
        if ev.shape != (self.shots, dets.stop - dets.start):
            raise QecError(f"round {t} has {dets.stop - dets.start} detectors per shot, got shape {tuple(ev.shape)}")
        plan = self._plan
        keep = plan.window_starts[min(self._next_block, plan.count - 1)]
        self._input.cover(t + 1, keep)
        p = self.pipeline
        data = self._input.data
        data[:, 2:, t - self._input.base] = p._masks[:, t]
        data[:, self._channel[dets], t - self._input.base, self._row[dets], self._col[dets]] = ev.to(data.dtype)
        self.arrived = t + 1
        while self._next_block < plan.count and plan.window_starts[self._next_block] + plan.window <= self.arrived:
            self._run_block(self._next_block)
            self._next_block += 1
        self._push_ready()

    @torch.inference_mode()
    def _run_block(self, j: int) -> None:
        p, plan = self.pipeline, self._plan
        start, window, interior = plan.window_starts[j], plan.window, plan.interior
        out = p.network(self._input.slab(start, start + window))
        lo, hi = max(self.computed, plan.starts[j]), plan.starts[j] + interior
        logits = out[:, :, lo - start:hi - start].float()
        fixed = logits >= p._thresholds[:, lo:hi]
        keep = min(self._next_round_needed(), lo)
        for buffer, value in ((self._logits, logits), (self._fixed, fixed)):
            buffer.cover(hi, keep)
            buffer.slab(lo, hi).copy_(value)
        ch, tt, site = self._obs
        new = (tt >= lo) & (tt < hi)
        if new.any():
            hits = self._fixed.data.reshape(self.shots, -1)[:, self._fixed.flat_positions(ch[new], tt[new], site[new])]
            self.flip ^= (hits.sum(dim=1, keepdim=True) % 2).bool()
        self.computed = hi

    def _next_round_needed(self) -> int:
        """The lowest element round still read: the round before the next window or round pushed."""
        steps = self.decoder.matcher.steps
        nxt = self.windows.next_step
        first = steps[nxt].first_layer if nxt < len(steps) else self.rounds
        return max(0, min(first, self.pushed) - 1)

    def _push_ready(self) -> None:
        """Push the rounds whose logits are known (a round reads its own and the round before's)."""
        end = min(self.arrived, self.computed)
        if end <= self.pushed:
            return
        p = self.pipeline
        dets = slice(int(self.round_starts[self.pushed]), int(self.round_starts[end]))
        layer = torch.as_tensor(p.layout.detector_t[dets], device=p.device)
        raw = torch.cat([self._input.slab(int(t), int(t) + 1)[:, :2].reshape(self.shots, -1) for t in
                         range(self.pushed, end)], dim=1)
        plane = self._plane[0] * self._plane[1]
        offsets = torch.as_tensor(self.round_starts[self.pushed:end] - self.round_starts[self.pushed], device=p.device)
        local = torch.arange(dets.stop - dets.start, device=p.device)
        which = torch.searchsorted(offsets, local, right=True) - 1
        events = raw[:, which * 2 * plane + self._channel[dets] * plane + self._site[dets]] != 0
        flips = self._flips[dets]
        T = self.rounds
        ch, tt, site = flips // (T * plane), (flips // plane) % T, flips % plane
        real = flips != self._never
        pos = self._fixed.flat_positions(ch, torch.where(real, tt, layer[:, None]), site)
        hits = self._fixed.data.reshape(self.shots, -1)[:, pos.reshape(-1)].view(self.shots, *pos.shape) & real
        residual = events ^ (hits.sum(dim=2) % 2).bool()
        self.pushed = end
        self.windows.push(residual.cpu().numpy())

    def _values(self, faults: np.ndarray) -> np.ndarray:
        """The weighted windows' column values: -logit, or the frozen weight where corrected."""
        p = self.pipeline
        T = self.rounds
        plane = self._plane[0] * self._plane[1]
        e = torch.as_tensor(p.weight_index[faults], device=p.device)
        pos = self._logits.flat_positions(e // (T * plane), (e // plane) % T, e % plane)
        logits = self._logits.data.reshape(self.shots, -1)[:, pos]
        fixed = self._fixed.data.reshape(self.shots, -1)[:, pos]
        return logits.masked_fill(fixed, -MAX_WEIGHT).cpu().numpy()

    def result(self) -> np.ndarray:
        """bool (shots, 1): the prediction, once every round has arrived."""
        if self.arrived != self.rounds:
            raise QecError(f"{self.arrived} of {self.rounds} rounds have arrived")
        return self.flip.cpu().numpy() ^ self.windows.result()
