"""The pre-training autoencoder (Flax NNX): the U-Net's encoder and a decoder without skips.

The original study pre-trained its network as an autoencoder on generated images and then
initialised the segmentation U-Net's encoder from it. Here the encoder is the very
`Encoder` module of the U-Net (same structure, same parameter paths), so its state can be
copied into a `UNet` built from the same encoder fields (`jaxaxon.train.init.init_from`).
The decoder mirrors the U-Net's up path without the skip connections, so the bottleneck
has to carry the information.
"""

from __future__ import annotations

from flax import nnx

from jaxaxon.models.config import ModelConfig
from jaxaxon.models.layers import EncoderDecoder

__all__ = ["Autoencoder"]


class Autoencoder(EncoderDecoder):
    """Encoder-decoder without skips; returns the float32 reconstruction ``[B, H, W, 1]``
    (a linear output, on the scale of the normalised images)."""

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        if cfg.kind != "autoencoder":
            raise ValueError(f"Autoencoder needs model.kind 'autoencoder', got {cfg.kind!r}")
        super().__init__(cfg, 1, skips=False, rngs=rngs)
