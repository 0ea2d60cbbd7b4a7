"""The imaging-model registry and interface: every model plain, under jit and under vmap, the
config's choices, and series imaged through the registry."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxaxon.config import GeneratorConfig
from jaxaxon.suggest import did_you_mean
from jaxaxon.synth import series as series_module
from jaxaxon.synth.imaging import IMAGING_MODELS, ImagingModel, imaging_model
from jaxaxon.synth.series import generate_series

from ...conftest import SMALL
from ..helpers import run_batched

# one config for both models: each reads its own ranges, all wide enough to differ per image
RANGES = SMALL.replace(
    sigma_noise_min=2.0, sigma_noise_max=20.0, lambdaMin=5, lambdaMax=25,
    psf_sigma=(0.5, 2.0), psf_aspect=(0.7, 1.5), psf_angle=(0.0, 180.0), photons=(3.0, 60.0),
    background=(0.0, 0.3), bias=(0.0, 0.5), read_noise=(0.0, 2.0), gamma=(0.6, 1.4),
)  # fmt: skip
SERIES = SMALL.replace(NbImages=4, maxRotAngle=4, probBoutonInFirstImage=0.3)  # test_series.py's config
MICROSCOPE_SERIES = SERIES.replace(noise_model="microscope", photons=3.0, bias=0.05, bias_scale=96.0)


def test_registry_names_are_the_configs_noise_model_choices():
    field = {f.name: f for f in dataclasses.fields(GeneratorConfig)}["noise_model"]
    assert tuple(IMAGING_MODELS) == tuple(field.metadata["choices"])
    for name, model in IMAGING_MODELS.items():
        assert isinstance(model, ImagingModel) and model.name == name
        assert imaging_model(name) is model
        assert GeneratorConfig(noise_model=name).noise_model == name


@pytest.mark.parametrize("name", ["microscop", "Original", "camera"])
def test_unknown_name_lists_the_choices_and_suggests_the_closest(name):
    with pytest.raises(ValueError) as err:
        imaging_model(name)
    choices, hint = ", ".join(IMAGING_MODELS), did_you_mean(name, IMAGING_MODELS)
    assert str(err.value) == f"unknown imaging model {name!r} (choose one of {choices}){hint}"
    if name != "camera":
        assert "did you mean" in str(err.value)


def _signals(n: int) -> jax.Array:
    """``[n, H, W]`` clean signals: a bright bar, a dim bar and a dot on black."""
    base = jnp.zeros(RANGES.shape).at[20:24, :].set(1.0).at[:, 40:42].set(0.3).at[50, 10].set(2.0)
    return base[None] * jnp.arange(1, n + 1, dtype=jnp.float32)[:, None, None]


@pytest.mark.parametrize("name", list(IMAGING_MODELS))
def test_each_model_plain_jit_and_vmap(name):
    model = IMAGING_MODELS[name]
    n = 3
    params_keys = jax.random.split(jax.random.key(1), n)
    keys = jax.random.split(jax.random.key(2), n)

    def image(pk, k, s):
        return model.image(pk, k, s, RANGES)

    outs = {mode: run_batched(mode, image, params_keys, keys, _signals(n)) for mode in ("plain", "jit", "vmap")}
    out = outs["plain"]
    np.testing.assert_array_equal(outs["jit"], out)
    np.testing.assert_array_equal(outs["vmap"], out)
    assert out.shape == (n, *RANGES.shape) and out.dtype == np.float32
    assert np.all(out == np.floor(out)) and out.min() >= 0 and out.max() <= RANGES.maxIntensity
    # the bright bar shows through the noise in every image
    assert np.all(out[:, 20:24, :38].mean(axis=(1, 2)) > out[:, 30:36, :38].mean(axis=(1, 2)))
    # parameters are drawn per image (a pytree of scalars, batched under vmap), each key its own
    params = jax.vmap(lambda k: model.draw_params(k, RANGES))(params_keys)
    assert all(leaf.shape == (n,) for leaf in jax.tree.leaves(params))
    assert any(len(np.unique(np.asarray(leaf))) == n for leaf in jax.tree.leaves(params))
    again = model.image(params_keys[0], keys[0], _signals(1)[0], RANGES)
    np.testing.assert_array_equal(np.asarray(again), out[0])


def test_a_registered_model_images_every_series_frame_with_one_draw_of_parameters(monkeypatch):
    """A series draws the model's parameters once and images each frame with its own key: a probe
    model whose image is its parameter plus a small per-key number shows both."""

    def draw_params(key, cfg):
        return jax.random.uniform(key)

    def apply(key, signal, params, cfg, peak=None):
        return jnp.zeros_like(signal) + params + 1e-3 * jax.random.uniform(key)

    probe = ImagingModel("original", draw_params, apply, lambda image, cfg: image)
    monkeypatch.setitem(IMAGING_MODELS, "original", probe)
    keys = jax.random.split(jax.random.key(0), 3)
    # traced afresh (the jitted generate_series may hold a compilation with the real model)
    frames = np.asarray(jax.jit(jax.vmap(lambda k: series_module._series_one(k, SERIES)["image"]))(keys))
    assert frames.shape == (3, SERIES.NbImages, *SERIES.shape)
    value = frames[..., 0, 0]  # [series, frame]
    assert np.all(frames == value[..., None, None])  # one value per frame
    within = np.abs(value - value[:, :1])
    assert np.all(within < 1e-3) and np.all(within[:, 1:] > 0)  # same parameter, own noise per frame
    assert np.all(np.abs(np.diff(value[:, 0])) > 1e-3)  # own parameter per series


@pytest.fixture(scope="module")
def series_pair():
    key = jax.random.key(42)
    return generate_series(key, SERIES, 3), generate_series(key, MICROSCOPE_SERIES, 3)


def test_series_with_the_microscope_model_changes_only_the_image(series_pair):
    original, micro = series_pair
    assert not np.array_equal(np.asarray(original.image), np.asarray(micro.image))
    for f in dataclasses.fields(original):
        if f.name != "image":
            np.testing.assert_array_equal(getattr(original, f.name), getattr(micro, f.name), err_msg=f.name)


def test_series_microscope_frames_are_photon_counts_on_a_dark_background(series_pair):
    """Like generate()'s microscope images: integers in 0..maxIntensity, dark background, axons
    brighter; at 3 photons per peak pixel each frame has only a few grey levels (one per photon
    count), where the original model's frames have many."""
    original, micro = series_pair
    img = np.asarray(micro.image)
    assert np.all(img == np.floor(img)) and img.min() >= 0 and img.max() <= MICROSCOPE_SERIES.maxIntensity
    assert np.median(img) < 60 < np.median(np.asarray(original.image))
    axons = np.asarray(micro.axon_mask)
    assert img[axons].mean() > 2 * img[~axons].mean()
    levels = [len(np.unique(frame)) for frame in img.reshape(-1, *SERIES.shape)]
    original_levels = [len(np.unique(frame)) for frame in np.asarray(original.image).reshape(-1, *SERIES.shape)]
    assert max(levels) <= 20 and min(original_levels) > 50
