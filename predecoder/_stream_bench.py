"""Streaming benchmark (``qec bench --stream``): a device's rounds fed to a windowed decoder one at a
time; per experiment length (10d, 100d and 1000d rounds by default) the reaction latency, the
sustained rounds per second and the peak memory.

Timing model. A push is one round's detection events (the final data readout is the last round).
Round r of an experiment arrives at ``r * cadence`` (cadence 0, the default: as soon as the decoder
has taken round r - 1, as fast as it goes). The decoder takes round r at max(its arrival, when the
decoder finished round r - 1) and is busy for as long as its ``push`` takes (wall clock, measured);
the last round's push includes the final windows and the prediction. *Reaction latency*: from the
last round's arrival to the prediction (one sample per experiment), wall clock; on a shared machine
its tail holds the scheduler's preemptions, so ``reaction_cpu_us`` gives the CPU time of the last
round's push too (the decoder's own work). *Rounds per second*: rounds pushed / time spent in
``push`` (the decoder's capacity). ``keeps_up``: rounds per second >= the device's, 1 /
``device_round_us``.

Memory. Each length runs in a fresh spawned process, given the experiment as text and its sampled
events (:class:`StreamInput`: Stim's DEM construction and sampling take memory that grows with the
rounds, the simulated device's, so they run in the parent). ``peak_rss_bytes`` (``ru_maxrss`` once
the last experiment has streamed) is the process's own: Python and its libraries, the circuit and
DEM read from text, building the decoder, the events handed over; ``setup_rss_bytes`` the resident
memory once the decoder is built; ``stream_rss_growth_bytes`` what it grew by while the experiments
streamed. The streamed predictions are then checked against the decoder's ``decode_batch`` on the
same shots, 8 at a time (``agrees_with_batch``).
"""

from __future__ import annotations

import dataclasses
import os
import resource
import time
from typing import Any

import numpy as np
import stim
import torch

from predecoder._bench import device_name
from predecoder._decoders import ler_decoders
from predecoder._device import resolve_device
from predecoder._stream_pipeline import PipelineStream
from qec.encoding import unpack_bits
from qec import MemoryExperiment, SlidingWindow, WindowDecoder
from qec.decoding import decoder_factory

DEVICE_ROUND_US = 1.0
STREAM_LENGTHS = (10, 100, 1000)


@dataclasses.dataclass(frozen=True)
class StreamOptions:
    """One streaming benchmark's point and decoder (everything but the experiment's length).

    ``window=None`` is 2d:d; the network's block is the commit region (it runs once per C rounds)."""

    distance: int
    p: float
    decoder: str = "pymatching"
    window: SlidingWindow | None = None
    experiments: int = 100
    cadence_us: float = 0.0
    device_round_us: float = DEVICE_ROUND_US
    seed: int = 1
    noise: str = "depolarizing"
    basis: str = "x"
    model: str | None = None
    threshold: float | None = None
    device: str = "cpu"
    threads: int = 1

    def resolved_window(self) -> SlidingWindow:
        """The window, 2d:d when none was given."""
        return self.window or SlidingWindow(2 * self.distance, self.distance)


def _rss_now() -> int:
    """Resident bytes of this process now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def stream_experiment(stream: Any, events: np.ndarray, starts: np.ndarray,
                      cadence_s: float) -> tuple[float, float, float, np.ndarray]:
    """Feed one experiment's rounds to ``stream`` (``push``, ``result``): (reaction seconds, the
    last round's push in CPU seconds, busy seconds, the prediction bool (1, observables)).
    ``events``: bool (1, num_detectors); ``starts``: round t's detectors are [starts[t], starts[t + 1])."""
    free = busy = cpu = 0.0
    arrival = 0.0
    rounds = len(starts) - 1
    out = None
    for r in range(rounds):
        arrival = r * cadence_s if cadence_s > 0 else free
        begin = max(free, arrival)
        c0, t0 = time.process_time(), time.perf_counter()
        stream.push(events[:, starts[r]:starts[r + 1]])
        if r == rounds - 1:
            out = stream.result()
        took = time.perf_counter() - t0
        cpu = time.process_time() - c0
        free = begin + took
        busy += took
    return free - arrival, cpu, busy, out


def _feed(decoder: Any):
    """(a new single-shot stream, round boundaries) for a windowed decoder."""
    if isinstance(decoder, WindowDecoder):
        return (lambda: decoder.stream(1)), decoder.round_starts
    probe = PipelineStream(decoder, 1)
    return (lambda: PipelineStream(decoder, 1)), probe.round_starts


@dataclasses.dataclass(frozen=True)
class StreamInput:
    """What the measuring process is given: one length's experiment as text (its circuit and DEM,
    Stim's repeat blocks kept) and the device's output, the bit-packed events of each experiment
    (uint8 (experiments + 1, ceil(N / 8)), the first a warm-up). Building the DEM and sampling
    take memory that grows with the rounds (Stim's), so they happen in the parent."""

    rounds: int
    circuit: str
    dem: str
    events: np.ndarray


def stream_input(options: StreamOptions, rounds: int) -> StreamInput:
    """The experiment of ``rounds`` rounds and its sampled events (seed ``options.seed``)."""
    exp = MemoryExperiment(distance=options.distance, rounds=rounds, p=options.p, basis=options.basis,
                           noise=options.noise)
    circuit = exp.circuit()
    packed, _ = circuit.compile_detector_sampler(seed=options.seed).sample(
        options.experiments + 1, separate_observables=True, bit_packed=True)
    return StreamInput(rounds, str(circuit), str(exp.dem()), packed)


def measure_length(options: StreamOptions, given: StreamInput) -> dict[str, Any]:
    """Stream ``options.experiments`` experiments (after one untimed); one row."""
    torch.set_num_threads(options.threads)
    window = options.resolved_window()
    circuit, dem = stim.Circuit(given.circuit), stim.DetectorErrorModel(given.dem)
    rounds, packed = given.rounds, given.events
    t0 = time.perf_counter()
    custom = ler_decoders(model=options.model, threshold=options.threshold, device=options.device,
                          block_rounds=window.commit)
    decoder = decoder_factory(options.decoder + window.suffix, custom)(circuit, dem)
    new_stream, starts = _feed(decoder)
    setup = time.perf_counter() - t0
    rss_before = _rss_now()
    reactions, cpus, busy, predictions = [], [], 0.0, []
    for k in range(options.experiments + 1):
        events = unpack_bits(packed[k:k + 1], circuit.num_detectors)
        reaction, cpu, took, out = stream_experiment(new_stream(), events, starts, options.cadence_us * 1e-6)
        if k:  # the first is a warm-up
            reactions.append(reaction * 1e6)
            cpus.append(cpu * 1e6)
            busy += took
            predictions.append(out)
    growth = _rss_now() - rss_before
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # before the check below
    batch = np.concatenate([decoder.decode_batch(unpack_bits(packed[k:k + 8], circuit.num_detectors))
                            for k in range(1, len(packed), 8)])
    pushed = (len(starts) - 1) * options.experiments
    rps = pushed / busy
    lat = np.array(reactions)
    percentiles = (lambda a: {"p50": float(np.percentile(a, 50)), "p99": float(np.percentile(a, 99)),
                              "max": float(a.max()), "mean": float(a.mean())})
    device = resolve_device(options.device) if options.decoder.startswith("predecoder") else torch.device("cpu")
    return {
        "decoder": options.decoder, "window": str(window), "distance": options.distance, "p": options.p,
        "rounds": rounds, "rounds_pushed": len(starts) - 1, "experiments": options.experiments,
        "cadence_us": options.cadence_us, "device_round_us": options.device_round_us,
        "reaction_latency_us": percentiles(lat), "reaction_cpu_us": percentiles(np.array(cpus)),
        "rounds_per_second": rps, "us_per_round": 1e6 / rps,
        "throughput_vs_device": rps * options.device_round_us * 1e-6,
        "keeps_up": bool(rps * options.device_round_us * 1e-6 >= 1.0),
        "peak_rss_bytes": peak, "setup_rss_bytes": rss_before,
        "stream_rss_growth_bytes": int(growth), "setup_seconds": setup,
        "agrees_with_batch": bool(np.array_equal(np.concatenate(predictions), batch)),
        "device": str(device), "device_name": device_name(device), "threads": options.threads,
    }


def run_stream_bench(options: StreamOptions, lengths: tuple[int, ...] = STREAM_LENGTHS, *,
                     fresh_process: bool = True) -> list[dict[str, Any]]:
    """One row per length (``lengths``: rounds in units of the distance), each in a fresh process
    (``fresh_process=False``: here, for tests; peak memory is then the process's so far)."""
    rows = []
    for m in lengths:
        given = stream_input(options, int(m) * options.distance)
        if not fresh_process:
            rows.append(measure_length(options, given))
            continue
        from qec.runtime import worker_pool

        with worker_pool(1) as pool:
            rows.append(pool.submit(measure_length, options, given).result())
    return rows
