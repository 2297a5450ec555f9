"""Decoders of other packages for ``qec ler --custom-decoders``, each one line.

Neither package is a dependency: install the extra first (``pip install -e '.[beliefmatching]'``
or ``'.[tesseract]'``). tesseract-decoder ships its own function, usable directly:
``--custom-decoders tesseract_decoder:make_tesseract_sinter_decoders_dict``.
"""

from __future__ import annotations


def beliefmatching() -> dict:
    """``{"beliefmatching": BeliefMatchingSinterDecoder()}`` (BP + matching, 20 BP iterations)."""
    from beliefmatching import BeliefMatchingSinterDecoder

    return {"beliefmatching": BeliefMatchingSinterDecoder()}


def tesseract() -> dict:
    """tesseract-decoder's sinter decoders (``tesseract``, ``tesseract-short-beam``, ...)."""
    from tesseract_decoder import make_tesseract_sinter_decoders_dict

    return dict(make_tesseract_sinter_decoders_dict())
