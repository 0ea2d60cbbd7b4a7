"""The imaging-model interface: draw an image's acquisition parameters, image its clean signal."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax

from jaxaxon.config import GeneratorConfig

__all__ = ["ImagingModel"]


@dataclasses.dataclass(frozen=True)
class ImagingModel:
    """How a clean signal becomes a microscope image. Every function is pure and traceable
    (jit and vmap compose with it); ``cfg`` is a static `GeneratorConfig`.

    Attributes:
      name: the model's name in the registry (`GeneratorConfig.noise_model`).
      draw_params: ``(key, cfg) -> params``, one image's acquisition parameters (a pytree
        of scalars, so a batch of them is drawn under vmap).
      apply: ``(key, signal, params, cfg, peak=None) -> detector``: the ``[H, W]`` clean
        signal (non-negative, any scale) to an ``[H, W]`` float32 detector image on the
        model's own scale. ``peak`` is the signal level taken as full scale: None for the
        image's own maximum; a series passes its maximum over all frames, so frames keep
        their relative brightness.
      to_output: ``(detector, cfg) -> image``: an ``[H, W]`` detector image (or a crop of
        one) to the output, float32 integer values in ``0..maxIntensity``, inverted when
        ``negative_image``.
    """

    name: str
    draw_params: Callable[[jax.Array, GeneratorConfig], Any]
    apply: Callable[..., jax.Array]
    to_output: Callable[[jax.Array, GeneratorConfig], jax.Array]

    def image(self, params_key: jax.Array, key: jax.Array, signal: jax.Array, cfg: GeneratorConfig) -> jax.Array:
        """One output image: parameters drawn from ``params_key``, noise from ``key``.

        Args:
          params_key: PRNG key of the acquisition parameters.
          key: PRNG key of the noise.
          signal: ``[H, W]`` non-negative clean signal.
          cfg: generator parameters (static).

        Returns:
          ``[H, W]`` float32 integer-valued image in ``0..maxIntensity``.
        """
        params = self.draw_params(params_key, cfg)
        return self.to_output(self.apply(key, signal, params, cfg), cfg)
