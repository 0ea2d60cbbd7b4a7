"""Output scaling (docs/original.md, step 6): an image to integer grey values ``0..maxIntensity``."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxaxon.config import GeneratorConfig

__all__ = ["rescale_floor", "to_output"]


def rescale_floor(image: jax.Array, top: float) -> jax.Array:
    """``[..., H, W]`` ``floor(image * top / max(image))`` per image (0 for an all-zero image)."""
    peak = jnp.max(image, axis=(-2, -1), keepdims=True)
    scaled = jnp.floor(image * top / jnp.where(peak > 0, peak, 1.0))
    # in float32 (peak * top) / peak can round just below top; the maximum maps to top
    # exactly, as it does in the original's double precision
    return jnp.where((image >= peak) & (peak > 0), top, scaled)


def to_output(image: jax.Array, cfg: GeneratorConfig) -> jax.Array:
    """The original's output (docs/original.md, step 6): ``floor(P * maxIntensity / max P)``, inverted when ``negative_image``."""
    out = rescale_floor(image, float(cfg.maxIntensity))
    return cfg.maxIntensity - out if cfg.negative_image else out
