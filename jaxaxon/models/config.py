"""Model hyper-parameters: one frozen dataclass for the U-Net family and the autoencoder.

`ModelConfig()` is the original study's "nano U-Net": one 5x5 convolution
per level, widths 32-64-128, two 2x2 max-poolings, nearest-neighbour upsampling with skip
concatenation, ReLU, dropout 0.3 on the bottleneck and a 1x1 sigmoid output. Every field
is a plain JSON value, so the config round-trips through ``config.json``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from jaxaxon.validation import Bound, check_keys, param, validate

__all__ = ["ModelConfig", "ModelConfigError", "HEADS", "NORMS", "KINDS", "DTYPES", "INITS"]

KINDS = ("unet", "autoencoder")
NORMS = ("none", "batch", "group", "layer")
HEADS = ("axon", "bouton")
DTYPES = ("float32", "bfloat16")
INITS = ("glorot_uniform", "he_normal")


class ModelConfigError(ValueError):
    """An invalid model hyper-parameter; the message names it (``model.depth: ...``)."""


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture of a segmentation U-Net or of the pre-training autoencoder.

    Attributes:
      kind: ``"unet"`` (segmentation, one sigmoid channel per head) or ``"autoencoder"``
        (the same encoder, a decoder without skip connections, one output channel).
      depth: number of 2x2 max-poolings; the encoder has ``depth + 1`` levels, the last one
        being the bottleneck. Image sides must be divisible by ``2**depth``.
      base_width: channels of the first level; level ``l`` has ``base_width * 2**l``.
      convs_per_level: convolutions per encoder/decoder level (nano: 1, classic U-Net: 2).
      kernel_size: side of the square convolution kernels (nano: 5).
      norm: normalisation after each convolution: none, batch, group or layer.
      groups: number of groups of group normalisation (clipped to the channel count).
      dropout: dropout rate applied to the bottleneck features during training.
      heads: output heads of a U-Net, in channel order: ``("axon",)``, ``("bouton",)`` or
        ``("axon", "bouton")``.
      dtype: compute dtype (``"bfloat16"`` keeps float32 parameters and float32 outputs).
      kernel_init: ``"glorot_uniform"`` (Keras' default, the original's) or ``"he_normal"``.
    """

    kind: str = param("unet", choices=KINDS)
    depth: int = param(2, bounds=Bound(1, 8))
    base_width: int = param(32, bounds=Bound(1, 4096))
    convs_per_level: int = param(1, bounds=Bound(1, 8))
    kernel_size: int = param(5, bounds=Bound(1, 31))
    norm: str = param("none", choices=NORMS)
    groups: int = param(8, bounds=Bound(1, 4096))
    dropout: float = param(0.3, bounds=Bound(0, 1, high_open=True), what="a rate")
    heads: tuple[str, ...] = param(("axon",), choices=HEADS)
    dtype: str = param("float32", choices=DTYPES)
    kernel_init: str = param("glorot_uniform", choices=INITS)

    def __post_init__(self) -> None:
        validate(self, ModelConfigError, prefix="model.", rules=(_odd_kernel, _distinct_heads))

    @property
    def out_channels(self) -> int:
        """Output channels: one per head for a U-Net, one for the autoencoder."""
        return len(self.heads) if self.kind == "unet" else 1

    def widths(self) -> list[int]:
        """Channels of encoder levels ``0..depth`` (the last is the bottleneck)."""
        return [self.base_width * 2**level for level in range(self.depth + 1)]

    def encoder_signature(self) -> dict[str, Any]:
        """The fields that fix the encoder's structure (equal signatures share weights)."""
        return {
            k: getattr(self, k) for k in ("depth", "base_width", "convs_per_level", "kernel_size", "norm", "groups")
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (heads as a list)."""
        out = dataclasses.asdict(self)
        out["heads"] = list(self.heads)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelConfig":
        """Builds a config from a dict; unknown keys raise `ModelConfigError` (a ValueError) naming the key."""
        check_keys(data, cls, ModelConfigError, prefix="model.")
        return cls(**data)

    def replace(self, **changes: Any) -> "ModelConfig":
        """A validated copy with some fields changed."""
        return ModelConfig.from_dict({**self.to_dict(), **changes})


def _odd_kernel(cfg: ModelConfig) -> str | None:
    if cfg.kernel_size % 2 == 0:
        return f"kernel_size: must be odd ('same' padding), got {cfg.kernel_size}"
    return None


def _distinct_heads(cfg: ModelConfig) -> str | None:
    if not cfg.heads or len(set(cfg.heads)) != len(cfg.heads):
        return f"heads: expected distinct heads from {HEADS}, got {list(cfg.heads)}"
    return None
