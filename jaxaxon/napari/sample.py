"""Sample data: one generated image with its labels, from a preset (napari's File > Open Sample).

    layers = sample_layers(GeneratorConfig.from_preset("realistic"), seed=0)   # list of layer tuples

The first call of a config compiles the generator (seconds to a minute on a CPU).
"""

from __future__ import annotations

import numpy as np

from jaxaxon.config import GeneratorConfig
from jaxaxon.napari.layers import LAYERS, LayerData, example_layers

__all__ = ["SAMPLE_SEED", "original_sample", "preset_config", "randomised_sample", "realistic_sample", "sample_layers"]

SAMPLE_SEED = 0


def preset_config(preset: str) -> GeneratorConfig:
    """The generator config of a named preset (`jaxaxon.config.PRESETS`; 'original': the shipped 256x256 set).

    Raises:
      ValueError: an unknown preset (`jaxaxon.ConfigError`).
    """
    return GeneratorConfig.from_preset(preset)


def sample_layers(config: GeneratorConfig, seed: int = SAMPLE_SEED, *, name: str = "") -> list[LayerData]:
    """Example 0 of ``jaxaxon.generate(jax.random.key(seed), config, 1)`` as napari layers.

    Args:
      config: the generator config.
      seed: the PRNG seed.
      name: put before every layer name (e.g. ``"realistic: "``).

    Returns:
      Layer tuples, bottom to top: ``image`` (float32 ``[H, W]``, contrast 0..maxIntensity),
      ``clean image`` (hidden), then the labels ``cells``, ``axon mask``, ``bouton mask``
      (hidden; uint8 0/1) and ``boutons`` (int32, 1 + bouton slot). With the config's
      ``pixel_size`` known, each has ``scale`` (um per pixel) and ``units`` ``"um"``.
    """
    import jax

    from jaxaxon.synth.image import generate

    batch = generate(jax.random.key(seed), config, 1)
    arrays = {spec.field: np.asarray(getattr(batch, spec.field))[0] for spec in LAYERS}
    meta = {"jaxaxon": {"seed": seed, "pixel_size": config.pixel_size, "config": config.to_dict()}}
    return example_layers(
        arrays, key="field", pixel_size=config.pixel_size, max_intensity=config.maxIntensity, prefix=name, metadata=meta
    )


def _preset_sample(preset: str) -> list[LayerData]:
    return sample_layers(preset_config(preset), SAMPLE_SEED, name=f"{preset}: ")


def realistic_sample() -> list[LayerData]:
    """The 'realistic' preset (two-photon-like, 0.4 um/px), seed 0."""
    return _preset_sample("realistic")


def randomised_sample() -> list[LayerData]:
    """The 'randomised' preset (domain randomisation, 0.4 um/px), seed 0."""
    return _preset_sample("randomised")


def original_sample() -> list[LayerData]:
    """The original's shipped parameters (256x256, pixel size unknown), seed 0."""
    return _preset_sample("original")
