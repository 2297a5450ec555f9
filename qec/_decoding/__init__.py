"""Decoders: the registry (``qec``'s own decoders, custom decoders passed in), the one PyMatching
wrapper, a ``sinter.Decoder`` used as ours, per-shot weighted matching (the compiled core
``_weighted_matching`` and its exact fallback), matching in worker processes, sliding windows, and
decoding shot files.

Layering: above ``_data``."""
