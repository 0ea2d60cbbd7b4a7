"""The networks: the nano U-Net's layer structure, the configurable family, the autoencoder."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxaxon.models import Autoencoder, ModelConfig, UNet, build_model


def _convs(model) -> list[tuple[str, tuple[int, ...]]]:
    """(path, kernel shape) of every convolution, in definition order."""

    def walk(tree, prefix):
        for key, value in tree.items():
            if isinstance(value, dict):
                yield from walk(value, prefix + (str(key),))
            elif key == "kernel":
                yield "/".join(prefix), tuple(value.shape)

    return list(walk(nnx.to_pure_dict(nnx.state(model, nnx.Param)), ()))


def test_nano_unet_has_the_original_layer_structure():
    model = UNet(ModelConfig(), rngs=nnx.Rngs(0))
    kernels = {path: shape for path, shape in _convs(model)}
    # conv 32 -> pool -> conv 64 -> pool -> conv 128 -> up, concat -> conv 64 -> up, concat -> conv 32 -> 1x1
    assert kernels == {
        "encoder/blocks/0/convs/0": (5, 5, 1, 32),
        "encoder/blocks/1/convs/0": (5, 5, 32, 64),
        "encoder/blocks/2/convs/0": (5, 5, 64, 128),
        "up_blocks/0/convs/0": (5, 5, 128 + 64, 64),
        "up_blocks/1/convs/0": (5, 5, 64 + 32, 32),
        "head": (1, 1, 32, 1),
    }
    assert model.encoder.dropout.rate == pytest.approx(0.3)
    assert not nnx.state(model, nnx.BatchStat)  # no normalisation layers
    n_params = sum(int(np.prod(v.shape)) for v in jax.tree.leaves(nnx.state(model, nnx.Param)))
    assert n_params == sum(int(np.prod(s)) + s[-1] for s in kernels.values())  # kernels + biases


def test_unet_is_fully_convolutional_and_deterministic_in_eval_mode():
    model = build_model(ModelConfig(base_width=4))
    x = jax.random.uniform(jax.random.key(0), (2, 32, 48))
    y = model(x)
    assert y.shape == (2, 32, 48, 1) and y.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(y))
    a = model(x, train=True, rngs=jax.random.key(1))
    b = model(x, train=True, rngs=jax.random.key(2))
    assert not np.allclose(np.asarray(a), np.asarray(b))  # dropout acts in training only
    jitted = nnx.jit(lambda m, x: m(x))(model, x)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(y), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("norm", ["none", "batch", "group", "layer"])
def test_configurable_unet_variants(norm):
    cfg = ModelConfig(
        depth=3, base_width=8, convs_per_level=2, kernel_size=3, norm=norm, dropout=0.1, heads=("axon", "bouton")
    )
    model = build_model(cfg, seed=1)
    x = jax.random.uniform(jax.random.key(0), (2, 32, 32))
    out = model(x, train=True, rngs=jax.random.key(0))
    assert out.shape == (2, 32, 32, 2)
    assert bool(jnp.all(jnp.isfinite(out)))
    convs = _convs(model)
    assert len(convs) == 2 * (3 + 1) + 2 * 3 + 1
    assert bool(nnx.state(model, nnx.BatchStat)) == (norm == "batch")


def test_bfloat16_compute_keeps_float32_parameters_and_outputs():
    model = build_model(ModelConfig(base_width=4, dtype="bfloat16"))
    assert {v.dtype for v in jax.tree.leaves(nnx.state(model, nnx.Param))} == {jnp.dtype(jnp.float32)}
    x = jax.random.uniform(jax.random.key(0), (1, 16, 16))
    out = model(x)
    assert out.dtype == jnp.float32
    ref = build_model(ModelConfig(base_width=4))(x)
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref), atol=0.05)


def test_autoencoder_shares_the_unet_encoder_structure():
    cfg = ModelConfig(base_width=8)
    ae = Autoencoder(cfg.replace(kind="autoencoder"), rngs=nnx.Rngs(0))
    unet = UNet(cfg, rngs=nnx.Rngs(0))
    shapes = lambda m: jax.tree.map(lambda v: v.shape, nnx.to_pure_dict(nnx.state(m.encoder)))  # noqa: E731
    assert shapes(ae) == shapes(unet)
    out = ae(jax.random.uniform(jax.random.key(0), (2, 16, 16)))
    assert out.shape == (2, 16, 16, 1)
    # no skip connections: decoder blocks take only the upsampled deeper features
    assert [s for p, s in _convs(ae) if p.startswith("up_blocks")] == [(5, 5, 32, 16), (5, 5, 16, 8)]


@pytest.mark.parametrize(
    "changes, word",
    [
        ({"norm": "bach"}, "norm"),
        ({"kernel_size": 4}, "kernel_size"),
        ({"depth": 0}, "depth"),
        ({"dropout": 1.0}, "dropout"),
        ({"heads": ("axon", "cells")}, "heads"),
        ({"kind": "vae"}, "kind"),
    ],
)
def test_model_config_errors_name_the_field(changes, word):
    with pytest.raises(ValueError, match=word):
        ModelConfig().replace(**changes)
