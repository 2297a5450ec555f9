"""Validation of a pre-decoder during training: on fixed labeled shots, the pipeline's errors per
logit threshold against plain PyMatching, the errors of neural-weighted matching (the logits as
per-shot matching weights), the residual density, and per-voxel BCE, precision and recall against
the labels.

The pipeline part is the pipeline's own code (:meth:`PipelineDecoder.decode_corrections`:
prediction = L*c XOR match(events XOR H*c)), so validation measures exactly what decoding does.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

import numpy as np
import stim
import torch

from predecoder._model import PreDecoderCNN
from predecoder._model_file import LoadedModel
from predecoder._pipeline import MAX_WEIGHT, PipelineDecoder
from qec import SpaceTimeLayout

VALIDATION_THRESHOLDS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)


class ValidationTarget(Protocol):
    """What validation needs of one memory basis (``predecoder._training``'s experiments)."""

    layout: SpaceTimeLayout
    valid: torch.Tensor  # bool (4, T, H, W): where basis elements exist


def validate(
    network: torch.nn.Module,
    targets: Sequence[ValidationTarget],
    pipelines: Sequence[PipelineDecoder],
    val_data: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    device: torch.device,
    thresholds=VALIDATION_THRESHOLDS,
    batch: int = 512,
) -> dict[str, Any]:
    """Pipeline LER per threshold vs plain PyMatching on fixed shots (summed over bases),
    neural-weighted matching's LER (``weighted_ler``), and the per-voxel BCE, precision and recall
    (threshold 0) against the shots' labels.

    Args:
        network: the model being trained (put in eval mode here, back in train mode after).
        targets: per basis, its layout and valid-element mask.
        pipelines: per basis, a :class:`PipelineDecoder` on the same network (see
            :func:`validation_pipeline`): its ``decode_corrections`` and global decoder score the shots.
        val_data: per basis, (events bool (shots, N), observables bool (shots, 1), labels bool
            (shots, 4, T, H, W)).
    """
    network.eval()
    errors = {t: 0 for t in thresholds}
    weighted = 0
    plain = 0
    shots = 0
    events_before = 0
    events_after = {t: 0 for t in thresholds}
    bce_sum, voxels, tp, fp, fn = 0.0, 0, 0, 0, 0
    with torch.inference_mode():
        for ex, pipeline, (events, obs, labels) in zip(targets, pipelines, val_data):
            plain += int(np.any(pipeline.global_decoder.decode_batch(events) != obs, axis=1).sum())
            shots += len(events)
            events_before += int(events.sum())
            logits = []
            for i in range(0, len(events), batch):
                x = torch.from_numpy(ex.layout.to_grid(events[i:i + batch])).to(device)
                logits.append(network(x).float().cpu())
            logits_all = torch.cat(logits)
            y = torch.from_numpy(labels).float()
            bce = torch.nn.functional.binary_cross_entropy_with_logits(logits_all, y, reduction="none")
            bce_sum += float((bce * ex.valid).sum())
            voxels += int(ex.valid.sum()) * len(events)
            c0 = (logits_all >= 0) & ex.valid
            yb = y.bool()
            tp += int((c0 & yb).sum())
            fp += int((c0 & ~yb).sum())
            fn += int((~c0 & yb).sum())
            for t in thresholds:
                pred, residual = pipeline.decode_corrections(events, (logits_all >= t).numpy())
                errors[t] += int(np.any(pred != obs, axis=1).sum())
                events_after[t] += int(residual.sum())
            pred = pipeline.weighted_matcher.decode_batch_from_logits(
                events, logits_all.reshape(len(events), -1).numpy(), pipeline.weight_index, clip=MAX_WEIGHT)
            weighted += int(np.any(pred != obs, axis=1).sum())
    network.train()
    best_t = min(thresholds, key=lambda t: (errors[t], -t))
    return {
        "shots": shots,
        "pymatching_errors": plain,
        "pymatching_ler": plain / max(1, shots),
        "errors_by_threshold": {str(t): errors[t] for t in thresholds},
        "best_threshold": best_t,
        "predecoder_ler": errors[best_t] / max(1, shots),
        "weighted_errors": weighted,
        "weighted_ler": weighted / max(1, shots),
        "residual_density_ratio": events_after[best_t] / max(1, events_before),
        "bce": bce_sum / max(1, voxels),
        "precision": tp / max(1, tp + fp),
        "recall": tp / max(1, tp + fn),
    }


def validation_pipeline(
    network: PreDecoderCNN, layout: SpaceTimeLayout, dem: stim.DetectorErrorModel, device: torch.device
) -> PipelineDecoder:
    """A :class:`PipelineDecoder` sharing ``network`` (its weights as they train), for
    :func:`validate`: corrections by threshold are scored through its ``decode_corrections``
    (plain PyMatching on the residual), neural weights through its weighted matcher. Leaves
    ``network`` in train mode."""
    live = LoadedModel(network=network, metadata={"threshold": 0.0}, sha256="", path="<training>")
    pipeline = PipelineDecoder(None, dem, model=live, device=device, layout=layout, global_decoder="pymatching-weighted")
    network.train()
    return pipeline
