"""Segmentation U-Nets (Flax NNX): the original's nano U-Net and its configurable family.

The nano U-Net of the original study (spec section 3) is `UNet(ModelConfig())`:

    conv5x5 32 -> pool -> conv5x5 64 -> pool -> conv5x5 128 (dropout 0.3)
      -> upsample, concat -> conv5x5 64 -> upsample, concat -> conv5x5 32 -> conv1x1 -> sigmoid

Larger depths, widths, two convolutions per level and batch/group/layer normalisation are
fields of `ModelConfig`. Outputs are logits; apply ``jax.nn.sigmoid`` for probabilities.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from jaxaxon.models.config import ModelConfig
from jaxaxon.models.layers import ConvBlock, Encoder, compute_dtype, module_list, upsample2

__all__ = ["UNet"]


class UNet(nnx.Module):
    """U-Net with one sigmoid output channel per head (``cfg.heads``).

    Call with ``[B, H, W]`` or ``[B, H, W, 1]`` normalised images (H, W divisible by
    ``2**cfg.depth``); returns float32 logits ``[B, H, W, len(cfg.heads)]``.
    """

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        if cfg.kind != "unet":
            raise ValueError(f"UNet needs model.kind 'unet', got {cfg.kind!r}")
        self.config = cfg
        widths = cfg.widths()
        self.encoder = Encoder(cfg, rngs=rngs)
        self.up_blocks = module_list(
            [ConvBlock(cfg, widths[level + 1] + widths[level], widths[level], rngs=rngs) for level in reversed(range(cfg.depth))]
        )
        self.head = nnx.Conv(
            widths[0], cfg.out_channels, kernel_size=(1, 1), dtype=compute_dtype(cfg), param_dtype=jnp.float32, rngs=rngs
        )

    def __call__(self, x: jax.Array, *, train: bool = False, rngs: jax.Array | None = None) -> jax.Array:
        if x.ndim == 3:
            x = x[..., None]
        features = self.encoder(x, train=train, rngs=rngs)
        y = features[-1]
        for block, skip in zip(self.up_blocks, reversed(features[:-1])):
            y = block(jnp.concatenate([upsample2(y), skip], axis=-1), train)
        return self.head(y).astype(jnp.float32)
