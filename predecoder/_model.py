"""The pre-decoder network: a fully convolutional 3D CNN over (batch, channels, T, H, W).

Input channels (see :mod:`qec._encoding._layout`): X events, Z events, X-detector mask, Z-detector mask.
Output channels (see :mod:`qec._encoding._correction_basis`): logits for Z data flips, X data flips,
X-stabilizer and Z-stabilizer measurement flips. A correction is applied where
``logit >= threshold``.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from qec import QecError

IN_CHANNELS = 4
OUT_CHANNELS = 4


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Shape of a Conv3d stack.

    Attributes:
        widths: output channels of the hidden layers; a last layer maps to ``out_channels``.
        kernel_sizes: one odd kernel size per layer (``len(widths) + 1`` entries).
        in_channels, out_channels: 4 and 4 for the layout and correction basis.
        dropout: dropout after each hidden activation (training only).

    Example:
        >>> PRESETS["fast"].receptive_field, PRESETS["accurate"].receptive_field
        (9, 13)
    """

    widths: tuple[int, ...]
    kernel_sizes: tuple[int, ...]
    in_channels: int = IN_CHANNELS
    out_channels: int = OUT_CHANNELS
    dropout: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "kernel_sizes", tuple(int(k) for k in self.kernel_sizes))
        if len(self.kernel_sizes) != len(self.widths) + 1:
            raise QecError("kernel_sizes needs one entry per layer (len(widths) + 1)")
        if any(k < 1 or k % 2 == 0 for k in self.kernel_sizes):
            raise QecError("kernel sizes must be odd and >= 1")
        if any(w < 1 for w in self.widths) or self.in_channels < 1 or self.out_channels < 1:
            raise QecError("widths and channel counts must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise QecError("dropout must be in [0, 1)")

    @property
    def receptive_field(self) -> int:
        """R = 1 + sum(kernel - 1): the network sees (R - 1) / 2 sites in every direction."""
        return 1 + sum(k - 1 for k in self.kernel_sizes)

    @property
    def halo(self) -> int:
        return (self.receptive_field - 1) // 2

    def to_dict(self) -> dict:
        """The configuration as a plain dict (stored in model files)."""
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "ModelConfig":
        """The configuration from :meth:`to_dict`'s dict (as stored in model files)."""
        return ModelConfig(
            widths=tuple(d["widths"]),
            kernel_sizes=tuple(d["kernel_sizes"]),
            in_channels=int(d.get("in_channels", IN_CHANNELS)),
            out_channels=int(d.get("out_channels", OUT_CHANNELS)),
            dropout=float(d.get("dropout", 0.0)),
        )


PRESETS: dict[str, ModelConfig] = {
    # The paper's models (arXiv:2604.12841): 912,772 and 1,797,764 parameters.
    "fast": ModelConfig(widths=(128, 128, 128), kernel_sizes=(3, 3, 3, 3), dropout=0.05),
    "accurate": ModelConfig(widths=(128,) * 5, kernel_sizes=(3,) * 6, dropout=0.05),
    # Sized for training on two CPU cores.
    "small": ModelConfig(widths=(32, 32, 32), kernel_sizes=(3, 3, 3, 3)),
    "tiny": ModelConfig(widths=(16, 16), kernel_sizes=(3, 3, 3)),
}


class PreDecoderCNN(nn.Module):
    """Conv3d stack, same (zero) padding, GELU, optional dropout, no normalization.

    forward: float32 (B, in_channels, T, H, W) -> logits float32 (B, out_channels, T, H, W).

    Example:
        >>> net = PreDecoderCNN(PRESETS["fast"])
        >>> sum(p.numel() for p in net.parameters())
        912772
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        channels = [config.in_channels, *config.widths, config.out_channels]
        for i, k in enumerate(config.kernel_sizes):
            layers.append(nn.Conv3d(channels[i], channels[i + 1], kernel_size=k, padding=k // 2))
            if i < len(config.kernel_sizes) - 1:
                layers.append(nn.GELU())
                if config.dropout > 0:
                    layers.append(nn.Dropout(config.dropout))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """float (batch, 4, T, H, W) event grids -> float (batch, 4, T, H, W) correction logits."""
        return self.layers(x)

    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters())


def resolve_preset(name: str) -> ModelConfig:
    """The preset's config; ``ValueError`` naming the choices for an unknown name."""
    if name not in PRESETS:
        raise QecError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return PRESETS[name]
