"""The pre-decoder's decoder names, in one place and free of torch (the command line lists and
checks them without loading the network's libraries)."""

# Decoder name -> how the pipeline finishes: plain or correlated PyMatching on the residual, or
# PyMatching on the events with the network's per-shot weights (neural-weighted matching).
PREDECODER_NAMES = {
    "predecoder": "pymatching",
    "predecoder-correlated": "pymatching-correlated",
    "predecoder-weighted": "pymatching-weighted",
}

# What can finish a :class:`predecoder.PipelineDecoder` (its ``global_decoder``).
GLOBAL_DECODERS = tuple(PREDECODER_NAMES.values())
