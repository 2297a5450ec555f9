"""The exact log-likelihood of whole shots: a transfer matrix over detector layers.

A memory circuit's mechanisms flip detectors of one layer (one time coordinate) or of two
consecutive layers. Going through the layers in time order, the state after layer L is the
distribution of the flips that layer L's mechanisms left pending on layer L + 1, given the events
seen so far: a vector of 2^n (n detectors in layer L + 1). One step is

    beta_{L+1}(b) = sum_s beta_L(s) Q_L(x_L xor s, b),

with Q_L the joint distribution of (flips on layer L, flips on layer L + 1) of the mechanisms
starting at layer L. Both the XOR-convolution and Q_L are products in the Walsh-Hadamard domain,
so a step is one (shots, 2^n) x (2^n, 2^n') product. This is exact (no approximation at all),
and tractable while layers hold few detectors: d = 3 memory experiments (8 detectors a layer),
not d = 5 (24). It is the reference the window likelihood (:mod:`noise_learning._window_likelihood`)
is measured against.

Example:
    >>> import numpy as np, torch
    >>> mechs = [(0,), (0, 1), (1,)]
    >>> events = np.array([[1, 0], [0, 0], [1, 1], [0, 0]], bool)
    >>> lik = ExactLikelihood(mechs, np.arange(3), np.array([0.0, 1.0]), events)
    >>> value, grad = lik.value_and_grad(torch.tensor([0.2, 0.3, 0.1], dtype=torch.float64))
    >>> round(value, 4), grad.shape
    (-1.3086, torch.Size([3]))
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from noise_learning._walsh_hadamard import parity_signs, walsh_hadamard
from qec import QecError

__all__ = ["ExactLikelihood", "MAX_LAYER_DETECTORS"]

MAX_LAYER_DETECTORS = 10
_SHOT_CHUNK = 4096


class ExactLikelihood:
    """The exact log-likelihood per shot of ``events`` (see the module docstring).

    Args:
        mechanisms: detector sets (sorted tuples), one per mechanism.
        parameter: int64 (len(mechanisms),): each mechanism's parameter (tied ones share it).
        detector_time: float64 (num_detectors,): each detector's layer (time coordinate).
        events: bool (shots, num_detectors).

    Raises:
        QecError: a layer of more than :data:`MAX_LAYER_DETECTORS` detectors, or a mechanism
            spanning more than two consecutive layers.
    """

    def __init__(self, mechanisms: Sequence[tuple[int, ...]], parameter: np.ndarray, detector_time: np.ndarray,
                 events: np.ndarray):
        times = np.asarray(detector_time, dtype=np.float64)
        levels = np.unique(times)
        layer_of = np.searchsorted(levels, times)
        self.layers = [np.flatnonzero(layer_of == L) for L in range(len(levels))]
        self.sizes = [len(d) for d in self.layers]
        if max(self.sizes) > MAX_LAYER_DETECTORS:
            raise QecError(f"the exact likelihood needs layers of at most {MAX_LAYER_DETECTORS} detectors, "
                           f"this circuit has {max(self.sizes)}")
        bit = np.empty(len(times), dtype=np.int64)
        for dets in self.layers:
            bit[dets] = np.arange(len(dets))
        parameter = np.asarray(parameter, dtype=np.int64)
        starts: list[list[tuple[int, int]]] = [[] for _ in self.layers]
        for k, m in enumerate(mechanisms):
            first, last = int(layer_of[list(m)].min()), int(layer_of[list(m)].max())
            if last - first > 1:
                raise QecError(f"mechanism {m} spans more than two consecutive detector layers")
            mask = sum(1 << int(bit[i] + (0 if layer_of[i] == first else self.sizes[first])) for i in m)
            starts[first].append((k, mask))
        self._steps = [(torch.as_tensor(parameter[[k for k, _ in s]], dtype=torch.long),
                        torch.as_tensor([mask for _, mask in s], dtype=torch.long)) for s in starts]
        events = np.asarray(events, dtype=bool)
        if events.shape[0] == 0:
            raise QecError("no shots to estimate from")
        self.shots = events.shape[0]
        # Identical shots are evaluated once, weighted by their multiplicity.
        unique, multiplicity = np.unique(np.packbits(events, axis=1), axis=0, return_counts=True)
        unique = np.unpackbits(unique, axis=1)[:, : events.shape[1]].astype(bool)
        self._multiplicity = torch.as_tensor(multiplicity, dtype=torch.float64)
        self._signs = []
        for dets in self.layers:
            codes = unique[:, dets].astype(np.int64) @ (1 << np.arange(len(dets), dtype=np.int64))
            self._signs.append(parity_signs(codes, len(dets)))

    def _transfer(self, weights: torch.Tensor, L: int) -> torch.Tensor:
        """(2^n_L, 2^n_{L+1}) float64: Q_L transformed over its first index."""
        n0 = self.sizes[L]
        n1 = self.sizes[L + 1] if L + 1 < len(self.sizes) else 0
        params, masks = self._steps[L]
        g = weights.new_zeros(1 << (n0 + n1)).index_add(0, masks, weights[params])
        chi = torch.exp(-0.5 * (g.sum() - walsh_hadamard(g))).reshape(1 << n1, 1 << n0)
        return walsh_hadamard(chi.T.contiguous()) / (1 << n1)

    def _chunk_log_likelihood(self, transfers: Sequence[torch.Tensor], rows: slice) -> torch.Tensor:
        beta = None
        total = torch.zeros((), dtype=torch.float64)
        weight = self._multiplicity[rows]
        for L, q in enumerate(transfers):
            signs = torch.as_tensor(self._signs[L][rows], dtype=torch.float64)
            if beta is None:  # nothing pending before the first layer: its transform is all ones
                beta = signs @ q / (1 << self.sizes[L])
            else:
                beta = (walsh_hadamard(beta) * signs) @ q / (1 << self.sizes[L])
            scale = beta.sum(-1, keepdim=True)
            total = total + (weight * torch.log(scale[:, 0])).sum()
            beta = beta / scale
        return total

    def value_and_grad(self, weights: torch.Tensor) -> tuple[float, torch.Tensor]:
        """The log-likelihood per shot at ``weights`` (float64 (num_parameters,)) and its gradient."""
        weights = weights.detach().requires_grad_(True)
        transfers = [self._transfer(weights, L) for L in range(len(self.layers))]
        leaves = [q.detach().requires_grad_(True) for q in transfers]
        value = 0.0
        for start in range(0, len(self._multiplicity), _SHOT_CHUNK):
            ll = self._chunk_log_likelihood(leaves, slice(start, start + _SHOT_CHUNK)) / self.shots
            ll.backward()
            value += float(ll.detach())
        torch.autograd.backward(transfers, [leaf.grad for leaf in leaves])
        return value, weights.grad
