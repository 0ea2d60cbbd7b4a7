"""Networks (Flax NNX): the nano U-Net and its configurable family, and the autoencoder."""

from __future__ import annotations

import jax
from flax import nnx

from jaxaxon.models.autoencoder import Autoencoder
from jaxaxon.models.config import ModelConfig
from jaxaxon.models.unet import UNet

__all__ = ["Autoencoder", "ModelConfig", "UNet", "build_model"]


def build_model(cfg: ModelConfig, seed: "int | jax.Array" = 0) -> UNet | Autoencoder:
    """A freshly initialised model of the configured kind (parameters from ``seed``, an
    integer or a PRNG key)."""
    rngs = nnx.Rngs(params=seed)
    return UNet(cfg, rngs=rngs) if cfg.kind == "unet" else Autoencoder(cfg, rngs=rngs)
