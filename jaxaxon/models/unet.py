"""Segmentation U-Nets (Flax NNX): the original's nano U-Net and its configurable family.

The nano U-Net of the original study (docs/original.md, the study) is `UNet(ModelConfig())`:

    conv5x5 32 -> pool -> conv5x5 64 -> pool -> conv5x5 128 (dropout 0.3)
      -> upsample, concat -> conv5x5 64 -> upsample, concat -> conv5x5 32 -> conv1x1 -> sigmoid

Larger depths, widths, two convolutions per level and batch/group/layer normalisation are
fields of `ModelConfig`. Outputs are logits; apply ``jax.nn.sigmoid`` for probabilities.
"""

from __future__ import annotations

from flax import nnx

from jaxaxon.models.config import ModelConfig
from jaxaxon.models.layers import EncoderDecoder

__all__ = ["UNet"]


class UNet(EncoderDecoder):
    """U-Net with one sigmoid output channel per head (``cfg.heads``).

    Call with ``[B, H, W]`` or ``[B, H, W, 1]`` normalised images (H, W divisible by
    ``2**cfg.depth``); returns float32 logits ``[B, H, W, len(cfg.heads)]``.
    """

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        if cfg.kind != "unet":
            raise ValueError(f"UNet needs model.kind 'unet', got {cfg.kind!r}")
        super().__init__(cfg, len(cfg.heads), skips=True, rngs=rngs)
