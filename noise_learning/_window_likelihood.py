"""The composite likelihood of detection events over local space-time windows.

Independent mechanisms e, each with weight w_e = -ln(1 - 2 p_e), flip detector sets S_e. For a
window A of k detectors, the events x_A are the XOR of the restrictions S_e ∩ A of the mechanisms
that fired, so their distribution is exact and cheap in the Walsh-Hadamard domain:

    chi_A(u) = E[(-1)^(u.x_A)] = exp(-sum_e w_e [|u ∩ S_e| odd]) = exp(-(sum_e w_e - G_A(u)) / 2),
    P_A(x)   = 2^-k sum_u (-1)^(u.x) chi_A(u),

where G_A is the Walsh-Hadamard transform of g_A(m) = total weight of the mechanisms whose
restriction to A is m. The composite log-likelihood sum_A sum_x n_A(x) ln P_A(x) (n_A: how many
shots show pattern x on A) is the log-likelihood of every window's marginal, each exact; the
shots enter only through the pattern counts, so one evaluation costs O(windows k 2^k) whatever
the shot count. Windows whose marginal is the same function of the parameters (translates in
time of a stationary circuit, when weights are pooled over rounds) are merged by adding their
counts.

Example:
    >>> import numpy as np, torch
    >>> mechs = [(0,), (0, 1), (1,)]
    >>> lik = WindowLikelihood(mechs, np.arange(3), [(0, 1)], np.array([[1, 0], [0, 0], [1, 1], [0, 0]], bool))
    >>> lik.distinct_windows, round(float(lik(torch.tensor([0.2, 0.3, 0.1], dtype=torch.float64))), 4)
    (1, -1.3086)
"""

from __future__ import annotations

import collections
from typing import Sequence

import numpy as np
import torch

from noise_learning._walsh_hadamard import walsh_hadamard
from qec import QecError

__all__ = ["WindowLikelihood", "local_windows", "MAX_WINDOW_SIZE"]

MAX_WINDOW_SIZE = 16


def local_windows(mechanisms: Sequence[tuple[int, ...]], weights: np.ndarray, num_detectors: int,
                  size: int) -> list[tuple[int, ...]]:
    """Windows of at most ``size`` detectors: each detector with the ``size - 1`` detectors it
    shares the most mechanism weight with (``weights``: float64 per mechanism), then, for any
    mechanism no such window holds whole, its own support. Sorted tuples, no repeats."""
    if not 2 <= size <= MAX_WINDOW_SIZE:
        raise QecError(f"window size must be in 2..{MAX_WINDOW_SIZE}, got {size}")
    link: list[dict[int, float]] = [collections.defaultdict(float) for _ in range(num_detectors)]
    for m, w in zip(mechanisms, np.asarray(weights, dtype=np.float64)):
        for i in m:
            for j in m:
                if i != j:
                    link[i][j] += w + 1e-12  # every neighbour counts, the strongest first
    windows: dict[tuple[int, ...], None] = {}
    for i in range(num_detectors):
        near = sorted(link[i], key=lambda j: (-link[i][j], j))[: size - 1]
        windows.setdefault(tuple(sorted([i, *near])), None)
    holding: list[set[int]] = [set() for _ in range(num_detectors)]
    for a, win in enumerate(windows):
        for i in win:
            holding[i].add(a)
    for m in mechanisms:
        if len(m) > size:
            raise QecError(f"mechanism {m} has more detectors than the window size {size}")
        if not set.intersection(*(holding[i] for i in m)):
            windows.setdefault(tuple(sorted(m)), None)
    return list(windows)


class WindowLikelihood:
    """The composite log-likelihood of events over ``windows`` (see the module docstring).

    Args:
        mechanisms: detector sets (sorted tuples), one per mechanism.
        parameter: int64 (len(mechanisms),): the parameter each mechanism's weight is
            (tied mechanisms share one).
        windows: detector sets (at most :data:`MAX_WINDOW_SIZE` detectors each).
        events: bool (shots, num_detectors), or an iterable of such chunks.

    Calling it with the parameters' weights, float64 tensor (num_parameters,), gives the
    composite log-likelihood per shot (a differentiable scalar).
    """

    def __init__(self, mechanisms: Sequence[tuple[int, ...]], parameter: np.ndarray,
                 windows: Sequence[tuple[int, ...]], events):
        parameter = np.asarray(parameter, dtype=np.int64)
        touching: dict[int, list[int]] = collections.defaultdict(list)
        for k, m in enumerate(mechanisms):
            for i in m:
                touching[i].append(k)
        distinct: dict[tuple, int] = {}
        self._window_row: list[int] = []
        layouts: list[tuple[int, np.ndarray, np.ndarray]] = []
        for win in windows:
            if not 1 <= len(win) <= MAX_WINDOW_SIZE:
                raise QecError(f"a window holds 1..{MAX_WINDOW_SIZE} detectors, got {len(win)}")
            bit = {d: b for b, d in enumerate(win)}
            ks = sorted({k for i in win for k in touching[i]})
            masks = np.asarray([sum(1 << bit[i] for i in mechanisms[k] if i in bit) for k in ks], dtype=np.int64)
            key = (len(win), tuple(sorted(zip(masks.tolist(), parameter[ks].tolist()))))
            if key not in distinct:
                distinct[key] = len(layouts)
                layouts.append((len(win), masks, parameter[ks]))
            self._window_row.append(distinct[key])
        self.windows = [tuple(w) for w in windows]
        self.distinct_windows = len(layouts)
        counts = [np.zeros(1 << k, dtype=np.int64) for k, _, _ in layouts]
        self.shots = 0
        for chunk in ([events] if isinstance(events, np.ndarray) else events):
            chunk = np.asarray(chunk, dtype=bool)
            self.shots += chunk.shape[0]
            for win, row in zip(self.windows, self._window_row):
                codes = chunk[:, list(win)].astype(np.int64) @ (1 << np.arange(len(win), dtype=np.int64))
                counts[row] += np.bincount(codes, minlength=1 << len(win))
        if self.shots == 0:
            raise QecError("no shots to estimate from")
        self._counts = counts
        # One batch per window size: (rows, 2^k) tensors.
        self._batches = []
        by_size: dict[int, list[int]] = collections.defaultdict(list)
        for row, (k, _, _) in enumerate(layouts):
            by_size[k].append(row)
        for k, rows in sorted(by_size.items()):
            flat = np.concatenate([r * (1 << k) + layouts[row][1] for r, row in enumerate(rows)])
            params = np.concatenate([layouts[row][2] for row in rows])
            n = np.stack([counts[row] for row in rows]).astype(np.float64)
            self._batches.append((k, len(rows), torch.as_tensor(flat), torch.as_tensor(params), torch.as_tensor(n)))

    def pattern_counts(self, window: int) -> np.ndarray:
        """int64 (2^k,): pattern counts of the ``window``-th window, added over the windows merged
        with it (bit b of a pattern = the window's b-th detector)."""
        return self._counts[self._window_row[window]].copy()

    def __call__(self, weights: torch.Tensor) -> torch.Tensor:
        total = weights.new_zeros(())
        for k, rows, flat, params, n in self._batches:
            g = weights.new_zeros(rows << k).index_add(0, flat, weights[params]).reshape(rows, 1 << k)
            chi = torch.exp(-0.5 * (g.sum(-1, keepdim=True) - walsh_hadamard(g)))
            prob = walsh_hadamard(chi) / (1 << k)
            total = total + (n * torch.log(prob.clamp_min(1e-300))).sum()
        return total / self.shots

    def value_and_grad(self, weights: torch.Tensor) -> tuple[float, torch.Tensor]:
        """The composite log-likelihood per shot at ``weights`` and its gradient."""
        weights = weights.detach().requires_grad_(True)
        value = self(weights)
        value.backward()
        return float(value.detach()), weights.grad
