"""The pre-training autoencoder (Flax NNX): the U-Net's encoder and a decoder without skips.

The original study pre-trained its network as an autoencoder on generated images and then
initialised the segmentation U-Net's encoder from it. Here the encoder is the very
`Encoder` module of the U-Net (same structure, same parameter paths), so its state can be
copied into a `UNet` built from the same encoder fields (`jaxaxon.train.init.init_from`).
The decoder mirrors the U-Net's up path without the skip connections, so the bottleneck
has to carry the information.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from jaxaxon.models.config import ModelConfig
from jaxaxon.models.layers import ConvBlock, Encoder, compute_dtype, module_list, upsample2

__all__ = ["Autoencoder"]


class Autoencoder(nnx.Module):
    """Encoder-decoder without skips; returns float32 logits ``[B, H, W, 1]`` of the
    reconstruction (sigmoid gives the 0..1 image)."""

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        if cfg.kind != "autoencoder":
            raise ValueError(f"Autoencoder needs model.kind 'autoencoder', got {cfg.kind!r}")
        self.config = cfg
        widths = cfg.widths()
        self.encoder = Encoder(cfg, rngs=rngs)
        self.up_blocks = module_list(
            [ConvBlock(cfg, widths[level + 1], widths[level], rngs=rngs) for level in reversed(range(cfg.depth))]
        )
        self.head = nnx.Conv(widths[0], 1, kernel_size=(1, 1), dtype=compute_dtype(cfg), param_dtype=jnp.float32, rngs=rngs)

    def __call__(self, x: jax.Array, *, train: bool = False, rngs: jax.Array | None = None) -> jax.Array:
        if x.ndim == 3:
            x = x[..., None]
        y = self.encoder(x, train=train, rngs=rngs)[-1]
        for block in self.up_blocks:
            y = block(upsample2(y), train)
        return self.head(y).astype(jnp.float32)
