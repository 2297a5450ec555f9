"""The pre-decoder's decoders for ``qec``'s collection: ``predecoder``, ``predecoder-correlated``
and ``predecoder-weighted`` as typed, picklable factories, passed in as ``custom_decoders``
(``qec`` itself knows only its own decoders)."""

from __future__ import annotations

import dataclasses
from typing import Any

import stim

from predecoder._decoder_names import PREDECODER_NAMES
from predecoder._pipeline import PipelineDecoder
from predecoder._pipeline_options import PipelineOptions


@dataclasses.dataclass(frozen=True)
class PipelineDecoderFactory(PipelineOptions):
    """Builds a :class:`PipelineDecoder` for a circuit and its DEM: the pre-decoder's entry in a
    ``custom_decoders`` mapping (:func:`ler_decoders`). Picklable: it holds a model path.

    Its fields are :class:`PipelineDecoder`'s options (inherited from
    :class:`predecoder._pipeline_options.PipelineOptions`), the model and a sliding window; the
    threshold takes one path: this field, then the decoder's ``threshold`` and its
    ``metadata["threshold"]``, recorded with the results.
    """

    model: str | None = None
    window: Any = None  # a qec.SlidingWindow: match in sliding windows (WindowedPipelineDecoder)

    @property
    def fitted_on(self) -> list:
        """The measured shots the model's training DEMs were estimated from (its metadata's
        ``fitted_on``): ``qec hardware`` refuses to score them."""
        from predecoder._model_file import load_model

        return load_model(self.model).fitted_on

    def __call__(self, circuit: stim.Circuit, dem: stim.DetectorErrorModel):
        if self.window is None:
            return PipelineDecoder(circuit, dem, model=self.model, **self.options())
        from predecoder._window_pipeline import WindowedPipelineDecoder

        pipeline = PipelineDecoder(circuit, dem, model=self.model, matching=False, **self.options())
        return WindowedPipelineDecoder(pipeline, dem, self.window, weighted_backend=self.weighted_backend)


def ler_decoders(*, model: str | None = None, threshold: float | None = None, **options: Any) -> dict[str, PipelineDecoderFactory]:
    """``predecoder`` and ``predecoder-correlated`` (plain or correlated PyMatching on the
    residual) and ``predecoder-weighted`` (neural-weighted matching) for
    ``qec.collect_ler(..., custom_decoders=...)`` and ``qec ler --custom-decoders
    predecoder:ler_decoders``.

    Args:
        model: model file (None: the shipped default).
        threshold: logit threshold (None: the model's).
        options: further :class:`PipelineDecoderFactory` fields (device, block_rounds, ...).

    Example:
        >>> from qec import LerTask, MemoryExperiment, collect_ler
        >>> task = LerTask(MemoryExperiment(3, 3, 0.003), ("predecoder", "pymatching"))
        >>> [r.shots for r in collect_ler([task], max_shots=500, seed=1, custom_decoders=ler_decoders())]
        [500, 500]
    """
    out = {}
    for name, g in PREDECODER_NAMES.items():
        fields = dict(options)
        if g == "pymatching-weighted":
            fields.pop("matching_workers", None)  # weighted matching runs in the decoding process
        out[name] = PipelineDecoderFactory(global_decoder=g, model=model, threshold=threshold, **fields)
    return out
