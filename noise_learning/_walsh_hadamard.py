"""The Walsh-Hadamard transform over the last axis, and parity signs of bit patterns.

The distribution of a few detectors' events under independent error mechanisms is a product in
the Walsh-Hadamard (Fourier over GF(2)^k) domain: both likelihoods of
:mod:`noise_learning._likelihood` are built from this transform.

Example:
    >>> import torch
    >>> walsh_hadamard(torch.tensor([1.0, 0.0, 0.0, 0.0])).tolist()
    [1.0, 1.0, 1.0, 1.0]
    >>> walsh_hadamard(walsh_hadamard(torch.tensor([3.0, 1.0]))).tolist()   # H H = 2^k I
    [6.0, 2.0]
"""

from __future__ import annotations

import functools

import numpy as np
import torch

__all__ = ["walsh_hadamard", "parity_signs"]


@functools.lru_cache(maxsize=64)
def _sylvester(bits: int, dtype: torch.dtype) -> torch.Tensor:
    """The 2^bits x 2^bits Hadamard matrix H[i, j] = (-1)^popcount(i & j)."""
    i = np.arange(1 << bits)
    return torch.as_tensor(1 - 2 * (np.bitwise_count(i[:, None] & i[None, :]).astype(np.int64) & 1), dtype=dtype)


def walsh_hadamard(x: torch.Tensor) -> torch.Tensor:
    """Unnormalized Walsh-Hadamard transform over the last axis (length 2^k, k <= 24):
    y[..., u] = sum_a (-1)^popcount(u & a) x[..., a]. Differentiable; applying it twice gives
    2^k times the input. Computed as H_a (x reshaped to 2^a x 2^b) H_b with a + b = k."""
    n = x.shape[-1]
    k = n.bit_length() - 1
    if n != 1 << k or k > 24:
        raise ValueError(f"length must be a power of two up to 2^24, got {n}")
    a = k // 2
    b = k - a
    y = x.reshape(-1, 1 << a, 1 << b)
    y = _sylvester(a, x.dtype) @ y @ _sylvester(b, x.dtype)
    return y.reshape(x.shape)


def parity_signs(codes: np.ndarray, bits: int) -> np.ndarray:
    """int8 (len(codes), 2^bits): (-1)^popcount(u & code) for every u < 2^bits, a row per code."""
    u = np.arange(1 << bits, dtype=np.int64)
    odd = np.bitwise_count(np.asarray(codes, dtype=np.int64)[:, None] & u[None, :]).astype(np.int8) & 1
    return 1 - 2 * odd
