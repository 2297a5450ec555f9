"""Decoders and matchers, for packages built on ``qec`` (the pre-decoder composes its network with
them): the decoder registry and its factories, the one PyMatching wrapper, per-shot weighted
matching and which backend runs it, matching in worker processes, sliding windows, and decoding
several decoders on the same shots.
"""

from qec._collection._pairing import compare_failures, failure_vectors
from qec._decoding._decoders import DECODERS, Decoder, WithDem, decoder_factory, get_decoder
from qec._decoding._parallel_matching import ParallelMatcher
from qec._decoding._pymatching_decoder import PyMatchingDecoder
from qec._decoding._weighted_matcher import WeightedMatcher, weighted_matching_backend
from qec._decoding._window_decoder import WindowDecoder, WindowStream
from qec._decoding._window_plan import SlidingWindow

__all__ = [
    "DECODERS",
    "Decoder",
    "ParallelMatcher",
    "PyMatchingDecoder",
    "SlidingWindow",
    "WeightedMatcher",
    "WindowDecoder",
    "WindowStream",
    "WithDem",
    "compare_failures",
    "decoder_factory",
    "failure_vectors",
    "get_decoder",
    "weighted_matching_backend",
]
