"""Latency and throughput of the pipeline, stage by stage, on one set of sampled shots.

Every figure is microseconds per round: (median over repeats of the time to decode all shots)
/ (shots * rounds). Each stage runs ``warmup`` times before the timed repeats, and the stages
take turns within each repeat, in reversed order every other repeat (a slow spell on a shared
machine hits all stages alike). The two matching stages are timed as their own group (at least
5 repeats), away from the network stages, whose memory traffic leaves the caches cold. On CUDA the clock
is read only after ``torch.cuda.synchronize``, so asynchronous kernels are counted.

Stages (all on the same shots, in batches of ``batch``):

- ``predecoder``: events -> residual events and observable flip on the host (grid, block
  windows, network, stitching, threshold, H and L, copy back): everything before matching.
- ``network``: the forward passes alone, on prepared inputs (windows gathered beforehand).
- ``pymatching``: the global decoder on the raw events.
- ``pymatching_residual``: the global decoder on the residual events after pre-decoding.
- ``end_to_end``: :meth:`PipelineDecoder.decode_batch`, all of it.

For ``predecoder-weighted`` (neural-weighted matching), ``predecoder`` is the network side
(events -> events to match, flip and logits on the host) and ``weighted_matching`` replaces
``pymatching_residual``: per-shot weights from the logits plus matching, network excluded.
``matching_vs_pymatching`` = (the composition's matching stage) / pymatching.

- ``overhead``: the end-to-end pipeline with the network and the global decoder replaced by
  stubs that return at once: layout, windows, stitching, threshold, residual and packing.

``overhead_fraction`` = overhead / end_to_end (measured directly; a difference of two large,
noisy timings would not resolve a few percent on a shared machine). For reference,
``overhead_fraction_by_difference`` = 1 - (network + pymatching_residual) / end_to_end, which
also counts the cache misses that the network's memory traffic leaves to the stages after it.
``residual_speedup`` = pymatching / pymatching_residual.
"""

from __future__ import annotations

import copy
import os
import platform
import statistics
import time
from typing import Any, Callable

import numpy as np
import torch

from predecoder._blockwise import gather_windows, make_plan
from predecoder._decoder_names import PREDECODER_NAMES
from predecoder._device import resolve_device
from predecoder._latency_path import LatencyPath
from predecoder._model import OUT_CHANNELS
from predecoder._pipeline import PipelineDecoder
from qec.encoding import pack_bits
from qec import MemoryExperiment, QecError
from qec.runtime import check_fits, detectors, point_bytes


class _NullDecoder:
    """A global decoder that predicts 'no flip' at no cost (for timing everything else)."""

    def decode_batch(self, events: np.ndarray, bit_packed: bool = False) -> np.ndarray:
        return np.zeros((len(events), 1), dtype=bool)


def device_name(device: torch.device) -> str:
    """A human-readable name of the device (GPU model, or CPU model and core count)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


def _timer(device: torch.device) -> Callable[[], float]:
    if device.type == "cuda":
        def now() -> float:
            torch.cuda.synchronize(device)
            return time.perf_counter()
        return now
    return time.perf_counter


def time_stage(fn: Callable[[], Any], device: torch.device, repeats: int, warmup: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs after ``warmup`` runs."""
    now = _timer(device)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = now()
        fn()
        times.append(now() - t0)
    return statistics.median(times)


def time_stages(
    stages: dict[str, Callable[[], Any]], device: torch.device, repeats: int, warmup: int
) -> dict[str, float]:
    """Median seconds of each stage; the stages take turns within every repeat (in reversed
    order every other repeat), so a slow spell of a shared machine, or a cache emptied by the
    stage before, hits all of them alike instead of one."""
    now = _timer(device)
    for _ in range(warmup):
        for fn in stages.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in stages}
    order = list(stages.items())
    for r in range(repeats):
        for name, fn in (order if r % 2 == 0 else order[::-1]):
            t0 = now()
            fn()
            times[name].append(now() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


PERCENTILES = (50, 90, 99, 99.9)


def distribution(values_us: np.ndarray) -> dict[str, float]:
    """mean, p50, p90, p99, p99.9 and max of a sample of latencies (us per round)."""
    v = np.asarray(values_us, dtype=float)
    out = {"mean": float(v.mean())}
    for q in PERCENTILES:
        out[f"p{q:g}"] = float(np.percentile(v, q))
    out["max"] = float(v.max())
    return out


def latency_distribution(
    dec: PipelineDecoder, events: np.ndarray, decodes: int, warmup: int = 20, path: LatencyPath | None = None
) -> dict[str, Any]:
    """Single-shot latency, one decode at a time, ``decodes`` times (cycling through ``events``).

    Per decode: the pre-decoder stage (host to host: :meth:`PipelineDecoder.residual_and_flip`
    or, for neural-weighted matching, :meth:`PipelineDecoder.weighted_inputs`; with ``path`` the
    static batch-1 path of :class:`LatencyPath`), the matching stage (PyMatching on its residual,
    or the weighted matcher; reported as ``pymatching_residual``), and end to end (both, and the
    XOR), each in us per round. On CUDA
    the clock is read after the residual's copy back, which synchronizes. With ``path``,
    ``"stream"`` is the per-shot cost of :meth:`LatencyPath.decode_stream` (matching of shot k
    overlapped with pre-decoding shot k+1).

    Returns ``{"decodes": n, "predecoder": dist, "pymatching_residual": dist, "end_to_end": dist}``
    with ``dist`` from :func:`distribution`.
    """
    rounds = dec.layout.shape[0] - 1
    n = len(events)
    packed = pack_bits(events)
    matcher = dec.local_matcher  # single shots: in this process, never a worker's round trip

    def predecode(i):
        if path is not None:
            return path.predecode_shot(packed[i % n])
        if dec.weighted:
            return dec.weighted_inputs(events[i % n:i % n + 1])
        return dec.residual_and_flip(events[i % n:i % n + 1])

    def match(prepared):
        if path is not None:
            return path.match_shot(*prepared)
        if dec.weighted:
            return dec.match_weighted(*prepared)
        res, flip = prepared
        return np.bitwise_xor(matcher.decode_batch(res, bit_packed=False), flip)

    for i in range(warmup):
        match(predecode(i))
    pre = np.empty(decodes)
    mat = np.empty(decodes)
    total = np.empty(decodes)
    clock = time.perf_counter
    for i in range(decodes):
        t0 = clock()
        prepared = predecode(i)
        t1 = clock()
        _ = match(prepared)
        t2 = clock()
        pre[i], mat[i], total[i] = t1 - t0, t2 - t1, t2 - t0
    scale = 1e6 / rounds
    out = {"decodes": decodes, "path": "batch-1 static" + (" (CUDA graph)" if path and path.graph else "")
           if path is not None else "pipeline", "predecoder": distribution(pre * scale),
           "pymatching_residual": distribution(mat * scale), "end_to_end": distribution(total * scale)}
    if path is not None:
        t0 = clock()
        for _ in path.decode_stream(packed[i % n] for i in range(decodes)):
            pass
        out["stream_us_per_round"] = (clock() - t0) * scale / decodes
    return out


def run_bench(
    distance: int,
    p: float,
    *,
    rounds: int | None = None,
    noise: str = "depolarizing",
    basis: str = "x",
    batch: int = 1,
    shots: int | None = None,
    device: str = "cpu",
    model: str | None = None,
    repeats: int = 5,
    warmup: int = 1,
    seed: int = 1,
    latency_decodes: int = 1000,
    latency_path: bool = False,
    decoder: str = "predecoder",
    log: Callable[[str], None] | None = None,
    **pipeline: Any,
) -> dict[str, Any]:
    """Benchmark one (distance, rounds, p, batch); returns the JSON row (see the module doc).

    ``decoder`` is a pre-decoder composition (:data:`predecoder.PREDECODER_NAMES`).
    ``pipeline``: the pipeline's own options, passed to :class:`PipelineDecoder` as they are
    (``block_rounds``, ``block_space``, ``block_batch``, ``precision``, ``compile``, ``threshold``,
    ``matching_workers``, ``backend``; its defaults where left out).

    At batch 1, ``latency_decodes`` single-shot decodes also give the latency distribution
    (``"latency"``: mean, p50, p90, p99, p99.9, max per stage; :func:`latency_distribution`);
    0 leaves it out. ``shots`` (default: the batch, at least 32) is at least ``batch``. ``log``
    receives a line as each step starts (a long memory's steps take minutes).
    """
    log = log or (lambda line: None)
    if batch < 1:
        raise QecError(f"batch must be >= 1, got {batch}")
    if shots is not None and shots < batch:
        raise QecError(f"shots ({shots}) must be >= batch ({batch}): a batch of {batch} needs that many shots")
    if repeats < 1 or warmup < 0:
        raise QecError("repeats must be >= 1 and warmup >= 0")
    if decoder not in PREDECODER_NAMES:
        raise QecError(f"unknown decoder {decoder!r}; choose from {', '.join(PREDECODER_NAMES)}")
    dev = resolve_device(device)
    rounds = distance if rounds is None else rounds
    exp = MemoryExperiment(distance=distance, rounds=rounds, p=p, basis=basis, noise=noise)
    # The pipeline and plain PyMatching beside it, before anything is built.
    check_fits(point_bytes(distance, rounds, ("predecoder", "pymatching")),
               f"benchmarking the d={distance}, rounds={rounds} pipeline", detectors(distance, rounds))
    if shots is None:
        shots = batch if batch >= 32 else 32
    point = f"d={distance} rounds={rounds} p={p:g} batch {batch}"
    log(f"{point}: building the circuit and the pipeline, sampling {shots} shots")
    circuit, dem = exp.circuit(), exp.dem()
    dec = PipelineDecoder(circuit, dem, model=model, device=dev, batch_size=max(batch, 1),
                          global_decoder=PREDECODER_NAMES[decoder], **pipeline)
    events, obs = circuit.compile_detector_sampler(seed=seed).sample(shots, separate_observables=True)
    chunks = [slice(i, min(i + batch, shots)) for i in range(0, shots, batch)]
    prediction, residual = dec.decode_batch(events, return_residual=True)
    raw_prediction = dec.local_matcher.decode_batch(events)
    # What the weighted matcher gets per chunk (events to match, flip, logits), prepared once.
    weighted_inputs = [dec.weighted_inputs(events[s]) for s in chunks] if dec.weighted else []

    # Prepared network inputs: the forward passes exactly as the block loop makes them.
    plan = make_plan(dec.layout.shape, dec.halo, dec.block)
    prepared = []
    for s in chunks:
        x = dec.grid(events[s])
        if plan.is_whole_volume:
            prepared += [x[i:i + dec.block_batch] for i in range(0, len(x), dec.block_batch)]
        else:
            total = len(x) * plan.blocks_per_shot
            for lo in range(0, total, dec.block_batch):
                flat = torch.arange(lo, min(lo + dec.block_batch, total), device=dev)
                prepared.append(gather_windows(x, plan, flat // plan.blocks_per_shot, flat % plan.blocks_per_shot))

    @torch.inference_mode()
    def network():
        for w in prepared:
            dec.network(w)

    def predecoder():
        for s in chunks:
            dec.weighted_inputs(events[s]) if dec.weighted else dec.residual_and_flip(events[s])

    def pymatching_raw():
        for s in chunks:
            dec.local_matcher.decode_batch(events[s])

    def pymatching_residual():
        for s in chunks:
            dec.global_decoder.decode_batch(residual[s])

    def weighted_matching():
        for inputs in weighted_inputs:
            dec.match_weighted(*inputs)

    def end_to_end():
        for s in chunks:
            dec.decode_batch(events[s])

    def throughput():  # all shots in one call: with matching workers, matching overlaps the network
        dec.decode_batch(events)

    # The same pipeline with the network and the global decoder replaced by stubs that cost
    # almost nothing: what remains is layout, windows, stitching, threshold, residual, packing.
    bare = copy.copy(dec)
    bare.network = lambda w: w.new_zeros((w.shape[0], OUT_CHANNELS, *w.shape[2:]))
    bare.global_decoder = _NullDecoder()
    bare.matching_workers = 0
    if dec.weighted:
        bare.match_weighted = lambda res, flip, logits: flip

    def overhead():
        for s in chunks:
            bare.decode_batch(events[s])

    per_round = 1e6 / (shots * rounds)
    # Matching is timed apart from the network stages: after a forward pass the caches are cold,
    # which would penalize whichever matching stage came right after it.
    matching = {"pymatching": pymatching_raw}
    matching["weighted_matching" if dec.weighted else "pymatching_residual"] = (
        weighted_matching if dec.weighted else pymatching_residual)
    torch_stages = {"network": network, "predecoder": predecoder, "end_to_end": end_to_end, "overhead": overhead,
                    "throughput": throughput}
    log(f"{point}: timing the matching stages ({max(repeats, 5)} timed runs, {warmup} warm-up)")
    t = {name: sec * per_round for name, sec in time_stages(matching, dev, max(repeats, 5), warmup).items()}
    log(f"{point}: timing the network stages ({repeats} timed runs, {warmup} warm-up)")
    t.update({name: sec * per_round for name, sec in time_stages(torch_stages, dev, repeats, warmup).items()})
    match_key = "weighted_matching" if dec.weighted else "pymatching_residual"
    by_difference = 1.0 - (t["network"] + t[match_key]) / t["end_to_end"]
    latency = None
    if batch == 1 and latency_decodes > 0:
        path = LatencyPath(dec) if latency_path else None
        log(f"{point}: {latency_decodes} single-shot decodes for the latency distribution")
        latency = latency_distribution(dec, events, latency_decodes, warmup=max(warmup, 1) * 10, path=path)
    dec.close()
    return {
        "device": str(dev),
        "device_name": device_name(dev),
        "distance": distance,
        "rounds": rounds,
        "p": p,
        "noise": noise,
        "basis": basis,
        "batch": batch,
        "shots": shots,
        "repeats": repeats,
        "model": dec.model.short_hash,
        "model_sha256": dec.model.sha256,
        "model_noise": dec.model.describe_training_noise(),
        "noise_version": exp.noise_version,
        "receptive_field": dec.model.config.receptive_field,
        "threshold": dec.threshold if np.isfinite(dec.threshold) else None,
        "block": [plan.interior[0], plan.interior[1], plan.interior[2]],
        "blocks_per_shot": plan.blocks_per_shot,
        "block_batch": dec.block_batch,
        "precision": dec.precision,
        "compile": dec.compiled,
        "torch_threads": torch.get_num_threads(),
        "predecoder_us_per_round": t["predecoder"],
        "network_us_per_round": t["network"],
        "pymatching_us_per_round": t["pymatching"],
        "decoder": decoder,
        "pymatching_residual_us_per_round": t.get("pymatching_residual"),
        "weighted_matching_us_per_round": t.get("weighted_matching"),
        "matching_vs_pymatching": t[match_key] / t["pymatching"] if t["pymatching"] > 0 else None,
        "weighted_backend": dec.weighted_matcher.backend if dec.weighted else None,
        "end_to_end_us_per_round": t["end_to_end"],
        "overhead_us_per_round": t["overhead"],
        "overhead_fraction": t["overhead"] / t["end_to_end"],
        "overhead_fraction_by_difference": by_difference,
        "residual_speedup": t["pymatching"] / t[match_key] if t[match_key] > 0 else None,
        "density_raw": float(np.mean(events)),
        "density_residual": float(np.mean(residual)),
        "ler_pymatching": float(np.mean(np.any(raw_prediction != obs, axis=1))),
        "ler_pipeline": float(np.mean(np.any(prediction != obs, axis=1))),
        "latency": latency,
        "matching_workers": dec.matching_workers,
        "backend": dec.backend,
        "providers": getattr(dec.network, "providers", None),
        "throughput_us_per_round": t["throughput"],
        "throughput_shots_per_s": 1e6 / (t["throughput"] * rounds) if t["throughput"] > 0 else None,
    }
