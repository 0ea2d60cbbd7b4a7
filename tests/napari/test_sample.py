"""Sample data: a generated example with its labels as layers, at the generator's pixel size."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jaxaxon
from jaxaxon.config import ConfigError
from jaxaxon.napari.sample import preset_config, sample_layers

NAMES = [
    ("s: image", "image"), ("s: clean image", "image"), ("s: cells", "labels"), ("s: axon mask", "labels"),
    ("s: bouton mask", "labels"), ("s: boutons", "labels"),
]  # fmt: skip


def test_sample_layers_hold_the_generated_example(small_cfg):
    cfg = small_cfg.replace(pixel_size=0.4)  # the same program as the small config (pixel_size is not used)
    layers = sample_layers(cfg, seed=3, name="s: ")
    assert [(m["name"], kind) for _, m, kind in layers] == NAMES
    batch = jaxaxon.generate(jax.random.key(3), cfg, 1)
    data = {m["name"]: d for d, m, _ in layers}
    np.testing.assert_array_equal(data["s: image"], np.asarray(batch.image)[0])
    np.testing.assert_array_equal(data["s: axon mask"], np.asarray(batch.axon_mask)[0].astype(np.uint8))
    np.testing.assert_array_equal(data["s: boutons"], np.asarray(batch.bouton_label)[0])
    np.testing.assert_array_equal(data["s: cells"], np.asarray(batch.cell_mask)[0].astype(np.uint8))
    assert data["s: axon mask"].dtype == np.uint8 and data["s: axon mask"].max() == 1
    assert data["s: boutons"].max() >= 1  # the small config places 3 boutons
    image_meta = layers[0][1]
    assert image_meta["contrast_limits"] == (0.0, 255.0)
    assert image_meta["metadata"]["jaxaxon"]["seed"] == 3
    assert [m["visible"] for _, m, _ in layers] == [True, False, True, True, False, True]
    assert {m["scale"] for _, m, _ in layers} == {(0.4, 0.4)}  # the config's pixel size (unknown: no scale,
    assert {m["units"] for _, m, _ in layers} == {("um", "um")}  # tests/napari/test_layers.py)


def test_preset_configs():
    realistic = preset_config("realistic")
    assert (realistic.pixel_size, realistic.shape) == (0.4, (256, 256))
    assert preset_config("original") == jaxaxon.GeneratorConfig()
    with pytest.raises(ConfigError, match="preset"):
        preset_config("nonsense")
