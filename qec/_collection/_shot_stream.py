"""The shots of one point: a fixed sequence of batches, so that shot number n is the same shot in
every run, whichever decoders decode it and however the work is split.

Batch k holds :meth:`ShotStream.batch_size` (k) shots (1024, doubling, up to 65,536 or 64 MiB of
bit-packed events) and is sampled in one call with the seed ``sha256(base seed, circuit text, k)``;
so the stream is a function of (base seed, the point's circuit, batch index) alone. A decoder's
shots are a prefix of the stream: a decoder added later, or another threshold or model, decodes
exactly the shots the others decoded, and a resumed run continues after them. A batch is always
sampled whole (Stim's seeded results depend on the number of shots per call) and sliced.

Stim gives the same shots for a seed only with the same Stim version on the same SIMD width
(its documentation), so the stream is named by its base seed *and* :func:`sampler_id`; rows
record which stream their shots came from (:func:`qec._collection._pairing.stream_key`).

Example:
    >>> from qec import MemoryExperiment
    >>> circuit = MemoryExperiment(3, 3, 0.01, "x").circuit()
    >>> stream = ShotStream(circuit, base_seed=1)
    >>> [stream.batch_size(k) for k in range(3)], stream.locate(3500)
    ([1024, 2048, 4096], (2, 428))
    >>> events, obs = stream.sample(circuit, 1)
    >>> import numpy as np
    >>> bool(np.array_equal(events, ShotStream(circuit, base_seed=1).sample(circuit, 1)[0]))
    True
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np
import stim

from qec._collection._pairing import stream_key

FIRST_BATCH = 1024
MIN_BATCH = 256
MAX_BATCH = 1 << 16
MAX_BATCH_BYTES = 1 << 26


@functools.lru_cache(maxsize=1)
def sampler_id() -> str:
    """This Stim build as far as seeded sampling goes: ``"stim<version>-<simd>"`` (e.g.
    ``stim1.16.0-avx2``)."""
    module = type(stim.Circuit().compile_detector_sampler()).__module__
    return f"stim{stim.__version__}-{module.rsplit('_stim_', 1)[-1]}"


class ShotStream:
    """The shot stream of one point (``circuit``) for one base seed."""

    def __init__(self, circuit: stim.Circuit, base_seed: int, circuit_text: str | None = None):
        self.base_seed = int(base_seed)
        text = str(circuit) if circuit_text is None else circuit_text
        self._key = hashlib.sha256(f"{self.base_seed}\0{text}".encode()).digest()
        bytes_per_shot = (circuit.num_detectors + 7) // 8 + 1
        self.max_batch = max(MIN_BATCH, min(MAX_BATCH, MAX_BATCH_BYTES // bytes_per_shot))
        # Batches below this index double; from it on they all hold max_batch shots.
        self._grown = 0
        while min(FIRST_BATCH << self._grown, self.max_batch) < self.max_batch:
            self._grown += 1
        self.sampler = sampler_id()
        self.key = stream_key(self.base_seed, self.sampler)

    def batch_size(self, k: int) -> int:
        """Shots in batch ``k`` (batches grow from the first to ``max_batch``)."""
        return self.max_batch if k >= self._grown else min(FIRST_BATCH << k, self.max_batch)

    def batch_start(self, k: int) -> int:
        """The position of batch ``k``'s first shot."""
        if k <= self._grown:
            return FIRST_BATCH * ((1 << k) - 1)
        return FIRST_BATCH * ((1 << self._grown) - 1) + (k - self._grown) * self.max_batch

    def locate(self, position: int) -> tuple[int, int]:
        """(batch, offset in it) of shot number ``position``."""
        k = 0
        while k < self._grown and self.batch_start(k + 1) <= position:
            k += 1
        if k == self._grown:
            k += (position - self.batch_start(k)) // self.max_batch
        return k, position - self.batch_start(k)

    def batch_seed(self, k: int) -> int:
        """Batch ``k``'s sampler seed, derived from the stream's key and ``k``."""
        return int.from_bytes(hashlib.sha256(self._key + int(k).to_bytes(8, "little")).digest()[:8], "little") >> 1

    def sample(self, circuit: stim.Circuit, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Batch ``k``: bit-packed events (shots, ceil(D / 8)) and observables (shots, ceil(O / 8))."""
        return sample_batch(circuit, self.batch_size(k), self.batch_seed(k))


def sample_batch(circuit: stim.Circuit, shots: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``shots`` bit-packed shots of ``circuit`` sampled in one call with ``seed``."""
    sampler = circuit.compile_detector_sampler(seed=seed)
    return sampler.sample(shots, separate_observables=True, bit_packed=True)
