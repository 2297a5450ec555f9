"""Block-wise inference: the whole-volume output of a fully convolutional network, block by block.

A Conv3d stack with receptive field R computes each output site from the input sites within
``halo = (R - 1) / 2`` of it, with zeros beyond the volume's edges (same padding). So the
(T, H, W) volume is cut into *interiors* of ``block = (bt, bh, bw)`` sites and every interior is
computed from a *window* that reaches ``halo`` sites further on each side.

Exactness rests on where the window sits. A window never sticks out of the volume: along each
axis its size is ``P = min(b + 2 * halo, N)`` and it starts at ``clamp(start - halo, 0, N - P)``.
Then each side of the window is either a true edge of the volume (where the network's own zero
padding is exactly the whole-volume zero padding) or at least ``halo`` sites away from the
interior (where the network's padding at the window edge cannot reach the interior). Halo sites
inside the volume carry the real neighbouring events and masks. No padding with zeros *inside*
the volume ever happens, and hidden activations outside the volume are never computed, so the
interior equals whole-volume inference up to floating-point rounding, for any network made of
same-padded convolutions and pointwise layers, run unchanged (also under ONNX Runtime).

All interiors along an axis have the same size ``b`` (the last one is shifted back to end at the
volume's edge, overlapping its neighbour when ``b`` does not divide the volume), so every window
of every shot has one shape: all blocks of all shots are batched into forward passes of
``block_batch`` windows. Memory is bounded by ``block_batch * prod(P)`` activations. Gathering
windows and stitching interiors are index operations on the device with indices built once per
shape: no host synchronization inside the block loop.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import torch

from qec import QecError

Forward = Callable[[torch.Tensor], torch.Tensor]


@dataclasses.dataclass(frozen=True)
class AxisPlan:
    """Blocks along one axis of length ``size``.

    Attributes:
        size: the axis length N.
        interior: interior size b (<= N).
        window: window size P = min(b + 2 * halo, N).
        starts: interior start of each block (the last one is N - b).
        window_starts: window start of each block.
    """

    size: int
    interior: int
    window: int
    starts: tuple[int, ...]
    window_starts: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.starts)

    @property
    def offsets(self) -> tuple[int, ...]:
        """Interior start inside its window, per block."""
        return tuple(s - w for s, w in zip(self.starts, self.window_starts))

    def position_index(self) -> list[int]:
        """For each site 0..N-1: its index in the concatenation of all interiors (count * b)."""
        b, last = self.interior, self.count - 1
        out = []
        for p in range(self.size):
            k = min(p // b, last)
            out.append(k * b + (p - self.starts[k]))
        return out


def plan_axis(size: int, block: int | None, halo: int) -> AxisPlan:
    """Cut an axis of ``size`` sites into interiors of ``block`` (None: one block)."""
    if size < 1:
        raise QecError(f"axis size must be >= 1, got {size}")
    if halo < 0:
        raise QecError(f"halo must be >= 0, got {halo}")
    b = size if block is None else int(block)
    if b < 1:
        raise QecError(f"block size must be >= 1, got {block}")
    b = min(b, size)
    window = min(b + 2 * halo, size)
    count = -(-size // b)
    starts = tuple(min(k * b, size - b) for k in range(count))
    window_starts = tuple(min(max(s - halo, 0), size - window) for s in starts)
    for s, w in zip(starts, window_starts):  # the invariant the exactness rests on
        assert w <= s and s + b <= w + window
        assert w == 0 or s - w >= halo
        assert w + window == size or (w + window) - (s + b) >= halo
    return AxisPlan(size, b, window, starts, window_starts)


@dataclasses.dataclass(frozen=True)
class BlockPlan:
    """The block decomposition of a (T, H, W) volume for a network of the given halo."""

    shape: tuple[int, int, int]
    halo: int
    axes: tuple[AxisPlan, AxisPlan, AxisPlan]

    @property
    def blocks_per_shot(self) -> int:
        return self.axes[0].count * self.axes[1].count * self.axes[2].count

    @property
    def window(self) -> tuple[int, int, int]:
        return tuple(a.window for a in self.axes)  # type: ignore[return-value]

    @property
    def interior(self) -> tuple[int, int, int]:
        return tuple(a.interior for a in self.axes)  # type: ignore[return-value]

    @property
    def is_whole_volume(self) -> bool:
        """One block per shot whose window is the whole volume: plain whole-volume inference."""
        return self.blocks_per_shot == 1

    @property
    def compute_overhead(self) -> float:
        """Window sites computed per output site (>= 1)."""
        w = self.window
        return self.blocks_per_shot * w[0] * w[1] * w[2] / (self.shape[0] * self.shape[1] * self.shape[2])


@functools.lru_cache(maxsize=256)
def make_plan(shape: tuple[int, int, int], halo: int, block: tuple[int | None, int | None, int | None]) -> BlockPlan:
    """Plan for a volume ``shape`` = (T, H, W), ``block`` = interior sizes (None = whole axis)."""
    axes = tuple(plan_axis(n, b, halo) for n, b in zip(shape, block))
    return BlockPlan(tuple(shape), int(halo), axes)  # type: ignore[arg-type]


class _Indices:
    """Device index tensors of a plan (built once per plan and device)."""

    def __init__(self, plan: BlockPlan, device: torch.device):
        at, ah, aw = plan.axes
        grid = torch.meshgrid(
            torch.tensor(at.window_starts), torch.tensor(ah.window_starts), torch.tensor(aw.window_starts), indexing="ij"
        )
        offs = torch.meshgrid(
            torch.tensor(at.offsets), torch.tensor(ah.offsets), torch.tensor(aw.offsets), indexing="ij"
        )
        self.window_start = [g.reshape(-1).to(device) for g in grid]
        self.offset = [o.reshape(-1).to(device) for o in offs]
        self.position = [torch.tensor(a.position_index(), device=device) for a in plan.axes]


_INDEX_CACHE: dict[tuple[BlockPlan, str], _Indices] = {}


def _indices(plan: BlockPlan, device: torch.device) -> _Indices:
    key = (plan, str(device))
    idx = _INDEX_CACHE.get(key)
    if idx is None:
        if len(_INDEX_CACHE) > 64:
            _INDEX_CACHE.clear()
        idx = _INDEX_CACHE[key] = _Indices(plan, device)
    return idx


def gather_windows(x: torch.Tensor, plan: BlockPlan, shot: torch.Tensor, block: torch.Tensor) -> torch.Tensor:
    """Windows (n, C, Pt, Ph, Pw) of the (shot, block) pairs from x (B, C, T, H, W)."""
    idx = _indices(plan, x.device)
    pt, ph, pw = plan.window
    views = x.unfold(2, pt, 1).unfold(3, ph, 1).unfold(4, pw, 1)  # (B, C, T', H', W', pt, ph, pw), no copy
    st, sh, sw = (s[block] for s in idx.window_start)
    return views[shot, :, st, sh, sw]


def _interiors(y: torch.Tensor, plan: BlockPlan, block: torch.Tensor) -> torch.Tensor:
    """Interiors (n, C, bt, bh, bw) of window outputs y (n, C, Pt, Ph, Pw)."""
    idx = _indices(plan, y.device)
    bt, bh, bw = plan.interior
    views = y.unfold(2, bt, 1).unfold(3, bh, 1).unfold(4, bw, 1)
    ot, oh, ow = (o[block] for o in idx.offset)
    n = torch.arange(y.shape[0], device=y.device)
    return views[n, :, ot, oh, ow]


def blockwise_forward(
    forward: Forward,
    x: torch.Tensor,
    halo: int,
    block: tuple[int | None, int | None, int | None] = (None, None, None),
    block_batch: int = 64,
    out_channels: int | None = None,
    out_dtype: torch.dtype | None = None,
    pad_last_batch: bool = False,
) -> torch.Tensor:
    """Run ``forward`` block-wise over x (B, C, T, H, W) and stitch: (B, out_channels, T, H, W).

    Args:
        forward: a fully convolutional map (n, C, t, h, w) -> (n, C_out, t, h, w) with same
            zero padding and receptive radius <= ``halo`` (e.g. a :class:`PreDecoderCNN`).
        halo: the network's receptive radius (R - 1) / 2.
        block: interior size in (rounds, rows, cols); None = the whole axis.
        block_batch: windows per forward pass (bounds memory).
        out_channels: output channels (default: C of the input).
        out_dtype: dtype of the stitched output (default: the forward's output dtype).
        pad_last_batch: pad the last forward pass to ``block_batch`` windows so every call has
            one shape (for CUDA graphs / torch.compile).

    The result equals ``forward(x)`` up to floating-point rounding (see the module docstring).
    """
    if x.ndim != 5:
        raise QecError(f"expected a (B, C, T, H, W) tensor, got shape {tuple(x.shape)}")
    if block_batch < 1:
        raise QecError(f"block_batch must be >= 1, got {block_batch}")
    B = x.shape[0]
    plan = make_plan(tuple(int(s) for s in x.shape[2:]), int(halo), tuple(block))
    if plan.is_whole_volume:
        return _chunked(forward, x, block_batch, out_dtype, pad_last_batch, out_channels)
    nb = plan.blocks_per_shot
    total = B * nb
    nt, nh, nw = (a.count for a in plan.axes)
    bt, bh, bw = plan.interior
    c_out = x.shape[1] if out_channels is None else out_channels
    tiles = None
    for lo in range(0, total, block_batch):
        hi = min(lo + block_batch, total)
        flat = torch.arange(lo, hi, device=x.device)
        shot, blk = flat // nb, flat % nb
        win = gather_windows(x, plan, shot, blk)
        n = hi - lo
        if pad_last_batch and n < block_batch:
            win = torch.cat([win, win.new_zeros((block_batch - n, *win.shape[1:]))])
        y = forward(win)[:n]
        inner = _interiors(y, plan, blk)
        if tiles is None:
            tiles = torch.empty((total, c_out, bt, bh, bw), dtype=out_dtype or y.dtype, device=x.device)
        tiles[lo:hi] = inner
    if tiles is None:  # no shots
        return torch.empty((0, c_out, *plan.shape), dtype=out_dtype or x.dtype, device=x.device)
    # (B, nt, nh, nw, C, bt, bh, bw) -> (B, C, nt*bt, nh*bh, nw*bw) -> the volume's sites.
    tiled = tiles.view(B, nt, nh, nw, c_out, bt, bh, bw).permute(0, 4, 1, 5, 2, 6, 3, 7)
    tiled = tiled.reshape(B, c_out, nt * bt, nh * bh, nw * bw)
    idx = _indices(plan, x.device)
    for axis, pos in zip((2, 3, 4), idx.position):
        if pos.numel() != tiled.shape[axis]:
            tiled = tiled.index_select(axis, pos)
    return tiled.contiguous()


def _chunked(
    forward: Forward,
    x: torch.Tensor,
    batch: int,
    out_dtype: torch.dtype | None,
    pad_last_batch: bool,
    out_channels: int | None,
) -> torch.Tensor:
    """Whole-volume inference, ``batch`` shots per forward pass."""
    B = x.shape[0]
    if 0 < B <= batch and not pad_last_batch:
        y = forward(x)
        return y if out_dtype is None or y.dtype == out_dtype else y.to(out_dtype)
    out = None
    for lo in range(0, B, batch):
        hi = min(lo + batch, B)
        chunk = x[lo:hi]
        if pad_last_batch and hi - lo < batch:
            chunk = torch.cat([chunk, chunk.new_zeros((batch - (hi - lo), *chunk.shape[1:]))])
        y = forward(chunk)[: hi - lo]
        if out is None:
            out = torch.empty((B, *y.shape[1:]), dtype=out_dtype or y.dtype, device=x.device)
        out[lo:hi] = y
    if out is None:
        c = x.shape[1] if out_channels is None else out_channels
        return torch.empty((0, c, *x.shape[2:]), dtype=out_dtype or x.dtype, device=x.device)
    return out
