"""Several compositions of one network on the same shots, the network run once per chunk
(:func:`decode_together`, also :meth:`predecoder.PipelineDecoder.decode_together`): a comparison of
``predecoder``, ``predecoder-correlated`` and ``predecoder-weighted`` pays for one network."""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np
import torch


def decode_together(decoders: Sequence[Any], events: np.ndarray, bit_packed: bool = False) -> tuple[list[np.ndarray], list[float]]:
    """Several compositions of one network on the same shots, the network run once per chunk.

    Args:
        decoders: pipelines with one :attr:`network_key` (e.g. ``predecoder``,
            ``predecoder-correlated`` and ``predecoder-weighted`` of one model, windowed or not).
        events: as :meth:`decode_batch` takes them.
        bit_packed: whether ``events`` is bit-packed (default: not).

    Returns:
        (each decoder's predictions, exactly as its :meth:`decode_batch` gives them; each
        decoder's seconds: the shared network's time plus its own, what it costs alone).
    """
    if not decoders:
        raise ValueError("decode_together needs at least one decoder")
    first = getattr(decoders[0], "pipeline", decoders[0])  # a windowed composition's network side
    if any(d.network_key != first.network_key for d in decoders):
        raise ValueError("decode_together needs pipelines of one network (equal network_key)")
    events = first._events(events, bit_packed)
    preds: list[list[np.ndarray]] = [[] for _ in decoders]
    seconds = [0.0] * len(decoders)
    for i in range(0, len(events), first._chunk):
        chunk = events[i:i + first._chunk]
        t0 = time.perf_counter()
        with torch.inference_mode():
            logits = first.logits_from_grid(first.grid(chunk))
        if logits.device.type == "cuda":
            torch.cuda.synchronize(logits.device)
        network = time.perf_counter() - t0
        for k, dec in enumerate(decoders):
            t0 = time.perf_counter()
            preds[k].append(dec.decode_from_logits(chunk, logits))
            seconds[k] += network + time.perf_counter() - t0
    out = []
    for p in preds:
        prediction = np.concatenate(p) if p else np.zeros((0, 1), dtype=bool)
        out.append(np.packbits(prediction, axis=1, bitorder="little") if bit_packed else prediction)
    return out, seconds
